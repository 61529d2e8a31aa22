-- Saved searches; kept in step with migrations/postgres (see there for what each column means).
CREATE TABLE saved_searches (
    id          INTEGER   PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT      NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    query       TEXT      NOT NULL CHECK (length(query) BETWEEN 1 AND 200),
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX saved_searches_user ON saved_searches (user_id, created_at DESC, id DESC);
