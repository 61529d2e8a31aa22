DROP INDEX calendar_changes_task;
