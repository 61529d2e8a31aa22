//! Liveness, readiness and metrics for orchestrators and scrapers.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// The process is up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
    #[schema(example = "0.1.0")]
    version: &'static str,
}

/// Every dependency answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ready")]
    status: &'static str,
    /// Each dependency checked and its state.
    #[schema(example = json!({"database": "ok"}))]
    checks: std::collections::BTreeMap<&'static str, &'static str>,
}

/// Liveness: 200 while the process runs.
#[utoipa::path(tag = "operations", operation_id = "get_health", responses((status = 200, body = Health)))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    // The same bytes for every probe, serialised once: with orchestrators, load balancers and
    // uptime checks asking, this is often the most frequent request a server answers.
    static BODY: LazyLock<Bytes> = LazyLock::new(|| {
        let health = Health { status: "ok", version: env!("CARGO_PKG_VERSION") };
        serde_json::to_vec(&health).expect("a struct of two strings serialises").into()
    });
    HttpResponse::Ok().insert_header((header::CONTENT_TYPE, JSON)).body(BODY.clone())
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Readiness: 200 when the database (and Redis, when configured) answer, 503 naming the failing
/// check otherwise.
#[utoipa::path(
    tag = "operations",
    operation_id = "get_readiness",
    responses(
        (status = 200, body = Readiness),
        (status = 503, description = "A dependency is down; `detail` names it.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<web::Json<Readiness>, ApiError> {
    let checks = state.operations.readiness().await.map_err(ApiError::unavailable)?;
    Ok(web::Json(Readiness { status: "ready", checks: checks.into_iter().map(|name| (name, "ok")).collect() }))
}

/// Prometheus metrics in the text exposition format. With `METRICS_TOKEN` set, only for requests
/// that carry it as `Authorization: Bearer <METRICS_TOKEN>`; unset, for anyone who can reach it.
#[utoipa::path(
    tag = "operations",
    operation_id = "get_metrics",
    responses(
        (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "`METRICS_TOKEN` is set and the request does not carry it as `Authorization: Bearer <METRICS_TOKEN>`", body = Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
    )
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if let Some(expected) = &state.web.metrics_token
        && !bearer(req.headers()).is_some_and(|given| same_secret(given, expected))
    {
        return Err(ApiError::unauthorized("/metrics needs `Authorization: Bearer <METRICS_TOKEN>`."));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.operations.metrics_text().await))
}

/// The token of an `Authorization: Bearer <token>` header, if the request has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether `given` is `expected`, in a time that tells nothing of either: their digests are
/// compared, in constant time, so neither the token's length nor the place of a first wrong byte
/// shows in how long a refusal takes.
fn same_secret(given: &str, expected: &str) -> bool {
    Sha256::digest(given.as_bytes()).ct_eq(&Sha256::digest(expected.as_bytes())).into()
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderName;

    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static("authorization"), HeaderValue::from_str(authorization).unwrap());
        headers
    }

    #[test]
    fn the_bearer_token_is_read_from_the_authorization_header() {
        assert_eq!(bearer(&headers("Bearer s3cret")), Some("s3cret"));
        assert_eq!(bearer(&headers("bearer  s3cret ")), Some("s3cret"));
        assert_eq!(bearer(&headers("Basic czNjcmV0")), None);
        assert_eq!(bearer(&headers("s3cret")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn only_the_very_token_is_the_same_secret() {
        assert!(same_secret("scrape-me", "scrape-me"));
        for other in ["scrape-mE", "scrape-m", "scrape-me!", ""] {
            assert!(!same_secret(other, "scrape-me"), "{other:?}");
        }
    }
}
