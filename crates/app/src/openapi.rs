//! The OpenAPI 3.1 document, generated from the handlers' annotations.
//!
//! Paths are collected by `utoipa-actix-web` from the very `ServiceConfig` functions the server
//! registers, so a route cannot be served without being documented. The same document drives
//! `405 Method Not Allowed` answers (see [`MethodTable`]).

use actix_web::App;
use actix_web::dev::ResourceDef;
use actix_web::http::Method;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, PathItem};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::problem::Problem;
use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Workbench API",
        description = "Tasks, products, files and the people around them. Errors are RFC 9457 problem \
documents (`application/problem+json`). Lists carry `pagination` and a `Link` header. Sign in with \
`POST /api/v1/auth/login`, then use **Authorize** with the `access_token`.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&BearerAuth),
    components(schemas(Problem, workbench_core::FieldError)),
    tags(
        (name = "auth", description = "Registration, sign-in and tokens"),
        (name = "users", description = "Profiles and user lists"),
        (name = "admin", description = "Account administration"),
        (name = "tasks", description = "Tasks, comments, tags and statistics"),
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
        scheme.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer_auth", SecurityScheme::Http(scheme));
    }
}

/// The whole document, as served at `/api-docs/openapi.json` and committed in `openapi/`.
pub fn document() -> Document {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::operational)
        .configure(routes::api)
        .split_for_parts();
    doc
}

/// The document as pretty JSON with a trailing newline, exactly as `make openapi` writes it.
pub fn document_json() -> String {
    let mut json = document().to_pretty_json().expect("the OpenAPI document serialises");
    json.push('\n');
    json
}

/// Which methods each documented path accepts, so that a request for a known path with the wrong
/// method is answered `405` with `Allow`, and only unknown paths are `404`.
#[derive(Debug)]
pub struct MethodTable(Vec<(ResourceDef, Vec<Method>)>);

impl MethodTable {
    pub fn from_document(doc: &Document) -> Self {
        let table =
            doc.paths.paths.iter().map(|(path, item)| (ResourceDef::new(path.as_str()), methods(item))).collect();
        Self(table)
    }

    /// The methods allowed on `path`, or `None` when no route has that path.
    pub fn allowed(&self, path: &str) -> Option<&[Method]> {
        self.0.iter().find(|(def, _)| def.is_match(path)).map(|(_, methods)| methods.as_slice())
    }
}

fn methods(item: &PathItem) -> Vec<Method> {
    [
        (item.get.is_some(), Method::GET),
        (item.get.is_some(), Method::HEAD),
        (item.post.is_some(), Method::POST),
        (item.put.is_some(), Method::PUT),
        (item.patch.is_some(), Method::PATCH),
        (item.delete.is_some(), Method::DELETE),
    ]
    .into_iter()
    .filter_map(|(present, method)| present.then_some(method))
    .collect()
}
