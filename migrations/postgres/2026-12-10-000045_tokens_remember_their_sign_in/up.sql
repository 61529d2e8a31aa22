-- A sign-in is a refresh-token family, whose id is the session id every access token carries
-- (`sid`). Each token of a family carries when the sign-in happened, copied by every rotation:
-- an account without a password proves itself by a recent sign-in, and a thief who refreshes a
-- session must not make it recent. The first token of a family cannot tell that time for sure
-- any more (expired tokens are purged one by one), so families begun before this migration keep
-- the epoch, which is never recent; new families always write the column.
ALTER TABLE refresh_tokens ADD COLUMN signed_in_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';

-- The session a personal access token was made from (the `sid` of the access token that made it;
-- null for a token made before sessions were recorded). A detected refresh-token theft deletes
-- the tokens made from the stolen session, in the transaction that revokes it.
ALTER TABLE personal_access_tokens ADD COLUMN session_id VARCHAR(36);
CREATE INDEX personal_access_tokens_session ON personal_access_tokens (session_id) WHERE session_id IS NOT NULL;
