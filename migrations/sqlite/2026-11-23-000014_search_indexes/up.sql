-- Substring search (`q`, `GET /search`) over tasks through an FTS5 trigram index of
-- `search_text`, kept by triggers, so that it does not scan every task as their number grows.
-- External content: the index holds the trigrams only, the text stays in `tasks`.
CREATE VIRTUAL TABLE tasks_fts USING fts5(
    search_text, content = 'tasks', content_rowid = 'id', tokenize = 'trigram', detail = 'none'
);
INSERT INTO tasks_fts (tasks_fts) VALUES ('rebuild');

CREATE TRIGGER tasks_fts_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO tasks_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER tasks_fts_delete AFTER DELETE ON tasks BEGIN
    INSERT INTO tasks_fts (tasks_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
-- Every update writes `search_text`; only a changed text changes the index.
CREATE TRIGGER tasks_fts_update AFTER UPDATE OF search_text ON tasks
WHEN old.search_text IS NOT new.search_text BEGIN
    INSERT INTO tasks_fts (tasks_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO tasks_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
