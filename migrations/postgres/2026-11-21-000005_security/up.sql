-- Two-factor authentication, OAuth identities, pending OAuth authorizations and the audit trail.

-- A user's TOTP secret, from setup on (`users.totp_enabled` says whether it is in force);
-- `last_step` is the time step of the last accepted code, so that no code is accepted twice.
-- Wrong codes are counted; too many lock the second factor for a while (`locked_until`), because
-- whoever sends codes already knows the password and six digits do not resist guessing for long.
CREATE TABLE totp_credentials (
    user_id         BIGINT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret          TEXT      NOT NULL,
    last_step       BIGINT,
    failed_attempts INTEGER   NOT NULL DEFAULT 0,
    locked_until    TIMESTAMP,
    created_at      TIMESTAMP NOT NULL
);

CREATE TABLE totp_recovery_codes (
    id         BIGSERIAL   PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the normalised code, hex; the code itself is shown once and never stored
    code_hash  VARCHAR(64) NOT NULL,
    created_at TIMESTAMP   NOT NULL,
    used_at    TIMESTAMP
);
CREATE UNIQUE INDEX totp_recovery_codes_user_hash ON totp_recovery_codes (user_id, code_hash);

-- One row per (provider, subject): the provider's stable id of a person, linked to one account.
CREATE TABLE oauth_identities (
    provider   VARCHAR(16)  NOT NULL,
    subject    VARCHAR(255) NOT NULL,
    user_id    BIGINT       NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      VARCHAR(254),
    created_at TIMESTAMP    NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX oauth_identities_user ON oauth_identities (user_id);

-- Authorizations between the redirect to a provider and its callback, under the SHA-256 of
-- their `state`; in the database so that the callback may reach any instance.
CREATE TABLE oauth_states (
    state_hash    VARCHAR(64) PRIMARY KEY,
    provider      VARCHAR(16) NOT NULL,
    pkce_verifier TEXT        NOT NULL,
    created_at    TIMESTAMP   NOT NULL,
    expires_at    TIMESTAMP   NOT NULL
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);

-- Append-only. No foreign keys: an entry outlives the accounts it names.
CREATE TABLE audit_log (
    id         BIGSERIAL   PRIMARY KEY,
    actor_id   BIGINT,
    action     VARCHAR(32) NOT NULL,
    target_id  BIGINT,
    ip         VARCHAR(64),
    user_agent TEXT,
    -- a JSON object
    details    TEXT        NOT NULL,
    created_at TIMESTAMP   NOT NULL
);
CREATE INDEX audit_log_created ON audit_log (created_at);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
