//! What can go wrong in chat, in the domain's words.

use workbench_core::{FieldErrors, RepositoryError};

/// Failures of the chat use cases. The HTTP adapter and the socket map each variant to an answer.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// Fields of a room or message that failed their rules, each named.
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    /// No such room, or a private one the caller is not a member of: indistinguishable on purpose.
    #[error("no such room")]
    RoomNotFound,
    /// No such message, or one the caller may not read: indistinguishable on purpose.
    #[error("no such message")]
    MessageNotFound,
    /// The message can no longer change that way (too old to edit, or deleted).
    #[error("{0}")]
    TooLate(&'static str),
    /// A limit of the message's was reached (its distinct reactions).
    #[error("{0}")]
    Full(&'static str),
    /// The other party of a direct message does not exist or is disabled.
    #[error("no such user")]
    UserNotFound,
    /// The caller may read but not do this (add a member to another's room, edit another's
    /// message); the message says why.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A uniqueness rule was broken.
    #[error("{field} is already taken")]
    Conflict {
        /// The field whose value is taken (`name`, a room's slug).
        field: &'static str,
    },
    /// Anything else: the store failed.
    #[error(transparent)]
    Unknown(anyhow::Error),
}

impl From<RepositoryError> for ChatError {
    fn from(e: RepositoryError) -> Self {
        match e {
            RepositoryError::Conflict { field } => ChatError::Conflict { field },
            RepositoryError::Unavailable(e) => ChatError::Unknown(e),
            other => ChatError::Unknown(other.into()),
        }
    }
}
