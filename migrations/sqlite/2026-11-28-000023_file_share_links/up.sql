-- Share links; kept in step with migrations/postgres (see there for what each column means).
CREATE TABLE file_links (
    id             INTEGER   PRIMARY KEY AUTOINCREMENT,
    file_id        BIGINT    NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    token_digest   TEXT      NOT NULL CHECK (length(token_digest) = 64),
    password_hash  TEXT,
    expires_at     TIMESTAMP NOT NULL,
    max_downloads  INTEGER   CHECK (max_downloads > 0),
    downloads      INTEGER   NOT NULL DEFAULT 0 CHECK (downloads >= 0),
    created_at     TIMESTAMP NOT NULL,
    CONSTRAINT file_links_token_unique UNIQUE (token_digest)
);
CREATE INDEX file_links_file ON file_links (file_id, created_at DESC, id DESC);
