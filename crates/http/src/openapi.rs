//! The OpenAPI 3.1 document, generated from the handlers' annotations.
//!
//! Paths are collected by `utoipa-actix-web` from the very `ServiceConfig` functions the server
//! registers, so a route cannot be served without being documented. The same paths, listed with
//! their methods alone ([`methods_for`]), drive `405 Method Not Allowed` answers (see
//! [`crate::methods::MethodTable`]), and with their operations but not their schemas
//! ([`paths_for`]) the scope table.

use actix_web::App;
use utoipa::openapi::path::Paths;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::files::dto::{BitrateSchema, InvoiceDataSchema, TaskReportData, TaskStatusListSchema};
use crate::groups::{Registrar, RouteSet};
use crate::problem::Problem;
use crate::responses::{
    AdminRoute, BadRequest, Forbidden, InsufficientScope, NotFound, PreconditionFailed, TooManyRequests, Unauthorized,
    Unprocessable,
};
use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Workbench API",
        description = "Tasks, products, files and the people around them. Errors are RFC 9457 problem \
documents (`application/problem+json`). Lists carry `pagination` and a `Link` header. Sign in with \
`POST /api/v1/auth/login`, then use **Authorize** with the `access_token`. Scripts may use a personal \
access token instead (`POST /api/v1/tokens`, then **Authorize** with its `wbp_…` token): it acts as its user within \
its scopes. Each operation names what it needs in `x-required-scope`: a scope (`:write` implies `:read`), \
`session` for what only a signed-in session may do (managing tokens, the password, two-factor sign-in), or `admin` \
for an admin route (one that needs a platform role of moderator or above: the catalogue's writes, `/admin/*`, the \
system metrics), which no token may use whatever its scopes or its user's role; a token outside it is answered \
`403` with a `type` ending in `insufficient-scope`. No text the API keeps \
may hold U+0000: a body string holding it is a `422` naming the field, a query parameter a `400`.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&BearerAuth),
    components(
        schemas(
            Problem,
            workbench_core::FieldError,
            // Referenced by name from the hand-built `PdfRequest`.
            InvoiceDataSchema,
            TaskReportData,
            TaskStatusListSchema,
            // Referenced by name from `StreamQuery`'s `bitrate` parameter.
            BitrateSchema,
        ),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            InsufficientScope,
            AdminRoute,
            NotFound,
            PreconditionFailed,
            Unprocessable,
            TooManyRequests
        )
    ),
    tags(
        (name = "auth", description = "Registration, sign-in and tokens"),
        (name = "tokens", description = "Personal access tokens: scoped, expiring credentials for scripts, made and revoked by a signed-in user"),
        (name = "users", description = "Profiles and user lists"),
        (name = "admin", description = "Account administration, the audit trail, the job queue and its schedules"),
        (name = "tasks", description = "Tasks, comments, tags and statistics"),
        (name = "products", description = "The public catalogue: categories and products (changed by admins)"),
        (name = "user-products", description = "The caller's own products, their serials and warranties"),
        (name = "files", description = "Uploads (typed by their bytes), downloads with ranges, thumbnails, generated PDFs and share links"),
        (name = "trades", description = "The market of tradeable items, and trades that swap them between owners at once"),
        (name = "notifications", description = "What concerns the caller: assignments, comments on followed tasks, mentions, status changes; read marks, delivery preferences, and following tasks and projects"),
        (name = "radio", description = "Radio stations: one live source (Icecast-compatible, on the source listener's port) or the playlist, relayed to any number of listeners"),
        (name = "projects", description = "Projects shared by a team: members with roles (viewer, editor, admin) and invitations by link"),
        (name = "integrations", description = "Weather, crypto prices and translations from third parties, cached"),
        (name = "search", description = "One search over users, tasks and products, each group as its own routes show it"),
        (name = "webhooks", description = "Deliveries received from GitHub and Stripe; users' subscriptions to their task events"),
        (name = "chat", description = "Chat rooms, their members and the history of rooms and direct messages (messages are sent over the WebSocket)"),
        (name = "system", description = "Live metrics of this instance (CPU, memory, disks, network, the process and its HTTP traffic), their recent history and threshold alerts, for moderators and admins; and the dashboard page that shows them"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
struct ApiDoc;

/// Adds the `bearer_auth` security scheme, so Swagger UI's "Authorize" takes an access token.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT or personal access token (wbp_…)".into());
        scheme.description = Some(
            "An access token from sign-in (a JWT), or a personal access token (`wbp_…`) limited to its scopes. \
Each operation's requirement lists the scope it needs (also shown as `x-required-scope`); `session` means only a \
signed-in session's access token is accepted, `admin` only a signed-in session's of an account whose role the \
route needs."
                .into(),
        );
        components.add_security_scheme("bearer_auth", SecurityScheme::Http(scheme));
    }
}

