//! Reminders that have come, told once: the `notification-reminders` schedule sweeps every
//! minute, and a new reminder queues a sweep at its own moment ([`JobReminderWake`]), so it is
//! told on time. Whichever instance runs a sweep, the store hands each reminder to one of them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use workbench_core::RepositoryError;
use workbench_jobs::{Job, JobFailure, JobHandler, JobOutcome, JobQueue, NewJob};
use workbench_notifications::{NotificationError, ReminderWake, Reminders};

/// The job kind of [`ReminderSweep`].
pub const REMINDER_SWEEP_KIND: &str = "notifications.reminders";

/// Tells every reminder due (see [`Reminders::fire_due`]).
#[derive(Debug)]
pub struct ReminderSweep(Reminders);

impl ReminderSweep {
    /// Sweeps `reminders`.
    pub fn new(reminders: Reminders) -> Self {
        Self(reminders)
    }
}

#[async_trait]
impl JobHandler for ReminderSweep {
    async fn run(&self, _job: &Job) -> Result<JobOutcome, JobFailure> {
        match self.0.fire_due().await {
            Ok(told) => Ok(JobOutcome::affected(told)),
            Err(e @ NotificationError::Unavailable(_)) => Err(JobFailure::new(e.to_string())),
            Err(e) => Err(JobFailure::permanent(e.to_string())),
        }
    }
}

/// The notifications domain's [`ReminderWake`] on the jobs queue: a sweep job that runs at the
/// moment (one per moment and second: two reminders at one moment share it).
#[derive(Debug, Clone)]
pub struct JobReminderWake(JobQueue);

impl JobReminderWake {
    /// Queues on `queue`.
    pub fn new(queue: JobQueue) -> Self {
        Self(queue)
    }
}

#[async_trait]
impl ReminderWake for JobReminderWake {
    async fn sweep_at(&self, at: DateTime<Utc>) -> Result<(), RepositoryError> {
        let job = NewJob::new(REMINDER_SWEEP_KIND, serde_json::Value::Null)
            .run_at(at)
            .unique_key(format!("reminders:{}", at.timestamp()));
        self.0.enqueue(job).await.map(|_| ()).map_err(|e| RepositoryError::Unavailable(e.into()))
    }
}
