//! The accounts domain's sign-in errors as problem documents.

use actix_web::http::StatusCode;
use workbench_users::{AuthError, OAuthError, ProviderError, TwoFactorError};

use crate::problem::ApiError;

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Validation(errors) => ApiError::validation(errors),
            AuthError::Conflict { field } => ApiError::taken(field),
            AuthError::InvalidCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid-credentials", "Invalid email or password.")
            }
            AuthError::AccountDisabled => {
                ApiError::new(StatusCode::FORBIDDEN, "account-disabled", "This account is disabled.")
            }
            AuthError::TotpRequired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "totp-required",
                "This account has two-factor authentication on: send a valid `totp_code` or an unused `recovery_code`.",
            ),
            AuthError::TooManyAttempts { until } => too_many_attempts(until),
            AuthError::InvalidToken | AuthError::TokenReused { .. } => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid-token", "The token is invalid, expired or revoked.")
            }
            AuthError::Unknown(cause) => ApiError::internal(cause),
        }
    }
}

/// 429 after too many wrong second factors, with `Retry-After` until the lock ends.
fn too_many_attempts(until: chrono::DateTime<chrono::Utc>) -> ApiError {
    let seconds = (until - chrono::Utc::now()).num_seconds().max(1);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too-many-attempts",
        "Too many wrong two-factor codes: the second factor is locked for a while. Try again later.",
    )
    .with_retry_after(u64::try_from(seconds).unwrap_or(1))
}

impl From<TwoFactorError> for ApiError {
    fn from(e: TwoFactorError) -> Self {
        match e {
            TwoFactorError::Invalid(errors) => ApiError::validation(errors),
            TwoFactorError::AlreadyEnabled => ApiError::conflict(
                "Two-factor authentication is already enabled; disable it first to set up a new secret.",
            ),
            TwoFactorError::NotEnabled => ApiError::conflict("Two-factor authentication is not enabled."),
            TwoFactorError::NotSetUp => {
                ApiError::conflict("There is no pending secret: call POST /api/v1/auth/totp/setup first.")
            }
            TwoFactorError::Locked { until } => too_many_attempts(until),
            TwoFactorError::Unknown(cause) => ApiError::internal(cause),
        }
    }
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::NotConfigured(provider) => {
                ApiError::not_found(format!("Sign-in with {provider:?} is not configured on this server."))
            }
            OAuthError::InvalidState => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-oauth-state",
                "The sign-in request is unknown, expired, was already used or was started in another browser; \
                 start the sign-in again.",
            ),
            OAuthError::MissingCode => {
                ApiError::new(StatusCode::BAD_REQUEST, "bad-request", "The callback carries no `code` parameter.")
            }
            OAuthError::Provider(ProviderError::Refused(why)) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "oauth-provider-refused",
                format!("The identity provider refused the sign-in: {why}"),
            ),
            OAuthError::Provider(ProviderError::Unavailable(why)) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "oauth-provider-unavailable",
                format!(
                    "The identity provider could not be reached or gave an unusable answer ({why}); try again later."
                ),
            ),
            OAuthError::Provider(ProviderError::InvalidToken(why)) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid-id-token",
                format!("The identity provider's token was refused: {why}."),
            ),
            OAuthError::InvalidLogoutToken(why) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-logout-token",
                format!("The logout token was refused: {why}."),
            ),
            e @ OAuthError::NoEmail(_) => ApiError::new(StatusCode::BAD_GATEWAY, "oauth-email-missing", e.to_string()),
            e @ OAuthError::UnverifiedEmail(_) => {
                ApiError::new(StatusCode::CONFLICT, "oauth-email-unverified", e.to_string())
            }
            OAuthError::Auth(e) => e.into(),
        }
    }
}
