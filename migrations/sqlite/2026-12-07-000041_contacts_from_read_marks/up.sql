-- Contacts from the read marks; kept in step with migrations/postgres (see there for why).
ALTER TABLE chat_reads ADD COLUMN has_written BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE chat_reads SET has_written = TRUE
WHERE EXISTS (SELECT 1 FROM chat_messages m WHERE m.conversation = chat_reads.conversation AND m.sender_id = chat_reads.user_id);
DROP INDEX chat_messages_sender_direct;
DROP INDEX chat_messages_recipient_direct;
