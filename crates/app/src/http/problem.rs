//! RFC 9457 problem documents: the one shape every error takes on the wire.
//!
//! Domain errors are mapped to an HTTP status here, once. Anything unexpected becomes an opaque
//! 500 whose cause is logged (with the request id, through the request's span) and never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;
use workbench_chat::ChatError;
use workbench_core::{FieldError, FieldErrors};
use workbench_files::{FileError, Missing};
use workbench_integrations::IntegrationError;
use workbench_jobs::JobsError;
use workbench_products::{ProductError, Resource};
use workbench_tasks::TaskError;
use workbench_users::{AuthError, OAuthError, ProviderError, TwoFactorError, UserError};
use workbench_webhooks::WebhookError;

pub const CONTENT_TYPE: &str = "application/problem+json";
const TYPE_BASE: &str = "https://workbench.dev/problems/";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "https://workbench.dev/problems/validation-error",
    "title": "Unprocessable Content",
    "status": 422,
    "detail": "2 fields are invalid",
    "errors": [{"field": "title", "message": "must not be blank"}]
}))]
pub struct Problem {
    /// A URI naming the kind of problem; its last segment is a stable slug
    /// (`validation-error`, `not-found`, `totp-required`, ...).
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Every failing field, for `422`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// What really went wrong behind an opaque 500, carried in the response's extensions to the
/// middleware that logs it with the request id; never sent.
#[derive(Debug, Clone)]
pub struct Cause(pub String);

/// An error on its way to becoming a problem response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    /// `WWW-Authenticate` for 401s: the `error` parameter when a token was presented but refused.
    challenge: Option<&'static str>,
    retry_after: Option<u64>,
    /// What really happened, for the log only.
    cause: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            slug,
            detail: detail.into(),
            errors: Vec::new(),
            challenge: None,
            retry_after: None,
            cause: None,
        }
    }

    /// The problem for a bare status, used when something other than a handler (actix itself, a
    /// guard) answered with an error and no body.
    pub fn from_status(status: StatusCode) -> Self {
        let (slug, detail) = match status.as_u16() {
            400 => ("bad-request", "The request could not be understood."),
            401 => ("unauthorized", "Authentication is required."),
            403 => ("forbidden", "You are not allowed to do this."),
            404 => ("not-found", "There is nothing here."),
            405 => ("method-not-allowed", "This resource does not support that method."),
            408 => ("request-timeout", "The request took too long to arrive."),
            413 => ("payload-too-large", "The request body is larger than allowed."),
            414 => ("uri-too-long", "The request URI is too long."),
            415 => ("unsupported-media-type", "The request body's type is not accepted here."),
            431 => ("headers-too-large", "The request headers are too large."),
            503 => ("service-unavailable", "The service is temporarily unavailable."),
            s if s >= 500 => ("internal-error", "Something went wrong on our side."),
            _ => ("error", "The request failed."),
        };
        Self::new(status, slug, detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    /// 401 for a request without usable credentials.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self { challenge: Some(""), ..Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail) }
    }

    /// 401 for a presented token that is expired, revoked or forged.
    pub fn invalid_token() -> Self {
        Self {
            challenge: Some("invalid_token"),
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid-token", "The access token is invalid or expired.")
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// 409 for a unique value (email, username) someone already has, naming the field.
    pub fn taken(field: &str) -> Self {
        let mut err = Self::conflict(format!("This {field} is already taken."));
        err.push_error(field, "is already taken");
        err
    }

    pub fn validation(errors: FieldErrors) -> Self {
        let errors = errors.into_vec();
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        Self { errors, ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation-error", detail) }
    }

    /// 422 from a list of failing fields.
    pub fn field_errors(errors: Vec<FieldError>) -> Self {
        match FieldErrors::from_vec(errors) {
            Some(errors) => Self::validation(errors),
            None => Self::bad_request("The request is invalid."),
        }
    }

    /// 422 naming one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(FieldErrors::single(field, message))
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "service-unavailable", detail)
    }

    /// An opaque 500; `cause` is logged, never shown. A database out of reach is not a bug but a
    /// passing state: that is a 503 `database-unavailable` with `Retry-After`.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let cause = cause.into();
        if workbench_core::is_unreachable(&cause) {
            return Self {
                cause: Some(cause),
                retry_after: Some(1),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database-unavailable",
                    "The database cannot be reached at the moment; try again shortly.",
                )
            };
        }
        Self { cause: Some(cause), ..Self::from_status(StatusCode::INTERNAL_SERVER_ERROR) }
    }

    /// Adds a failing field to the problem's `errors`.
    /// Renames the fields of `errors` (a body's part read on its own, named as the whole body has it).
    pub fn rename_fields(&mut self, rename: impl Fn(&str) -> String) {
        for error in &mut self.errors {
            error.field = rename(&error.field);
        }
        if let [one] = self.errors.as_slice() {
            self.detail = format!("{}: {}", one.field, one.message);
        }
    }

    pub fn push_error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("{TYPE_BASE}{}", self.slug),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.slug, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(cause) = &self.cause {
            // Logged by the outermost middleware, which knows the request id.
            response.extensions_mut().insert(Cause(format!("{cause:#}")));
        }
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)));
        if let Some(error) = self.challenge {
            let value = if error.is_empty() { "Bearer".to_owned() } else { format!("Bearer error=\"{error}\"") };
            response.insert_header((header::WWW_AUTHENTICATE, value));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.body(serde_json::to_vec(&self.problem()).unwrap_or_default())
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self::validation(errors)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Validation(errors) => Self::validation(errors),
            AuthError::Conflict { field } => Self::taken(field),
            AuthError::InvalidCredentials => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid-credentials", "Invalid email or password.")
            }
            AuthError::AccountDisabled => {
                Self::new(StatusCode::FORBIDDEN, "account-disabled", "This account is disabled.")
            }
            AuthError::TotpRequired => Self::new(
                StatusCode::UNAUTHORIZED,
                "totp-required",
                "This account has two-factor authentication on: send a valid `totp_code` or an unused `recovery_code`.",
            ),
            AuthError::TooManyAttempts { until } => too_many_attempts(until),
            AuthError::InvalidToken | AuthError::TokenReused { .. } => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid-token", "The token is invalid, expired or revoked.")
            }
            AuthError::Unknown(cause) => Self::internal(cause),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Validation(errors) => Self::validation(errors),
            UserError::NotFound => Self::not_found("No such user."),
            UserError::Forbidden(why) => Self::forbidden(why),
            UserError::Conflict { field } => Self::taken(field),
            UserError::VersionMismatch { expected, current } => crate::http::preconditions::precondition_failed(
                format!("The account is at version {current}, not {expected}: fetch it again and reapply your change."),
            ),
            UserError::Unknown(cause) => Self::internal(cause),
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
            TwoFactorError::InvalidCode => Self::invalid_field("code", "is invalid, expired or already used"),
            TwoFactorError::AlreadyEnabled => {
                Self::conflict("Two-factor authentication is already enabled; disable it first to set up a new secret.")
            }
            TwoFactorError::NotEnabled => Self::conflict("Two-factor authentication is not enabled."),
            TwoFactorError::NotSetUp => {
                Self::conflict("There is no pending secret: call POST /api/v1/auth/totp/setup first.")
            }
            TwoFactorError::Locked { until } => too_many_attempts(until),
            TwoFactorError::Unknown(cause) => Self::internal(cause),
        }
    }
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::NotConfigured(provider) => {
                Self::not_found(format!("Sign-in with {provider:?} is not configured on this server."))
            }
            OAuthError::InvalidState => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid-oauth-state",
                "The sign-in request is unknown, expired or was already used; start the sign-in again.",
            ),
            OAuthError::MissingCode => {
                Self::new(StatusCode::BAD_REQUEST, "bad-request", "The callback carries no `code` parameter.")
            }
            OAuthError::Provider(ProviderError::Refused(why)) => Self::new(
                StatusCode::BAD_GATEWAY,
                "oauth-provider-refused",
                format!("The identity provider refused the sign-in: {why}"),
            ),
            OAuthError::Provider(ProviderError::Unavailable(why)) => {
                let mut error = Self::new(
                    StatusCode::BAD_GATEWAY,
                    "oauth-provider-unavailable",
                    "The identity provider could not be reached or gave an unusable answer; try again later.",
                );
                error.cause = Some(anyhow::anyhow!(why));
                error
            }
            e @ OAuthError::NoEmail(_) => Self::new(StatusCode::BAD_GATEWAY, "oauth-email-missing", e.to_string()),
            e @ OAuthError::UnverifiedEmail(_) => {
                Self::new(StatusCode::CONFLICT, "oauth-email-unverified", e.to_string())
            }
            OAuthError::Auth(e) => e.into(),
        }
    }
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::Validation(errors) => Self::validation(errors),
            ChatError::RoomNotFound => Self::not_found("No such room."),
            ChatError::UserNotFound => Self::not_found("No such user."),
            ChatError::Forbidden(why) => Self::forbidden(why),
            ChatError::Conflict { field: "name" } => Self::conflict("A room of this name exists already."),
            ChatError::Conflict { field } => Self::taken(field),
            ChatError::Unknown(cause) => Self::internal(cause),
        }
    }
}

