//! The outermost layer: request id, security headers, one access-log line and the metrics of
//! every request, the log line of every failure's cause (with the request id), and the guarantee
//! that every error response is a problem document.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage, ResponseError, web};

use crate::access_log::{AccessLog, AccessRecord, RequestId};
use crate::extract::LoggedUser;
use crate::ports::{HttpMetrics, RequestSeries};
use crate::problem::{self, ApiError};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Headers every response carries: no MIME sniffing, no framing, no referrer leaks. No handler
/// sets them, so they are inserted without looking first.
static SECURITY_HEADERS: [(HeaderName, HeaderValue); 3] = [
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
];

/// The outermost middleware; see the module documentation.
pub struct Edge {
    metrics: Arc<dyn HttpMetrics>,
    access: web::Data<AccessLog>,
}

impl Edge {
    pub fn new(metrics: Arc<dyn HttpMetrics>, access: web::Data<AccessLog>) -> Self {
        Self { metrics, access }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Edge
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Transform = EdgeService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let books = Books { metrics: self.metrics.clone(), access: self.access.clone(), series: RefCell::default() };
        ready(Ok(EdgeService { service, books: Rc::new(books) }))
    }
}

pub struct EdgeService<S> {
    service: S,
    books: Rc<Books>,
}

impl<S, B> Service<ServiceRequest> for EdgeService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Future = Observed<S::Future>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let arrival = Arrival {
            at: SystemTime::now(),
            started: Instant::now(),
            id: request_id(&req),
            method: method_label(req.method()),
        };
        Observed { response: self.service.call(req), books: Rc::clone(&self.books), arrival: Some(arrival) }
    }
}

pin_project_lite::pin_project! {
    /// A request on its way through the inner layers; its response gets the edge's headers and
    /// is counted and logged when it comes back.
    pub struct Observed<F> {
        #[pin]
        response: F,
        books: Rc<Books>,
        arrival: Option<Arrival>,
    }
}

impl<F, B> Future for Observed<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody + 'static,
{
    type Output = Result<ServiceResponse<BoxBody>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.response.poll(cx));
        let arrival = this.arrival.take().expect("an answered request is not polled again");
        Poll::Ready(match result {
            Ok(response) => Ok(this.books.close(response, arrival)),
            Err(error) => {
                // An inner middleware failed; actix answers its error, and its cause is logged
                // here with the request id.
                tracing::warn!(request_id = arrival.id.as_str(), error = %error, "middleware error");
                Err(error)
            }
        })
    }
}

/// What the edge knows of a request before passing it on.
struct Arrival {
    at: SystemTime,
    started: Instant,
    id: RequestId,
    method: &'static str,
}

/// Where one worker records its requests: the shared metrics and access log, and the metric
/// series it has already met. A worker's requests run on its one thread, hence the `RefCell`.
struct Books {
    metrics: Arc<dyn HttpMetrics>,
    access: web::Data<AccessLog>,
    series: RefCell<HashMap<SeriesKey, Box<dyn RequestSeries>, foldhash::fast::RandomState>>,
}

/// Route template, method label and status.
type SeriesKey = (String, &'static str, u16);

impl Books {
    /// Finishes a response on its way out, then counts and logs the exchange.
    fn close<B: MessageBody + 'static>(
        &self,
        response: ServiceResponse<B>,
        arrival: Arrival,
    ) -> ServiceResponse<BoxBody> {
        let mut response = ensure_problem(response);
        let status = response.status().as_u16();
        let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        let user_id = response.request().extensions().get::<LoggedUser>().map(|u| u.0);
        let Arrival { at, started, id, method } = arrival;
        let latency = started.elapsed();
        // Only error responses carry a cause.
        if status >= 400
            && let Some(cause) = response.response().extensions().get::<problem::Cause>()
        {
            tracing::error!(request_id = id.as_str(), method, route, status, error = %cause.0, "request failed");
        }

        if takes_the_connection(response.request()) && status != 101 {
            frame_to_close(response.response_mut().head_mut());
        }
        let headers = response.headers_mut();
        for (name, value) in &SECURITY_HEADERS {
            headers.insert(name.clone(), value.clone());
        }
        headers.insert(REQUEST_ID, id.to_header());
        // `identity` only told the compressor to keep its hands off (media that is compressed
        // already); clients need not see it.
        if headers.get(header::CONTENT_ENCODING).is_some_and(|v| v == "identity") {
            headers.remove(header::CONTENT_ENCODING);
        }

        let route = self.count((route, method, status), latency.as_secs_f64());
        self.access.record(AccessRecord { at, request_id: id, method, route, status, latency, user_id });
        response
    }

    /// Counts a request in its series, and gives the route back for the log line.
    fn count(&self, key: SeriesKey, seconds: f64) -> String {
        let mut series = self.series.borrow_mut();
        match series.get(&key) {
            Some(known) => known.observe(seconds),
            None => {
                let new = self.metrics.request_series(key.1, &key.0, key.2);
                new.observe(seconds);
                series.insert(key.clone(), new);
            }
        }
        key.0
    }
}

