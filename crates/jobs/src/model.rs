//! Jobs and the values they are made of.

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use workbench_core::{FieldErrors, Validator};

use crate::kind::check_kind;
use crate::schedule::ScheduleSlot;

// Defined once for every domain; kept here so that `workbench_jobs::now` callers need not change.
pub use workbench_core::now;

/// How many attempts a job gets unless its producer says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 20;
/// The most attempts a producer may ask for: beyond it the backoff is capped anyway and a job
/// that failed a thousand times is not going to succeed.
pub const MAX_ATTEMPTS_LIMIT: u32 = 1_000;
/// The longest unique key.
pub const UNIQUE_KEY_MAX_LEN: usize = 255;
/// How much of an attempt's error message is kept: enough to diagnose, bounded so that a handler
/// returning a whole response body cannot bloat the row.
pub const ERROR_MAX_LEN: usize = 2_000;

/// A job's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a job stands.
///
/// ```text
/// enqueue ─► available ──claim──► running ──ok──► completed
///            scheduled ─(run_at)─┘   │  ├─fail, attempts left──► retryable ─(run_at)─► claim
///                                    │  └─fail, none left / permanent──► discarded
///                                    └─lease lapsed (worker died)──► retryable | discarded
/// available | scheduled | retryable ──cancel──► cancelled
/// discarded | cancelled ──retry──► available
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Ready to run now.
    Available,
    /// Waiting for its `run_at` (enqueued for later).
    Scheduled,
    /// Claimed by a worker, which holds its lease.
    Running,
    /// Failed an attempt; runs again at `run_at`.
    Retryable,
    /// Finished successfully.
    Completed,
    /// Dead: failed its last attempt, failed permanently, or had no handler.
    Discarded,
    /// Withdrawn by an admin before it ran.
    Cancelled,
}

impl JobState {
    /// Every state.
    pub const ALL: [JobState; 7] = [
        JobState::Available,
        JobState::Scheduled,
        JobState::Running,
        JobState::Retryable,
        JobState::Completed,
        JobState::Discarded,
        JobState::Cancelled,
    ];
    /// States a worker may claim from (once `run_at` has come).
    pub const CLAIMABLE: [JobState; 3] = [JobState::Available, JobState::Scheduled, JobState::Retryable];
    /// States of a job that is not done yet; a unique key is unique among these.
    pub const ACTIVE: [JobState; 4] =
        [JobState::Available, JobState::Scheduled, JobState::Running, JobState::Retryable];
    /// States of a job that is done; these are pruned after the retention period.
    pub const FINISHED: [JobState; 3] = [JobState::Completed, JobState::Discarded, JobState::Cancelled];
    /// States an admin may cancel from: anything not yet started.
    pub const CANCELLABLE: [JobState; 3] = JobState::CLAIMABLE;
    /// States an admin may retry from.
    pub const RETRYABLE_BY_ADMIN: [JobState; 2] = [JobState::Discarded, JobState::Cancelled];

    /// The state's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Available => "available",
            JobState::Scheduled => "scheduled",
            JobState::Running => "running",
            JobState::Retryable => "retryable",
            JobState::Completed => "completed",
            JobState::Discarded => "discarded",
            JobState::Cancelled => "cancelled",
        }
    }

    /// The state named `s`, or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| {
            format!("{s:?} is not one of available, scheduled, running, retryable, completed, discarded, cancelled")
        })
    }

    /// Whether the job is done (completed, discarded or cancelled).
    pub fn is_finished(self) -> bool {
        Self::FINISHED.contains(&self)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of one failed attempt, kept on the job for as long as the job is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptError {
    /// Which attempt failed, from 1.
    pub attempt: u32,
    /// When it failed.
    pub at: DateTime<Utc>,
    /// What went wrong: the handler's message, or the timeout or panic that ended it.
    pub error: String,
}

impl AttemptError {
    /// An attempt's error, cut to [`ERROR_MAX_LEN`] characters.
    pub fn new(attempt: u32, at: DateTime<Utc>, error: &str) -> Self {
        let error = match error.char_indices().nth(ERROR_MAX_LEN) {
            Some((cut, _)) => format!("{}…", &error[..cut]),
            None => error.to_owned(),
        };
        Self { attempt, at, error }
    }
}

/// A job as stored.
///
/// `priority`: lower runs first (like graphile-worker and Oban); the default is 0 and a negative
/// priority jumps the queue. Among equal priorities, the earlier `run_at` and then the lower id
/// runs first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The job's id.
    pub id: JobId,
    /// What to do: the name a handler is registered under.
    pub kind: String,
    /// The handler's input.
    pub args: serde_json::Value,
    /// Lower runs first; the default is 0.
    pub priority: i16,
    /// Where the job stands.
    pub state: JobState,
    /// When the job may run (next).
    pub run_at: DateTime<Utc>,
    /// Attempts started so far, the current one included while running.
    pub attempt: u32,
    /// How many attempts it gets before it is discarded.
    pub max_attempts: u32,
    /// Each failed attempt's error, oldest first.
    pub errors: Vec<AttemptError>,
    /// The key no other unfinished job may hold at the same time, if it has one: a second enqueue
    /// of the same work is a no-op.
    pub unique_key: Option<String>,
    /// The runtime instance holding the job while it runs.
    pub lease_owner: Option<String>,
    /// When the lease lapses unless renewed; after that the job is rescued.
    pub lease_until: Option<DateTime<Utc>>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When the latest attempt started.
    pub attempted_at: Option<DateTime<Utc>>,
    /// When the job reached a finished state.
    pub finished_at: Option<DateTime<Utc>>,
}

