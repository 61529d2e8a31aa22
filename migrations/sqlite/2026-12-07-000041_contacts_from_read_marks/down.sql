CREATE INDEX chat_messages_sender_direct ON chat_messages (sender_id, recipient_id) WHERE recipient_id IS NOT NULL;
CREATE INDEX chat_messages_recipient_direct ON chat_messages (recipient_id, sender_id) WHERE recipient_id IS NOT NULL;
ALTER TABLE chat_reads DROP COLUMN has_written;
