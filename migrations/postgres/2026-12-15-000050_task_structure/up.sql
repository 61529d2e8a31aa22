-- Task structure (issue 71): relations between tasks, project boards and typed custom fields.
--
-- Relations. A subtask is its child's `parent_id` (a task has at most one parent, so a column says
-- it); the other kinds are rows of `task_relations`, stored from the side that names them
-- (`blocks`: `task_id` blocks `other_id`; `duplicates`: `task_id` duplicates `other_id`; `relates`
-- is symmetric and stored with the smaller id first). `blocked` is kept by the triggers below in
-- the statement that changes what it depends on: a relation written or removed, a blocker
-- completed, reopened or deleted.
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
-- The other side of each relation: what blocks a task, what duplicates it.
CREATE INDEX task_relations_other ON task_relations (other_id, kind, task_id);

CREATE FUNCTION task_blocked(target BIGINT) RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM task_relations r JOIN tasks b ON b.id = r.task_id
        WHERE r.other_id = target AND r.kind = 'blocks' AND b.status <> 'completed'
    )
$$;

-- Each recount first locks the tasks it recounts: a transaction that changes one of their blockers
-- at the same time then recounts after this one commits, from a snapshot that sees it (two blockers
-- completed at once must not each see the other still open).
CREATE FUNCTION task_relations_reblock() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target BIGINT := CASE WHEN TG_OP = 'DELETE' THEN OLD.other_id ELSE NEW.other_id END;
BEGIN
    PERFORM 1 FROM tasks WHERE id = target FOR NO KEY UPDATE;
    UPDATE tasks SET blocked = task_blocked(target), version = version + 1
    WHERE id = target AND blocked IS DISTINCT FROM task_blocked(target);
    RETURN NULL;
END;
$$;
CREATE TRIGGER task_relations_blocking AFTER INSERT ON task_relations
FOR EACH ROW WHEN (NEW.kind = 'blocks') EXECUTE FUNCTION task_relations_reblock();
CREATE TRIGGER task_relations_unblocking AFTER DELETE ON task_relations
FOR EACH ROW WHEN (OLD.kind = 'blocks') EXECUTE FUNCTION task_relations_reblock();

