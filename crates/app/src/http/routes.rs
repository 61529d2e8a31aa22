//! Route groups: the versioned API cut into named groups, so that one binary can run as several
//! services (`WORKBENCH_ROUTES=auth,users`, `workbench serve --routes tasks,search`) behind a
//! gateway that sends each path prefix to the service serving it (`deploy/gateway/`).
//!
//! A group is what a path's first segment under `/api/v1` names: the gateway routes by path, so
//! a route belongs to the group of its path (`POST /tasks/{id}/attachments` is a `tasks` route,
//! although its handler lives with the files). Every role wires every service and shares the
//! database, Redis and NATS; a group only decides which routes a process answers.
//!
//! [`GROUPS`] is the one table: to add a group (or routes to one), add its entry and its
//! registration function here; the gateway test checks `deploy/gateway/` names every prefix.

use std::fmt;

use utoipa_actix_web::service_config::ServiceConfig;

use super::{admin, auth, chat, files, integrations, products, search, tasks, user_products, users, webhooks, ws};

/// A named group of routes under `/api/v1`.
#[derive(Debug)]
pub struct RouteGroup {
    pub name: &'static str,
    /// The first path segments under `/api/v1` that belong to this group (what the gateway
    /// routes on), each with its leading slash.
    pub prefixes: &'static [&'static str],
    /// Registers the group's routes, in an order where fixed paths precede the templated paths
    /// that would claim them.
    pub register: fn(&mut ServiceConfig),
}

/// Every route group, in the order the API registers (and documents) them.
pub const GROUPS: &[RouteGroup] = &[
    RouteGroup { name: "auth", prefixes: &["/auth"], register: auth_routes },
    RouteGroup { name: "users", prefixes: &["/users"], register: users_routes },
    RouteGroup { name: "admin", prefixes: &["/admin"], register: admin_routes },
    RouteGroup { name: "tasks", prefixes: &["/tasks", "/tags"], register: tasks_routes },
    RouteGroup {
        name: "products",
        prefixes: &["/categories", "/products", "/user-products"],
        register: products_routes,
    },
    RouteGroup { name: "files", prefixes: &["/files"], register: files_routes },
    RouteGroup {
        name: "integrations",
        prefixes: &["/weather", "/crypto", "/translate"],
        register: integrations_routes,
    },
    RouteGroup { name: "search", prefixes: &["/search"], register: search_routes },
    RouteGroup { name: "webhooks", prefixes: &["/webhooks"], register: webhooks_routes },
    // Chat and the WebSocket (`/api/v1/ws`): long-lived connections, so a deployment can scale
    // them apart from the request/response groups.
    RouteGroup { name: "realtime", prefixes: &["/ws", "/chat"], register: realtime_routes },
];

fn auth_routes(cfg: &mut ServiceConfig) {
    cfg.service(auth::register)
        .service(auth::login)
        .service(auth::refresh)
        .service(auth::logout)
        .service(auth::me)
        .service(auth::oauth_start)
        .service(auth::oauth_callback)
        .service(auth::totp_setup)
        .service(auth::totp_enable)
        .service(auth::totp_disable);
}

fn users_routes(cfg: &mut ServiceConfig) {
    cfg.service(users::list)
        // Before `/users/{id}`, which would otherwise claim these paths.
        .service(users::except_me)
        .service(users::me)
        .service(users::update_me)
        .service(users::change_password)
        .service(users::get);
}

fn admin_routes(cfg: &mut ServiceConfig) {
    cfg.service(admin::update_user)
        .service(admin::delete_user)
        .service(admin::audit)
        .service(admin::dashboard)
        .service(admin::jobs::list)
        // Before `/admin/jobs/{id}`.
        .service(admin::jobs::runs)
        .service(admin::jobs::schedules)
        .service(admin::jobs::get)
        .service(admin::jobs::retry)
        .service(admin::jobs::cancel)
        .service(webhooks::inbound);
}

