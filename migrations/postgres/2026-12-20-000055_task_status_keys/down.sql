DROP TRIGGER tasks_status_keys_changed ON tasks;
DROP TRIGGER tasks_status_keys_deleted ON tasks;
DROP TRIGGER tasks_status_keys_inserted ON tasks;
DROP FUNCTION tasks_sync_status_keys();
DROP TABLE task_status_keys;