/// Lists the `429` of the rate limiter on every operation under `/api/v1` (all of them are
/// limited), rather than on each annotation. Applied once the routes' paths are collected.
struct RateLimited;

impl Modify for RateLimited {
    fn modify(&self, doc: &mut Document) {
        let too_many = utoipa::openapi::Ref::from_response_name("TooManyRequests");
        for (path, item) in doc.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/") {
                continue;
            }
            for op in
                [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
            {
                op.responses.responses.entry("429".into()).or_insert_with(|| too_many.clone().into());
            }
        }
    }
}

/// The whole document, as served at `/api-docs/openapi.json` and committed in `openapi/`.
pub fn document() -> Document {
    document_for(&RouteSet::all())
}

/// The paths a process serving the route groups of `routes` serves, with their operations (methods,
/// parameters, security) but not the schemas those name: what the server's scope table is made
/// of, without building the document ([`crate::groups::Registrar`] says why).
pub fn paths_for(routes: &RouteSet) -> Paths {
    let mut paths = Paths::new();
    let mut listed = Registrar::Listed(&mut paths);
    routes::operational(&mut listed);
    routes::api(&mut listed, routes);
    paths
}

/// The paths of [`paths_for`] and the methods each takes, every operation left empty: what the
/// server's `405` table is made of, at a fraction of the cost (no operation is built).
pub fn methods_for(routes: &RouteSet) -> Paths {
    let mut paths = Paths::new();
    let mut located = Registrar::Located(&mut paths);
    routes::operational(&mut located);
    routes::api(&mut located, routes);
    paths
}

/// The document of what a process serving the route groups of `routes` serves: the operational
/// routes and those groups' paths.
pub fn document_for(routes: &RouteSet) -> Document {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(|cfg| routes::operational(&mut Registrar::Documented(cfg)))
        .configure(|cfg| routes::api(&mut Registrar::Documented(cfg), routes))
        .split_for_parts();
    RateLimited.modify(&mut doc);
    crate::scopes::show_required_scopes(&mut doc);
    name_link_operations_as_the_specification_does(&mut doc);
    doc
}

