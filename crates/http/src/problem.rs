//! RFC 9457 problem documents: the one shape every error takes on the wire.
//!
//! Each domain maps its errors to a status in its own module (`<domain>/errors.rs`), once, with
//! the constructors here. Anything unexpected becomes an opaque 500 whose cause is logged (with
//! the request id, through the request's span) and never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;
use workbench_core::{FieldError, FieldErrors};

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
    /// The scope a `403 insufficient-scope` names in its challenge.
    scope: Option<&'static str>,
    /// Whole seconds; a `u32` (136 years) keeps the error small enough to return by value.
    retry_after: Option<u32>,
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
            scope: None,
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

    /// 403 for a personal access token on a route its scopes do not open, naming the `scope`
    /// needed in the detail and in an RFC 6750 challenge; `None` for a route that only a
    /// signed-in session may use, which no scope opens.
    pub fn insufficient_scope(scope: Option<&'static str>) -> Self {
        let detail = match scope {
            Some(scope) => format!("This route needs the `{scope}` scope, which this token was not granted."),
            None => "Only a signed-in session may do this: no personal access token can, whatever its scopes.".into(),
        };
        Self {
            challenge: Some("insufficient_scope"),
            scope,
            ..Self::new(StatusCode::FORBIDDEN, "insufficient-scope", detail)
        }
    }

    /// 403 for a personal access token on an admin route (one that needs a platform role of
    /// moderator or above): no token may use one, whatever its scopes or its user's role. The
    /// type is `insufficient-scope`, as on every route a token's scopes cannot open.
    pub fn admin_route_for_sessions() -> Self {
        Self {
            challenge: Some("insufficient_scope"),
            ..Self::new(
                StatusCode::FORBIDDEN,
                "insufficient-scope",
                "This is an admin route: no personal access token may use it, whatever its scopes or its user's \
                 role. Sign in and use the session's access token.",
            )
        }
    }

    /// 403 for a signed-in session that must prove again that it is its account's owner, and
    /// can only do so by signing in again (an account without a password, whose sign-in is not
    /// recent enough).
    pub fn reauthentication_required(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "reauthentication-required", detail)
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

    /// Keeps what really happened for the log, behind whatever the problem says.
    pub fn with_cause(mut self, cause: anyhow::Error) -> Self {
        self.cause = Some(cause);
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(u32::try_from(seconds).unwrap_or(u32::MAX));
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
            let value = match (error, self.scope) {
                ("", _) => "Bearer".to_owned(),
                (error, Some(scope)) => format!("Bearer error=\"{error}\", scope=\"{scope}\""),
                (error, None) => format!("Bearer error=\"{error}\""),
            };
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
        let response = ApiError::internal(cause).error_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "1");
        let body = to_bytes(response.into_body()).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("database-unavailable") && !text.contains("refused"), "{text}");
    }

    #[test]
    fn conflicts_name_the_field() {
        let problem = ApiError::taken("email").problem();
        assert_eq!(problem.status, 409);
        assert_eq!(problem.errors, vec![FieldError::new("email", "is already taken")]);
    }

    #[test]
    fn unauthorized_carries_a_bearer_challenge() {
        let response = ApiError::invalid_token().error_response();
        assert_eq!(response.headers().get(header::WWW_AUTHENTICATE).unwrap(), "Bearer error=\"invalid_token\"");
        let response = ApiError::unauthorized("no token").error_response();
        assert_eq!(response.headers().get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
        let response = ApiError::insufficient_scope(Some("tasks:write")).error_response();
        assert_eq!(response.status(), 403);
        let challenge = response.headers().get(header::WWW_AUTHENTICATE).unwrap();
        assert_eq!(challenge, "Bearer error=\"insufficient_scope\", scope=\"tasks:write\"");
    }
}
