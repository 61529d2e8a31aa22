ALTER TABLE oauth_states DROP COLUMN browser_hash;
DROP TABLE mfa_tokens;
