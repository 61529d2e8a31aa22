CREATE TABLE chat_all_reads (
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation TEXT    NOT NULL,
    partner_id   BIGINT  REFERENCES users (id) ON DELETE CASCADE,
    read_up_to   BIGINT  NOT NULL,
    read_seq     BIGINT  NOT NULL,
    has_written  BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, conversation)
);
INSERT INTO chat_all_reads (user_id, conversation, partner_id, read_up_to, read_seq, has_written)
SELECT user_id, conversation, NULL, read_up_to, read_seq, has_written FROM chat_reads
UNION ALL
SELECT low_user_id, conversation, high_user_id, low_read_up_to, low_read_seq, low_written
FROM chat_conversations WHERE low_user_id IS NOT NULL
UNION ALL
SELECT high_user_id, conversation, low_user_id, high_read_up_to, high_read_seq, high_written
FROM chat_conversations WHERE high_user_id IS NOT NULL;
DROP TABLE chat_reads;
ALTER TABLE chat_all_reads RENAME TO chat_reads;
-- Columns with foreign keys cannot be dropped here: the table is copied without them.
CREATE TABLE chat_totals (
    conversation    TEXT   PRIMARY KEY,
    room_id         BIGINT REFERENCES chat_rooms (id) ON DELETE CASCADE,
    last_message_id BIGINT NOT NULL,
    messages        BIGINT NOT NULL
);
INSERT INTO chat_totals (conversation, room_id, last_message_id, messages)
SELECT conversation, room_id, last_message_id, messages FROM chat_conversations;
DROP TABLE chat_conversations;
ALTER TABLE chat_totals RENAME TO chat_conversations;
CREATE INDEX chat_conversations_room ON chat_conversations (room_id) WHERE room_id IS NOT NULL;
