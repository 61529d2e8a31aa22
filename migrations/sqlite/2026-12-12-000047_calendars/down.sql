DROP TRIGGER tasks_calendar_deleted;
DROP TRIGGER tasks_calendar_updated;
DROP TRIGGER tasks_calendar_inserted;
DROP TABLE calendar_changes;
DROP TABLE calendar_objects;
