-- Counting costs writes less (issue 35). The triggers of `task_list_cost` and `project_tasks`
-- append one change row per counter per written row; a batch of task writes that commit together
-- (the store's group commit) now counts itself instead: it sets `workbench.counted` for its
-- transaction and appends one change per counter and status for the whole batch. The triggers
-- keep counting every other write (a lone write, a cascade, SQL typed by hand), and skip the
-- rows of such a batch by their WHEN condition, so the function is not even called for them.
DROP TRIGGER tasks_counted ON tasks;
CREATE TRIGGER tasks_counted AFTER INSERT OR DELETE ON tasks
FOR EACH ROW WHEN (current_setting('workbench.counted', true) IS DISTINCT FROM 'on')
EXECUTE FUNCTION tasks_count_change();

DROP TRIGGER tasks_recounted ON tasks;
CREATE TRIGGER tasks_recounted AFTER UPDATE OF status, owner_id, assignee_id, project_id ON tasks
FOR EACH ROW WHEN ((OLD.status IS DISTINCT FROM NEW.status OR OLD.owner_id IS DISTINCT FROM NEW.owner_id
    OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id OR OLD.project_id IS DISTINCT FROM NEW.project_id)
    AND current_setting('workbench.counted', true) IS DISTINCT FROM 'on')
EXECUTE FUNCTION tasks_count_change();
