//! The HTTP layer, one module per domain, each holding that domain's handlers (`mod.rs`) and wire
//! types (`dto.rs`), beside the pieces every domain shares: extractors, problem documents, bodies
//! read leniently, pagination, preconditions (`ETag`/`If-Match`), idempotency keys and the
//! OpenAPI responses that many routes repeat. Handlers are thin: extract, call one service
//! method, map the result.

pub mod admin;
pub mod auth;
pub mod body;
pub mod chat;
pub mod extract;
pub mod files;
pub mod health;
pub mod idempotency;
pub mod integrations;
pub mod pagination;
pub mod preconditions;
pub mod problem;
pub mod products;
pub mod responses;
pub mod routes;
pub mod search;
pub mod tasks;
pub mod user_products;
pub mod users;
pub mod webhooks;
pub mod ws;

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

pub use routes::RouteSet;

/// The versioned API, under `/api/v1`: the route groups of `routes` (see [`routes::GROUPS`]).
pub fn api(cfg: &mut ServiceConfig, routes: &RouteSet) {
    if !routes.is_empty() {
        cfg.service(scope("/api/v1").configure(|cfg| routes.register(cfg)));
    }
}

/// Health, readiness and metrics, outside the versioned API.
pub fn operational(cfg: &mut ServiceConfig) {
    cfg.service(health::health).service(health::ready).service(health::metrics);
}
