-- Personal access tokens: a user's scoped credentials for scripts. The secret is known only by
-- its SHA-256 (`token_digest`); `prefix` is its first 12 characters, shown to tell tokens apart.
-- `scopes` holds the granted scope names separated by spaces, as OAuth writes a `scope`.
-- Revoking a token deletes its row; a token goes with its user. `last_used_at` is written off
-- the request path, at most about once a minute per token, and only ever moves forward.
CREATE TABLE personal_access_tokens (
    id            BIGSERIAL PRIMARY KEY,
    user_id       BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT      NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    scopes        TEXT      NOT NULL,
    token_digest  TEXT      NOT NULL CHECK (length(token_digest) = 64),
    prefix        TEXT      NOT NULL CHECK (length(prefix) = 12),
    expires_at    TIMESTAMP NOT NULL,
    last_used_at  TIMESTAMP,
    created_at    TIMESTAMP NOT NULL,
    CONSTRAINT personal_access_tokens_digest_unique UNIQUE (token_digest)
);
-- A user's tokens, newest first (the listing's order and its count).
CREATE INDEX personal_access_tokens_user ON personal_access_tokens (user_id, created_at DESC, id DESC);
