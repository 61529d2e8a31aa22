-- Calendars (issue 69): tasks over CalDAV. Kept in step with migrations/sqlite.
--
-- What a client wrote beside a task: the UID and resource name it chose and its last calendar
-- object as sent, from which what Workbench does not model is given back. A task no client
-- wrote has no row: its UID and name derive from its id (`workbench-task-<id>`).
CREATE TABLE calendar_objects (
    task_id BIGINT PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    uid TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX calendar_objects_name ON calendar_objects (name);
CREATE INDEX calendar_objects_uid ON calendar_objects (uid);

-- Each calendar's change log, which sync tokens point into. `calendar` is a user's id for their
-- personal tasks, minus a project's id for its tasks (as `task_counts` keys its counters). A row
-- says that a task changed in, entered or left that calendar; what the sync reports is read
-- from the task as it is then, so the row needs no more. `gone_name` is a name that no longer
-- designates the task there: a deleted task's, or the default one a client's name replaced.
--
-- Rows are appended by the writers' triggers without a place in the log (`seq` null): a
-- sequence's numbers are handed out in the order writers ask, not the order they commit, and a
-- token past a number still uncommitted would skip its change for good. Whoever reads the log
-- first numbers what has committed, one at a time (`crates/store/src/calendars.rs`), so numbers
-- follow commits and writers never wait on each other.
CREATE TABLE calendar_changes (
    id BIGSERIAL PRIMARY KEY,
    calendar BIGINT NOT NULL,
    task_id BIGINT NOT NULL,
    gone_name TEXT,
    seq BIGINT
);
CREATE INDEX calendar_changes_calendar ON calendar_changes (calendar, seq) WHERE seq IS NOT NULL;
CREATE INDEX calendar_changes_unnumbered ON calendar_changes (id) WHERE seq IS NULL;
-- The last number given, from which the next are counted.
CREATE INDEX calendar_changes_seq ON calendar_changes (seq) WHERE seq IS NOT NULL;

CREATE FUNCTION tasks_calendar_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO calendar_changes (calendar, task_id)
    SELECT DISTINCT calendar, NEW.id FROM (VALUES
        (CASE WHEN NEW.project_id IS NULL THEN NEW.owner_id ELSE -NEW.project_id END),
        (CASE WHEN NEW.project_id IS NULL THEN NEW.assignee_id END)
    ) AS entered (calendar)
    WHERE calendar IS NOT NULL;
    RETURN NULL;
END;
$$;

CREATE FUNCTION tasks_calendar_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO calendar_changes (calendar, task_id)
    SELECT DISTINCT calendar, NEW.id FROM (VALUES
        (CASE WHEN NEW.project_id IS NULL THEN NEW.owner_id ELSE -NEW.project_id END),
        (CASE WHEN NEW.project_id IS NULL THEN NEW.assignee_id END),
        (CASE WHEN OLD.project_id IS NULL THEN OLD.owner_id ELSE -OLD.project_id END),
        (CASE WHEN OLD.project_id IS NULL THEN OLD.assignee_id END)
    ) AS touched (calendar)
    WHERE calendar IS NOT NULL;
    RETURN NULL;
END;
$$;

-- Before the row goes, while its kept name can still be read (its `calendar_objects` row goes
-- with it).
CREATE FUNCTION tasks_calendar_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO calendar_changes (calendar, task_id, gone_name)
    SELECT DISTINCT calendar, OLD.id,
        COALESCE((SELECT name FROM calendar_objects WHERE task_id = OLD.id), 'workbench-task-' || OLD.id || '.ics')
    FROM (VALUES
        (CASE WHEN OLD.project_id IS NULL THEN OLD.owner_id ELSE -OLD.project_id END),
        (CASE WHEN OLD.project_id IS NULL THEN OLD.assignee_id END)
    ) AS left_ (calendar)
    WHERE calendar IS NOT NULL;
    RETURN OLD;
END;
$$;

CREATE TRIGGER tasks_calendar_inserted AFTER INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION tasks_calendar_written();
CREATE TRIGGER tasks_calendar_updated AFTER UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION tasks_calendar_moved();
CREATE TRIGGER tasks_calendar_deleted BEFORE DELETE ON tasks FOR EACH ROW EXECUTE FUNCTION tasks_calendar_deleted();

-- The tasks there are before this migration are in their calendars from the start: a token
-- before their first change lists them (a sync's first answer is a listing, not the log).
