-- A message's author may correct it (`edited_at`) and a message may be taken back (`deleted_at`):
-- it stays in its conversation's history as a tombstone, its text gone.
ALTER TABLE chat_messages ADD COLUMN edited_at TIMESTAMP;
ALTER TABLE chat_messages ADD COLUMN deleted_at TIMESTAMP;
