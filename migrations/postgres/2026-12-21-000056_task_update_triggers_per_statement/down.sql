DROP TRIGGER tasks_calendar_updated ON tasks;
DROP TRIGGER tasks_blocking_status ON tasks;
DROP FUNCTION tasks_calendar_moved_rows();
DROP FUNCTION tasks_reblock_blocked_rows();

CREATE TRIGGER tasks_calendar_updated AFTER UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION tasks_calendar_moved();
CREATE TRIGGER tasks_blocking_status AFTER UPDATE OF status ON tasks
FOR EACH ROW WHEN ((OLD.status = 'completed') IS DISTINCT FROM (NEW.status = 'completed'))
EXECUTE FUNCTION tasks_reblock_blocked();
