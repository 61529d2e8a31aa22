DROP TRIGGER tasks_status_keys_changed;
DROP TRIGGER tasks_status_keys_deleted;
DROP TRIGGER tasks_status_keys_inserted;
DROP TABLE task_status_keys;
