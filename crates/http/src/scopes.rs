//! Which scope each operation needs from a personal access token, declared once per operation:
//! as the scope of its bearer security requirement in its annotation,
//! `security(("bearer_auth" = ["tasks:read"]))`, or one of two names no scope satisfies:
//! [`SESSION`] for what only a signed-in session may do (managing tokens, the password,
//! two-factor sign-in), and [`ADMIN`] for the admin routes, those that need a platform role of
//! moderator or above (the catalogue's writes, `/admin/*`, the system metrics). No token may use
//! an admin route, whatever its scopes or its user's role: a token is for scripts acting as their
//! user, and a leaked one must never carry the platform's powers.
//!
//! Both sides come from that one declaration, so they cannot drift: the document shows it as the
//! operation's `x-required-scope` ([`show_required_scopes`]), and the [`ScopeTable`] that the
//! caller extractor checks tokens against is built from the paths the document is made of
//! ([`crate::openapi::paths_for`], at the first request made with a token). An authenticated
//! operation that declares nothing fails the OpenAPI test, and answers every token `403` until it
//! does: forgetting a scope closes the route to tokens, it never opens it.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use actix_web::http::Method;
use utoipa::openapi::path::{Operation, Paths};
use utoipa::openapi::{OpenApi as Document, PathItem, Ref, RefOr};
use workbench_tokens::Scope;

/// The security scheme whose scopes declare what an operation needs.
pub const BEARER: &str = "bearer_auth";
/// The declaration of an operation that only a signed-in session (an access token from sign-in)
/// may call.
pub const SESSION: &str = "session";
/// The declaration of an admin route: one that needs a platform role of moderator or above, and
/// that only a signed-in session of such an account may call.
pub const ADMIN: &str = "admin";
/// The extension that shows an operation's requirement in the document.
pub const EXTENSION: &str = "x-required-scope";
/// What an admin route's own `403` description is extended with.
const NO_TOKEN_ON_ADMIN_ROUTES: &str = "; and every personal access token, whatever its scopes or its user's role \
(`type` ending in `insufficient-scope`): no token may use an admin route";

/// What an operation asks of a personal access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// A token granted this scope (or the `:write` that implies it) may call it.
    Scope(Scope),
    /// No token may call it, whatever its scopes.
    Session,
    /// An admin route: no token may call it, whatever its scopes or its user's role.
    Admin,
}

impl Requirement {
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            SESSION => Ok(Self::Session),
            ADMIN => Ok(Self::Admin),
            _ => Scope::parse(name).map(Self::Scope).map_err(|e| format!("{e}, {SESSION} or {ADMIN}")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scope(scope) => scope.as_str(),
            Self::Session => SESSION,
            Self::Admin => ADMIN,
        }
    }
}

/// What `operation` declares: `Ok(None)` when it has no bearer requirement or names nothing in
/// it; an error for a declaration that is not exactly one known name.
pub fn declared(operation: &Operation) -> Result<Option<Requirement>, String> {
    // `SecurityRequirement` keeps its map private; its JSON is the map.
    let requirements = serde_json::to_value(&operation.security).unwrap_or_default();
    let names: Vec<&str> = requirements
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|requirement| requirement.get(BEARER)?.as_array())
        .flatten()
        .filter_map(|name| name.as_str())
        .collect();
    match names.as_slice() {
        [] => Ok(None),
        [name] => Requirement::parse(name).map(Some),
        more => Err(format!("declares {} scopes ({}); an operation needs exactly one", more.len(), more.join(", "))),
    }
}

fn operations(item: &PathItem) -> [(Method, Option<&Operation>); 5] {
    [
        (Method::GET, item.get.as_ref()),
        (Method::POST, item.post.as_ref()),
        (Method::PUT, item.put.as_ref()),
        (Method::PATCH, item.patch.as_ref()),
        (Method::DELETE, item.delete.as_ref()),
    ]
}

/// Writes each operation's declared requirement into the document as `x-required-scope`, and
/// lists the `403` a token outside it gets on each operation that lists no `403` of its own. An
/// admin route's `403` says that no token is let in either: its own description is extended when
/// it has one of its own, else it is the one of admin routes (`AdminRoute`).
///
/// # Panics
/// On a declaration that names no scope (a typo): the document is built by every test that
/// serves or checks it, so such a mistake cannot reach a deployment.
pub fn show_required_scopes(doc: &mut Document) {
    for (path, item) in doc.paths.paths.iter_mut() {
        for operation in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
        {
            let requirement = declared(operation).unwrap_or_else(|e| panic!("an operation of {path} {e}"));
            if let Some(requirement) = requirement {
                let responses = &mut operation.responses.responses;
                match (requirement, responses.get_mut("403")) {
                    (Requirement::Admin, Some(RefOr::T(own))) => own.description.push_str(NO_TOKEN_ON_ADMIN_ROUTES),
                    (Requirement::Admin, _) => {
                        responses.insert("403".into(), Ref::from_response_name("AdminRoute").into());
                    }
                    (_, Some(_)) => {}
                    (_, None) => {
                        responses.insert("403".into(), Ref::from_response_name("InsufficientScope").into());
                    }
                }
                operation
                    .extensions
                    .get_or_insert_with(Default::default)
                    .insert(EXTENSION.to_owned(), requirement.as_str().into());
            }
        }
    }
}

