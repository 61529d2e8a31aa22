-- A direct conversation's two read marks move from chat_reads into its own row of
-- chat_conversations (see PostgreSQL's migration for why): `low_*` for the user with the lower id
-- (the first in its key, `dm:3:9`), `high_*` for the other. Rooms keep their marks in chat_reads,
-- which loses `partner_id`: a column with a foreign key cannot be dropped here, so the table is
-- copied without it.
ALTER TABLE chat_conversations ADD COLUMN low_user_id BIGINT REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE chat_conversations ADD COLUMN high_user_id BIGINT REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE chat_conversations ADD COLUMN low_read_up_to BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chat_conversations ADD COLUMN low_read_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chat_conversations ADD COLUMN low_written BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE chat_conversations ADD COLUMN high_read_up_to BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chat_conversations ADD COLUMN high_read_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chat_conversations ADD COLUMN high_written BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE chat_conversations SET
    low_user_id = lo.user_id, low_read_up_to = lo.read_up_to, low_read_seq = lo.read_seq, low_written = lo.has_written,
    high_user_id = hi.user_id, high_read_up_to = hi.read_up_to, high_read_seq = hi.read_seq, high_written = hi.has_written
FROM chat_reads lo, chat_reads hi
WHERE lo.conversation = chat_conversations.conversation AND lo.partner_id IS NOT NULL AND lo.user_id < lo.partner_id
    AND hi.conversation = lo.conversation AND hi.user_id = lo.partner_id;
DELETE FROM chat_conversations WHERE room_id IS NULL AND low_user_id IS NULL;
CREATE TABLE chat_room_reads (
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation TEXT    NOT NULL,
    read_up_to   BIGINT  NOT NULL,
    read_seq     BIGINT  NOT NULL,
    has_written  BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, conversation)
);
INSERT INTO chat_room_reads (user_id, conversation, read_up_to, read_seq, has_written)
SELECT user_id, conversation, read_up_to, read_seq, has_written FROM chat_reads WHERE partner_id IS NULL;
DROP TABLE chat_reads;
ALTER TABLE chat_room_reads RENAME TO chat_reads;
CREATE INDEX chat_conversations_low ON chat_conversations (low_user_id) WHERE low_user_id IS NOT NULL;
CREATE INDEX chat_conversations_high ON chat_conversations (high_user_id) WHERE high_user_id IS NOT NULL;
