ALTER INDEX tasks_search_trgm RESET (gin_pending_list_limit);
DROP INDEX tasks_due_date;
CREATE INDEX tasks_due_date ON tasks (due_date);
DROP INDEX tasks_assignee_created;
CREATE INDEX tasks_assignee_created ON tasks (assignee_id, created_at);
ALTER TABLE tasks
    DROP CONSTRAINT tasks_priority_rank,
    ADD CONSTRAINT tasks_priority_check CHECK (priority IN ('low', 'medium', 'high')),
    ADD CONSTRAINT tasks_priority_rank CHECK (
        priority_rank = CASE priority WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 END
    );
