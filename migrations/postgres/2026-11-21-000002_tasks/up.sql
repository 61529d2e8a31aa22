-- Tasks, their tags and comments, and the stored responses of idempotent requests.
-- Every timestamp is UTC, stored without a zone.
CREATE TABLE tasks (
    id            BIGSERIAL    PRIMARY KEY,
    title         VARCHAR(200) NOT NULL,
    description   TEXT,
    status        VARCHAR(16)  NOT NULL CHECK (status IN ('pending', 'in_progress', 'completed')),
    priority      VARCHAR(8)   NOT NULL CHECK (priority IN ('low', 'medium', 'high')),
    -- 1 low, 2 medium, 3 high: sorting by priority sorts by this
    priority_rank SMALLINT     NOT NULL,
    due_date      TIMESTAMP,
    owner_id      BIGINT       NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    assignee_id   BIGINT       REFERENCES users (id) ON DELETE SET NULL,
    completed_at  TIMESTAMP,
    -- starts at 1, grows by one with every change (optimistic concurrency)
    version       BIGINT       NOT NULL,
    -- lower-cased "title\ndescription", folded in Rust so that non-ASCII search
    -- behaves the same on PostgreSQL and SQLite
    search_text   TEXT         NOT NULL,
    created_at    TIMESTAMP    NOT NULL,
    updated_at    TIMESTAMP    NOT NULL,
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
    task_id  BIGINT      NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    -- trimmed and lower-cased by the domain
    tag      VARCHAR(32) NOT NULL,
    -- the tag's place in the order the client gave
    position INTEGER     NOT NULL,
    PRIMARY KEY (task_id, tag)
);
CREATE INDEX task_tags_tag ON task_tags (tag);

CREATE TABLE task_comments (
    id         BIGSERIAL PRIMARY KEY,
    task_id    BIGINT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    author_id  BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body       TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX task_comments_task ON task_comments (task_id, id);

-- One row per (user, Idempotency-Key): claimed while the request runs, then its response.
CREATE TABLE idempotency_keys (
    user_id           BIGINT       NOT NULL,
    key               VARCHAR(255) NOT NULL,
    -- SHA-256 of the request's path and canonical body, hex
    request_hash      TEXT         NOT NULL,
    state             VARCHAR(16)  NOT NULL CHECK (state IN ('in_progress', 'completed')),
    response_status   INTEGER,
    response_body     TEXT,
    response_location TEXT,
    created_at        TIMESTAMP    NOT NULL,
    expires_at        TIMESTAMP    NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
