//! The outermost middleware: request id, one access-log line per request, metrics, and the
//! guarantee that every error response is a problem document.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use tracing::Instrument;

use crate::extract::LoggedUser;
use crate::metrics::Metrics;
use crate::problem::{self, ApiError};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, kept in its extensions for handlers that want it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The client's `X-Request-Id` when it is 1–128 characters of `[A-Za-z0-9._-]`; otherwise a new
/// UUID. Anything else could forge or break log lines.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// Methods get their own label; anything else is `OTHER`, so junk methods cannot grow metrics.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = method_label(req.method());
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let span = tracing::info_span!("request", request_id = %id, method = method);

    let response = match next.call(req).instrument(span.clone()).await {
        Ok(response) => response.map_into_boxed_body(),
        Err(error) => {
            // An inner middleware failed; answer its error here so it still gets an id and a log line.
            let _guard = span.enter();
            tracing::warn!(error = %error, "middleware error");
            return Err(error);
        }
    };
    let mut response = span.in_scope(|| ensure_problem(response));

    let status = response.status().as_u16();
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let user_id = response.request().extensions().get::<LoggedUser>().map(|u| u.0);
    let elapsed = started.elapsed();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    if let Some(metrics) = metrics {
        metrics.observe_request(method, &route, status, elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        match user_id {
            Some(user_id) => tracing::info!(route, status, latency_ms, user_id, "request"),
            None => tracing::info!(route, status, latency_ms, "request"),
        }
    });
    Ok(response)
}

/// Replaces an error response that is not already a problem document (actix's own 404s, 405s,
/// 413s and extractor errors) with one of the same status, so that no client ever sees a
/// plain-text error body.
fn ensure_problem(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(problem::CONTENT_TYPE.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (req, old) = response.into_parts();
    let mut replacement = ApiError::from_status(status).error_response();
    // Keep headers that carry meaning (Allow on 405, WWW-Authenticate on 401, Retry-After).
    for name in [header::ALLOW, header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
        if let Some(value) = old.headers().get(&name) {
            replacement.headers_mut().insert(name, value.clone());
        }
    }
    ServiceResponse::new(req, replacement)
}
