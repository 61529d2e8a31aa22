DROP TABLE idempotency_keys;
DROP TABLE task_comments;
DROP TABLE task_tags;
DROP TABLE tasks;
