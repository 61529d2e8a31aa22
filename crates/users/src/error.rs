//! What can go wrong, in the domain's words. The app maps each variant to one HTTP status.

use workbench_core::{FieldErrors, RepositoryError};

/// Failures of signing in, refreshing and signing out.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    /// Unknown email and wrong password alike, so the answer does not reveal which emails exist.
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("this account is disabled")]
    AccountDisabled,
    /// The password was right, but the account has TOTP on and no valid code (or recovery code)
    /// came with it.
    #[error("a valid two-factor code is required")]
    TotpRequired,
    /// Too many wrong second factors in a row: sign-in is refused until `until`.
    #[error("too many wrong codes; try again later")]
    TooManyAttempts { until: chrono::DateTime<chrono::Utc> },
    /// A missing, expired, revoked, reused or forged token.
    #[error("the token is invalid, expired or revoked")]
    InvalidToken,
    /// An already-exchanged refresh token was presented again; its family is now revoked.
    /// Clients see the same answer as for [`AuthError::InvalidToken`].
    #[error("the token is invalid, expired or revoked")]
    TokenReused { user_id: crate::UserId },
    #[error(transparent)]
    Unknown(anyhow::Error),
}

impl From<RepositoryError> for AuthError {
    fn from(e: RepositoryError) -> Self {
        match e {
            RepositoryError::Conflict { field } => AuthError::Conflict { field },
            RepositoryError::MissingReference { .. } => AuthError::Unknown(e.into()),
            RepositoryError::Unavailable(e) => AuthError::Unknown(e),
        }
    }
}

impl From<anyhow::Error> for AuthError {
    fn from(e: anyhow::Error) -> Self {
        AuthError::Unknown(e)
    }
}

/// Failures of managing accounts.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    #[error("no such user")]
    NotFound,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    /// The client's `If-Match` version is not the account's current one.
    #[error("the account changed since version {expected}; it is now at version {current}")]
    VersionMismatch { expected: i64, current: i64 },
    #[error(transparent)]
    Unknown(anyhow::Error),
}

impl From<RepositoryError> for UserError {
    fn from(e: RepositoryError) -> Self {
        match e {
            RepositoryError::Conflict { field } => UserError::Conflict { field },
            RepositoryError::MissingReference { .. } => UserError::Unknown(e.into()),
            RepositoryError::Unavailable(e) => UserError::Unknown(e),
        }
    }
}

impl From<anyhow::Error> for UserError {
    fn from(e: anyhow::Error) -> Self {
        UserError::Unknown(e)
    }
}
