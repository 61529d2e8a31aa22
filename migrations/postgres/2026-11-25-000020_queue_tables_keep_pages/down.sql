ALTER TABLE idempotency_keys RESET (vacuum_truncate);
ALTER TABLE outbox RESET (vacuum_truncate);