/// The client's `X-Request-Id` when it is 1–128 characters of `[A-Za-z0-9._-]`; otherwise a new
/// UUID. Anything else could forge or break log lines.
fn request_id(req: &ServiceRequest) -> RequestId {
    let client = req.headers().get(&REQUEST_ID).filter(|v| {
        (1..=128).contains(&v.len()) && v.as_bytes().iter().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b))
    });
    match client {
        Some(client) => RequestId::Client(client.clone()),
        None => {
            let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
            uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
            RequestId::Generated(text)
        }
    }
}

/// Whether actix-http reads everything after this request's head as its body: a WebSocket
/// upgrade (`Connection: Upgrade`, `Upgrade: websocket`) or a `CONNECT`. For such a request it
/// also sends a streamed answer (a compressed one, a download) unframed, until the connection
/// ends, while its head still says `Transfer-Encoding: chunked`; see [`frame_to_close`].
fn takes_the_connection(req: &actix_web::HttpRequest) -> bool {
    let websocket = || {
        req.head().upgrade()
            && req.headers().get(header::UPGRADE).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
    };
    req.method() == actix_web::http::Method::CONNECT || websocket()
}

/// Makes an answer that does not switch protocols well-formed for a request that
/// [takes the connection](takes_the_connection): its body is delimited by the connection's end,
/// as HTTP/1.1 allows (RFC 9112 §6.3), so the head must claim no chunking and the connection
/// must close after it. (Upgrade may be ignored, RFC 9110 §7.8; the connection could not carry
/// another request anyway, since its remaining bytes were read as this one's body.) A sized
/// answer keeps its `Content-Length`; only the connection closes.
fn frame_to_close(head: &mut actix_web::dev::ResponseHead) {
    head.set_connection_type(actix_web::http::ConnectionType::Close);
    head.no_chunking(true);
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
        // CalDAV's reads.
        "PROPFIND" => "PROPFIND",
        "REPORT" => "REPORT",
        _ => "OTHER",
    }
}

/// Replaces an error response that is not already a problem document (actix's own 404s, 405s,
/// 413s and extractor errors) with one of the same status, so that no client ever sees a
/// plain-text error body.
fn ensure_problem<B: MessageBody + 'static>(response: ServiceResponse<B>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let is_problem = || {
        response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(problem::CONTENT_TYPE.as_bytes()))
    };
    if !(status.is_client_error() || status.is_server_error()) || is_problem() {
        return response.map_into_boxed_body();
    }
    // CalDAV's errors are `DAV:error` bodies: those its handlers wrote are kept, and actix's own
    // (an object over the size limit) become one.
    let dav = crate::caldav::paths::is_dav(response.request().path());
    let is_xml =
        || response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/xml"));
    if dav && is_xml() {
        return response.map_into_boxed_body();
    }
    let (req, old) = response.into_parts();
    let mut replacement = if dav {
        let reason = status.canonical_reason().unwrap_or("Refused");
        crate::caldav::DavError::new(status, None, reason).error_response()
    } else {
        ApiError::from_status(status).error_response()
    };
    // Only the body is replaced: what the inner middleware and handlers said about the exchange
    // (Allow, WWW-Authenticate, Retry-After, RateLimit-*, CORS) holds for the problem too.
    // Headers describing the old body would lie about the new one.
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
