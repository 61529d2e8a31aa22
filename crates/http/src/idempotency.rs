//! `Idempotency-Key` for creating requests, reusable by any `POST` that creates a resource.
//!
//! The first request with a key runs and its response (status, body, `Location`) is stored for
//! 24 hours in the database, so the replay works across restarts and instances. The same key
//! from the same user with the same body returns that response again and creates nothing; with
//! a different body it is a `422`; while the first is still running it is a `409`. A server error
//! is not stored, so the client may retry it.

use std::future::Future;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use chrono::Duration;
use serde::Serialize;
use sha2::{Digest, Sha256};
use workbench_core::idempotency::{IdempotencyClaim, IdempotencyStore};
use workbench_users::{UserId, now};

use crate::body::{component, patterned};
use crate::problem::ApiError;

/// The schema of an `Idempotency-Key` header as `key` reads it.
#[derive(Debug)]
pub struct IdempotencyKeySchema;

component!(
    IdempotencyKeySchema,
    "IdempotencyKey",
    patterned(
        "^[!-~]{1,255}$".to_owned(),
        "1 to 255 visible ASCII characters. The same key from the same user within 24 h answers the first \
         response again and creates nothing; with another body (or path) it is refused with `422`"
    )
    .examples(["6c1d0d1e-1b8a-4c5e-9f55-0d5b1f0e7a21"])
);

pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
const MAX_KEY_BYTES: usize = 255;

/// The response of a creating request, as stored for replay.
#[derive(Debug)]
pub struct Created {
    /// JSON text: serialised once, then sent (and stored for replay) as it is.
    pub body: Box<serde_json::value::RawValue>,
    /// Where the new resource can be read, when it has a URL of its own.
    pub location: Option<String>,
    pub etag: Option<HeaderValue>,
}

impl Created {
    fn respond(self) -> HttpResponse {
        let mut response = HttpResponse::Created();
        if let Some(location) = self.location {
            response.insert_header((header::LOCATION, location));
        }
        if let Some(etag) = self.etag {
            response.insert_header((header::ETAG, etag));
        }
        response.insert_header(header::ContentType::json()).body(String::from(Box::<str>::from(self.body)))
    }
}

/// Runs creating requests at most once per user and key.
#[derive(Clone)]
pub struct Idempotency {
    store: Arc<dyn IdempotencyStore>,
    ttl: Duration,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl Idempotency {
    pub fn new(store: Arc<dyn IdempotencyStore>) -> Self {
        Self { store, ttl: Duration::hours(24) }
    }

    /// Runs `create` unless this user already sent this key: see the module docs. `request` is the
    /// parsed body; its canonical JSON (and the path) identify "the same request".
    pub async fn run<F, Fut>(
        &self,
        req: &HttpRequest,
        user: UserId,
        request: &impl Serialize,
        create: F,
    ) -> Result<HttpResponse, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Created, ApiError>>,
    {
        let Some(key) = key(req)? else { return create().await.map(Created::respond) };
        let hash = request_hash(req.path(), request);
        let at = now();
        let claim = self.store.claim(user.0, &key, &hash, at, at + self.ttl).await.map_err(ApiError::internal)?;
        match claim {
            IdempotencyClaim::Claimed => {}
            IdempotencyClaim::InProgress { request_hash } if request_hash == hash => {
                return Err(ApiError::conflict("A request with this Idempotency-Key is still being processed."));
            }
            IdempotencyClaim::Completed { request_hash, status, body, location } if request_hash == hash => {
                return Ok(replay(status, body, location));
            }
            IdempotencyClaim::InProgress { .. } | IdempotencyClaim::Completed { .. } => {
                return Err(ApiError::invalid_field(
                    "Idempotency-Key",
                    "was already used with a different request body",
                ));
            }
        }
        match create().await {
            Ok(created) => {
                let body = created.body.get().to_owned();
                self.store
                    .complete(user.0, &key, StatusCode::CREATED.as_u16(), body, created.location.clone())
                    .await
                    .map_err(ApiError::internal)?;
                Ok(created.respond())
            }
            Err(error) if error.status().is_server_error() => {
                // Nothing was created; let the client try again with the same key.
                if let Err(e) = self.store.release(user.0, &key).await {
                    tracing::warn!(error = %e, "could not release an idempotency key");
                }
                Err(error)
            }
            Err(error) => {
                let body = serde_json::to_string(&error.problem()).unwrap_or_default();
                self.store
                    .complete(user.0, &key, error.status().as_u16(), body, None)
                    .await
                    .map_err(ApiError::internal)?;
                Err(error)
            }
        }
    }
}

/// The key, when the client sent one: 1–255 visible ASCII characters.
fn key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(HEADER) else { return Ok(None) };
    let key = value.to_str().map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > MAX_KEY_BYTES || !key.bytes().all(|b| b.is_ascii_graphic()) {
        let mut err = ApiError::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters.");
        err.push_error("Idempotency-Key", "must be 1 to 255 visible ASCII characters");
        return Err(err);
    }
    Ok(Some(key.to_owned()))
}

fn request_hash(path: &str, request: &impl Serialize) -> String {
    let mut hasher = Sha256::new();
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(request).unwrap_or_default());
    hex::encode(hasher.finalize())
}

fn replay(status: u16, body: String, location: Option<String>) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    let content_type = if status.is_success() { "application/json" } else { crate::problem::CONTENT_TYPE };
    response.insert_header((header::CONTENT_TYPE, content_type));
    response.insert_header((REPLAYED, "true"));
    if let Some(location) = location {
        response.insert_header((header::LOCATION, location));
    }
    // A replayed resource carries the ETag of the version it was created at.
    let version = serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| v["version"].as_i64());
    if let Some(version) = version.filter(|_| status.is_success()) {
        response.insert_header((header::ETAG, crate::preconditions::etag(version)));
    }
    response.body(body)
}
