DROP TABLE schedule_runs;
DROP TABLE jobs;
