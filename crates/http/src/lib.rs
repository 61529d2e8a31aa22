//! The Workbench HTTP adapter: the driving side of the hexagon.
//!
//! One module per domain, each holding that domain's handlers (`mod.rs`, with its `routes`),
//! wire types (`dto.rs`) and the mapping of its errors to problem documents (`errors.rs`),
//! beside what every domain shares: [`extract`] (JSON, query, caller), [`problem`] (RFC 9457
//! documents), [`body`] (fields read leniently), [`pagination`], [`preconditions`] (`ETag` and
//! `If-Match`), [`idempotency`] (`Idempotency-Key`), [`responses`] (the OpenAPI responses many
//! routes repeat), [`groups`] (the route groups: one table) and [`routes`] (every domain's routes), [`openapi`], [`methods`] and [`scopes`] (the
//! document and the `405` table built from it), the `middleware` of the request path, the
//! [`access_log`], the WebSocket ([`ws`]) and the live dashboard's page ([`dashboard`]).
//!
//! Handlers are thin: extract, call one service method, map the result. The crate reaches the
//! rest of the deployment only through the domain services and the [`ports`] in [`AppState`];
//! the app crate builds both and calls [`server::serve`].

pub mod access_log;
pub mod admin;
pub mod auth;
pub mod body;
pub mod caldav;
pub mod chat;
pub mod dashboard;
pub mod events;
pub mod extract;
pub mod files;
pub mod groups;
pub mod handoff;
pub mod health;
pub mod idempotency;
pub mod integrations;
pub mod limits;
pub mod methods;
pub(crate) mod middleware;
pub mod notifications;
pub mod openapi;
pub mod pagination;
pub mod ports;
pub mod preconditions;
pub mod problem;
pub mod products;
pub mod projects;
pub mod radio;
pub mod responses;
pub mod routes;
pub mod scopes;
pub mod search;
pub mod server;
pub mod state;
pub mod structure;
pub mod system;
pub mod tasks;
pub mod tokens;
pub mod trades;
pub mod user_products;
pub mod users;
pub mod webhooks;
pub mod ws;

/// Every domain's routes: each domain module registers its own, under the path prefixes they
/// live at ([`groups::Routes::under`]). A new domain is a module above and its `routes` here.
const DOMAINS: &[fn(&mut groups::Routes<'_, '_>)] = &[
    auth::routes,
    tokens::routes,
    users::routes,
    admin::routes,
    tasks::routes,
    structure::routes,
    products::routes,
    user_products::routes,
    files::routes,
    projects::routes,
    notifications::routes,
    trades::routes,
    radio::routes,
    integrations::routes,
    search::routes,
    webhooks::routes,
    chat::routes,
    ws::routes,
    system::routes,
];

pub use access_log::{AccessLog, LogFormat};
pub use groups::RouteSet;
pub use server::{HttpSettings, serve};
pub use state::{AppState, WebSettings};
