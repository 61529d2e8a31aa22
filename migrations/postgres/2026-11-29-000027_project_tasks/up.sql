-- Project tasks (issue 36): a task may belong to a project, and then goes with it.
--
-- Visibility. A personal task (`project_id` null) is seen by its owner and assignee; a project
-- task by the project's members (and its assignee, who is one). So the per-user sides of a list
-- carry `project_id` to leave project tasks out without reading the table, and a project's tasks
-- are read in creation order from their own index, one side per project of the member.
ALTER TABLE tasks ADD COLUMN project_id BIGINT REFERENCES projects (id) ON DELETE CASCADE;

DROP INDEX tasks_owner_created;
DROP INDEX tasks_assignee_created;
CREATE INDEX tasks_owner_created ON tasks (owner_id, created_at, id) INCLUDE (project_id);
CREATE INDEX tasks_assignee_created ON tasks (assignee_id, created_at, id) INCLUDE (owner_id, project_id);
CREATE INDEX tasks_project_created ON tasks (project_id, created_at, id) WHERE project_id IS NOT NULL;

-- Totals. `task_counts.user_id` now names a counter: a user's id for the personal tasks they
-- own or are assigned, 0 for every task, and minus a project's id for that project's tasks. A
-- member's total is their counter plus one per project: never a count of rows.
CREATE OR REPLACE FUNCTION tasks_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_count_changes (user_id, status, delta)
    SELECT who, status, SUM(delta) FROM (VALUES
        (0::bigint, OLD.status, -1),
        (CASE WHEN OLD.project_id IS NULL THEN OLD.owner_id ELSE -OLD.project_id END, OLD.status, -1),
        (CASE WHEN OLD.project_id IS NULL AND OLD.assignee_id <> OLD.owner_id THEN OLD.assignee_id END,
            OLD.status, -1),
        (0::bigint, NEW.status, 1),
        (CASE WHEN NEW.project_id IS NULL THEN NEW.owner_id ELSE -NEW.project_id END, NEW.status, 1),
        (CASE WHEN NEW.project_id IS NULL AND NEW.assignee_id <> NEW.owner_id THEN NEW.assignee_id END,
            NEW.status, 1)
    ) AS change (who, status, delta)
    WHERE who IS NOT NULL AND status IS NOT NULL
    GROUP BY who, status
    HAVING SUM(delta) <> 0;
    RETURN NULL;
END;
$$;

DROP TRIGGER tasks_recounted ON tasks;
CREATE TRIGGER tasks_recounted AFTER UPDATE OF status, owner_id, assignee_id, project_id ON tasks
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
    OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id OR OLD.project_id IS DISTINCT FROM NEW.project_id)
EXECUTE FUNCTION tasks_count_change();
