-- Chat search is indexed behind the writers (issue 38: a message must not cost delivery its
-- index). The trigram index moves off `chat_messages`, where every batch of messages paid for it,
-- to a copy of what search reads: a message's readers (room, sender, recipient), conversation and
-- search text. The store's indexer copies new messages in large batches, and waits while messages
-- arrive fast; `chat_search_progress` says up to which id every message is copied, and a search
-- reads the newer ones from `chat_messages` itself, by id. An edit or a deletion writes the copy
-- at once. See `crates/store/src/chat_search.rs`.
DROP INDEX chat_messages_search_trgm;
CREATE TABLE chat_message_search (
    message_id   BIGINT PRIMARY KEY REFERENCES chat_messages (id) ON DELETE CASCADE,
    conversation TEXT   NOT NULL,
    room_id      BIGINT,
    sender_id    BIGINT NOT NULL,
    recipient_id BIGINT,
    search_text  TEXT   NOT NULL
);
INSERT INTO chat_message_search (message_id, conversation, room_id, sender_id, recipient_id, search_text)
    SELECT id, conversation, room_id, sender_id, recipient_id, search_text FROM chat_messages WHERE search_text <> '';
CREATE INDEX chat_message_search_trgm ON chat_message_search USING gin (search_text gin_trgm_ops);
-- A search within one conversation walks it newest first, as `chat_messages_conversation` does.
CREATE INDEX chat_message_search_conversation ON chat_message_search (conversation, message_id);
CREATE TABLE chat_search_progress (
    id              SMALLINT PRIMARY KEY CHECK (id = 1),
    -- Every message with an id up to this one is in `chat_message_search` (or has no text).
    indexed_through BIGINT   NOT NULL
);
INSERT INTO chat_search_progress (id, indexed_through) SELECT 1, COALESCE(MAX(id), 0) FROM chat_messages;
