-- A task's tags travel with its row as a JSON array, so that reading, creating or changing a task
-- is one statement instead of a statement per table inside a transaction (see the PostgreSQL
-- migration). `task_tags` stays as the index behind the `tag` filter and `GET /tags`; the
-- triggers keep it equal to the column within the same statement.
ALTER TABLE tasks ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';

UPDATE tasks SET tags = (
    SELECT json_group_array(tag) FROM (SELECT tag FROM task_tags WHERE task_id = tasks.id ORDER BY position)
)
WHERE EXISTS (SELECT 1 FROM task_tags WHERE task_id = tasks.id);

CREATE TRIGGER tasks_tags_inserted AFTER INSERT ON tasks
WHEN NEW.tags <> '[]'
BEGIN
    INSERT INTO task_tags (task_id, tag, position) SELECT NEW.id, value, key FROM json_each(NEW.tags);
END;

CREATE TRIGGER tasks_tags_changed AFTER UPDATE OF tags ON tasks
WHEN OLD.tags IS NOT NEW.tags
BEGIN
    DELETE FROM task_tags WHERE task_id = NEW.id;
    INSERT INTO task_tags (task_id, tag, position) SELECT NEW.id, value, key FROM json_each(NEW.tags);
END;
