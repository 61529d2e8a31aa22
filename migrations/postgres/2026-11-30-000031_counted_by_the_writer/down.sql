DROP TRIGGER tasks_counted ON tasks;
CREATE TRIGGER tasks_counted AFTER INSERT OR DELETE ON tasks
FOR EACH ROW EXECUTE FUNCTION tasks_count_change();

DROP TRIGGER tasks_recounted ON tasks;
CREATE TRIGGER tasks_recounted AFTER UPDATE OF status, owner_id, assignee_id, project_id ON tasks
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
    OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id OR OLD.project_id IS DISTINCT FROM NEW.project_id)
EXECUTE FUNCTION tasks_count_change();
