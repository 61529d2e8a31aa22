DROP INDEX tasks_assignee_status_created;
DROP INDEX tasks_owner_status_created;
CREATE INDEX tasks_status_created ON tasks (status, created_at);
CREATE INDEX tasks_assignee ON tasks (assignee_id);
CREATE INDEX tasks_owner ON tasks (owner_id);
