//! What the token operations can refuse.

use workbench_core::{FieldErrors, RepositoryError};

/// Why a token operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The draft broke the rules: every failing field.
    #[error("invalid token: {0}")]
    Invalid(FieldErrors),
    /// The caller holds no token with that id.
    #[error("no such token")]
    NotFound,
    /// A presented token is unknown, revoked or expired, or its account may not sign in.
    #[error("the personal access token is not valid")]
    InvalidToken,
    /// Anything else: the store failed.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

impl From<FieldErrors> for TokenError {
    fn from(errors: FieldErrors) -> Self {
        Self::Invalid(errors)
    }
}

impl From<RepositoryError> for TokenError {
    fn from(e: RepositoryError) -> Self {
        match e {
            RepositoryError::MissingReference { .. } => Self::InvalidToken,
            other => Self::Unknown(other.into()),
        }
    }
}
