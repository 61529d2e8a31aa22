-- Domain events (the outbox), outbound webhook subscriptions and their deliveries, inbound
-- webhook deliveries, and when each account was last seen. Kept in step with migrations/sqlite.

-- Events written in the same transaction as the change they describe, removed once published.
-- Ids are never reused: publishers deduplicate by them.
CREATE TABLE outbox (
    id          BIGSERIAL    PRIMARY KEY,
    -- task.created, task.updated, task.deleted
    event       VARCHAR(64)  NOT NULL,
    subject_id  BIGINT       NOT NULL,
    -- JSON array of the user ids who may see the subject
    audience    TEXT         NOT NULL,
    -- JSON: the subject as the domain serialises it
    payload     TEXT         NOT NULL,
    occurred_at TIMESTAMP    NOT NULL
);

-- One relay at a time across instances: the holder of this lease.
CREATE TABLE outbox_relay (
    name        VARCHAR(32)  PRIMARY KEY,
    holder      VARCHAR(128),
    lease_until TIMESTAMP
);
INSERT INTO outbox_relay (name) VALUES ('outbox');

CREATE TABLE webhook_subscriptions (
    id         BIGSERIAL     PRIMARY KEY,
    owner_id   BIGINT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url        VARCHAR(2000) NOT NULL,
    -- JSON array of event names
    events     TEXT          NOT NULL,
    -- whsec_...: needed in the clear to sign deliveries
    secret     VARCHAR(128)  NOT NULL,
    created_at TIMESTAMP     NOT NULL
);
CREATE INDEX webhook_subscriptions_owner ON webhook_subscriptions (owner_id);

-- One event for one subscription: the body sent on every attempt.
CREATE TABLE webhook_deliveries (
    id              BIGSERIAL    PRIMARY KEY,
    subscription_id BIGINT       NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_id        BIGINT       NOT NULL,
    event           VARCHAR(64)  NOT NULL,
    message_id      VARCHAR(64)  NOT NULL,
    body            TEXT         NOT NULL,
    status          VARCHAR(16)  NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER      NOT NULL DEFAULT 0,
    created_at      TIMESTAMP    NOT NULL
);
-- Fanning an event out twice delivers it once: INSERT ... ON CONFLICT DO NOTHING against this.
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries (subscription_id, event_id);

CREATE TABLE webhook_attempts (
    id              BIGSERIAL    PRIMARY KEY,
    delivery_id     BIGINT       NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    subscription_id BIGINT       NOT NULL,
    attempt         INTEGER      NOT NULL,
    attempted_at    TIMESTAMP    NOT NULL,
    response_status INTEGER,
    error           TEXT,
    duration_ms     BIGINT       NOT NULL,
    succeeded       BOOLEAN      NOT NULL
);
CREATE INDEX webhook_attempts_subscription ON webhook_attempts (subscription_id, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);

CREATE TABLE inbound_webhooks (
    id           BIGSERIAL    PRIMARY KEY,
    provider     VARCHAR(16)  NOT NULL,
    delivery_id  VARCHAR(255) NOT NULL,
    event_type   VARCHAR(255) NOT NULL,
    payload      TEXT         NOT NULL,
    received_at  TIMESTAMP    NOT NULL,
    status       VARCHAR(16)  NOT NULL CHECK (status IN ('received', 'processed', 'ignored', 'failed')),
    attempts     INTEGER      NOT NULL DEFAULT 0,
    last_error   TEXT,
    -- JSON: what processing did
    result       TEXT,
    processed_at TIMESTAMP
);
-- A redelivery stores nothing: INSERT ... ON CONFLICT DO NOTHING against this.
CREATE UNIQUE INDEX inbound_webhooks_once ON inbound_webhooks (provider, delivery_id);

-- When an account was last seen: every sign-in and every token refresh issues a refresh token,
-- so a trigger on their insert keeps this without a write on ordinary requests. Read by the
-- inactive-account job only (not part of the users schema the application maps).
ALTER TABLE users ADD COLUMN last_seen_at TIMESTAMP;
UPDATE users SET last_seen_at = latest.created_at
FROM (SELECT user_id, max(created_at) AS created_at FROM refresh_tokens GROUP BY user_id) AS latest
WHERE latest.user_id = users.id;

CREATE FUNCTION users_mark_seen() RETURNS trigger AS $$
BEGIN
    UPDATE users SET last_seen_at = NEW.created_at
    WHERE id = NEW.user_id AND (last_seen_at IS NULL OR last_seen_at < NEW.created_at);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER refresh_tokens_mark_seen AFTER INSERT ON refresh_tokens
FOR EACH ROW EXECUTE FUNCTION users_mark_seen();

-- The purge of expired refresh tokens.
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
