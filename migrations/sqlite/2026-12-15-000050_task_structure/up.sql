-- Task structure; kept in step with migrations/postgres (see there for what each part means).
ALTER TABLE tasks ADD COLUMN parent_id BIGINT;
ALTER TABLE tasks ADD COLUMN blocked BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX tasks_parent ON tasks (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE task_relations (
    task_id    BIGINT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    kind       TEXT      NOT NULL CHECK (kind IN ('blocks', 'relates', 'duplicates')),
    other_id   BIGINT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (task_id, kind, other_id),
    CHECK (task_id <> other_id)
);
CREATE INDEX task_relations_other ON task_relations (other_id, kind, task_id);

CREATE TRIGGER task_relations_blocking AFTER INSERT ON task_relations
WHEN NEW.kind = 'blocks'
BEGIN
    UPDATE tasks SET blocked = TRUE, version = version + 1
    WHERE id = NEW.other_id AND NOT blocked
      AND EXISTS (SELECT 1 FROM tasks b WHERE b.id = NEW.task_id AND b.status <> 'completed');
END;

CREATE TRIGGER task_relations_unblocking AFTER DELETE ON task_relations
WHEN OLD.kind = 'blocks'
BEGIN
    UPDATE tasks SET blocked = FALSE, version = version + 1
    WHERE id = OLD.other_id AND blocked AND NOT EXISTS (
        SELECT 1 FROM task_relations r JOIN tasks b ON b.id = r.task_id
        WHERE r.other_id = OLD.other_id AND r.kind = 'blocks' AND b.status <> 'completed'
    );
END;

CREATE TRIGGER tasks_blocking_status AFTER UPDATE OF status ON tasks
WHEN (OLD.status = 'completed') IS NOT (NEW.status = 'completed')
BEGIN
    UPDATE tasks SET blocked = NOT blocked, version = version + 1
    WHERE id IN (SELECT other_id FROM task_relations WHERE task_id = NEW.id AND kind = 'blocks')
      AND blocked IS NOT EXISTS (
        SELECT 1 FROM task_relations r JOIN tasks b ON b.id = r.task_id
        WHERE r.other_id = tasks.id AND r.kind = 'blocks' AND b.status <> 'completed'
    );
END;

-- Before the row goes: its subtasks lose their parent, and its relations go explicitly (so that
-- the unblocking trigger runs for each, whatever SQLite's cascade does with triggers).
CREATE TRIGGER tasks_orphaned BEFORE DELETE ON tasks
BEGIN
    UPDATE tasks SET parent_id = NULL, version = version + 1 WHERE parent_id = OLD.id;
    DELETE FROM task_relations WHERE task_id = OLD.id OR other_id = OLD.id;
END;

CREATE TABLE buckets (
    id         INTEGER   PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT      NOT NULL,
    task_limit INTEGER   CHECK (task_limit > 0),
    done       BOOLEAN   NOT NULL DEFAULT FALSE,
    position   BIGINT    NOT NULL,
    task_count BIGINT    NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX buckets_project ON buckets (project_id, position, id);
CREATE UNIQUE INDEX buckets_one_done ON buckets (project_id) WHERE done;

ALTER TABLE tasks ADD COLUMN bucket_id BIGINT REFERENCES buckets (id);
ALTER TABLE tasks ADD COLUMN position BIGINT;
CREATE UNIQUE INDEX tasks_bucket_position ON tasks (bucket_id, COALESCE(position, id * 65536))
WHERE bucket_id IS NOT NULL;

INSERT INTO buckets (project_id, name, position, created_at, updated_at)
SELECT id, 'Backlog', 0, strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now') FROM projects;
UPDATE tasks SET bucket_id = (SELECT b.id FROM buckets b WHERE b.project_id = tasks.project_id)
WHERE project_id IS NOT NULL;
UPDATE buckets SET task_count = (SELECT count(*) FROM tasks WHERE tasks.bucket_id = buckets.id);

CREATE TRIGGER tasks_bucket_entered AFTER INSERT ON tasks
WHEN NEW.bucket_id IS NOT NULL
BEGIN
    UPDATE buckets SET task_count = task_count + 1 WHERE id = NEW.bucket_id;
END;
CREATE TRIGGER tasks_bucket_left AFTER DELETE ON tasks
WHEN OLD.bucket_id IS NOT NULL
BEGIN
    UPDATE buckets SET task_count = task_count - 1 WHERE id = OLD.bucket_id;
END;
CREATE TRIGGER tasks_bucket_moved AFTER UPDATE OF bucket_id ON tasks
WHEN OLD.bucket_id IS NOT NEW.bucket_id
BEGIN
    UPDATE buckets SET task_count = task_count - 1 WHERE id = OLD.bucket_id;
    UPDATE buckets SET task_count = task_count + 1 WHERE id = NEW.bucket_id;
END;

CREATE TABLE project_fields (
    id         INTEGER   PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT      NOT NULL,
    kind       TEXT      NOT NULL CHECK (kind IN ('text', 'number', 'date', 'select', 'user')),
    options    TEXT,
    required   BOOLEAN   NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX project_fields_name ON project_fields (project_id, lower(name));

ALTER TABLE tasks ADD COLUMN fields TEXT NOT NULL DEFAULT '{}';

CREATE TABLE task_field_values (
    task_id      BIGINT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    field_id     BIGINT NOT NULL REFERENCES project_fields (id) ON DELETE CASCADE,
    value_text   TEXT,
    value_number DOUBLE PRECISION,
    PRIMARY KEY (task_id, field_id)
);
CREATE INDEX task_field_values_text ON task_field_values (field_id, value_text, task_id);
CREATE INDEX task_field_values_number ON task_field_values (field_id, value_number, task_id);

CREATE TRIGGER tasks_fields_inserted AFTER INSERT ON tasks
WHEN NEW.fields <> '{}'
BEGIN
    INSERT INTO task_field_values (task_id, field_id, value_text, value_number)
    SELECT NEW.id, CAST(key AS INTEGER),
        CASE WHEN type = 'text' THEN value END,
        CASE WHEN type IN ('integer', 'real') THEN value END
    FROM json_each(NEW.fields) WHERE type IN ('text', 'integer', 'real');
END;

CREATE TRIGGER tasks_fields_changed AFTER UPDATE OF fields ON tasks
WHEN OLD.fields IS NOT NEW.fields
BEGIN
    DELETE FROM task_field_values WHERE task_id = NEW.id;
    INSERT INTO task_field_values (task_id, field_id, value_text, value_number)
    SELECT NEW.id, CAST(key AS INTEGER),
        CASE WHEN type = 'text' THEN value END,
        CASE WHEN type IN ('integer', 'real') THEN value END
    FROM json_each(NEW.fields) WHERE type IN ('text', 'integer', 'real');
END;

CREATE TRIGGER projects_first_bucket AFTER INSERT ON projects
BEGIN
    INSERT INTO buckets (project_id, name, position, created_at, updated_at)
    VALUES (NEW.id, 'Backlog', 0, NEW.created_at, NEW.created_at);
END;
