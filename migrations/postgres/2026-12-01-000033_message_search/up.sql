-- Search over chat messages (`GET /chat/search`, the `messages` group of `GET /search`) through a
-- trigram index of the lower-cased content, as tasks are searched, so that a search never reads
-- every message. The store folds the text in Rust (every script) for new messages; older ones are
-- folded here by PostgreSQL's lower(), the same for every text but a few special cases. The
-- default stays, as SQLite's must: a row written by hand without it is simply not found.
ALTER TABLE chat_messages ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE chat_messages SET search_text = lower(content);
CREATE INDEX chat_messages_search_trgm ON chat_messages USING gin (search_text gin_trgm_ops);
