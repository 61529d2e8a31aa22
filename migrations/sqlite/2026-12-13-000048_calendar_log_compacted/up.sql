-- The calendar change log keeps one row per task and calendar (issue 69): a sync reports a task
-- from its state when it reads it, so a task's older rows in a calendar say nothing a newer one
-- does not. Each trigger now drops them as it writes the new one, which it numbers at once, so a
-- calendar's last number never goes back. Rows that gave a name up (`gone_name`) are kept: they
-- are how a sync learns that the name went. See the PostgreSQL migration of the same name.
CREATE INDEX calendar_changes_task ON calendar_changes (task_id, calendar);

DROP TRIGGER tasks_calendar_inserted;
DROP TRIGGER tasks_calendar_updated;
DROP TRIGGER tasks_calendar_deleted;

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
    DELETE FROM calendar_changes
    WHERE task_id = new.id AND gone_name IS NULL
        AND seq < (SELECT max(newer.seq) FROM calendar_changes AS newer
                   WHERE newer.task_id = new.id AND newer.calendar = calendar_changes.calendar);
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
    DELETE FROM calendar_changes
    WHERE task_id = old.id AND gone_name IS NULL
        AND seq < (SELECT max(newer.seq) FROM calendar_changes AS newer
                   WHERE newer.task_id = old.id AND newer.calendar = calendar_changes.calendar);
END;

-- The log as it would have been.
DELETE FROM calendar_changes
WHERE gone_name IS NULL
    AND seq < (SELECT max(newer.seq) FROM calendar_changes AS newer
               WHERE newer.task_id = calendar_changes.task_id AND newer.calendar = calendar_changes.calendar);
