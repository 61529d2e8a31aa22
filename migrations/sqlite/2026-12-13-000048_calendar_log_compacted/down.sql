-- Back to triggers that only append (the rows dropped stay dropped: the log is still whole).
DROP TRIGGER tasks_calendar_inserted;
DROP TRIGGER tasks_calendar_updated;
DROP TRIGGER tasks_calendar_deleted;
DROP INDEX calendar_changes_task;

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
