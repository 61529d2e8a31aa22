DROP TRIGGER tasks_calendar_deleted ON tasks;
DROP TRIGGER tasks_calendar_updated ON tasks;
DROP TRIGGER tasks_calendar_inserted ON tasks;
DROP FUNCTION tasks_calendar_deleted();
DROP FUNCTION tasks_calendar_moved();
DROP FUNCTION tasks_calendar_written();
DROP TABLE calendar_changes;
DROP TABLE calendar_objects;
