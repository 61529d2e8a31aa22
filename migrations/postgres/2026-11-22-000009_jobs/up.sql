-- The durable job queue and the run log of schedules. Timestamps are UTC, stored without a zone.
CREATE TABLE jobs (
    id           BIGSERIAL    PRIMARY KEY,
    -- the name a handler is registered under
    kind         VARCHAR(64)  NOT NULL,
    -- JSON, the handler's input
    args         TEXT         NOT NULL,
    -- lower runs first; default 0
    priority     SMALLINT     NOT NULL DEFAULT 0,
    state        VARCHAR(16)  NOT NULL CHECK (state IN
                     ('available', 'scheduled', 'running', 'retryable', 'completed', 'discarded', 'cancelled')),
    run_at       TIMESTAMP    NOT NULL,
    -- attempts started, the running one included
    attempt      INTEGER      NOT NULL DEFAULT 0,
    max_attempts INTEGER      NOT NULL CHECK (max_attempts > 0),
    -- JSON array of {attempt, at, error}, one per failed attempt
    errors       TEXT         NOT NULL DEFAULT '[]',
    unique_key   VARCHAR(255),
    -- the runtime instance running the job, and until when unless it renews
    lease_owner  VARCHAR(128),
    lease_until  TIMESTAMP,
    created_at   TIMESTAMP    NOT NULL,
    attempted_at TIMESTAMP,
    finished_at  TIMESTAMP,
    CONSTRAINT jobs_running_has_lease CHECK (state <> 'running' OR (lease_owner IS NOT NULL AND lease_until IS NOT NULL))
);
-- The claim: the next claimable jobs in priority, run_at, id order. Partial, so that running and
-- finished jobs (most of the table) are not in it.
CREATE INDEX jobs_claim ON jobs (priority, run_at, id) WHERE state IN ('available', 'scheduled', 'retryable');
-- Deduplication: a key is unique among jobs that are not finished; enqueueing is
-- INSERT ... ON CONFLICT DO NOTHING against it.
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('available', 'scheduled', 'running', 'retryable');
-- The rescuer's search for lapsed leases.
CREATE INDEX jobs_lease ON jobs (lease_until) WHERE state = 'running';
-- The pruner's search for old finished jobs.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('completed', 'discarded', 'cancelled');

-- Wakes idle workers of every instance: one notification per inserting statement, delivered at
-- commit. Releases and admin retries notify explicitly.
CREATE FUNCTION jobs_notify_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('workbench_jobs', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify_insert();

-- One row per schedule slot that fired. Inserting it (or nothing) is what lets exactly one
-- instance fire a slot; the columns after job_id describe the job's latest attempt.
CREATE TABLE schedule_runs (
    id             BIGSERIAL   PRIMARY KEY,
    schedule       VARCHAR(64) NOT NULL,
    slot           TIMESTAMP   NOT NULL,
    -- no foreign key: the log may outlive a pruned job
    job_id         BIGINT,
    enqueued_at    TIMESTAMP   NOT NULL,
    started_at     TIMESTAMP,
    finished_at    TIMESTAMP,
    outcome        VARCHAR(8)  CHECK (outcome IN ('ok', 'failed', 'skipped')),
    duration_ms    BIGINT,
    items_affected BIGINT,
    error          TEXT,
    note           TEXT
);
CREATE UNIQUE INDEX schedule_runs_slot ON schedule_runs (schedule, slot);
CREATE INDEX schedule_runs_job ON schedule_runs (job_id);
CREATE INDEX schedule_runs_latest ON schedule_runs (slot);
