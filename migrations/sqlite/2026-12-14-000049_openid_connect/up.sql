-- Sign-in with any OpenID Connect provider (issue 70). SQLite does not enforce the lengths that
-- PostgreSQL's migration widens; the columns and tables are the same.
ALTER TABLE oauth_states ADD COLUMN nonce TEXT;
ALTER TABLE mfa_tokens ADD COLUMN idp_issuer TEXT;
ALTER TABLE mfa_tokens ADD COLUMN idp_subject TEXT;
ALTER TABLE mfa_tokens ADD COLUMN idp_sid TEXT;

CREATE TABLE provider_sessions (
    family_id  TEXT      PRIMARY KEY,
    user_id    INTEGER   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer     TEXT      NOT NULL,
    subject    TEXT      NOT NULL,
    sid        TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX provider_sessions_sid ON provider_sessions (issuer, sid) WHERE sid IS NOT NULL;
CREATE INDEX provider_sessions_user ON provider_sessions (user_id);

CREATE TABLE logout_tokens (
    issuer     TEXT      NOT NULL,
    jti        TEXT      NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX logout_tokens_expires ON logout_tokens (expires_at);
