-- Lists whose cost is the page, not the data (issue 35).
--
-- Totals. A list's `total` was a COUNT over every matching row: at 100,000 tasks of one user, ~30 ms
-- of every page. `task_counts` holds how many tasks each user is involved in (owns, or is assigned
-- without owning), per status, and `user_id = 0` the whole table's; a total by scope and status is
-- a sum of at most three of its rows. Writers never update those rows: a trigger appends the change
-- (`task_count_changes`, insert-only, so concurrent writers never wait on a counter or deadlock
-- over two of them), and the store folds changes into the counters a moment after its writes (all
-- that gathered meanwhile at once), in one statement that locks counters in key order. A total is counters plus changes not yet folded,
-- so it is exact at every moment; the changes read are the few written since the last fold.
CREATE TABLE task_counts (
    user_id BIGINT      NOT NULL,
    status  VARCHAR(16) NOT NULL,
    n       BIGINT      NOT NULL,
    PRIMARY KEY (user_id, status)
);

CREATE TABLE task_count_changes (
    id      BIGSERIAL   PRIMARY KEY,
    user_id BIGINT      NOT NULL,
    status  VARCHAR(16) NOT NULL,
    delta   BIGINT      NOT NULL
);
CREATE INDEX task_count_changes_user ON task_count_changes (user_id, status);

INSERT INTO task_counts (user_id, status, n)
SELECT user_id, status, COUNT(*) FROM (
    SELECT owner_id AS user_id, status FROM tasks
    UNION ALL
    SELECT assignee_id, status FROM tasks WHERE assignee_id IS NOT NULL AND assignee_id <> owner_id
    UNION ALL
    SELECT 0, status FROM tasks
) AS involved
GROUP BY user_id, status;

-- One statement per changed row: the counters it leaves (-1) and enters (+1), those that cancel
-- (a reassignment within one status leaves the owner's count as it was) left out.
CREATE FUNCTION tasks_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER tasks_counted AFTER INSERT OR DELETE ON tasks
FOR EACH ROW EXECUTE FUNCTION tasks_count_change();

CREATE TRIGGER tasks_recounted AFTER UPDATE OF status, owner_id, assignee_id ON tasks
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
    OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id)
EXECUTE FUNCTION tasks_count_change();

-- Pages. A page of the newest tasks is read from each side of the scope (owned; assigned and not
-- owned) in index order and merged, instead of sorting every row the user is involved in: the
-- page's ids come from index-only scans, then 20 rows from the heap. `id` completes the sort key,
-- and the assignee side carries `owner_id` so that "not owned" needs no heap either. Status stays
-- out of these indexes so that a status change remains a heap-only update.
DROP INDEX tasks_owner_created;
DROP INDEX tasks_assignee_created;
DROP INDEX tasks_created;
CREATE INDEX tasks_owner_created ON tasks (owner_id, created_at, id);
CREATE INDEX tasks_assignee_created ON tasks (assignee_id, created_at, id) INCLUDE (owner_id);
CREATE INDEX tasks_created ON tasks (created_at, id);
