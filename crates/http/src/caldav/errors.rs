//! CalDAV's errors: a status and a `DAV:error` body naming the precondition that failed and why
//! (RFC 4918 §16, RFC 4791 §1.3), where the REST routes answer problem documents.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use workbench_calendars::CalendarError;
use workbench_calendars::vtodo::VtodoError;
use workbench_dav::{PropName, error_body};
use workbench_ratelimit::Decision;

use crate::problem::Cause;

/// A refused CalDAV request.
#[derive(Debug)]
pub struct DavError {
    status: StatusCode,
    precondition: Option<PropName>,
    reason: String,
    headers: Vec<(header::HeaderName, String)>,
    cause: Option<anyhow::Error>,
}

impl std::fmt::Display for DavError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.reason)
    }
}

/// The content type of every XML body here.
pub const XML: &str = "application/xml; charset=utf-8";

impl DavError {
    pub fn new(status: StatusCode, precondition: Option<PropName>, reason: impl Into<String>) -> Self {
        Self { status, precondition, reason: reason.into(), headers: Vec::new(), cause: None }
    }

    fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn unauthorized(reason: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, None, reason)
            .with_header(header::WWW_AUTHENTICATE, "Basic realm=\"Workbench\"")
    }

    pub fn too_many(decision: &Decision) -> Self {
        let wait = decision.retry_after.unwrap_or_default();
        let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        Self::new(StatusCode::TOO_MANY_REQUESTS, None, format!("Too many failed sign-ins; try again in {seconds} s."))
            .with_header(header::RETRY_AFTER, seconds.to_string())
    }

    pub fn need_privileges(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, Some(PropName::dav("need-privileges")), reason)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, None, "Nothing here.")
    }

    pub fn bad_request(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, None, reason)
    }

    pub fn forbidden(precondition: PropName, reason: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, Some(precondition), reason)
    }

    pub fn not_allowed(allow: &str) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, None, "This resource does not take this method.")
            .with_header(header::ALLOW, allow)
    }

    /// An opaque 500 (the cause is logged with the request id), or a 503 for a database out of
    /// reach, as the REST routes answer them.
    pub fn internal(cause: anyhow::Error) -> Self {
        if workbench_core::is_unreachable(&cause) {
            let mut e =
                Self::new(StatusCode::SERVICE_UNAVAILABLE, None, "The database cannot be reached; try again shortly.")
                    .with_header(header::RETRY_AFTER, "1");
            e.cause = Some(cause);
            return e;
        }
        let mut e = Self::new(StatusCode::INTERNAL_SERVER_ERROR, None, "Something went wrong on our side.");
        e.cause = Some(cause);
        e
    }
}

impl ResponseError for DavError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = error_body(self.precondition.as_ref(), Some(&self.reason));
        let mut response = HttpResponse::build(self.status);
        response.content_type(XML);
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        let mut response = response.body(body);
        if let Some(cause) = &self.cause {
            response.extensions_mut().insert(Cause(format!("{cause:#}")));
        }
        response
    }
}

impl From<CalendarError> for DavError {
    fn from(e: CalendarError) -> Self {
        let caldav = PropName::caldav;
        match e {
            CalendarError::NotFound => DavError::not_found(),
            CalendarError::Forbidden(why) => DavError::need_privileges(why),
            CalendarError::PreconditionFailed => DavError::new(
                StatusCode::PRECONDITION_FAILED,
                None,
                "The object changed since that ETag, or its existence is not what the request assumed.",
            ),
            CalendarError::InvalidSyncToken => DavError::forbidden(
                PropName::dav("valid-sync-token"),
                "This sync token is not one this calendar gave; sync again from the start.",
            ),
            CalendarError::UidConflict(name) => DavError::forbidden(
                caldav("no-uid-conflict"),
                format!("The object {name} of this calendar has this UID."),
            ),
            CalendarError::Object(VtodoError::Invalid(why)) => DavError::forbidden(caldav("valid-calendar-data"), why),
            CalendarError::Object(VtodoError::UnsupportedComponent(why)) => {
                DavError::forbidden(caldav("supported-calendar-component"), why)
            }
            CalendarError::Object(VtodoError::InvalidObject(why)) => {
                DavError::forbidden(caldav("valid-calendar-object-resource"), why)
            }
            CalendarError::Invalid(why) => DavError::forbidden(caldav("valid-calendar-data"), why),
            CalendarError::Unknown(cause) => DavError::internal(cause),
        }
    }
}
