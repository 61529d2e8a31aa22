-- Files carried by chat messages: one row per message and file, in the order sent. A page of
-- history reads its messages' attachments along the primary key; the file-access rule asks, for
-- one file, which messages carry it (`chat_attachments_file`). A deleted file leaves the messages
-- that carried it; a tombstone's rows are deleted with its text.
CREATE TABLE chat_attachments (
    message_id BIGINT   NOT NULL REFERENCES chat_messages (id) ON DELETE CASCADE,
    file_id    BIGINT   NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    position   SMALLINT NOT NULL CHECK (position BETWEEN 0 AND 9),
    PRIMARY KEY (message_id, file_id)
);
CREATE INDEX chat_attachments_file ON chat_attachments (file_id);
