//! Route groups: the versioned API cut into named groups, so that one binary can run as several
//! services (`WORKBENCH_ROUTES=auth,users`, `workbench serve --routes tasks,search`) behind a
//! gateway that sends each path prefix to the service serving it (`deploy/gateway/`).
//!
//! A group is what a path's first segment under `/api/v1` names: the gateway routes by path, so
//! a route belongs to the group of its path (`POST /tasks/{id}/attachments` is a `tasks` route,
//! although its handler lives with the files). Every role wires every service and shares the
//! database, Redis and NATS; a group only decides which routes a process answers.
//!
//! [`GROUPS`] is the one table of groups and their prefixes; each domain module registers its own
//! routes under the prefixes they live at ([`Routes::under`]), and the crate root's `DOMAINS`
//! names every domain's `routes`. The gateway test checks `deploy/gateway/` names every prefix.

use std::fmt;

use actix_web::Route;
use actix_web::dev::HttpServiceFactory;
use actix_web::web;
use utoipa::openapi::path::{Operation, Paths};
use utoipa_actix_web::OpenApiFactory;
use utoipa_actix_web::service_config::ServiceConfig as DocumentedConfig;

/// A named group of routes under `/api/v1`: what a deployment can run as a service of its own.
#[derive(Debug)]
pub struct RouteGroup {
    pub name: &'static str,
    /// The first path segments under `/api/v1` that belong to this group (what the gateway
    /// routes on), each with its leading slash.
    pub prefixes: &'static [&'static str],
}

/// Every route group.
pub const GROUPS: &[RouteGroup] = &[
    RouteGroup { name: "auth", prefixes: &["/auth", "/tokens"] },
    RouteGroup { name: "users", prefixes: &["/users", "/notifications"] },
    RouteGroup { name: "admin", prefixes: &["/admin"] },
    RouteGroup { name: "tasks", prefixes: &["/tasks", "/tags"] },
    RouteGroup { name: "products", prefixes: &["/categories", "/products", "/user-products"] },
    RouteGroup { name: "files", prefixes: &["/files"] },
    RouteGroup { name: "projects", prefixes: &["/projects", "/invites"] },
    RouteGroup { name: "trades", prefixes: &["/market", "/trades"] },
    // Stations are managed here; their listeners (`/radio/{slug}/stream`, outside `/api/v1`)
    // hold long-lived responses, and the gateway sends them here too.
    RouteGroup { name: "radio", prefixes: &["/radio"] },
    RouteGroup { name: "integrations", prefixes: &["/weather", "/crypto", "/translate"] },
    RouteGroup { name: "search", prefixes: &["/search", "/searches"] },
    RouteGroup { name: "webhooks", prefixes: &["/webhooks"] },
    // Chat and the WebSocket (`/api/v1/ws`) with the live system metrics it streams: long-lived
    // connections, so a deployment can scale them apart from the request/response groups.
    RouteGroup { name: "realtime", prefixes: &["/ws", "/chat", "/system"] },
];

/// Where routes are registered: into a serving app, into the app the OpenAPI document is
/// collected from, or into the lists of paths the server's tables are made of. The same
/// registration functions feed all four, so a route cannot be served without being documented.
/// Only the document needs every route's schemas, each route building its own OpenAPI tree of
/// them to be merged: tens of megabytes allocated and freed, which the allocator of a thread that
/// goes idle keeps as resident memory. So the workers register their routes as plain actix
/// services, the `405` table reads the paths and methods alone ([`crate::openapi::methods_for`]),
/// the scope table the operations too ([`crate::openapi::paths_for`], at the first request made
/// with a token), and the document is built when it is first asked for
/// ([`crate::openapi::document_for`]).
pub enum Registrar<'a, 'c> {
    /// A worker's app: the routes are served.
    Served(&'a mut web::ServiceConfig),
    /// The document's app: the routes are collected with their paths and schemas.
    Documented(&'a mut DocumentedConfig<'c>),
    /// The routes' paths and operations, without the schemas they name: what the scope table
    /// reads.
    Listed(&'a mut Paths),
    /// The routes' paths and methods, each operation left empty: what the `405` table reads. No
    /// operation is built (their code, text and allocations are most of what listing costs), so a
    /// server that starts and idles never runs it.
    Located(&'a mut Paths),
}

impl fmt::Debug for Registrar<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Served(_) => "Registrar::Served",
            Self::Documented(_) => "Registrar::Documented",
            Self::Listed(_) => "Registrar::Listed",
            Self::Located(_) => "Registrar::Located",
        })
    }
}

