-- The calendar change log keeps one row per task and calendar (issue 69): a sync reports a task
-- from its state when it reads it, so a task's older rows in a calendar say nothing a newer one
-- does not. Whoever numbers the committed rows (`number_committed` in crates/store/src/calendars.rs)
-- drops the older rows of the tasks it numbers in the same statement, so a calendar's last number
-- never goes back; the writers' triggers are unchanged and never wait on a reader. Rows that gave a
-- name up (`gone_name`) are kept: they are how a sync learns that the name went.
CREATE INDEX calendar_changes_task ON calendar_changes (task_id, calendar);

-- The log as it would have been.
DELETE FROM calendar_changes AS old
USING calendar_changes AS newer
WHERE newer.task_id = old.task_id AND newer.calendar = old.calendar
    AND old.gone_name IS NULL AND newer.seq > old.seq;
