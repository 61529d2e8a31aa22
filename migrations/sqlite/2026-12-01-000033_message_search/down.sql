DROP TRIGGER chat_messages_fts_update;
DROP TRIGGER chat_messages_fts_delete;
DROP TRIGGER chat_messages_fts_insert;
DROP TABLE chat_messages_fts;
ALTER TABLE chat_messages DROP COLUMN search_text;
