-- Recurring tasks (issue 40); see the PostgreSQL migration of the same name.
ALTER TABLE tasks ADD COLUMN recurrence TEXT CHECK (length(recurrence) <= 500);
ALTER TABLE tasks ADD COLUMN previous_id INTEGER REFERENCES tasks (id) ON DELETE SET NULL;
CREATE UNIQUE INDEX tasks_previous ON tasks (previous_id) WHERE previous_id IS NOT NULL;
