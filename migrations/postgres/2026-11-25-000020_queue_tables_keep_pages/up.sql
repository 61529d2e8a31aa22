-- Tables that are written at the tail and emptied from the head (the outbox, which the relay
-- drains a few hundred events at a time, and the idempotency keys, deleted once expired) end most
-- vacuums with empty trailing pages, and VACUUM then gives those pages back to the file system.
-- To truncate, it takes an ACCESS EXCLUSIVE lock on the table and holds it while it checks the
-- pages and truncates the file, and every writer that inserts a row there waits: each task create
-- and update writes its event to the outbox, so under a `POST /tasks` load the batch that met a
-- truncation waited about 120 ms, about once a second (`compare.sh`, one core: p99 57-62 ms with a
-- p95 of 20 ms). Kept, the pages are reused by the next inserts; the p99 fell to 22 ms at the same
-- throughput. This holds for the relay's own `VACUUM outbox` and for autovacuum alike.
ALTER TABLE outbox SET (vacuum_truncate = false);
ALTER TABLE idempotency_keys SET (vacuum_truncate = false);
