-- Lists whose cost is the page, not the data (issue 35); see the PostgreSQL migration of the same
-- name. SQLite has one writer at a time, so its triggers update the counters directly;
-- `task_count_changes` exists, always empty, so that both engines read a total the same way.
CREATE TABLE task_counts (
    user_id INTEGER NOT NULL,
    status  TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (user_id, status)
) WITHOUT ROWID;

CREATE TABLE task_count_changes (
    id      INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    status  TEXT    NOT NULL,
    delta   INTEGER NOT NULL
);
CREATE INDEX task_count_changes_user ON task_count_changes (user_id, status);

INSERT INTO task_counts (user_id, status, n)
SELECT user_id, status, COUNT(*) FROM (
    SELECT owner_id AS user_id, status FROM tasks
    UNION ALL
    SELECT assignee_id, status FROM tasks WHERE assignee_id IS NOT NULL AND assignee_id <> owner_id
    UNION ALL
    SELECT 0, status FROM tasks
)
GROUP BY user_id, status;

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

-- Pages: each side of the scope in `(created_at, id)` order, covering the status filter and, on
-- the assignee side, "not owned". `id` is named although SQLite appends the rowid to every index:
-- after `status` it would no longer order the rows of one instant.
CREATE INDEX tasks_owner_created ON tasks (owner_id, created_at, id, status);
CREATE INDEX tasks_assignee_created ON tasks (assignee_id, created_at, id, owner_id, status);
