-- Two of the triggers an `UPDATE tasks` fires on PostgreSQL, the calendars' change log and the
-- recount of the tasks a completed or reopened task blocks, run once per statement over the
-- statement's transition tables instead of once per row. Group commit writes a batch of PATCHes as
-- one `UPDATE` (`crates/store/src/tasks/statements/batch.rs`), and per row each PL/pgSQL call ran
-- its own statements: in EXPLAIN ANALYZE of a batch of ten status changes, the two took 1.0-1.2 ms
-- of 2.5, and 0.5 once per statement. What each writes is unchanged, row for row. The status keys'
-- trigger stays per row: over transition tables its delete and insert cost more than ten calls
-- (their plans are made again at every firing). SQLite has no statement triggers: its row
-- triggers stay as they are.
--
-- A trigger with transition tables may not name columns (`UPDATE OF`) nor take a `WHEN`: each
-- function keeps only the rows whose columns it follows changed, by joining old to new by id.

DROP TRIGGER tasks_calendar_updated ON tasks;
DROP TRIGGER tasks_blocking_status ON tasks;

-- As `tasks_calendar_moved`: every updated task is a change in each calendar it was or is in.
CREATE FUNCTION tasks_calendar_moved_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO calendar_changes (calendar, task_id)
    SELECT DISTINCT touched.calendar, n.id
    FROM new_rows AS n
    JOIN old_rows AS o ON o.id = n.id
    CROSS JOIN LATERAL (VALUES
        (CASE WHEN n.project_id IS NULL THEN n.owner_id ELSE -n.project_id END),
        (CASE WHEN n.project_id IS NULL THEN n.assignee_id END),
        (CASE WHEN o.project_id IS NULL THEN o.owner_id ELSE -o.project_id END),
        (CASE WHEN o.project_id IS NULL THEN o.assignee_id END)
    ) AS touched (calendar)
    WHERE touched.calendar IS NOT NULL;
    RETURN NULL;
END;
$$;
CREATE TRIGGER tasks_calendar_updated AFTER UPDATE ON tasks
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION tasks_calendar_moved_rows();

-- As `tasks_reblock_blocked`, for every task the statement completed or reopened at once: the
-- tasks they block are locked first, in id order (a transaction completing another of their
-- blockers at the same time then recounts after this one commits, from a snapshot that sees it),
-- and recounted by a second statement, which takes a new snapshot.
CREATE FUNCTION tasks_reblock_blocked_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    flipped BIGINT[];
BEGIN
    SELECT array_agg(n.id) INTO flipped
    FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
    WHERE (o.status = 'completed') IS DISTINCT FROM (n.status = 'completed');
    -- Most tasks block none: the recount (and the triggers its own update fires) is skipped.
    IF flipped IS NULL OR NOT EXISTS (
        SELECT 1 FROM task_relations WHERE task_id = ANY (flipped) AND kind = 'blocks'
    ) THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM tasks
    WHERE id IN (SELECT other_id FROM task_relations WHERE task_id = ANY (flipped) AND kind = 'blocks')
    ORDER BY id FOR NO KEY UPDATE;
    UPDATE tasks SET blocked = task_blocked(tasks.id), version = version + 1
    WHERE id IN (SELECT other_id FROM task_relations WHERE task_id = ANY (flipped) AND kind = 'blocks')
      AND blocked IS DISTINCT FROM task_blocked(tasks.id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER tasks_blocking_status AFTER UPDATE ON tasks
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION tasks_reblock_blocked_rows();
