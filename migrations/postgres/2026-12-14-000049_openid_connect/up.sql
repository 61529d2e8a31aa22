-- Sign-in with any OpenID Connect provider (issue 70).
--
-- Providers are configured by name (up to 32 characters); the identities they vouch for are
-- namespaced by their issuer (a URL), so that renaming a provider keeps its accounts linked.
ALTER TABLE oauth_identities ALTER COLUMN provider TYPE VARCHAR(255);
ALTER TABLE oauth_states ALTER COLUMN provider TYPE VARCHAR(32);
-- The nonce sent with the authorization request, which the ID token must carry back.
ALTER TABLE oauth_states ADD COLUMN nonce VARCHAR(128);
ALTER TABLE mfa_tokens ALTER COLUMN provider TYPE VARCHAR(32);
-- The provider's session of a sign-in that stopped at the second factor, kept for the session
-- it completes.
ALTER TABLE mfa_tokens ADD COLUMN idp_issuer VARCHAR(255);
ALTER TABLE mfa_tokens ADD COLUMN idp_subject VARCHAR(255);
ALTER TABLE mfa_tokens ADD COLUMN idp_sid VARCHAR(255);

-- Which provider session (issuer, sid) each session (refresh-token family) started from, so that
-- a back-channel logout ends exactly those sessions. One row per family, written with its first
-- refresh token.
CREATE TABLE provider_sessions (
    family_id  VARCHAR(36)  PRIMARY KEY,
    user_id    BIGINT       NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer     VARCHAR(255) NOT NULL,
    subject    VARCHAR(255) NOT NULL,
    sid        VARCHAR(255),
    created_at TIMESTAMP    NOT NULL
);
CREATE INDEX provider_sessions_sid ON provider_sessions (issuer, sid) WHERE sid IS NOT NULL;
CREATE INDEX provider_sessions_user ON provider_sessions (user_id);

-- The logout tokens honoured, by issuer and jti, until they could no longer be accepted: a
-- token replayed to any instance is refused.
CREATE TABLE logout_tokens (
    issuer     VARCHAR(255) NOT NULL,
    jti        VARCHAR(255) NOT NULL,
    expires_at TIMESTAMP    NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX logout_tokens_expires ON logout_tokens (expires_at);
