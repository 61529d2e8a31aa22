//! What the notifications service refuses.

use workbench_core::{FieldErrors, RepositoryError};

/// Why a notification request failed.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// Fields that do not hold: each named.
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    /// No such reminder (of that task).
    #[error("not found")]
    NotFound,
    /// An unsubscribe token this server did not sign.
    #[error("the unsubscribe token is not valid")]
    InvalidToken,
    /// The store could not be reached.
    #[error(transparent)]
    Unavailable(anyhow::Error),
}

impl From<RepositoryError> for NotificationError {
    fn from(e: RepositoryError) -> Self {
        NotificationError::Unavailable(e.into())
    }
}
