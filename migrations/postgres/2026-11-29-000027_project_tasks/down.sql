DROP TRIGGER tasks_recounted ON tasks;
CREATE OR REPLACE FUNCTION tasks_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_count_changes (user_id, status, delta)
    SELECT who, status, SUM(delta) FROM (VALUES
        (0::bigint, OLD.status, -1),
        (OLD.owner_id, OLD.status, -1),
        (CASE WHEN OLD.assignee_id <> OLD.owner_id THEN OLD.assignee_id END, OLD.status, -1),
        (0::bigint, NEW.status, 1),
        (NEW.owner_id, NEW.status, 1),
        (CASE WHEN NEW.assignee_id <> NEW.owner_id THEN NEW.assignee_id END, NEW.status, 1)
    ) AS change (who, status, delta)
    WHERE who IS NOT NULL AND status IS NOT NULL
    GROUP BY who, status
    HAVING SUM(delta) <> 0;
    RETURN NULL;
END;
$$;
DELETE FROM tasks WHERE project_id IS NOT NULL;
DELETE FROM task_counts WHERE user_id < 0;
DELETE FROM task_count_changes WHERE user_id < 0;
CREATE TRIGGER tasks_recounted AFTER UPDATE OF status, owner_id, assignee_id ON tasks
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
    OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id)
EXECUTE FUNCTION tasks_count_change();
DROP INDEX tasks_project_created;
DROP INDEX tasks_owner_created;
DROP INDEX tasks_assignee_created;
CREATE INDEX tasks_owner_created ON tasks (owner_id, created_at, id);
CREATE INDEX tasks_assignee_created ON tasks (assignee_id, created_at, id) INCLUDE (owner_id);
ALTER TABLE tasks DROP COLUMN project_id;