impl From<TaskError> for ApiError {
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::Validation(errors) => Self::validation(errors),
            TaskError::NotFound => Self::not_found("No such task."),
            TaskError::CommentNotFound => Self::not_found("No such comment on this task."),
            TaskError::Forbidden(why) => Self::forbidden(why),
            TaskError::VersionMismatch { expected, current } => crate::http::preconditions::precondition_failed(
                format!("The task is at version {current}, not {expected}: fetch it again and reapply your change."),
            ),
            TaskError::Contention => Self::conflict("The task is being changed by others; try again."),
            TaskError::Unknown(cause) => Self::internal(cause),
        }
    }
}

impl From<ProductError> for ApiError {
    fn from(e: ProductError) -> Self {
        match e {
            ProductError::Validation(errors) => Self::validation(errors),
            ProductError::NotFound(what) => Self::not_found(match what {
                Resource::Category => "No such category.",
                Resource::Product => "No such product.",
                Resource::UserProduct => "No such item in your collection.",
            }),
            ProductError::Forbidden(why) => Self::forbidden(why),
            ProductError::Conflict { field: "serial_number" } => {
                let mut err = Self::conflict("You already have this product with this serial number.");
                err.push_error("serial_number", "is already registered for this product");
                err
            }
            ProductError::Conflict { field } => Self::taken(field),
            ProductError::VersionMismatch { expected, current } => {
                crate::http::preconditions::precondition_failed(format!(
                    "The resource is at version {current}, not {expected}: fetch it again and reapply your change."
                ))
            }
            ProductError::CategoryInUse => {
                Self::conflict("The category still has products: move or delete them first.")
            }
            ProductError::ProductInUse => {
                Self::conflict("Users own this product, so it cannot be deleted; discontinue it instead.")
            }
            ProductError::FilesAttached => Self::conflict("Files are attached to this item: delete them first."),
            ProductError::Contention => Self::conflict("The resource is being changed by others; try again."),
            ProductError::Unavailable(cause) => Self::internal(cause),
        }
    }
}

