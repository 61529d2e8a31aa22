-- The store vacuums `task_count_changes` itself every 10,000 folded changes (every task write
-- appends some, and a fold deletes them): a total reads the user's unfolded changes through their
-- index, and with the dead ones of every write since the last vacuum it cost 7.8 ms at 100,000
-- tasks where autovacuum is off or behind. Like the outbox (migration 000020), the emptied pages
-- are kept for the next changes: giving them back takes a lock that every task write waits on.
ALTER TABLE task_count_changes SET (vacuum_truncate = false);
