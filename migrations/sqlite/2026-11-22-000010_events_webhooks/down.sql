DROP INDEX refresh_tokens_expiry;
DROP TRIGGER refresh_tokens_mark_seen;
ALTER TABLE users DROP COLUMN last_seen_at;
DROP TABLE inbound_webhooks;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
DROP TABLE outbox_relay;
DROP TABLE outbox;
