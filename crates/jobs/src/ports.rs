//! What the job queue needs from the outside world. Each method's doc says what an adapter MUST
//! do; every adapter is tested against that contract (`crates/store/tests/store/jobs.rs`).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use workbench_core::{Page, PageRequest, RepositoryError};

use crate::{AttemptReport, Enqueued, Holder, Job, JobCounts, JobId, JobState, NewJob, ScheduleRun, SlotFiring};

/// Where jobs, and the run log of schedules, live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Stores `jobs` (already validated) as enqueued at `now`, each `scheduled` or `available`
    /// per [`NewJob::initial_state`], and answers for each, in order, whether it was inserted.
    /// A job whose unique key an active job (or an earlier job of the same call) holds MUST be
    /// [`Enqueued::Duplicate`], decided by the database (insert or nothing), never by a read
    /// before the write: concurrent callers with one key store exactly one job.
    async fn enqueue(&self, jobs: Vec<NewJob>, now: DateTime<Utc>) -> Result<Vec<Enqueued>, RepositoryError>;

    /// Claims up to `limit` jobs that are claimable (`available`, `scheduled`, `retryable`) with
    /// `run_at <= now`, lowest priority first, then earliest `run_at`, then lowest id, in one
    /// atomic step: each becomes `running` with its attempt incremented, `attempted_at = now`
    /// and the lease (`owner`, `lease_until`). Concurrent claimers MUST never get the same job.
    async fn claim(
        &self,
        owner: &str,
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Job>, RepositoryError>;

    /// Extends to `until` the leases `owner` still holds among `ids` (jobs still `running` under
    /// that owner); returns those ids. A job missing from the answer was rescued meanwhile.
    async fn renew(&self, owner: &str, ids: Vec<JobId>, until: DateTime<Utc>) -> Result<Vec<JobId>, RepositoryError>;

    /// Records the end of attempts. Each report applies only if its job is still `running` at
    /// the report's attempt and `holder` matches the row (the owner's lease, or a lease that lapsed
    /// before the given instant); otherwise it MUST change nothing, so that a late report from a
    /// worker that lost its lease cannot clobber a newer attempt. Applying sets the verdict's
    /// state, clears the lease, writes the errors (failures), `run_at` (retries), `finished_at`
    /// (completed and discarded) and the schedule run entry (reports with `run`). Returns the
    /// ids of the reports applied.
    async fn record(&self, holder: Holder, reports: Vec<AttemptReport>) -> Result<Vec<JobId>, RepositoryError>;

    /// Puts back the jobs among `ids` that `owner` still holds, as if never claimed: `available`,
    /// attempt decremented, lease cleared, and wakes other instances. Returns how many.
    async fn release(&self, owner: &str, ids: Vec<JobId>) -> Result<u64, RepositoryError>;

    /// Up to `limit` `running` jobs whose lease lapsed before `now`, oldest lease first.
    async fn lapsed(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Job>, RepositoryError>;

    /// Deletes up to `limit` finished jobs (`completed`, `discarded`, `cancelled`) that finished
    /// before `before`, and schedule run entries whose slot is before `before`; returns how many
    /// jobs were deleted.
    async fn prune(&self, before: DateTime<Utc>, limit: usize) -> Result<u64, RepositoryError>;

    /// The job with this id.
    async fn find(&self, id: JobId) -> Result<Option<Job>, RepositoryError>;

    /// One page of the jobs in `state` (all jobs when `None`), newest first, and their total.
    async fn list(&self, state: Option<JobState>, page: PageRequest) -> Result<Page<Job>, RepositoryError>;

    /// How many jobs are in each state.
    async fn counts(&self) -> Result<JobCounts, RepositoryError>;

    /// Makes a `discarded` or `cancelled` job `available` again at `now`, keeping its attempt
    /// count and errors and raising `max_attempts` to one more than the attempts made when
    /// needed. MUST change nothing and answer `None` when the job is in another state (or does
    /// not exist); a unique key now held by another active job is a `Conflict` on `unique_key`.
    async fn retry(&self, id: JobId, now: DateTime<Utc>) -> Result<Option<Job>, RepositoryError>;

    /// Makes an `available`, `scheduled` or `retryable` job `cancelled` (finished at `now`). MUST
    /// change nothing and answer `None` when the job is in another state (or does not exist).
    async fn cancel(&self, id: JobId, now: DateTime<Utc>) -> Result<Option<Job>, RepositoryError>;

    /// Fires a schedule's slot: in one transaction, inserts the run log entry for
    /// (`schedule`, `slot`) unless one exists, and if it inserted, enqueues `job` and links it.
    /// Returns the job's id when this call fired the slot, `None` when the slot had already
    /// fired (on this instance or another). MUST be insert-or-nothing on a unique
    /// (schedule, slot), so that any number of concurrent callers fire the slot once.
    async fn fire(&self, firing: SlotFiring) -> Result<Option<JobId>, RepositoryError>;

    /// The latest slot fired of each schedule that has fired.
    async fn last_slots(&self) -> Result<Vec<(String, DateTime<Utc>)>, RepositoryError>;

    /// One page of the run log (of one schedule when given), latest slot first, and its total.
    async fn runs(&self, schedule: Option<String>, page: PageRequest) -> Result<Page<ScheduleRun>, RepositoryError>;

    /// A signal that changes whenever jobs may have become claimable (an insert anywhere, on an
    /// engine that can tell; a release or retry through this store). Best effort: the runtime
    /// polls as well.
    fn subscribe(&self) -> watch::Receiver<()>;
}

/// How an attempt ended, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// The attempt succeeded.
    Completed,
    /// Failed and will be retried.
    Retried,
    /// Failed for good.
    Discarded,
}

impl AttemptOutcome {
    /// The outcome's name, as a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Completed => "completed",
            AttemptOutcome::Retried => "retried",
            AttemptOutcome::Discarded => "discarded",
        }
    }
}

/// Receives what the runtime does, for `/metrics`. Called on the worker's hot path: an
/// implementation MUST return quickly and MUST NOT block (update counters, nothing more).
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait JobsObserver: Send + Sync {
    /// An attempt of a job of `kind` ended after `duration`.
    fn attempt_finished(&self, kind: &str, outcome: AttemptOutcome, duration: Duration);

    /// The rescuer found `count` jobs whose worker stopped renewing their lease.
    fn jobs_rescued(&self, count: usize);

    /// This instance fired a slot of `schedule`.
    fn schedule_fired(&self, schedule: &str);
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl JobsObserver for NoObserver {
    fn attempt_finished(&self, _kind: &str, _outcome: AttemptOutcome, _duration: Duration) {}
    fn jobs_rescued(&self, _count: usize) {}
    fn schedule_fired(&self, _schedule: &str) {}
}

/// The time, for the runtime's decisions (what is due, when leases lapse). A fake clock lets
/// tests decide which schedule slots have come.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current instant, truncated to microseconds.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        crate::now()
    }
}