fn tasks_routes(cfg: &mut ServiceConfig) {
    cfg.service(tasks::create)
        .service(tasks::list)
        // Before `/tasks/{id}`.
        .service(tasks::stats)
        .service(tasks::get)
        .service(tasks::replace)
        .service(tasks::update)
        .service(tasks::remove)
        .service(tasks::comments)
        .service(tasks::add_comment)
        .service(tasks::delete_comment)
        .service(tasks::tags)
        .service(files::upload_to_task)
        .service(files::task_attachments);
}

fn products_routes(cfg: &mut ServiceConfig) {
    cfg.service(products::list_categories)
        .service(products::get_category)
        .service(products::create_category)
        .service(products::update_category)
        .service(products::delete_category)
        .service(products::list)
        // Before `/products/{id}`.
        .service(products::search)
        .service(products::get)
        .service(products::create)
        .service(products::replace)
        .service(products::update)
        .service(products::remove)
        .service(user_products::list)
        // Before `/user-products/{id}`.
        .service(user_products::warranty)
        .service(user_products::create)
        .service(user_products::get)
        .service(user_products::replace)
        .service(user_products::update)
        .service(user_products::remove)
        .service(files::upload_to_user_product)
        .service(files::user_product_files);
}

fn files_routes(cfg: &mut ServiceConfig) {
    cfg.service(files::upload)
        // Before `/files/{id}`.
        .service(files::render_pdf)
        .service(files::get)
        .service(files::download)
        .service(files::thumbnail)
        .service(files::remove);
}

fn integrations_routes(cfg: &mut ServiceConfig) {
    cfg.service(integrations::weather).service(integrations::crypto).service(integrations::translate);
}

fn search_routes(cfg: &mut ServiceConfig) {
    cfg.service(search::search);
}

fn webhooks_routes(cfg: &mut ServiceConfig) {
    cfg.service(webhooks::github)
        .service(webhooks::stripe)
        .service(webhooks::subscribe)
        .service(webhooks::subscriptions)
        .service(webhooks::unsubscribe)
        .service(webhooks::deliveries);
}

/// The WebSocket, chat rooms and their history.
fn realtime_routes(cfg: &mut ServiceConfig) {
    cfg.service(ws::connect)
        .service(chat::rooms)
        .service(chat::create_room)
        .service(chat::add_member)
        .service(chat::room_messages)
        .service(chat::direct_messages);
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

    pub fn is_all(&self) -> bool {
        self.0.len() == GROUPS.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Registers the routes of every group served (relative to `/api/v1`).
    pub fn register(&self, cfg: &mut ServiceConfig) {
        for group in GROUPS.iter().filter(|g| self.0.contains(&g.name)) {
            (group.register)(cfg);
        }
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
        let routes = include_str!("../../../../deploy/gateway/routes.conf");
        let upstreams = include_str!("../../../../deploy/gateway/upstreams.conf");
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
    fn the_helm_chart_knows_every_group_by_its_prefixes() {
        let helpers = include_str!("../../../../deploy/helm/workbench/templates/_helpers.tpl");
        for group in GROUPS {
            let prefixes = group.prefixes.iter().map(|p| p.trim_start_matches('/')).collect::<Vec<_>>().join(", ");
            let line = format!("{}: [{prefixes}]", group.name);
            assert!(helpers.lines().any(|l| l == line), "_helpers.tpl lacks `{line}`");
        }
    }

    #[test]
    fn every_documented_api_path_belongs_to_exactly_one_group() {
        let doc = crate::openapi::document();
        for path in doc.paths.paths.keys().filter(|p| p.starts_with("/api/v1/")) {
            let rest = &path["/api/v1".len()..];
            let first = rest.split('/').nth(1).map(|s| format!("/{s}")).unwrap_or_default();
            let owners: Vec<_> =
                GROUPS.iter().filter(|g| g.prefixes.contains(&first.as_str())).map(|g| g.name).collect();
            assert_eq!(owners.len(), 1, "{path} belongs to {owners:?}");
            let only = RouteSet::parse(owners[0]).unwrap();
            assert!(
                crate::openapi::document_for(&only).paths.paths.contains_key(path),
                "{path} not served by {owners:?}"
            );
        }
    }
}
