DROP TRIGGER tasks_tags_changed;
DROP TRIGGER tasks_tags_inserted;
ALTER TABLE tasks DROP COLUMN tags;
