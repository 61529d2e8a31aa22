DROP TABLE chat_reads;
DROP TABLE chat_conversations;
