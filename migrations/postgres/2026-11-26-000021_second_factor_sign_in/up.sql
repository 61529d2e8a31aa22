-- Sign-ins waiting for their second factor (an OAuth sign-in of an account with TOTP on), under
-- the SHA-256 of their single-use token; in the database so that the second step may reach any
-- instance, and spent by a conditional DELETE so that of two racing completions exactly one wins.
CREATE TABLE mfa_tokens (
    token_hash VARCHAR(64) PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider   VARCHAR(16) NOT NULL,
    created_at TIMESTAMP   NOT NULL,
    expires_at TIMESTAMP   NOT NULL
);
CREATE INDEX mfa_tokens_expires ON mfa_tokens (expires_at);
CREATE INDEX mfa_tokens_user ON mfa_tokens (user_id);

-- The SHA-256 of the random value kept (as a cookie) by the browser that started a sign-in: the
-- callback must come from that browser. Pending sign-ins of the code before this have none and
-- could never finish, so they go; the default only lets the column be added.
DELETE FROM oauth_states;
ALTER TABLE oauth_states ADD COLUMN browser_hash VARCHAR(64) NOT NULL DEFAULT '';
