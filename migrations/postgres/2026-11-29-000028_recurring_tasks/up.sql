-- Recurring tasks (issue 40): a task may carry an RFC 5545 RRULE; completing it makes the next
-- occurrence, which points back at it. One next occurrence per task, whoever completes it how
-- often: the unique index is what the insert of the next one yields to (ON CONFLICT DO NOTHING).
ALTER TABLE tasks ADD COLUMN recurrence TEXT CHECK (length(recurrence) <= 500);
ALTER TABLE tasks ADD COLUMN previous_id BIGINT REFERENCES tasks (id) ON DELETE SET NULL;
CREATE UNIQUE INDEX tasks_previous ON tasks (previous_id) WHERE previous_id IS NOT NULL;
