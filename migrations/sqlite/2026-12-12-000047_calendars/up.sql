-- Calendars (issue 69); see the PostgreSQL migration of the same name. SQLite has one writer at
-- a time, so the order of ids is the order of commits: each trigger numbers its rows at once.
CREATE TABLE calendar_objects (
    task_id INTEGER PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    uid TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX calendar_objects_name ON calendar_objects (name);
CREATE INDEX calendar_objects_uid ON calendar_objects (uid);

CREATE TABLE calendar_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    calendar BIGINT NOT NULL,
    task_id BIGINT NOT NULL,
    gone_name TEXT,
    seq BIGINT
);
CREATE INDEX calendar_changes_calendar ON calendar_changes (calendar, seq) WHERE seq IS NOT NULL;
CREATE INDEX calendar_changes_unnumbered ON calendar_changes (id) WHERE seq IS NULL;
-- The last number given, from which the next are counted.
CREATE INDEX calendar_changes_seq ON calendar_changes (seq) WHERE seq IS NOT NULL;

CREATE TRIGGER tasks_calendar_inserted AFTER INSERT ON tasks BEGIN
    INSERT INTO calendar_changes (calendar, task_id)
    SELECT DISTINCT calendar, new.id FROM (
        SELECT CASE WHEN new.project_id IS NULL THEN new.owner_id ELSE -new.project_id END AS calendar
        UNION ALL SELECT new.assignee_id WHERE new.project_id IS NULL)
    WHERE calendar IS NOT NULL;
    UPDATE calendar_changes SET seq = id WHERE seq IS NULL;
END;

CREATE TRIGGER tasks_calendar_updated AFTER UPDATE ON tasks BEGIN
    INSERT INTO calendar_changes (calendar, task_id)
    SELECT DISTINCT calendar, new.id FROM (
        SELECT CASE WHEN new.project_id IS NULL THEN new.owner_id ELSE -new.project_id END AS calendar
        UNION ALL SELECT new.assignee_id WHERE new.project_id IS NULL
        UNION ALL SELECT CASE WHEN old.project_id IS NULL THEN old.owner_id ELSE -old.project_id END
        UNION ALL SELECT old.assignee_id WHERE old.project_id IS NULL)
    WHERE calendar IS NOT NULL;
    UPDATE calendar_changes SET seq = id WHERE seq IS NULL;
END;

CREATE TRIGGER tasks_calendar_deleted BEFORE DELETE ON tasks BEGIN
    INSERT INTO calendar_changes (calendar, task_id, gone_name)
    SELECT DISTINCT calendar, old.id,
        COALESCE((SELECT name FROM calendar_objects WHERE task_id = old.id), 'workbench-task-' || old.id || '.ics')
    FROM (
        SELECT CASE WHEN old.project_id IS NULL THEN old.owner_id ELSE -old.project_id END AS calendar
        UNION ALL SELECT old.assignee_id WHERE old.project_id IS NULL)
    WHERE calendar IS NOT NULL;
    UPDATE calendar_changes SET seq = id WHERE seq IS NULL;
END;
