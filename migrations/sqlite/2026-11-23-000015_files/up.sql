-- Files; kept in step with migrations/postgres (see there for what each column means and why
-- the foreign keys act as they do).
CREATE TABLE files (
    id              INTEGER   PRIMARY KEY AUTOINCREMENT,
    owner_id        BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename        TEXT      NOT NULL,
    name_key        TEXT      NOT NULL,
    content_type    TEXT      NOT NULL,
    size            BIGINT    NOT NULL CHECK (size >= 0),
    kind            TEXT      NOT NULL
        CHECK (kind IN ('image', 'audio', 'document', 'manual', 'warranty', 'invoice', 'pdf', 'attachment')),
    sha256          TEXT      NOT NULL CHECK (length(sha256) = 64),
    width           INTEGER,
    height          INTEGER,
    audio           TEXT,
    task_id         BIGINT    REFERENCES tasks (id) ON DELETE CASCADE,
    user_product_id BIGINT    REFERENCES user_products (id),
    blob_key        TEXT      NOT NULL,
    thumbnail_key   TEXT,
    created_at      TIMESTAMP NOT NULL,
    CONSTRAINT files_one_attachment CHECK (task_id IS NULL OR user_product_id IS NULL),
    CONSTRAINT files_blob_key_unique UNIQUE (blob_key),
    CONSTRAINT files_thumbnail_key_unique UNIQUE (thumbnail_key)
);
CREATE INDEX files_owner_created ON files (owner_id, created_at DESC, id DESC);
CREATE INDEX files_task ON files (task_id, id) WHERE task_id IS NOT NULL;
CREATE INDEX files_user_product ON files (user_product_id, id) WHERE user_product_id IS NOT NULL;
