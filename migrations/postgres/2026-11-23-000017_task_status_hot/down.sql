ALTER TABLE tasks RESET (fillfactor);
CREATE INDEX tasks_owner_status_created ON tasks (owner_id, status, created_at);
CREATE INDEX tasks_assignee_status_created ON tasks (assignee_id, status, created_at);
DROP INDEX tasks_owner_created;
DROP INDEX tasks_assignee_created;
