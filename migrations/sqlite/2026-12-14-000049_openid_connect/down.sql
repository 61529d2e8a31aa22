DROP TABLE logout_tokens;
DROP TABLE provider_sessions;
ALTER TABLE mfa_tokens DROP COLUMN idp_sid;
ALTER TABLE mfa_tokens DROP COLUMN idp_subject;
ALTER TABLE mfa_tokens DROP COLUMN idp_issuer;
ALTER TABLE oauth_states DROP COLUMN nonce;