impl Registrar<'_, '_> {
    /// Registers a documented handler (a `#[utoipa::path]` function).
    pub fn service<F>(&mut self, factory: F) -> &mut Self
    where
        F: HttpServiceFactory + OpenApiFactory + utoipa::Path + 'static,
    {
        match self {
            Self::Served(cfg) => {
                cfg.service(factory);
            }
            Self::Documented(cfg) => {
                cfg.service(factory);
            }
            Self::Listed(paths) => paths.merge(factory.paths()),
            Self::Located(paths) => paths.add_path_operation(F::path(), F::methods(), Operation::default()),
        }
        self
    }

    /// Registers a route that is served but not an API operation (it stays out of the document).
    pub fn route(&mut self, path: &str, route: Route) -> &mut Self {
        match self {
            Self::Served(cfg) => {
                cfg.route(path, route);
            }
            Self::Documented(cfg) => {
                cfg.route(path, route);
            }
            Self::Listed(_) | Self::Located(_) => {}
        }
        self
    }

    /// Registers what `register` registers under the path prefix `path`.
    pub fn scope(&mut self, path: &'static str, register: impl FnOnce(Registrar<'_, '_>)) -> &mut Self {
        match self {
            Self::Served(cfg) => {
                cfg.service(web::scope(path).configure(|cfg| register(Registrar::Served(cfg))));
            }
            Self::Documented(cfg) => {
                cfg.service(utoipa_actix_web::scope(path).configure(|cfg| register(Registrar::Documented(cfg))));
            }
            Self::Listed(paths) => paths.merge(prefixed(path, |scoped| register(Registrar::Listed(scoped)))),
            Self::Located(paths) => paths.merge(prefixed(path, |scoped| register(Registrar::Located(scoped)))),
        }
        self
    }
}

/// The paths `register` lists, under `prefix`: as `utoipa_actix_web::scope` writes them, the
/// prefix, then the route's path.
fn prefixed(prefix: &str, register: impl FnOnce(&mut Paths)) -> Paths {
    let mut scoped = Paths::new();
    register(&mut scoped);
    scoped.paths = scoped.paths.into_iter().map(|(route, item)| (format!("{prefix}{route}"), item)).collect();
    scoped
}

/// Where a domain registers its routes: only those under the prefixes of the groups this process
/// serves are registered (and so documented, and answered).
pub struct Routes<'a, 'c> {
    cfg: Registrar<'a, 'c>,
    served: &'a RouteSet,
}

impl fmt::Debug for Routes<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Routes").field("served", &self.served).finish_non_exhaustive()
    }
}

impl<'a, 'c> Routes<'a, 'c> {
    /// Registration into `cfg` of the routes of the groups `served`.
    pub fn new(cfg: Registrar<'a, 'c>, served: &'a RouteSet) -> Self {
        Self { cfg, served }
    }

    /// Where to register routes whose paths start with `prefix` (a first segment under
    /// `/api/v1`, with its slash), or `None` when this process does not serve its group.
    /// Within one call, fixed paths go before the templated paths that would claim them
    /// (`/tasks/stats` before `/tasks/{id}`).
    ///
    /// # Panics
    /// When `prefix` belongs to no group: every path must be routable by the gateway.
    pub fn under(&mut self, prefix: &str) -> Option<&mut Registrar<'a, 'c>> {
        let group = GROUPS
            .iter()
            .find(|g| g.prefixes.contains(&prefix))
            .unwrap_or_else(|| panic!("{prefix} belongs to no route group: add it to GROUPS"));
        self.served.0.contains(&group.name).then_some(&mut self.cfg)
    }
}

/// The route groups one process serves, in [`GROUPS`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSet(Vec<&'static str>);

impl Default for RouteSet {
    fn default() -> Self {
        Self::all()
    }
}

impl RouteSet {
    /// Every group: one process serving the whole API (the default).
    pub fn all() -> Self {
        Self(GROUPS.iter().map(|g| g.name).collect())
    }

