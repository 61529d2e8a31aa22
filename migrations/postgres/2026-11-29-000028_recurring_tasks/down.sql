DROP INDEX tasks_previous;
ALTER TABLE tasks DROP COLUMN previous_id;
ALTER TABLE tasks DROP COLUMN recurrence;
