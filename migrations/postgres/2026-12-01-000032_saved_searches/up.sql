-- Saved searches: a name for a query of the search language (`GET /search?q=`), kept per user.
CREATE TABLE saved_searches (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT      NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    query       TEXT      NOT NULL CHECK (length(query) BETWEEN 1 AND 200),
    created_at  TIMESTAMP NOT NULL
);
-- A user's searches, newest first (the listing's order, its count and the per-user limit).
CREATE INDEX saved_searches_user ON saved_searches (user_id, created_at DESC, id DESC);
