-- Search over chat messages through an FTS5 trigram index of the lower-cased content, kept by
-- triggers (see migrations/postgres for the rest). New messages are folded by the store (every
-- script); messages older than this migration by SQLite's lower(), which folds ASCII only.
ALTER TABLE chat_messages ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE chat_messages SET search_text = lower(content);
CREATE VIRTUAL TABLE chat_messages_fts USING fts5(
    search_text, content = 'chat_messages', content_rowid = 'id', tokenize = 'trigram', detail = 'none'
);
INSERT INTO chat_messages_fts (chat_messages_fts) VALUES ('rebuild');

CREATE TRIGGER chat_messages_fts_insert AFTER INSERT ON chat_messages BEGIN
    INSERT INTO chat_messages_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER chat_messages_fts_delete AFTER DELETE ON chat_messages BEGIN
    INSERT INTO chat_messages_fts (chat_messages_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER chat_messages_fts_update AFTER UPDATE OF search_text ON chat_messages
WHEN old.search_text IS NOT new.search_text BEGIN
    INSERT INTO chat_messages_fts (chat_messages_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO chat_messages_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
