ALTER TABLE task_count_changes RESET (vacuum_truncate);
