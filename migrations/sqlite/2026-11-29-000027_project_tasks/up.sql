-- Project tasks (issue 36); see the PostgreSQL migration of the same name. `task_counts.user_id`
-- names a counter: a user's personal tasks, 0 for all, minus a project's id for its tasks.
ALTER TABLE tasks ADD COLUMN project_id INTEGER REFERENCES projects (id) ON DELETE CASCADE;

DROP INDEX tasks_owner_created;
DROP INDEX tasks_assignee_created;
CREATE INDEX tasks_owner_created ON tasks (owner_id, created_at, id, status, project_id);
CREATE INDEX tasks_assignee_created ON tasks (assignee_id, created_at, id, owner_id, status, project_id);
CREATE INDEX tasks_project_created ON tasks (project_id, created_at, id, status) WHERE project_id IS NOT NULL;

DROP TRIGGER tasks_counted_in;
DROP TRIGGER tasks_counted_out;
DROP TRIGGER tasks_recounted;

CREATE TRIGGER tasks_counted_in AFTER INSERT ON tasks BEGIN
    INSERT INTO task_counts (user_id, status, n)
    SELECT u, new.status, 1 FROM (SELECT 0 AS u
        UNION ALL SELECT CASE WHEN new.project_id IS NULL THEN new.owner_id ELSE -new.project_id END
        UNION ALL SELECT new.assignee_id WHERE new.project_id IS NULL AND new.assignee_id <> new.owner_id)
    WHERE true
    ON CONFLICT (user_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER tasks_counted_out AFTER DELETE ON tasks BEGIN
    UPDATE task_counts SET n = n - 1
    WHERE status = old.status AND user_id IN (0,
        CASE WHEN old.project_id IS NULL THEN old.owner_id ELSE -old.project_id END,
        CASE WHEN old.project_id IS NULL AND old.assignee_id <> old.owner_id THEN old.assignee_id END);
END;

CREATE TRIGGER tasks_recounted AFTER UPDATE OF status, owner_id, assignee_id, project_id ON tasks
WHEN old.status IS NOT new.status OR old.owner_id IS NOT new.owner_id OR old.assignee_id IS NOT new.assignee_id
    OR old.project_id IS NOT new.project_id
BEGIN
    UPDATE task_counts SET n = n - 1
    WHERE status = old.status AND user_id IN (0,
        CASE WHEN old.project_id IS NULL THEN old.owner_id ELSE -old.project_id END,
        CASE WHEN old.project_id IS NULL AND old.assignee_id <> old.owner_id THEN old.assignee_id END);
    INSERT INTO task_counts (user_id, status, n)
    SELECT u, new.status, 1 FROM (SELECT 0 AS u
        UNION ALL SELECT CASE WHEN new.project_id IS NULL THEN new.owner_id ELSE -new.project_id END
        UNION ALL SELECT new.assignee_id WHERE new.project_id IS NULL AND new.assignee_id <> new.owner_id)
    WHERE true
    ON CONFLICT (user_id, status) DO UPDATE SET n = n + 1;
END;
