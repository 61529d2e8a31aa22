-- Domain events (the outbox), outbound webhook subscriptions and their deliveries, inbound
-- webhook deliveries, and when each account was last seen. Kept in step with
-- migrations/postgres. AUTOINCREMENT on the outbox: its rows are deleted once published, and
-- plain rowids would be reused, while publishers deduplicate by event id.
CREATE TABLE outbox (
    id          INTEGER   PRIMARY KEY AUTOINCREMENT,
    event       TEXT      NOT NULL,
    subject_id  BIGINT    NOT NULL,
    audience    TEXT      NOT NULL,
    payload     TEXT      NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);

CREATE TABLE outbox_relay (
    name        TEXT      PRIMARY KEY,
    holder      TEXT,
    lease_until TIMESTAMP
);
INSERT INTO outbox_relay (name) VALUES ('outbox');

CREATE TABLE webhook_subscriptions (
    id         INTEGER   PRIMARY KEY AUTOINCREMENT,
    owner_id   BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url        TEXT      NOT NULL,
    events     TEXT      NOT NULL,
    secret     TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_subscriptions_owner ON webhook_subscriptions (owner_id);

CREATE TABLE webhook_deliveries (
    id              INTEGER   PRIMARY KEY AUTOINCREMENT,
    subscription_id BIGINT    NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_id        BIGINT    NOT NULL,
    event           TEXT      NOT NULL,
    message_id      TEXT      NOT NULL,
    body            TEXT      NOT NULL,
    status          TEXT      NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER   NOT NULL DEFAULT 0,
    created_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries (subscription_id, event_id);

CREATE TABLE webhook_attempts (
    id              INTEGER   PRIMARY KEY AUTOINCREMENT,
    delivery_id     BIGINT    NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    subscription_id BIGINT    NOT NULL,
    attempt         INTEGER   NOT NULL,
    attempted_at    TIMESTAMP NOT NULL,
    response_status INTEGER,
    error           TEXT,
    duration_ms     BIGINT    NOT NULL,
    succeeded       BOOLEAN   NOT NULL
);
CREATE INDEX webhook_attempts_subscription ON webhook_attempts (subscription_id, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);

CREATE TABLE inbound_webhooks (
    id           INTEGER   PRIMARY KEY AUTOINCREMENT,
    provider     TEXT      NOT NULL,
    delivery_id  TEXT      NOT NULL,
    event_type   TEXT      NOT NULL,
    payload      TEXT      NOT NULL,
    received_at  TIMESTAMP NOT NULL,
    status       TEXT      NOT NULL CHECK (status IN ('received', 'processed', 'ignored', 'failed')),
    attempts     INTEGER   NOT NULL DEFAULT 0,
    last_error   TEXT,
    result       TEXT,
    processed_at TIMESTAMP
);
CREATE UNIQUE INDEX inbound_webhooks_once ON inbound_webhooks (provider, delivery_id);

ALTER TABLE users ADD COLUMN last_seen_at TIMESTAMP;
UPDATE users SET last_seen_at = (SELECT max(created_at) FROM refresh_tokens WHERE user_id = users.id);

CREATE TRIGGER refresh_tokens_mark_seen AFTER INSERT ON refresh_tokens
BEGIN
    UPDATE users SET last_seen_at = NEW.created_at
    WHERE id = NEW.user_id AND (last_seen_at IS NULL OR last_seen_at < NEW.created_at);
END;

CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
