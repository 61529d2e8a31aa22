DROP TRIGGER tasks_tags_changed ON tasks;
DROP TRIGGER tasks_tags_inserted ON tasks;
DROP FUNCTION tasks_sync_tags();
ALTER TABLE tasks DROP COLUMN tags;