impl Job {
    /// The schedule slot this job fires, for jobs the scheduler enqueued.
    pub fn schedule_slot(&self) -> Option<ScheduleSlot> {
        self.unique_key.as_deref().and_then(ScheduleSlot::from_unique_key)
    }
}

/// A job to enqueue. Build one with [`NewJob::new`] and the setters; [`crate::JobQueue`] checks it
/// with [`NewJob::validate`] before it reaches a store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// What to do: the name a handler is registered under (see [`NewJob::validate`] for its form).
    pub kind: String,
    /// The handler's input, any JSON value.
    pub args: serde_json::Value,
    /// Lower runs first; default 0.
    pub priority: i16,
    /// Run no earlier than this; `None` is "now".
    pub run_at: Option<DateTime<Utc>>,
    /// How many attempts it gets before it is discarded: 1 to [`MAX_ATTEMPTS_LIMIT`];
    /// [`DEFAULT_MAX_ATTEMPTS`] unless set.
    pub max_attempts: u32,
    /// At most one active (not finished) job holds a given key; enqueueing another is a no-op
    /// that reports [`Enqueued::Duplicate`]. Once the job finishes, the key is free again.
    pub unique_key: Option<String>,
}

impl NewJob {
    /// A job of `kind` with `args`, priority 0, to run now, with [`DEFAULT_MAX_ATTEMPTS`].
    pub fn new(kind: impl Into<String>, args: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            args,
            priority: 0,
            run_at: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            unique_key: None,
        }
    }

    /// Lower runs first; negative jumps ahead of the default 0.
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = priority;
        self
    }

    /// Runs no earlier than `at` (truncated to microseconds).
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at.trunc_subsecs(6));
        self
    }

    /// Gives up (discards the job) after this many failed attempts.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Makes the job a no-op while an active job holds `key` (see [`NewJob::unique_key`]).
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// Checks every field at once: a kind of 1 to [`KIND_MAX_LEN`](crate::KIND_MAX_LEN) characters among lower-case
    /// letters, digits and `._-:`; 1 to [`MAX_ATTEMPTS_LIMIT`] attempts; a unique key of 1 to
    /// [`UNIQUE_KEY_MAX_LEN`] characters.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut v = Validator::default();
        v.check("kind", check_kind(&self.kind));
        v.check(
            "max_attempts",
            if (1..=MAX_ATTEMPTS_LIMIT).contains(&self.max_attempts) {
                Ok(())
            } else {
                Err(format!("must be between 1 and {MAX_ATTEMPTS_LIMIT}"))
            },
        );
        if let Some(key) = &self.unique_key {
            v.check(
                "unique_key",
                if key.is_empty() || key.chars().count() > UNIQUE_KEY_MAX_LEN {
                    Err(format!("must be 1 to {UNIQUE_KEY_MAX_LEN} characters"))
                } else {
                    Ok(())
                },
            );
        }
        v.finish()
    }

    /// The state and run time the job starts with when enqueued at `now`: `scheduled` when it is
    /// for later, otherwise `available` from `now`.
    pub fn initial_state(&self, now: DateTime<Utc>) -> (JobState, DateTime<Utc>) {
        match self.run_at {
            Some(at) if at > now => (JobState::Scheduled, at),
            _ => (JobState::Available, now),
        }
    }
}

