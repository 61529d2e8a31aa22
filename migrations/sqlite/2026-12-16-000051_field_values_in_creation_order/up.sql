-- A list filtered by a custom field reads a page of the field's own index in the tasks' creation
-- order, and its total from the same index, instead of walking the project's tasks and probing
-- each. So each value row carries its task's `created_at` (which never changes; the triggers
-- always fill it), the value indexes end with it, and a third index walks a field in creation
-- order for ranges. A value row exists only while its task is in the field's project: the
-- triggers mirror only the fields of the task's project, again when the task changes project.
ALTER TABLE task_field_values ADD COLUMN created_at TIMESTAMP;
UPDATE task_field_values SET created_at = (SELECT t.created_at FROM tasks t WHERE t.id = task_field_values.task_id);
DELETE FROM task_field_values WHERE NOT EXISTS (
    SELECT 1 FROM tasks t JOIN project_fields f ON f.project_id = t.project_id
    WHERE t.id = task_field_values.task_id AND f.id = task_field_values.field_id
);

DROP INDEX task_field_values_text;
DROP INDEX task_field_values_number;
CREATE INDEX task_field_values_text ON task_field_values (field_id, value_text, created_at, task_id);
CREATE INDEX task_field_values_number ON task_field_values (field_id, value_number, created_at, task_id);
CREATE INDEX task_field_values_order ON task_field_values (field_id, created_at, task_id, value_text, value_number);

DROP TRIGGER tasks_fields_inserted;
DROP TRIGGER tasks_fields_changed;

CREATE TRIGGER tasks_fields_inserted AFTER INSERT ON tasks
WHEN NEW.fields <> '{}' AND NEW.project_id IS NOT NULL
BEGIN
    INSERT INTO task_field_values (task_id, field_id, value_text, value_number, created_at)
    SELECT NEW.id, p.id,
        CASE WHEN f.type = 'text' THEN f.value END,
        CASE WHEN f.type IN ('integer', 'real') THEN f.value END,
        NEW.created_at
    FROM json_each(NEW.fields) AS f
    JOIN project_fields p ON p.id = CAST(f.key AS INTEGER) AND p.project_id = NEW.project_id
    WHERE f.type IN ('text', 'integer', 'real');
END;

CREATE TRIGGER tasks_fields_changed AFTER UPDATE OF fields, project_id ON tasks
WHEN OLD.fields IS NOT NEW.fields OR OLD.project_id IS NOT NEW.project_id
BEGIN
    DELETE FROM task_field_values WHERE task_id = NEW.id;
    INSERT INTO task_field_values (task_id, field_id, value_text, value_number, created_at)
    SELECT NEW.id, p.id,
        CASE WHEN f.type = 'text' THEN f.value END,
        CASE WHEN f.type IN ('integer', 'real') THEN f.value END,
        NEW.created_at
    FROM json_each(NEW.fields) AS f
    JOIN project_fields p ON p.id = CAST(f.key AS INTEGER) AND p.project_id = NEW.project_id
    WHERE f.type IN ('text', 'integer', 'real');
END;
