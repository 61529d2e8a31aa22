ALTER TABLE chat_reads ADD COLUMN partner_id BIGINT REFERENCES users (id) ON DELETE CASCADE;
INSERT INTO chat_reads (user_id, conversation, partner_id, read_up_to, read_seq, has_written)
SELECT low_user_id, conversation, high_user_id, low_read_up_to, low_read_seq, low_written
FROM chat_conversations WHERE low_user_id IS NOT NULL
UNION ALL
SELECT high_user_id, conversation, low_user_id, high_read_up_to, high_read_seq, high_written
FROM chat_conversations WHERE high_user_id IS NOT NULL;
DROP INDEX chat_conversations_low;
DROP INDEX chat_conversations_high;
ALTER TABLE chat_conversations
    DROP COLUMN low_user_id, DROP COLUMN high_user_id,
    DROP COLUMN low_read_up_to, DROP COLUMN low_read_seq, DROP COLUMN low_written,
    DROP COLUMN high_read_up_to, DROP COLUMN high_read_seq, DROP COLUMN high_written;
