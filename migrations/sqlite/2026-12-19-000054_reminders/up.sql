-- Kept in step with migrations/postgres.
-- Reminders of tasks, and the daily digests waiting to be mailed.
--
-- A reminder is absolute (`remind_at`) or relative to its task's due date (`before_due` as the
-- client wrote it, `before_secs` in seconds). `fire_at` is when it fires next: a trigger keeps a
-- relative one in step with the due date (null while the task has none), and re-arms it when a
-- moved due date puts its moment in the future again. `kind` 'due_soon' is the one reminder a
-- task with a due date has by itself, 24 hours before it: not listed, not counted among the ten.
-- A sweep claims what is due with one UPDATE (`fired_at`), so each fires once whatever the
-- number of instances sweeping.
CREATE TABLE task_reminders (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id     BIGINT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    kind        TEXT      NOT NULL DEFAULT 'reminder' CHECK (kind IN ('reminder', 'due_soon')),
    remind_at   TIMESTAMP,
    before_due  TEXT,
    before_secs BIGINT,
    fire_at     TIMESTAMP,
    fired_at    TIMESTAMP,
    created_by  BIGINT    REFERENCES users (id) ON DELETE SET NULL,
    created_at  TIMESTAMP NOT NULL,
    CONSTRAINT task_reminders_one_moment CHECK ((remind_at IS NULL) <> (before_secs IS NULL))
);
CREATE INDEX task_reminders_task ON task_reminders (task_id, id);
CREATE INDEX task_reminders_pending ON task_reminders (fire_at) WHERE fired_at IS NULL AND fire_at IS NOT NULL;
CREATE UNIQUE INDEX task_reminders_due_soon ON task_reminders (task_id) WHERE kind = 'due_soon';

CREATE TRIGGER task_reminders_follow_due AFTER UPDATE OF due_date ON tasks
FOR EACH ROW WHEN OLD.due_date IS NOT NEW.due_date
BEGIN
    UPDATE task_reminders
    SET fire_at = strftime('%Y-%m-%d %H:%M:%f', NEW.due_date, '-' || before_secs || ' seconds'),
        fired_at = CASE
            WHEN strftime('%Y-%m-%d %H:%M:%f', NEW.due_date, '-' || before_secs || ' seconds')
                 > strftime('%Y-%m-%d %H:%M:%f', 'now') THEN NULL
            ELSE fired_at
        END
    WHERE task_id = NEW.id AND before_secs IS NOT NULL;
    INSERT INTO task_reminders (task_id, kind, before_due, before_secs, fire_at, fired_at, created_at)
    SELECT NEW.id, 'due_soon', 'P1D', 86400, strftime('%Y-%m-%d %H:%M:%f', NEW.due_date, '-1 day'),
           CASE WHEN NEW.due_date <= strftime('%Y-%m-%d %H:%M:%f', 'now') THEN strftime('%Y-%m-%d %H:%M:%f', 'now') END,
           strftime('%Y-%m-%d %H:%M:%f', 'now')
    WHERE NEW.due_date IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM task_reminders WHERE task_id = NEW.id AND kind = 'due_soon');
END;

CREATE TRIGGER task_reminders_due_soon AFTER INSERT ON tasks
FOR EACH ROW WHEN NEW.due_date IS NOT NULL
BEGIN
    INSERT INTO task_reminders (task_id, kind, before_due, before_secs, fire_at, fired_at, created_at)
    VALUES (NEW.id, 'due_soon', 'P1D', 86400, strftime('%Y-%m-%d %H:%M:%f', NEW.due_date, '-1 day'),
            CASE WHEN NEW.due_date <= strftime('%Y-%m-%d %H:%M:%f', 'now') THEN strftime('%Y-%m-%d %H:%M:%f', 'now') END,
            strftime('%Y-%m-%d %H:%M:%f', 'now'));
END;

-- The tasks due in the future have theirs from now on.
INSERT INTO task_reminders (task_id, kind, before_due, before_secs, fire_at, created_at)
SELECT id, 'due_soon', 'P1D', 86400, strftime('%Y-%m-%d %H:%M:%f', due_date, '-1 day'), strftime('%Y-%m-%d %H:%M:%f', 'now')
FROM tasks WHERE due_date > strftime('%Y-%m-%d %H:%M:%f', 'now');

-- A user whose daily digest has something in it since notification `since_id`.
CREATE TABLE notification_digests (
    user_id  BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    since_id BIGINT NOT NULL
);