/// utoipa 5 writes a response link's target as `operation_id` (its `Link` misses serde's camelCase
/// renaming), a key no reader of the document knows; the specification's key is `operationId`.
/// Links are declared in the routes' annotations; this only corrects how they are written.
fn name_link_operations_as_the_specification_does(doc: &mut Document) {
    let operations = doc.paths.paths.values_mut().flat_map(|item| {
        [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
    });
    for operation in operations {
        let responses = operation.responses.responses.values_mut().filter_map(|response| match response {
            RefOr::T(response) => Some(response),
            RefOr::Ref(_) => None,
        });
        for response in responses {
            for link in response.links.values_mut() {
                if let RefOr::T(link) = link
                    && !link.operation_id.is_empty()
                {
                    let id = std::mem::take(&mut link.operation_id);
                    link.extensions.get_or_insert_with(Default::default).insert("operationId".to_owned(), id.into());
                }
            }
        }
    }
}

/// The document as pretty JSON with a trailing newline, exactly as `make openapi` writes it.
pub fn document_json() -> String {
    let mut json = document().to_pretty_json().expect("the OpenAPI document serialises");
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use actix_web::http::header;
    use actix_web::http::{Method, StatusCode};

    use super::*;
    use crate::methods::{MethodTable, Template};

    /// Every documented path matches exactly what the router's own pattern for it matches, over
    /// every documented path filled in several ways and some paths no route has.
    #[test]
    fn a_template_matches_what_the_router_matches() {
        let paths = methods_for(&RouteSet::all());
        let templates: Vec<&String> = paths.paths.keys().collect();
        let mut samples = vec![
            String::new(),
            "/".into(),
            "/api/v1".into(),
            "/api/v1/".into(),
            "/api/v1/tasks/".into(),
            "/api/v1/tasks//comments".into(),
            "/api/v1/tasks/7/".into(),
            "api/v1/tasks".into(),
        ];
        for template in &templates {
            for filler in ["7", "stats", "a%2Fb", "x.y", ""] {
                let mut filled = String::new();
                for (n, segment) in template.split('/').enumerate() {
                    if n > 0 {
                        filled.push('/');
                    }
                    filled.push_str(if segment.starts_with('{') { filler } else { segment });
                }
                samples.push(filled.clone());
                samples.push(format!("{filled}/"));
                samples.push(format!("{filled}/more"));
            }
        }
        for template in templates {
            let (ours, router) = (Template::parse(template), actix_web::dev::ResourceDef::new(template.as_str()));
            for sample in &samples {
                assert_eq!(ours.matches(sample), router.is_match(sample), "{template} against {sample:?}");
            }
        }
    }

    #[test]
    fn the_most_specific_documented_path_decides_the_methods() {
        let table = MethodTable::from_paths(&methods_for(&RouteSet::all()));
        assert_eq!(table.allowed("/api/v1/tasks/stats"), Some(&[Method::GET, Method::HEAD][..]));
        let refused = table.refuse("/api/v1/tasks/stats", &Method::PUT).expect("PUT is not a method of /tasks/stats");
        assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(refused.headers().get(header::ALLOW).unwrap(), "GET, HEAD");
        assert!(table.refuse("/api/v1/tasks/7", &Method::PUT).is_none(), "PUT /tasks/{{id}} exists");
        assert!(table.refuse("/api/v1/tasks/stats", &Method::GET).is_none());
        assert!(table.refuse("/api/v1/nowhere", &Method::GET).is_none(), "an unknown path is not a 405");
        let me = table.allowed("/api/v1/users/me").unwrap();
        assert!(me.contains(&Method::GET) && me.contains(&Method::PATCH) && !me.contains(&Method::DELETE));
    }

    #[test]
    fn links_name_their_target_operation_as_the_specification_does() {
        let doc: serde_json::Value = serde_json::from_str(&document_json()).unwrap();
        let operations: Vec<&serde_json::Value> =
            doc["paths"].as_object().unwrap().values().flat_map(|item| item.as_object().unwrap().values()).collect();
        let ids: Vec<&str> = operations.iter().filter_map(|operation| operation["operationId"].as_str()).collect();
        let links: Vec<&serde_json::Value> = operations
            .iter()
            .filter_map(|operation| operation["responses"].as_object())
            .flat_map(|responses| responses.values())
            .filter_map(|response| response["links"].as_object())
            .flat_map(|links| links.values())
            .collect();
        assert!(!links.is_empty(), "creating routes link to the routes that take the new id");
        for link in links {
            assert!(link.get("operation_id").is_none(), "{link}");
            let target = link["operationId"].as_str().unwrap_or_else(|| panic!("no operationId: {link}"));
            assert!(ids.contains(&target), "{target} is not an operation of the document");
        }
    }

    /// utoipa files schemas by name, so two types of one name leave one of them in the document
    /// and the other's operations describe answers they never give (the sign-in's token pair was
    /// once documented as a personal access token). The names are read from the sources, as the
    /// derive reads them: `#[schema(as = …)]` when given, else the type's own name.
    #[test]
    fn no_two_schema_types_share_a_name() {
        fn rust_files(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
                let path = entry.path();
                if path.is_dir() {
                    rust_files(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    found.push(path);
                }
            }
        }
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let mut files = Vec::new();
        for krate in std::fs::read_dir(crates).unwrap().map(Result::unwrap) {
            let src = krate.path().join("src");
            if src.is_dir() {
                rust_files(&src, &mut files);
            }
        }
        let mut named: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (i, _) in lines.iter().enumerate().filter(|(_, l)| l.contains("derive(") && l.contains("ToSchema")) {
                let mut alias = None;
                for next in lines.iter().skip(i + 1).take(12) {
                    if let Some(rest) = next.split("schema(as = ").nth(1) {
                        alias = rest.split(')').next().map(str::to_owned);
                    }
                    let words: Vec<&str> = next.split_whitespace().collect();
                    if let Some(at) = words.iter().position(|w| *w == "struct" || *w == "enum") {
                        let own = words[at + 1].split(['<', '{', '(', ';']).next().unwrap().to_owned();
                        let name = alias.take().unwrap_or(own);
                        named.entry(name).or_default().push(format!("{}:{}", file.display(), i + 1));
                        break;
                    }
                }
            }
        }
        assert!(named.len() > 50, "the scan found the schema types ({} names)", named.len());
        let shared: Vec<_> = named.iter().filter(|(_, at)| at.len() > 1).collect();
        assert!(shared.is_empty(), "schema names declared twice: {shared:?}");
        let doc: serde_json::Value = serde_json::from_str(&document_json()).unwrap();
        assert!(doc["components"]["schemas"]["TokenResponse"]["properties"]["access_token"].is_object());
    }

    #[test]
    fn every_documented_api_path_belongs_to_exactly_one_group() {
        let doc = document();
        for path in doc.paths.paths.keys().filter(|p| p.starts_with("/api/v1/")) {
            let rest = &path["/api/v1".len()..];
            let first = rest.split('/').nth(1).map(|s| format!("/{s}")).unwrap_or_default();
            let owners: Vec<_> =
                crate::groups::GROUPS.iter().filter(|g| g.prefixes.contains(&first.as_str())).map(|g| g.name).collect();
            assert_eq!(owners.len(), 1, "{path} belongs to {owners:?}");
            let only = RouteSet::parse(owners[0]).unwrap();
            assert!(document_for(&only).paths.paths.contains_key(path), "{path} not served by {owners:?}");
        }
    }
}
