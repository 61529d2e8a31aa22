-- A task's tags travel with its row as a JSON array, so that reading, creating or changing a task
-- is one statement (one round trip) instead of a statement per table inside a transaction.
-- `task_tags` stays as the index behind the `tag` filter and `GET /tags`; the triggers below keep
-- it equal to the column within the same statement, so the two can never disagree.
ALTER TABLE tasks ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';

UPDATE tasks SET tags = t.tags
FROM (SELECT task_id, json_agg(tag ORDER BY position)::text AS tags FROM task_tags GROUP BY task_id) AS t
WHERE t.task_id = tasks.id;

CREATE FUNCTION tasks_sync_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM task_tags WHERE task_id = NEW.id;
    END IF;
    INSERT INTO task_tags (task_id, tag, position)
    SELECT NEW.id, t.tag, (t.n - 1)::integer
    FROM jsonb_array_elements_text(NEW.tags::jsonb) WITH ORDINALITY AS t (tag, n);
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasks_tags_inserted AFTER INSERT ON tasks
FOR EACH ROW WHEN (NEW.tags <> '[]') EXECUTE FUNCTION tasks_sync_tags();

CREATE TRIGGER tasks_tags_changed AFTER UPDATE OF tags ON tasks
FOR EACH ROW WHEN (OLD.tags IS DISTINCT FROM NEW.tags) EXECUTE FUNCTION tasks_sync_tags();
