//! What can go wrong with tasks, in the domain's words.

use workbench_core::{FieldErrors, RepositoryError};

/// Failures of the task use cases. The HTTP adapter maps each variant to one status.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Fields that failed their rules, each named.
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    /// No such task, or one the viewer may not see: the two are indistinguishable on purpose.
    #[error("no such task")]
    NotFound,
    /// The task has no comment with that id.
    #[error("no such comment")]
    CommentNotFound,
    /// A bucket, field or relation that does not exist (or is not the project's): what is
    /// missing.
    #[error("no such {0}")]
    Missing(&'static str),
    /// The request conflicts with the state of the board or the project's fields (a full
    /// bucket, the last bucket, a field name taken); the message says how.
    #[error("{0}")]
    Conflict(String),
    /// A query parameter whose value cannot be read (a field filter's value of the wrong type).
    #[error("{0}")]
    BadQuery(String),
    /// The viewer sees the task but may not do this; the message says why.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The client's `If-Match` version is not the task's current one.
    #[error("the task changed since version {expected}; it is now at version {current}")]
    VersionMismatch {
        /// The version the client sent in `If-Match`.
        expected: i64,
        /// The task's version now.
        current: i64,
    },
    /// Concurrent writers kept winning; the client may retry.
    #[error("the task is being changed by others; try again")]
    Contention,
    /// A search's statement ran past its time limit (see [`crate::SEARCH_TIME_LIMIT`]) and was
    /// stopped: the search was valid, the server could not give it its time.
    #[error("the search ran past its time limit of {} s and was stopped", .limit.as_secs_f64())]
    SearchTimedOut {
        /// The limit it ran past.
        limit: std::time::Duration,
    },
    /// Anything else: the store failed.
    #[error(transparent)]
    Unknown(anyhow::Error),
}

impl From<RepositoryError> for TaskError {
    fn from(e: RepositoryError) -> Self {
        if let Some(limit) = e.time_limit() {
            return TaskError::SearchTimedOut { limit };
        }
        match e {
            RepositoryError::Unavailable(e) => TaskError::Unknown(e),
            other => TaskError::Unknown(other.into()),
        }
    }
}
