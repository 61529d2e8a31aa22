//! What can go wrong with jobs, in the domain's words.

use workbench_core::{FieldErrors, RepositoryError};

use crate::JobState;

/// Failures of the job queue's admin operations and of the runtime's set-up.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// Fields of a job to enqueue that failed their rules, each named.
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    /// No job has that id.
    #[error("no such job")]
    NotFound,
    /// The admin operation does not apply to a job in this state (retrying a running job,
    /// cancelling a completed one).
    #[error("the job is {state}; {action} applies only to {allowed}")]
    WrongState {
        /// The state the job is in.
        state: JobState,
        /// The operation asked (`retry`, `cancel`).
        action: &'static str,
        /// The states it applies to, for the message.
        allowed: &'static str,
    },
    /// Retrying the job would give its unique key to a second active job.
    #[error("another active job holds this job's unique key")]
    DuplicateKey,
    /// The handlers or schedules handed to the runtime are inconsistent; a wiring mistake.
    #[error("job runtime configuration: {0}")]
    Configuration(String),
    /// Anything else: the store failed.
    #[error(transparent)]
    Unknown(anyhow::Error),
}

impl From<RepositoryError> for JobsError {
    fn from(e: RepositoryError) -> Self {
        match e {
            RepositoryError::Conflict { field: "unique_key" } => JobsError::DuplicateKey,
            RepositoryError::Unavailable(e) => JobsError::Unknown(e),
            other => JobsError::Unknown(other.into()),
        }
    }
}
