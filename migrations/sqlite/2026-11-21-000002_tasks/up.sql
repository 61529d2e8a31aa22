-- Tasks, tags, comments and idempotency keys; kept in step with migrations/postgres.
-- Timestamps are UTC text.
CREATE TABLE tasks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    title         TEXT    NOT NULL,
    description   TEXT,
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'in_progress', 'completed')),
    priority      TEXT    NOT NULL CHECK (priority IN ('low', 'medium', 'high')),
    priority_rank SMALLINT NOT NULL,
    due_date      TIMESTAMP,
    owner_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    assignee_id   BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    completed_at  TIMESTAMP,
    version       BIGINT  NOT NULL,
    search_text   TEXT    NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    CONSTRAINT tasks_priority_rank CHECK (
        priority_rank = CASE priority WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 END
    )
);
CREATE INDEX tasks_owner ON tasks (owner_id);
CREATE INDEX tasks_assignee ON tasks (assignee_id);
CREATE INDEX tasks_status_created ON tasks (status, created_at);
CREATE INDEX tasks_due_date ON tasks (due_date);
CREATE INDEX tasks_created ON tasks (created_at);

CREATE TABLE task_tags (
    task_id  BIGINT  NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    tag      TEXT    NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (task_id, tag)
);
CREATE INDEX task_tags_tag ON task_tags (tag);

CREATE TABLE task_comments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id    BIGINT  NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    author_id  BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body       TEXT    NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX task_comments_task ON task_comments (task_id, id);

CREATE TABLE idempotency_keys (
    user_id           BIGINT  NOT NULL,
    key               TEXT    NOT NULL,
    request_hash      TEXT    NOT NULL,
    state             TEXT    NOT NULL CHECK (state IN ('in_progress', 'completed')),
    response_status   INTEGER,
    response_body     TEXT,
    response_location TEXT,
    created_at        TIMESTAMP NOT NULL,
    expires_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
