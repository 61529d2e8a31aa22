-- The durable job queue and the run log of schedules; kept in step with migrations/postgres
-- (which also notifies workers on insert; SQLite workers poll).
CREATE TABLE jobs (
    id           INTEGER  PRIMARY KEY AUTOINCREMENT,
    kind         TEXT     NOT NULL,
    args         TEXT     NOT NULL,
    priority     SMALLINT NOT NULL DEFAULT 0,
    state        TEXT     NOT NULL CHECK (state IN
                     ('available', 'scheduled', 'running', 'retryable', 'completed', 'discarded', 'cancelled')),
    run_at       TIMESTAMP NOT NULL,
    attempt      INTEGER  NOT NULL DEFAULT 0,
    max_attempts INTEGER  NOT NULL CHECK (max_attempts > 0),
    errors       TEXT     NOT NULL DEFAULT '[]',
    unique_key   TEXT,
    lease_owner  TEXT,
    lease_until  TIMESTAMP,
    created_at   TIMESTAMP NOT NULL,
    attempted_at TIMESTAMP,
    finished_at  TIMESTAMP,
    CONSTRAINT jobs_running_has_lease CHECK (state <> 'running' OR (lease_owner IS NOT NULL AND lease_until IS NOT NULL))
);
-- SQLite uses a partial index only when the query repeats its WHERE terms: the store's queries
-- spell these predicates exactly as here.
CREATE INDEX jobs_claim ON jobs (priority, run_at, id) WHERE state IN ('available', 'scheduled', 'retryable');
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('available', 'scheduled', 'running', 'retryable');
CREATE INDEX jobs_lease ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('completed', 'discarded', 'cancelled');

CREATE TABLE schedule_runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule       TEXT    NOT NULL,
    slot           TIMESTAMP NOT NULL,
    job_id         BIGINT,
    enqueued_at    TIMESTAMP NOT NULL,
    started_at     TIMESTAMP,
    finished_at    TIMESTAMP,
    outcome        TEXT    CHECK (outcome IN ('ok', 'failed', 'skipped')),
    duration_ms    BIGINT,
    items_affected BIGINT,
    error          TEXT,
    note           TEXT
);
CREATE UNIQUE INDEX schedule_runs_slot ON schedule_runs (schedule, slot);
CREATE INDEX schedule_runs_job ON schedule_runs (job_id);
CREATE INDEX schedule_runs_latest ON schedule_runs (slot);
