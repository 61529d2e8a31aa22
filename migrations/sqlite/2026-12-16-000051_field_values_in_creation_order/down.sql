DROP TRIGGER tasks_fields_changed;
DROP TRIGGER tasks_fields_inserted;
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
DROP INDEX task_field_values_order;
DROP INDEX task_field_values_number;
DROP INDEX task_field_values_text;
CREATE INDEX task_field_values_text ON task_field_values (field_id, value_text, task_id);
CREATE INDEX task_field_values_number ON task_field_values (field_id, value_number, task_id);
ALTER TABLE task_field_values DROP COLUMN created_at;
