-- Access tokens carry the generation they were issued under; disabling an account bumps it, so
-- tokens issued before stay refused even after the account is enabled again.
ALTER TABLE users ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0;
