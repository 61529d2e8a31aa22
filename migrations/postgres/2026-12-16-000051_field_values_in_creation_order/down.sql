DROP TRIGGER tasks_fields_changed ON tasks;
CREATE TRIGGER tasks_fields_changed AFTER UPDATE OF fields ON tasks
FOR EACH ROW WHEN (OLD.fields IS DISTINCT FROM NEW.fields) EXECUTE FUNCTION tasks_sync_fields();
CREATE OR REPLACE FUNCTION tasks_sync_fields() RETURNS trigger LANGUAGE plpgsql AS $$
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
DROP INDEX task_field_values_order;
DROP INDEX task_field_values_number;
DROP INDEX task_field_values_text;
CREATE INDEX task_field_values_text ON task_field_values (field_id, value_text, task_id);
CREATE INDEX task_field_values_number ON task_field_values (field_id, value_number, task_id);
ALTER TABLE task_field_values DROP COLUMN created_at;
