-- Nothing to change here: PostgreSQL keeps the emptied pages of `task_count_changes` (see there);
-- on SQLite the table stays empty (its counters are kept in the writer's transaction), and both
-- engines' migrations end at the same version, so that an archive moves between them.
SELECT 1;
