DROP INDEX chat_messages_search_trgm;
ALTER TABLE chat_messages DROP COLUMN search_text;