/// Requirements by pattern (`/api/v1/tasks/{id}`), for GET, POST, PUT, PATCH, DELETE.
type Requirements = HashMap<String, [Option<Requirement>; 5], foldhash::fast::FixedState>;

/// The requirement of every documented operation, by route pattern and method: what a token is
/// checked against, at the cost of one hash per request made with a token.
///
/// Made at the first request made with a token, not at start: listing the operations runs every
/// handler's annotation code (megabytes of the binary's text, and allocations the idle start's
/// thread would keep), which a server that only ever sees sessions never needs.
pub struct ScopeTable {
    routes: OnceLock<Requirements>,
    /// Lists the paths with their operations, once, at the first request with a token.
    list: Box<dyn Fn() -> Paths + Send + Sync>,
}

impl fmt::Debug for ScopeTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeTable").field("routes", &self.routes.get().map(HashMap::len)).finish_non_exhaustive()
    }
}

impl ScopeTable {
    /// The table of the paths `list` lists, made when it is first asked.
    pub fn when_needed(list: impl Fn() -> Paths + Send + Sync + 'static) -> Self {
        Self { routes: OnceLock::new(), list: Box::new(list) }
    }

    /// The table of `paths`, made now.
    pub fn from_paths(paths: &Paths) -> Self {
        let table = Self::when_needed(Paths::new);
        let _ = table.routes.set(requirements(paths));
        table
    }

    /// Whether the table is made: until it is, [`ScopeTable::required`] makes it first.
    pub fn is_made(&self) -> bool {
        self.routes.get().is_some()
    }

    /// Makes the table if it is not made yet (once, however many threads ask at the same time).
    /// Tens of milliseconds of CPU: an async caller runs it on the blocking pool (see
    /// `extract::required_scope`), so the worker that meets the first token keeps serving its
    /// other connections meanwhile.
    pub fn make(&self) {
        self.routes();
    }

    fn routes(&self) -> &Requirements {
        self.routes.get_or_init(|| requirements(&(self.list)()))
    }

    /// What the operation at route `pattern` (as the router matched it) answering `method` asks
    /// of a token; `None` when it declares nothing, which no token satisfies.
    pub fn required(&self, method: &Method, pattern: &str) -> Option<Requirement> {
        let index = match *method {
            Method::GET | Method::HEAD => 0,
            Method::POST => 1,
            Method::PUT => 2,
            Method::PATCH => 3,
            Method::DELETE => 4,
            _ => return None,
        };
        self.routes().get(pattern).and_then(|requirements| requirements[index])
    }
}

fn requirements(paths: &Paths) -> Requirements {
    paths
        .paths
        .iter()
        .map(|(path, item)| {
            let requirements = operations(item).map(|(_, op)| op.and_then(|op| declared(op).ok().flatten()));
            (path.clone(), requirements)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_are_a_scope_the_session_or_admin_and_nothing_else() {
        assert_eq!(Requirement::parse("tasks:write"), Ok(Requirement::Scope(Scope::TasksWrite)));
        assert_eq!(Requirement::parse("session"), Ok(Requirement::Session));
        assert_eq!(Requirement::parse("admin"), Ok(Requirement::Admin));
        let err = Requirement::parse("task:read").unwrap_err();
        assert!(err.contains("tasks:read") && err.contains("session") && err.contains("admin"), "{err}");
    }

    /// The paths are listed at the first question, once, whatever is asked after it.
    #[test]
    fn the_table_is_made_at_its_first_question_and_only_then() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use utoipa::openapi::path::{HttpMethod, OperationBuilder};
        use utoipa::openapi::security::SecurityRequirement;

        let lists = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&lists);
        let table = ScopeTable::when_needed(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut paths = Paths::new();
            let read = OperationBuilder::new().security(SecurityRequirement::new(BEARER, ["tasks:read"])).build();
            paths.add_path_operation("/api/v1/tasks/{id}", vec![HttpMethod::Get], read);
            paths
        });
        assert_eq!(lists.load(Ordering::SeqCst), 0, "not listed before it is asked");
        assert!(!table.is_made());
        assert_eq!(table.required(&Method::GET, "/api/v1/tasks/{id}"), Some(Requirement::Scope(Scope::TasksRead)));
        assert_eq!(table.required(&Method::PATCH, "/api/v1/tasks/{id}"), None, "not declared: no token passes");
        assert_eq!(table.required(&Method::GET, "/api/v1/nowhere"), None);
        table.make();
        assert!(table.is_made());
        assert_eq!(lists.load(Ordering::SeqCst), 1, "listed once");
    }
}
