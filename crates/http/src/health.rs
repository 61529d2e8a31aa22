//! Liveness, readiness and metrics for orchestrators and scrapers.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
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

/// Prometheus metrics in the text exposition format.
#[utoipa::path(
    tag = "operations",
    operation_id = "get_metrics",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4"))
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.operations.metrics_text().await)
}
