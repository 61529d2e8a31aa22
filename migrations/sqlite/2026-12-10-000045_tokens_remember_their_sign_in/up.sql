-- Kept in step with migrations/postgres (see there for what each column means and why families
-- begun before this migration keep the epoch).
ALTER TABLE refresh_tokens ADD COLUMN signed_in_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';

ALTER TABLE personal_access_tokens ADD COLUMN session_id VARCHAR(36);
CREATE INDEX personal_access_tokens_session ON personal_access_tokens (session_id) WHERE session_id IS NOT NULL;
