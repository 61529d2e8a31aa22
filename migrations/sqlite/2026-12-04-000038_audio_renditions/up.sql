-- Finished audio renditions; kept in step with migrations/postgres.
CREATE TABLE file_renditions (
    file_id      BIGINT    NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    codec        TEXT      NOT NULL CHECK (codec IN ('mp3', 'opus')),
    kbps         INTEGER   NOT NULL CHECK (kbps IN (64, 96, 128, 192)),
    blob_key     TEXT      NOT NULL UNIQUE,
    size         BIGINT    NOT NULL CHECK (size >= 0),
    sha256       TEXT      NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    PRIMARY KEY (file_id, codec, kbps)
);
CREATE INDEX file_renditions_use ON file_renditions (last_used_at);
