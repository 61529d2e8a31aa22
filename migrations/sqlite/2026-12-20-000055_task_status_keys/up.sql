-- A page of a list filtered by status, in creation order, walked the scope's tasks in creation
-- order and checked each one's status in the table. This narrow table holds the creation keys of
-- the tasks of each side of a list and each status (the PostgreSQL migration says more): a page
-- of one status is a range of its primary key, walked from the page's nearer end.
--
-- `side`: 0, the personal tasks `side_id` owns; 1, the personal tasks assigned to `side_id` that
-- it does not own; 2, the tasks of project `side_id`. Triggers keep it.
CREATE TABLE task_status_keys (
    side INTEGER NOT NULL,
    side_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    task_id INTEGER NOT NULL,
    PRIMARY KEY (side, side_id, status, created_at, task_id)
) WITHOUT ROWID;

INSERT INTO task_status_keys (side, side_id, status, created_at, task_id)
SELECT 0, owner_id, status, created_at, id FROM tasks WHERE project_id IS NULL
UNION ALL
SELECT 1, assignee_id, status, created_at, id FROM tasks
WHERE project_id IS NULL AND assignee_id IS NOT NULL AND assignee_id <> owner_id
UNION ALL
SELECT 2, project_id, status, created_at, id FROM tasks WHERE project_id IS NOT NULL;

CREATE TRIGGER tasks_status_keys_inserted AFTER INSERT ON tasks
BEGIN
    INSERT INTO task_status_keys (side, side_id, status, created_at, task_id)
    SELECT 2, NEW.project_id, NEW.status, NEW.created_at, NEW.id WHERE NEW.project_id IS NOT NULL
    UNION ALL
    SELECT 0, NEW.owner_id, NEW.status, NEW.created_at, NEW.id WHERE NEW.project_id IS NULL
    UNION ALL
    SELECT 1, NEW.assignee_id, NEW.status, NEW.created_at, NEW.id
    WHERE NEW.project_id IS NULL AND NEW.assignee_id IS NOT NULL AND NEW.assignee_id <> NEW.owner_id;
END;

-- A side a task is not on has no row to delete: each statement is one probe of the primary key.
CREATE TRIGGER tasks_status_keys_deleted AFTER DELETE ON tasks
BEGIN
    DELETE FROM task_status_keys WHERE side = 2 AND side_id = OLD.project_id
        AND status = OLD.status AND created_at = OLD.created_at AND task_id = OLD.id;
    DELETE FROM task_status_keys WHERE side = 0 AND side_id = OLD.owner_id
        AND status = OLD.status AND created_at = OLD.created_at AND task_id = OLD.id;
    DELETE FROM task_status_keys WHERE side = 1 AND side_id = OLD.assignee_id
        AND status = OLD.status AND created_at = OLD.created_at AND task_id = OLD.id;
END;

CREATE TRIGGER tasks_status_keys_changed AFTER UPDATE OF status, owner_id, assignee_id, project_id ON tasks
WHEN OLD.status IS NOT NEW.status OR OLD.owner_id IS NOT NEW.owner_id
    OR OLD.assignee_id IS NOT NEW.assignee_id OR OLD.project_id IS NOT NEW.project_id
BEGIN
    DELETE FROM task_status_keys WHERE side = 2 AND side_id = OLD.project_id
        AND status = OLD.status AND created_at = OLD.created_at AND task_id = OLD.id;
    DELETE FROM task_status_keys WHERE side = 0 AND side_id = OLD.owner_id
        AND status = OLD.status AND created_at = OLD.created_at AND task_id = OLD.id;
    DELETE FROM task_status_keys WHERE side = 1 AND side_id = OLD.assignee_id
        AND status = OLD.status AND created_at = OLD.created_at AND task_id = OLD.id;
    INSERT INTO task_status_keys (side, side_id, status, created_at, task_id)
    SELECT 2, NEW.project_id, NEW.status, NEW.created_at, NEW.id WHERE NEW.project_id IS NOT NULL
    UNION ALL
    SELECT 0, NEW.owner_id, NEW.status, NEW.created_at, NEW.id WHERE NEW.project_id IS NULL
    UNION ALL
    SELECT 1, NEW.assignee_id, NEW.status, NEW.created_at, NEW.id
    WHERE NEW.project_id IS NULL AND NEW.assignee_id IS NOT NULL AND NEW.assignee_id <> NEW.owner_id;
END;
