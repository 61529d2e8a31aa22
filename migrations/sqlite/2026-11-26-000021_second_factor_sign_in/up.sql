-- Sign-ins waiting for their second factor, and the browser binding of pending OAuth sign-ins;
-- kept in step with migrations/postgres.
CREATE TABLE mfa_tokens (
    token_hash TEXT   PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider   TEXT   NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX mfa_tokens_expires ON mfa_tokens (expires_at);
CREATE INDEX mfa_tokens_user ON mfa_tokens (user_id);

DELETE FROM oauth_states;
ALTER TABLE oauth_states ADD COLUMN browser_hash TEXT NOT NULL DEFAULT '';
