ALTER TABLE chat_messages DROP COLUMN deleted_at;
ALTER TABLE chat_messages DROP COLUMN edited_at;
