DROP TABLE chat_attachments;