    /// No group: only `/health`, `/ready` and `/metrics` (the `worker` role).
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// `all` (or blank), `none`, or comma-separated group names; an unknown name is refused,
    /// naming the groups there are.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        if spec.is_empty() || spec.eq_ignore_ascii_case("all") {
            return Ok(Self::all());
        }
        if spec.eq_ignore_ascii_case("none") {
            return Ok(Self::none());
        }
        let mut wanted = Vec::new();
        for name in spec.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match GROUPS.iter().find(|g| g.name.eq_ignore_ascii_case(name)) {
                Some(group) => wanted.push(group.name),
                None => {
                    let known = GROUPS.iter().map(|g| g.name).collect::<Vec<_>>().join(", ");
                    return Err(format!("unknown route group {name:?} (the groups are {known}; or all, none)"));
                }
            }
        }
        Ok(Self(GROUPS.iter().map(|g| g.name).filter(|n| wanted.contains(n)).collect()))
    }

    /// The names of the groups served, in table order.
    pub fn names(&self) -> &[&'static str] {
        &self.0
    }

    /// Whether the group named `name` is served.
    pub fn serves(&self, name: &str) -> bool {
        self.0.contains(&name)
    }

    pub fn is_all(&self) -> bool {
        self.0.len() == GROUPS.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for RouteSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            f.write_str("all")
        } else if self.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&self.0.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_parsed_in_table_order_and_unknown_names_refused() {
        assert_eq!(RouteSet::parse("").unwrap(), RouteSet::all());
        assert_eq!(RouteSet::parse(" ALL ").unwrap(), RouteSet::all());
        assert!(RouteSet::parse("none").unwrap().is_empty());
        let set = RouteSet::parse("users, auth,,users").unwrap();
        assert_eq!(set.names(), ["auth", "users"]);
        assert_eq!(set.to_string(), "auth,users");
        let err = RouteSet::parse("auth,chats").unwrap_err();
        assert!(err.contains("\"chats\"") && err.contains("realtime"), "{err}");
    }

    #[test]
    fn the_gateway_routes_every_group_by_its_prefixes() {
        let routes = include_str!("../../../deploy/gateway/routes.conf");
        let upstreams = include_str!("../../../deploy/gateway/upstreams.conf");
        for group in GROUPS {
            let alternatives = group.prefixes.iter().map(|p| p.trim_start_matches('/')).collect::<Vec<_>>().join("|");
            let location = format!("location ~ ^/api/v1/({alternatives})(/|$) {{");
            let line = routes.lines().find(|l| l.starts_with(&location));
            let line = line.unwrap_or_else(|| panic!("deploy/gateway/routes.conf has no `{location}`"));
            let proxied = line.contains(&format!("proxy_pass http://{};", group.name))
                || routes.contains(&format!("{location}\n    proxy_pass http://{};", group.name));
            assert!(proxied, "{} is not sent to the upstream {}", group.name, group.name);
            assert!(upstreams.contains(&format!("upstream {} {{", group.name)), "no upstream {}", group.name);
        }
    }

    #[test]
    fn the_gateway_sends_the_dashboard_with_the_metrics_it_shows() {
        let routes = include_str!("../../../deploy/gateway/routes.conf");
        let line = routes.lines().find(|l| l.starts_with("location ~ ^/dashboard(/|$) {"));
        let line = line.expect("deploy/gateway/routes.conf has no location for /dashboard");
        let group = GROUPS.iter().find(|g| g.prefixes.contains(&"/system")).expect("a group serves /system");
        assert!(line.contains(&format!("proxy_pass http://{};", group.name)), "{line}");
    }

    #[test]
    fn the_helm_chart_knows_every_group_by_its_prefixes() {
        let helpers = include_str!("../../../deploy/helm/workbench/templates/_helpers.tpl");
        for group in GROUPS {
            let prefixes = group.prefixes.iter().map(|p| p.trim_start_matches('/')).collect::<Vec<_>>().join(", ");
            let line = format!("{}: [{prefixes}]", group.name);
            assert!(helpers.lines().any(|l| l == line), "_helpers.tpl lacks `{line}`");
        }
    }
}
