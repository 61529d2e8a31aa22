//! The outermost middleware: request id, one access-log line per request, metrics, the log line of
//! every failure's cause (with the request id), and the guarantee that every error response is a
//! problem document.

use std::time::{Instant, SystemTime};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};

use crate::http::extract::LoggedUser;
use crate::http::problem::{self, ApiError};
use crate::metrics::Metrics;
use crate::telemetry::{AccessLog, AccessRecord};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The client's `X-Request-Id` when it is 1–128 characters of `[A-Za-z0-9._-]`; otherwise a new
/// UUID. Anything else could forge or break log lines. A header value, so that the response
/// header and the log line share it rather than copy it.
fn request_id(req: &ServiceRequest) -> HeaderValue {
    req.headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            (1..=128).contains(&v.len()) && v.as_bytes().iter().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b))
        })
        .cloned()
        .unwrap_or_else(|| {
            let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
            let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
            HeaderValue::from_str(text).expect("a UUID is a valid header value")
        })
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
    let (at, started) = (SystemTime::now(), Instant::now());
    let id = request_id(&req);
    let method = method_label(req.method());
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let access = req.app_data::<web::Data<AccessLog>>().cloned();

    let response = match next.call(req).await {
        Ok(response) => response.map_into_boxed_body(),
        Err(error) => {
            // An inner middleware failed; answer its error here so it still gets an id and a log line.
            tracing::warn!(request_id = id.to_str().unwrap_or_default(), error = %error, "middleware error");
            return Err(error);
        }
    };
    let mut response = ensure_problem(response);

    let status = response.status().as_u16();
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let user_id = response.request().extensions().get::<LoggedUser>().map(|u| u.0);
    let elapsed = started.elapsed();
    if let Some(cause) = response.response().extensions().get::<problem::Cause>() {
        tracing::error!(request_id = id.to_str().unwrap_or_default(), method, route, status, error = %cause.0, "request failed");
    }
    response.headers_mut().insert(REQUEST_ID, id.clone());
    // `identity` only told the compressor to keep its hands off (media that is compressed
    // already); clients need not see it.
    if response.headers().get(header::CONTENT_ENCODING).is_some_and(|v| v == "identity") {
        response.headers_mut().remove(header::CONTENT_ENCODING);
    }
    if let Some(metrics) = metrics {
        metrics.observe_request(method, &route, status, elapsed.as_secs_f64());
    }
    if let Some(access) = access {
        access.record(AccessRecord { at, request_id: id, method, route, status, latency: elapsed, user_id });
    }
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
    // Only the body is replaced: what the inner middleware and handlers said about the exchange
    // (Allow, WWW-Authenticate, Retry-After, RateLimit-*, CORS, security headers) holds for the
    // problem too. Headers describing the old body would lie about the new one.
    let headers = replacement.headers_mut();
    for name in old.headers().keys() {
        if [header::CONTENT_TYPE, header::CONTENT_LENGTH, header::CONTENT_ENCODING].contains(name) {
            continue;
        }
        headers.remove(name);
        for value in old.headers().get_all(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(req, replacement)
}

/// Refuses a method that a documented fixed path does not take (`PUT /tasks/stats`) with `405`
/// before routing, so that a templated route of the same prefix never answers for it.
pub async fn refuse_undocumented_methods(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let refused =
        req.app_data::<web::Data<crate::openapi::MethodTable>>().and_then(|m| m.refuse_fixed(req.path(), req.method()));
    match refused {
        Some(response) => Ok(req.into_response(response)),
        None => next.call(req).await.map(ServiceResponse::map_into_boxed_body),
    }
}
