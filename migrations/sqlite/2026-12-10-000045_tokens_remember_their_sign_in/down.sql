DROP INDEX personal_access_tokens_session;
ALTER TABLE personal_access_tokens DROP COLUMN session_id;
ALTER TABLE refresh_tokens DROP COLUMN signed_in_at;
