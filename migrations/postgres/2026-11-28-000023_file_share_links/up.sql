-- Share links: a file handed out without an account. The token is known only by its SHA-256
-- (`token_digest`), the password only by its bcrypt hash. A link goes with its file. Revoking a
-- link deletes its row: it stops opening at once and leaves the owner's listing.
CREATE TABLE file_links (
    id             BIGSERIAL PRIMARY KEY,
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
