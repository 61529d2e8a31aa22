-- Accounts and refresh tokens. Every timestamp is UTC, stored without a zone.
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      VARCHAR(32)  NOT NULL,
    -- lower-cased username: usernames are unique regardless of case
    username_key  VARCHAR(32)  NOT NULL,
    -- stored lower-cased: emails compare case-insensitively
    email         VARCHAR(254) NOT NULL,
    -- NULL for accounts that only sign in through an OAuth provider
    password_hash TEXT,
    role          VARCHAR(16)  NOT NULL CHECK (role IN ('user', 'moderator', 'admin', 'super_admin')),
    status        VARCHAR(16)  NOT NULL CHECK (status IN ('active', 'disabled')),
    first_name    VARCHAR(100),
    last_name     VARCHAR(100),
    bio           TEXT,
    avatar_url    TEXT,
    totp_enabled  BOOLEAN      NOT NULL DEFAULT FALSE,
    -- lower-cased "username first last", folded in Rust so that non-ASCII search
    -- behaves the same on PostgreSQL and SQLite
    search_text   TEXT         NOT NULL,
    created_at    TIMESTAMP    NOT NULL,
    updated_at    TIMESTAMP    NOT NULL
);
CREATE UNIQUE INDEX users_email_unique ON users (email);
CREATE UNIQUE INDEX users_username_unique ON users (username_key);

CREATE TABLE refresh_tokens (
    id          BIGSERIAL   PRIMARY KEY,
    user_id     BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- one family per sign-in; reuse of a rotated token revokes the family
    family_id   VARCHAR(36) NOT NULL,
    -- SHA-256 of the token, hex; the token itself is never stored
    token_hash  VARCHAR(64) NOT NULL,
    created_at  TIMESTAMP   NOT NULL,
    expires_at  TIMESTAMP   NOT NULL,
    used_at     TIMESTAMP,
    revoked_at  TIMESTAMP
);
CREATE UNIQUE INDEX refresh_tokens_hash_unique ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
