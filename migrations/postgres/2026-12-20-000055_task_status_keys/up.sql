-- A page of a list filtered by status, in creation order, walked the scope's tasks in creation
-- order and checked each one's status in the table: at 100,000 tasks a deep page of one status
-- read tens of thousands of task rows, most of the `mixed` load's database time. Status is kept
-- out of the tasks' indexes, so that a change of status stays a heap-only update (the table has a
-- dozen indexes, a trigram one among them). This narrow table holds the creation keys of the
-- tasks of each side of a list and each status: a page of one status is a range of its primary
-- key, walked from the page's nearer end, and a change of status moves one small row.
--
-- `side`: 0, the personal tasks `side_id` owns; 1, the personal tasks assigned to `side_id` that
-- it does not own; 2, the tasks of project `side_id` (the sides of `crates/store/src/tasks/list.rs`).
-- Triggers keep it, on every path that writes a task.
CREATE TABLE task_status_keys (
    side SMALLINT NOT NULL,
    side_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    task_id BIGINT NOT NULL,
    PRIMARY KEY (side, side_id, status, created_at, task_id)
);

INSERT INTO task_status_keys (side, side_id, status, created_at, task_id)
SELECT 0, owner_id, status, created_at, id FROM tasks WHERE project_id IS NULL
UNION ALL
SELECT 1, assignee_id, status, created_at, id FROM tasks
WHERE project_id IS NULL AND assignee_id IS NOT NULL AND assignee_id <> owner_id
UNION ALL
SELECT 2, project_id, status, created_at, id FROM tasks WHERE project_id IS NOT NULL;

-- Every statement names the whole primary key, so that each is one index probe whatever the
-- table's statistics (the load machines run without autovacuum).
CREATE FUNCTION tasks_sync_status_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.project_id IS NOT NULL THEN
            DELETE FROM task_status_keys WHERE side = 2 AND side_id = OLD.project_id
                AND status = OLD.status AND created_at = OLD.created_at AND task_id = OLD.id;
        ELSE
            DELETE FROM task_status_keys WHERE side = 0 AND side_id = OLD.owner_id
                AND status = OLD.status AND created_at = OLD.created_at AND task_id = OLD.id;
            IF OLD.assignee_id IS NOT NULL AND OLD.assignee_id <> OLD.owner_id THEN
                DELETE FROM task_status_keys WHERE side = 1 AND side_id = OLD.assignee_id
                    AND status = OLD.status AND created_at = OLD.created_at AND task_id = OLD.id;
            END IF;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.project_id IS NOT NULL THEN
            INSERT INTO task_status_keys VALUES (2, NEW.project_id, NEW.status, NEW.created_at, NEW.id);
        ELSE
            INSERT INTO task_status_keys VALUES (0, NEW.owner_id, NEW.status, NEW.created_at, NEW.id);
            IF NEW.assignee_id IS NOT NULL AND NEW.assignee_id <> NEW.owner_id THEN
                INSERT INTO task_status_keys VALUES (1, NEW.assignee_id, NEW.status, NEW.created_at, NEW.id);
            END IF;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasks_status_keys_inserted AFTER INSERT ON tasks
FOR EACH ROW EXECUTE FUNCTION tasks_sync_status_keys();
CREATE TRIGGER tasks_status_keys_deleted AFTER DELETE ON tasks
FOR EACH ROW EXECUTE FUNCTION tasks_sync_status_keys();
CREATE TRIGGER tasks_status_keys_changed AFTER UPDATE OF status, owner_id, assignee_id, project_id ON tasks
FOR EACH ROW WHEN (
    OLD.status IS DISTINCT FROM NEW.status OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
    OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id OR OLD.project_id IS DISTINCT FROM NEW.project_id
)
EXECUTE FUNCTION tasks_sync_status_keys();
