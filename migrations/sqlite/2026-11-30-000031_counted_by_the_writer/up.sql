-- Nothing to change here: SQLite's triggers update `task_counts` directly (one writer at a time,
-- no change rows to append). The PostgreSQL migration of the same name lets a batch of task writes
-- count itself; this one keeps the two engines' migration histories in step.
SELECT 1;
