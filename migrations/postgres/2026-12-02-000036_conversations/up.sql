-- Conversations with unread counts that cost no count over the history at read time: each
-- conversation keeps how many messages it holds and its latest (one row, written once per batch of
-- messages), each reader keeps their mark (the last message read, and how many messages of the
-- conversation that was: `read_seq`). Unread = messages - read_seq; a sender's mark moves to what
-- they send, so their own messages are never unread. Direct conversations get a row per side as
-- their first message is written (`partner_id` set): what a user's list of conversations reads.
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
