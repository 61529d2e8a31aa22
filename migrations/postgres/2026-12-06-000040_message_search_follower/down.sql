DROP TABLE chat_search_progress;
DROP TABLE chat_message_search;
CREATE INDEX chat_messages_search_trgm ON chat_messages USING gin (search_text gin_trgm_ops);