CREATE FUNCTION tasks_reblock_blocked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM tasks
    WHERE id IN (SELECT other_id FROM task_relations WHERE task_id = NEW.id AND kind = 'blocks')
    ORDER BY id FOR NO KEY UPDATE;
    UPDATE tasks SET blocked = task_blocked(tasks.id), version = version + 1
    WHERE id IN (SELECT other_id FROM task_relations WHERE task_id = NEW.id AND kind = 'blocks')
      AND blocked IS DISTINCT FROM task_blocked(tasks.id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER tasks_blocking_status AFTER UPDATE OF status ON tasks
FOR EACH ROW WHEN ((OLD.status = 'completed') IS DISTINCT FROM (NEW.status = 'completed'))
EXECUTE FUNCTION tasks_reblock_blocked();

-- A deleted task: its subtasks lose their parent (a change: their version moves on), and the
-- tasks it blocked are recounted once its relations are gone (their own trigger, through the
-- cascade). After the delete, not before: a cascade that deletes a parent and its subtasks in one
-- statement must not find a row it is deleting already changed by this trigger.
CREATE FUNCTION tasks_orphan_children() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tasks SET parent_id = NULL, version = version + 1 WHERE parent_id = OLD.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER tasks_orphaned AFTER DELETE ON tasks FOR EACH ROW EXECUTE FUNCTION tasks_orphan_children();

-- Boards. Every project task is in one bucket of its project; a project has at least one (the
-- first by `position`, then id, takes new tasks) and at most one `done` bucket. A task's place in
-- its bucket is `position` when a move set it, else `id * 65536` (where a new task lands, with
-- nothing written): moves choose positions that are never multiples of 65536, so the two never
-- meet, and the unique index below is the arbiter of the rest.
CREATE TABLE buckets (
    id         BIGSERIAL PRIMARY KEY,
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
-- `INCLUDE (id)`: a page of a bucket finds its ids from the index alone.
CREATE UNIQUE INDEX tasks_bucket_position ON tasks (bucket_id, (COALESCE(position, id * 65536))) INCLUDE (id)
WHERE bucket_id IS NOT NULL;

INSERT INTO buckets (project_id, name, position, created_at, updated_at)
SELECT id, 'Backlog', 0, (now() AT TIME ZONE 'UTC'), (now() AT TIME ZONE 'UTC') FROM projects;
UPDATE tasks SET bucket_id = b.id FROM buckets b WHERE b.project_id = tasks.project_id;
UPDATE buckets SET task_count = (SELECT count(*) FROM tasks WHERE tasks.bucket_id = buckets.id);

-- A bucket's `task_count`, kept by the statements that put tasks in and take them out: a page of
-- a bucket knows its total without counting the column.
CREATE FUNCTION tasks_bucket_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A task changing bucket takes both rows in id order, as a move does: two tasks crossing
    -- between the same two buckets in opposite directions wait, never deadlock.
    IF TG_OP = 'UPDATE' THEN
        PERFORM 1 FROM buckets WHERE id IN (OLD.bucket_id, NEW.bucket_id) ORDER BY id FOR NO KEY UPDATE;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.bucket_id IS NOT NULL THEN
        UPDATE buckets SET task_count = task_count - 1 WHERE id = OLD.bucket_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.bucket_id IS NOT NULL THEN
        UPDATE buckets SET task_count = task_count + 1 WHERE id = NEW.bucket_id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER tasks_bucket_entered AFTER INSERT ON tasks
FOR EACH ROW WHEN (NEW.bucket_id IS NOT NULL) EXECUTE FUNCTION tasks_bucket_counted();
CREATE TRIGGER tasks_bucket_left AFTER DELETE ON tasks
FOR EACH ROW WHEN (OLD.bucket_id IS NOT NULL) EXECUTE FUNCTION tasks_bucket_counted();
CREATE TRIGGER tasks_bucket_moved AFTER UPDATE OF bucket_id ON tasks
FOR EACH ROW WHEN (OLD.bucket_id IS DISTINCT FROM NEW.bucket_id) EXECUTE FUNCTION tasks_bucket_counted();

-- Custom fields: a project's typed fields; a task's values travel with its row as a JSON object
-- (`fields`, keyed by field id), which the triggers mirror into `task_field_values`, the index
-- behind `field.<id>` filters (as `tags` and `task_tags`).
CREATE TABLE project_fields (
    id         BIGSERIAL PRIMARY KEY,
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

CREATE FUNCTION tasks_sync_fields() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM task_field_values WHERE task_id = NEW.id;
    END IF;
    INSERT INTO task_field_values (task_id, field_id, value_text, value_number)
    SELECT NEW.id, f.key::bigint,
        CASE jsonb_typeof(f.value) WHEN 'string' THEN f.value #>> '{}' END,
        CASE jsonb_typeof(f.value) WHEN 'number' THEN (f.value #>> '{}')::double precision END
    FROM jsonb_each(NEW.fields::jsonb) AS f
    WHERE jsonb_typeof(f.value) IN ('string', 'number');
    RETURN NULL;
END;
$$;
CREATE TRIGGER tasks_fields_inserted AFTER INSERT ON tasks
FOR EACH ROW WHEN (NEW.fields <> '{}') EXECUTE FUNCTION tasks_sync_fields();
CREATE TRIGGER tasks_fields_changed AFTER UPDATE OF fields ON tasks
FOR EACH ROW WHEN (OLD.fields IS DISTINCT FROM NEW.fields) EXECUTE FUNCTION tasks_sync_fields();

-- Every project starts with one bucket, in the statement that makes it.
CREATE FUNCTION projects_first_bucket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO buckets (project_id, name, position, created_at, updated_at)
    VALUES (NEW.id, 'Backlog', 0, NEW.created_at, NEW.created_at);
    RETURN NULL;
END;
$$;
CREATE TRIGGER projects_first_bucket AFTER INSERT ON projects FOR EACH ROW EXECUTE FUNCTION projects_first_bucket();
