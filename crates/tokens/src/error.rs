//! What the token operations can refuse.

use workbench_core::{FieldErrors, RepositoryError};
use workbench_users::ReauthError;

/// Why a token operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The draft broke the rules: every failing field.
    #[error("invalid token: {0}")]
    Invalid(FieldErrors),
    /// The account has no password, and the session making the token did not sign in within
    /// `workbench_users::RECENT_SIGN_IN`: only signing in again proves the caller is its owner.
    #[error("sign in again to make a token: the account has no password and its sign-in is not recent")]
    ReauthenticationRequired,
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

impl From<ReauthError> for TokenError {
    fn from(e: ReauthError) -> Self {
        match e {
            ReauthError::SignInRequired => Self::ReauthenticationRequired,
            ReauthError::Unknown(cause) => Self::Unknown(cause),
        }
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