impl From<IntegrationError> for ApiError {
    fn from(e: IntegrationError) -> Self {
        match e {
            IntegrationError::Validation(errors) => Self::validation(errors),
            IntegrationError::NotFound { what } => Self::not_found(format!("The provider knows no {what}.")),
            IntegrationError::NotConfigured { capability } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider-not-configured",
                format!("No {} provider is configured on this server.", capability.as_str()),
            ),
            IntegrationError::ProviderUnavailable { provider, retry_after } => {
                let error = Self::new(
                    StatusCode::BAD_GATEWAY,
                    "provider-unavailable",
                    format!("{provider} could not be reached or gave an unusable answer, and nothing is cached."),
                );
                match retry_after {
                    Some(wait) => error.with_retry_after(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)),
                    None => error,
                }
            }
        }
    }
}

impl From<JobsError> for ApiError {
    fn from(e: JobsError) -> Self {
        match e {
            JobsError::Validation(errors) => Self::validation(errors),
            JobsError::NotFound => Self::not_found("No such job."),
            e @ JobsError::WrongState { .. } => Self::new(StatusCode::CONFLICT, "job-state-conflict", e.to_string()),
            JobsError::DuplicateKey => Self::new(
                StatusCode::CONFLICT,
                "job-state-conflict",
                "Another job with this job's unique key is waiting or running; retrying this one would run the work twice.",
            ),
            e @ JobsError::Configuration(_) => Self::internal(anyhow::anyhow!(e)),
            JobsError::Unknown(cause) => Self::internal(cause),
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Validation(errors) => Self::validation(errors),
            WebhookError::NotFound => Self::not_found("No such webhook subscription."),
            e @ WebhookError::TooMany(_) => Self::new(StatusCode::CONFLICT, "too-many-subscriptions", format!("{e}.")),
            // Nothing can be verified, so nothing is accepted: the sender hears 400 as for a bad
            // signature, and GitHub or Stripe show it in their delivery logs.
            WebhookError::NotConfigured(provider) => Self::new(
                StatusCode::BAD_REQUEST,
                "webhook-not-configured",
                format!("Webhooks from {provider} are not accepted here: no signing secret is configured."),
            ),
            // Why exactly is logged by the handler: a forger learns nothing from the answer.
            WebhookError::BadSignature(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid-signature",
                "The delivery's signature is missing, malformed, wrong or too old; nothing was stored.",
            ),
            WebhookError::Malformed(why) => Self::new(
                StatusCode::BAD_REQUEST,
                "malformed-delivery",
                format!("The delivery is signed but cannot be used: {why}. Nothing was stored."),
            ),
            WebhookError::Unknown(cause) => Self::internal(cause),
        }
    }
}

