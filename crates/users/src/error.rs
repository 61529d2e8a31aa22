//! What can go wrong, in the domain's words. The app maps each variant to one HTTP status.

use workbench_core::{FieldErrors, RepositoryError};

/// Failures of signing in, refreshing and signing out.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Fields that failed their rules, each named.
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    /// A uniqueness rule was broken.
    #[error("{field} is already taken")]
    Conflict {
        /// The field whose value is taken (`email`, `username`).
        field: &'static str,
    },
    /// Unknown email and wrong password alike, so the answer does not reveal which emails exist.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The account is disabled: it may not sign in.
    #[error("this account is disabled")]
    AccountDisabled,
    /// The password was right, but the account has TOTP on and no valid code (or recovery code)
    /// came with it.
    #[error("a valid two-factor code is required")]
    TotpRequired,
    /// Too many wrong second factors in a row: sign-in is refused until `until`.
    #[error("too many wrong codes; try again later")]
    TooManyAttempts {
        /// When a sign-in may try a second factor again.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// A missing, expired, revoked, reused or forged token.
    #[error("the token is invalid, expired or revoked")]
    InvalidToken,
    /// An already-exchanged refresh token was presented again; its family is now revoked.
    /// Clients see the same answer as for [`AuthError::InvalidToken`].
    #[error("the token is invalid, expired or revoked")]
    TokenReused {
        /// The account whose token was presented twice (its access tokens issued before have
        /// stopped working), for the log.
        user_id: crate::UserId,
    },
    /// Anything else: the store failed, or a token could not be made.
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
    /// Fields that failed their rules, each named.
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    /// No such account.
    #[error("no such user")]
    NotFound,
    /// The caller may not do this; the message says why.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A uniqueness rule was broken.
    #[error("{field} is already taken")]
    Conflict {
        /// The field whose value is taken (`email`, `username`).
        field: &'static str,
    },
    /// The client's `If-Match` version is not the account's current one.
    #[error("the account changed since version {expected}; it is now at version {current}")]
    VersionMismatch {
        /// The version the client sent in `If-Match`.
        expected: i64,
        /// The account's version now.
        current: i64,
    },
    /// Anything else: the store failed.
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
