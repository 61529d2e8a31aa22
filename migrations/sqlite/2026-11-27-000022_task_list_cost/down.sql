DROP INDEX tasks_assignee_created;
DROP INDEX tasks_owner_created;
DROP TRIGGER tasks_recounted;
DROP TRIGGER tasks_counted_out;
DROP TRIGGER tasks_counted_in;
DROP TABLE task_count_changes;
DROP TABLE task_counts;
