ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_sender_id_fkey
    FOREIGN KEY (sender_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_recipient_id_fkey
    FOREIGN KEY (recipient_id) REFERENCES users (id) ON DELETE CASCADE;