/// What enqueueing one job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job was stored.
    Inserted(JobId),
    /// An active job already holds the unique key (or an earlier job of the same batch did):
    /// nothing was stored.
    Duplicate,
}

impl Enqueued {
    /// The new job's id, if one was stored.
    pub fn id(self) -> Option<JobId> {
        match self {
            Enqueued::Inserted(id) => Some(id),
            Enqueued::Duplicate => None,
        }
    }
}

/// How many jobs are in each state, for `/metrics` (queue depth) and the admin view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobCounts {
    counts: [u64; 7],
}

impl JobCounts {
    fn index(state: JobState) -> usize {
        JobState::ALL.iter().position(|s| *s == state).unwrap_or_default()
    }

    /// Sets the count of `state`.
    pub fn set(&mut self, state: JobState, count: u64) {
        self.counts[Self::index(state)] = count;
    }

    /// How many jobs are in `state`.
    pub fn of(&self, state: JobState) -> u64 {
        self.counts[Self::index(state)]
    }

    /// Every state with its count, zeros included, in [`JobState::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (JobState, u64)> + '_ {
        JobState::ALL.into_iter().zip(self.counts.iter().copied())
    }

    /// How many jobs there are.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// How one attempt ended, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The attempt succeeded.
    Completed,
    /// Failed; runs again at this time.
    Retry {
        /// When the job may run again.
        at: DateTime<Utc>,
    },
    /// Failed for good.
    Discard,
}

impl Verdict {
    /// The state the job moves to.
    pub fn state(&self) -> JobState {
        match self {
            Verdict::Completed => JobState::Completed,
            Verdict::Retry { .. } => JobState::Retryable,
            Verdict::Discard => JobState::Discarded,
        }
    }
}

/// The end of one attempt, for [`crate::JobStore::record`].
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptReport {
    /// The job the attempt was of.
    pub id: JobId,
    /// The attempt that ended: the store records the report only if the job is still at it.
    pub attempt: u32,
    /// How the attempt ended.
    pub verdict: Verdict,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// The job's errors including this attempt's, when it failed; empty (and not written) when it
    /// completed.
    pub errors: Vec<AttemptError>,
    /// What to write to the schedule's run log, for jobs a schedule fired.
    pub run: Option<crate::RunReport>,
}

/// Which jobs a report may finish: the lease it must find on the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// The runtime that claimed the job and still holds its lease.
    Owner(String),
    /// Whoever finds the lease lapsed before this instant (the rescuer).
    LapsedBefore(DateTime<Utc>),
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;

    #[test]
    fn states_round_trip_and_partition() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Ok(state));
            assert_ne!(JobState::ACTIVE.contains(&state), state.is_finished(), "{state} is active or finished");
        }
        assert!(JobState::parse("dead").is_err());
    }

    #[test]
    fn validation_names_every_bad_field() {
        let job = NewJob::new("Bad Kind", serde_json::json!(null)).max_attempts(0).unique_key("");
        let errors = job.validate().unwrap_err();
        assert!(errors.contains("kind") && errors.contains("max_attempts") && errors.contains("unique_key"));
        assert!(NewJob::new("webhook.deliver", serde_json::json!({})).validate().is_ok());
        assert!(NewJob::new("k".repeat(crate::KIND_MAX_LEN + 1), serde_json::json!({})).validate().is_err());
    }

    #[test]
    fn a_job_for_later_is_scheduled() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let job = NewJob::new("a", serde_json::json!({}));
        assert_eq!(job.initial_state(now), (JobState::Available, now));
        let later = now + TimeDelta::minutes(5);
        assert_eq!(job.clone().run_at(later).initial_state(now), (JobState::Scheduled, later));
        let earlier = now - TimeDelta::minutes(5);
        assert_eq!(job.run_at(earlier).initial_state(now), (JobState::Available, now), "a past run_at runs now");
    }

    #[test]
    fn counts_cover_every_state() {
        let mut counts = JobCounts::default();
        counts.set(JobState::Running, 3);
        counts.set(JobState::Discarded, 2);
        assert_eq!(counts.of(JobState::Running), 3);
        assert_eq!(counts.total(), 5);
        assert_eq!(counts.iter().count(), JobState::ALL.len());
    }
}