impl From<FileError> for ApiError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Validation(errors) => Self::validation(errors),
            FileError::NotFound(what) => Self::not_found(match what {
                Missing::File => "No such file.",
                Missing::Thumbnail => "This file has no thumbnail: only images do.",
                Missing::Task => "No such task.",
                Missing::UserProduct => "No such item in your collection.",
            }),
            FileError::Forbidden(why) => Self::forbidden(why),
            e @ FileError::RangeNotSatisfiable { .. } => {
                Self::new(StatusCode::RANGE_NOT_SATISFIABLE, "range-not-satisfiable", format!("The {e}."))
            }
            e @ FileError::DocumentTooLong { .. } => {
                let mut err = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation-error", format!("The {e}."));
                err.push_error("data", "selects too much for one document; narrow it down");
                err
            }
            FileError::Unavailable(cause) => Self::internal(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;
    use workbench_core::RepositoryError;

    #[actix_web::test]
    async fn internal_errors_hide_their_cause() {
        let err = ApiError::internal(anyhow::anyhow!("SELECT * FROM secrets failed at /srv/app.rs"));
        let response = err.error_response();
        assert_eq!(response.status(), 500);
        assert_eq!(response.headers().get(header::CONTENT_TYPE).unwrap(), CONTENT_TYPE);
        let body = to_bytes(response.into_body()).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains("SELECT") && !text.contains("/srv"), "{text}");
        assert!(text.contains("internal-error"));
    }

    #[actix_web::test]
    async fn an_unreachable_database_is_a_503_to_retry() {
        let RepositoryError::Unavailable(cause) = RepositoryError::unreachable("connection refused") else {
            unreachable!()
        };
        let response = ApiError::from(TaskError::Unknown(cause)).error_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "1");
        let body = to_bytes(response.into_body()).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("database-unavailable") && !text.contains("refused"), "{text}");
    }

    #[test]
    fn conflicts_name_the_field() {
        let problem = ApiError::from(AuthError::Conflict { field: "email" }).problem();
        assert_eq!(problem.status, 409);
        assert_eq!(problem.errors, vec![FieldError::new("email", "is already taken")]);
    }

    #[test]
    fn unauthorized_carries_a_bearer_challenge() {
        let response = ApiError::invalid_token().error_response();
        assert_eq!(response.headers().get(header::WWW_AUTHENTICATE).unwrap(), "Bearer error=\"invalid_token\"");
        let response = ApiError::unauthorized("no token").error_response();
        assert_eq!(response.headers().get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
    }
}
