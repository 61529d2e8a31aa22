-- A task's status is what changes most (`PATCH {"status": ...}`), and while it was a key column of
-- the two per-user list indexes every such change was a non-HOT update: a new entry in each of the
-- table's six indexes, the trigram GIN index included. With status out of the indexes, a change of
-- status, priority, version or timestamps touches no indexed column, and PostgreSQL writes it as a
-- heap-only tuple on the same page (measured with pgbench on this table: 5,700-6,100 updates/s
-- before, 7,500-8,800 after, 99.9 % HOT). A status filter is now checked on the user's rows that
-- the bitmap scan fetches instead of inside the index: a user's tasks are a few pages.
-- `fillfactor` leaves room on each new page for those updates. SQLite keeps the status in its
-- indexes: it has no HOT updates, and its counts by status are answered from them.
CREATE INDEX tasks_owner_created ON tasks (owner_id, created_at);
CREATE INDEX tasks_assignee_created ON tasks (assignee_id, created_at);
DROP INDEX tasks_owner_status_created;
DROP INDEX tasks_assignee_status_created;
ALTER TABLE tasks SET (fillfactor = 90);
