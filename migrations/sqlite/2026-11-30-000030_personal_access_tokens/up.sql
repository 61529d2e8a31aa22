-- Personal access tokens; kept in step with migrations/postgres (see there for what each column means).
CREATE TABLE personal_access_tokens (
    id            INTEGER   PRIMARY KEY AUTOINCREMENT,
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
CREATE INDEX personal_access_tokens_user ON personal_access_tokens (user_id, created_at DESC, id DESC);
