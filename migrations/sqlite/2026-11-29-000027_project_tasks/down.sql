DROP TRIGGER tasks_counted_in;
DROP TRIGGER tasks_counted_out;
DROP TRIGGER tasks_recounted;
DELETE FROM tasks WHERE project_id IS NOT NULL;
DELETE FROM task_counts WHERE user_id < 0;
CREATE TRIGGER tasks_counted_in AFTER INSERT ON tasks BEGIN
    INSERT INTO task_counts (user_id, status, n)
    SELECT u, new.status, 1 FROM (SELECT 0 AS u UNION ALL SELECT new.owner_id
        UNION ALL SELECT new.assignee_id WHERE new.assignee_id <> new.owner_id)
    WHERE true
    ON CONFLICT (user_id, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER tasks_counted_out AFTER DELETE ON tasks BEGIN
    UPDATE task_counts SET n = n - 1
    WHERE status = old.status AND user_id IN (0, old.owner_id,
        CASE WHEN old.assignee_id <> old.owner_id THEN old.assignee_id END);
END;
CREATE TRIGGER tasks_recounted AFTER UPDATE OF status, owner_id, assignee_id ON tasks
WHEN old.status IS NOT new.status OR old.owner_id IS NOT new.owner_id OR old.assignee_id IS NOT new.assignee_id
BEGIN
    UPDATE task_counts SET n = n - 1
    WHERE status = old.status AND user_id IN (0, old.owner_id,
        CASE WHEN old.assignee_id <> old.owner_id THEN old.assignee_id END);
    INSERT INTO task_counts (user_id, status, n)
    SELECT u, new.status, 1 FROM (SELECT 0 AS u UNION ALL SELECT new.owner_id
        UNION ALL SELECT new.assignee_id WHERE new.assignee_id <> new.owner_id)
    WHERE true
    ON CONFLICT (user_id, status) DO UPDATE SET n = n + 1;
END;
DROP INDEX tasks_project_created;
DROP INDEX tasks_owner_created;
DROP INDEX tasks_assignee_created;
CREATE INDEX tasks_owner_created ON tasks (owner_id, created_at, id, status);
CREATE INDEX tasks_assignee_created ON tasks (assignee_id, created_at, id, owner_id, status);
ALTER TABLE tasks DROP COLUMN project_id;
