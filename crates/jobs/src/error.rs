//! What can go wrong with jobs, in the domain's words.

use workbench_core::{FieldErrors, RepositoryError};

use crate::JobState;

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    #[error("no such job")]
    NotFound,
    /// The admin operation does not apply to a job in this state (retrying a running job,
    /// cancelling a completed one).
    #[error("the job is {state}; {action} applies only to {allowed}")]
    WrongState { state: JobState, action: &'static str, allowed: &'static str },
    /// Retrying the job would give its unique key to a second active job.
    #[error("another active job holds this job's unique key")]
    DuplicateKey,
    /// The handlers or schedules handed to the runtime are inconsistent; a wiring mistake.
    #[error("job runtime configuration: {0}")]
    Configuration(String),
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
