DROP TABLE audit_log;
DROP TABLE oauth_states;
DROP TABLE oauth_identities;
DROP TABLE totp_recovery_codes;
DROP TABLE totp_credentials;
