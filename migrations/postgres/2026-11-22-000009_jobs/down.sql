DROP TABLE schedule_runs;
DROP TRIGGER jobs_notify_insert ON jobs;
DROP FUNCTION jobs_notify_insert();
DROP TABLE jobs;
