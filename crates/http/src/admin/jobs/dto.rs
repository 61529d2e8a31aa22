//! Wire shapes of the job queue and the schedules' run log, as admins see them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use workbench_jobs::{Job, JobState, RunOutcome, ScheduleRun};

use crate::pagination::{PageNumberSchema, PageSizeSchema};
use workbench_jobs::ScheduleInfo;

/// Where a job stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Ready to run now.
    Available,
    /// Waiting for its `run_at`.
    Scheduled,
    /// Held by a worker (see `lease_owner`, `lease_until`).
    Running,
    /// Failed an attempt; runs again at `run_at`.
    Retryable,
    Completed,
    /// Dead: failed its last attempt, or failed in a way no retry can fix.
    Discarded,
    /// Withdrawn by an admin before it ran.
    Cancelled,
}

impl From<JobState> for JobStatus {
    fn from(s: JobState) -> Self {
        match s {
            JobState::Available => Self::Available,
            JobState::Scheduled => Self::Scheduled,
            JobState::Running => Self::Running,
            JobState::Retryable => Self::Retryable,
            JobState::Completed => Self::Completed,
            JobState::Discarded => Self::Discarded,
            JobState::Cancelled => Self::Cancelled,
        }
    }
}

/// The error of one failed attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptErrorResponse {
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub error: String,
}

/// The schedule slot a job fires.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobScheduleResponse {
    /// The schedule's name (`daily-task-report`).
    pub name: String,
    /// The instant of the cron expression this job fires.
    pub slot: DateTime<Utc>,
}

/// A job of the durable queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobResponse {
    pub id: i64,
    /// What it does: the name its handler is registered under (`webhook.deliver`,
    /// `reports.daily_tasks`, ...).
    pub kind: String,
    /// The handler's input.
    pub args: serde_json::Value,
    pub status: JobStatus,
    /// Lower runs first.
    pub priority: i16,
    /// When it may run (next).
    pub run_at: DateTime<Utc>,
    /// Attempts started, the running one included.
    pub attempt: u32,
    pub max_attempts: u32,
    /// Each failed attempt's error, oldest first.
    pub errors: Vec<AttemptErrorResponse>,
    /// At most one unfinished job holds a given key.
    pub unique_key: Option<String>,
    /// The schedule slot it fires, for jobs a schedule enqueued.
    pub schedule: Option<JobScheduleResponse>,
    /// The instance running it.
    pub lease_owner: Option<String>,
    /// When its lease lapses unless renewed; after that it is retried elsewhere.
    pub lease_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// When the latest attempt started.
    pub attempted_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Job> for JobResponse {
    fn from(job: Job) -> Self {
        let schedule = job.schedule_slot().map(|s| JobScheduleResponse { name: s.schedule, slot: s.slot });
        Self {
            id: job.id.0,
            kind: job.kind,
            args: job.args,
            status: job.state.into(),
            priority: job.priority,
            run_at: job.run_at,
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            errors: job
                .errors
                .into_iter()
                .map(|e| AttemptErrorResponse { attempt: e.attempt, at: e.at, error: e.error })
                .collect(),
            unique_key: job.unique_key,
            schedule,
            lease_owner: job.lease_owner,
            lease_until: job.lease_until,
            created_at: job.created_at,
            attempted_at: job.attempted_at,
            finished_at: job.finished_at,
        }
    }
}

/// `GET /admin/jobs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobListQuery {
    /// Only jobs in this state (`dead` is read as `discarded`).
    #[param(value_type = Option<JobStatus>, inline)]
    pub status: Option<String>,
    #[param(value_type = Option<PageNumberSchema>, inline)]
    pub page: Option<i64>,
    #[param(value_type = Option<PageSizeSchema>, inline)]
    pub per_page: Option<i64>,
}

/// How a scheduled run ended.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcomeName {
    Ok,
    Failed,
    /// The job chose not to act (a missing setting such as `SMTP_URL`); `note` says why.
    Skipped,
}

impl From<RunOutcome> for RunOutcomeName {
    fn from(o: RunOutcome) -> Self {
        match o {
            RunOutcome::Ok => Self::Ok,
            RunOutcome::Failed => Self::Failed,
            RunOutcome::Skipped => Self::Skipped,
        }
    }
}

/// One entry of the schedules' run log: a slot that fired (on one instance only), and how its
/// job's latest attempt went (empty until it ran).
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleRunResponse {
    pub id: i64,
    pub schedule: String,
    pub slot: DateTime<Utc>,
    /// The job that ran it (gone once pruned).
    pub job_id: Option<i64>,
    pub enqueued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: Option<RunOutcomeName>,
    pub duration_ms: Option<u64>,
    /// Rows purged, accounts disabled, e-mails enqueued, ...
    pub items_affected: Option<u64>,
    pub error: Option<String>,
    pub note: Option<String>,
}

impl From<ScheduleRun> for ScheduleRunResponse {
    fn from(r: ScheduleRun) -> Self {
        Self {
            id: r.id,
            schedule: r.schedule,
            slot: r.slot,
            job_id: r.job_id.map(|j| j.0),
            enqueued_at: r.enqueued_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            outcome: r.outcome.map(Into::into),
            duration_ms: r.duration_ms,
            items_affected: r.items_affected,
            error: r.error,
            note: r.note,
        }
    }
}

/// `GET /admin/jobs/runs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunListQuery {
    /// Only the runs of this schedule.
    pub schedule: Option<String>,
    #[param(value_type = Option<PageNumberSchema>, inline)]
    pub page: Option<i64>,
    #[param(value_type = Option<PageSizeSchema>, inline)]
    pub per_page: Option<i64>,
}

/// A schedule as configured.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleResponse {
    pub name: String,
    /// The cron expression (UTC): five fields, or six with seconds first.
    pub cron: String,
    /// The kind of job each slot enqueues.
    pub kind: String,
    /// Whether the configuration switches it on (its `SCHEDULE_*` setting is not `off`).
    pub enabled: bool,
    /// Why an enabled schedule does not run on this deployment, when it does not (the SQLite
    /// backup on PostgreSQL, say).
    pub held_back: Option<String>,
    /// Its next slot, when it runs.
    pub next_run_at: Option<DateTime<Utc>>,
    /// Its latest run.
    pub last_run: Option<ScheduleRunResponse>,
}

impl ScheduleResponse {
    pub fn new(info: &ScheduleInfo, now: DateTime<Utc>, last_run: Option<ScheduleRun>) -> Self {
        let s = &info.schedule;
        Self {
            name: s.name().to_owned(),
            cron: s.expression().to_owned(),
            kind: s.kind().to_owned(),
            enabled: s.enabled(),
            held_back: info.held_back.map(str::to_owned),
            next_run_at: info.active().then(|| s.next_slot(now)).flatten(),
            last_run: last_run.map(Into::into),
        }
    }
}
