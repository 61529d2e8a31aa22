-- Projects; kept in step with migrations/postgres (see there for what each column means).
CREATE TABLE projects (
    id          INTEGER   PRIMARY KEY AUTOINCREMENT,
    name        TEXT      NOT NULL CHECK (length(name) BETWEEN 1 AND 400),
    description TEXT,
    owner_id    BIGINT    NOT NULL,
    archived    BOOLEAN   NOT NULL DEFAULT FALSE,
    version     BIGINT    NOT NULL DEFAULT 1,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX projects_listed ON projects (archived, created_at DESC, id DESC);

CREATE TABLE project_members (
    project_id BIGINT    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT      NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    joined_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members (user_id, project_id);

CREATE TABLE project_invites (
    id           INTEGER   PRIMARY KEY AUTOINCREMENT,
    project_id   BIGINT    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    token_digest TEXT      NOT NULL CHECK (length(token_digest) = 64),
    role         TEXT      NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    max_uses     INTEGER   CHECK (max_uses > 0),
    uses         INTEGER   NOT NULL DEFAULT 0 CHECK (uses >= 0),
    expires_at   TIMESTAMP NOT NULL,
    created_by   BIGINT    NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    CONSTRAINT project_invites_token_unique UNIQUE (token_digest)
);
CREATE INDEX project_invites_project ON project_invites (project_id, created_at DESC, id DESC);
