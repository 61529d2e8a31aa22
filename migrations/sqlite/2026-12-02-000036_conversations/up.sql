-- Conversations and read marks; kept in step with migrations/postgres (see there for why).
CREATE TABLE chat_conversations (
    conversation    TEXT   PRIMARY KEY,
    room_id         BIGINT REFERENCES chat_rooms (id) ON DELETE CASCADE,
    last_message_id BIGINT NOT NULL,
    messages        BIGINT NOT NULL
);
CREATE INDEX chat_conversations_room ON chat_conversations (room_id) WHERE room_id IS NOT NULL;
CREATE TABLE chat_reads (
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation TEXT   NOT NULL,
    partner_id   BIGINT REFERENCES users (id) ON DELETE CASCADE,
    read_up_to   BIGINT NOT NULL,
    read_seq     BIGINT NOT NULL,
    PRIMARY KEY (user_id, conversation)
);

-- The messages written before this migration: their conversations, and a row per side of each
-- direct conversation with nothing read.
INSERT INTO chat_conversations (conversation, room_id, last_message_id, messages)
SELECT conversation, MAX(room_id), MAX(id), COUNT(*) FROM chat_messages GROUP BY conversation;
INSERT INTO chat_reads (user_id, conversation, partner_id, read_up_to, read_seq)
SELECT sender_id, conversation, recipient_id, 0, 0 FROM chat_messages WHERE recipient_id IS NOT NULL
UNION
SELECT recipient_id, conversation, sender_id, 0, 0 FROM chat_messages WHERE recipient_id IS NOT NULL;
