-- Files carried by chat messages; kept in step with migrations/postgres.
CREATE TABLE chat_attachments (
    message_id BIGINT   NOT NULL REFERENCES chat_messages (id) ON DELETE CASCADE,
    file_id    BIGINT   NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    position   SMALLINT NOT NULL CHECK (position BETWEEN 0 AND 9),
    PRIMARY KEY (message_id, file_id)
);
CREATE INDEX chat_attachments_file ON chat_attachments (file_id);
