//! Registering the API: every domain's routes under `/api/v1` (for the groups a process serves,
//! see [`crate::groups`]), and the operational routes every process serves.

use crate::DOMAINS;
use crate::groups::{Registrar, RouteSet, Routes};

/// Registers the routes of every group `served` (relative to `/api/v1`).
fn register(cfg: Registrar<'_, '_>, served: &RouteSet) {
    let mut routes = Routes::new(cfg, served);
    for domain in DOMAINS {
        domain(&mut routes);
    }
}

/// The versioned API, under `/api/v1`: the route groups of `routes` (see [`crate::groups::GROUPS`]).
pub fn api(cfg: &mut Registrar<'_, '_>, routes: &RouteSet) {
    if !routes.is_empty() {
        cfg.scope("/api/v1", |cfg| register(cfg, routes));
    }
    // Share links are handed to people, so they are short and unversioned; the files group
    // serves them (the gateway sends `/s/` there too).
    if routes.serves("files") {
        cfg.service(crate::files::links::download_shared);
    }
    if routes.serves("radio") {
        cfg.service(crate::radio::listen);
    }
}

/// Health, readiness, metrics and the live dashboard, outside the versioned API: every process
/// serves them, whatever its route groups.
pub fn operational(cfg: &mut Registrar<'_, '_>) {
    cfg.service(crate::health::health)
        .service(crate::health::ready)
        .service(crate::health::metrics)
        .service(crate::dashboard::page)
        // The page's files are not API operations: served, not documented.
        .route("/dashboard", actix_web::web::get().to(crate::dashboard::redirect))
        .route("/dashboard/{asset:.+}", actix_web::web::get().to(crate::dashboard::asset));
}
