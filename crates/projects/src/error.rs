//! What can go wrong with projects, in the domain's words.

use workbench_core::{FieldErrors, RepositoryError};

/// The thing that was not found, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The project.
    Project,
    /// The member.
    Member,
    /// The invitation.
    Invite,
}

/// Failures of the project use cases. The HTTP adapter maps each variant to one status.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// Invalid fields, every one of them.
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    /// No such thing, or one the caller may not see: the two are indistinguishable on purpose.
    #[error("no such {0:?}")]
    NotFound(Missing),
    /// The caller sees the project but their role does not allow this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The user is a member already.
    #[error("the user is already a member of this project")]
    AlreadyMember,
    /// The change would leave the project without an admin.
    #[error("a project keeps at least one admin: promote another member first")]
    LastAdmin,
    /// `If-Match` named another version than the current one.
    #[error("the project is at version {current}, not {expected}")]
    VersionMismatch {
        /// The version the client sent in `If-Match`.
        expected: i64,
        /// The project's version now.
        current: i64,
    },
    /// Concurrent writers kept winning.
    #[error("the project kept changing; try again")]
    Contention,
    /// Anything else: the store failed.
    #[error(transparent)]
    Unavailable(anyhow::Error),
}

impl From<RepositoryError> for ProjectError {
    fn from(e: RepositoryError) -> Self {
        ProjectError::Unavailable(e.into())
    }
}
