//! The committed `openapi/openapi.json` must be exactly what the code generates.

#[test]
fn committed_document_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    let committed = std::fs::read_to_string(path).expect("openapi/openapi.json exists");
    let generated = workbench_http::openapi::document_json();
    assert!(committed == generated, "openapi/openapi.json is stale: run `make openapi` and commit the result");
}

#[test]
fn every_operation_is_documented_with_errors_and_security() {
    let doc: serde_json::Value = serde_json::from_str(&workbench_http::openapi::document_json()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let where_ = format!("{method} {path}");
            assert!(op["operationId"].is_string(), "{where_} has no operationId");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{where_} has no tag");
            let responses = op["responses"].as_object().unwrap();
            // A redirect is the success of a browser-facing route (the start of an OAuth sign-in);
            // switching protocols, the WebSocket's.
            let success = |s: &String| s.starts_with('2') || s == "302" || s == "101";
            assert!(responses.keys().any(success), "{where_} documents no success");
            // The catalogue is read by anyone (contract: "public catalogue").
            let catalogue =
                method == "get" && (path.starts_with("/api/v1/categories") || path.starts_with("/api/v1/products"));
            // Inbound webhooks authenticate by the provider's signature, not a bearer token.
            let inbound = path == "/api/v1/webhooks/github" || path == "/api/v1/webhooks/stripe";
            // A one-click unsubscribe link authenticates by its signed token (RFC 8058).
            let unsubscribe = path == "/api/v1/notifications/unsubscribe";
            let public = path.starts_with("/api/v1/auth/") && !path.ends_with("/me")
                || !path.starts_with("/api/")
                || catalogue
                || inbound
                || unsubscribe;
            if !public {
                assert!(op["security"].is_array(), "{where_} needs the bearer security requirement");
                assert!(responses.contains_key("401"), "{where_} must document 401");
            }
        }
    }
}

#[test]
fn every_reference_resolves() {
    fn refs<'a>(value: &'a serde_json::Value, found: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                    found.push(target);
                }
                map.values().for_each(|v| refs(v, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }
    let doc: serde_json::Value = serde_json::from_str(&workbench_http::openapi::document_json()).unwrap();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("{target} is not local"));
        assert!(doc.pointer(pointer).is_some(), "{target} names nothing in the document");
    }
}

/// Every operation that takes a bearer token says, in one declaration, what a personal access
/// token needs to call it: the check and the document both read it (`workbench_http::scopes`), so
/// a route added without one fails here (and refuses every token) instead of opening silently.
#[test]
fn every_authenticated_operation_names_the_scope_a_token_needs() {
    let doc: serde_json::Value = serde_json::from_str(&workbench_http::openapi::document_json()).unwrap();
    use workbench_http::scopes::{ADMIN, SESSION};
    let known: Vec<&str> = workbench_tokens::Scope::ALL.iter().map(|s| s.as_str()).chain([SESSION, ADMIN]).collect();
    let mut session_only = Vec::new();
    let mut admin = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let declared: Vec<&str> = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|requirement| requirement.get("bearer_auth")?.as_array())
                .flatten()
                .filter_map(|name| name.as_str())
                .collect();
            let takes_bearer =
                op["security"].as_array().is_some_and(|r| r.iter().any(|r| r.get("bearer_auth").is_some()));
            if !takes_bearer {
                assert!(op.get("x-required-scope").is_none(), "{method} {path}: a scope on a public operation");
                continue;
            }
            let shown = op["x-required-scope"].as_str();
            let shown = shown.unwrap_or_else(|| panic!("{method} {path} names no scope: declare it in `security`"));
            assert_eq!(declared, [shown], "{method} {path}: one declaration, shown as it is");
            assert!(known.contains(&shown), "{method} {path}: {shown} is no scope");
            assert!(op["responses"].get("403").is_some(), "{method} {path} must document the 403 a token can get");
            match shown {
                SESSION => session_only.push(format!("{method} {path}")),
                ADMIN => {
                    let refused = op["responses"]["403"].to_string();
                    assert!(
                        refused.contains("AdminRoute") || refused.contains("no token"),
                        "{method} {path}: {refused}"
                    );
                    admin.push(format!("{method} {path}"));
                }
                _ => {}
            }
        }
    }
    // What the contract says no token may ever do, whatever its scopes.
    for never in [
        "post /api/v1/tokens",
        "get /api/v1/tokens",
        "delete /api/v1/tokens/{id}",
        "put /api/v1/users/me/password",
        "post /api/v1/auth/totp/setup",
        "post /api/v1/auth/totp/enable",
        "post /api/v1/auth/totp/disable",
    ] {
        assert!(session_only.iter().any(|s| s == never), "{never} must be for sessions only");
    }
    // The admin routes: the catalogue's writes, everything under /admin, the system metrics.
    for never in [
        "post /api/v1/categories",
        "put /api/v1/categories/{id}",
        "delete /api/v1/categories/{id}",
        "post /api/v1/products",
        "put /api/v1/products/{id}",
        "patch /api/v1/products/{id}",
        "delete /api/v1/products/{id}",
        "get /api/v1/system/metrics",
        "get /api/v1/system/metrics/history",
    ] {
        assert!(admin.iter().any(|s| s == never), "{never} is an admin route");
    }
    for (path, item) in doc["paths"].as_object().unwrap().iter().filter(|(p, _)| p.starts_with("/api/v1/admin/")) {
        for (method, op) in item.as_object().unwrap() {
            assert_eq!(op["x-required-scope"], ADMIN, "{method} {path}: everything under /admin is an admin route");
        }
    }
}

#[test]
fn the_scopes_a_token_may_be_granted_are_the_domain_s() {
    let doc: serde_json::Value = serde_json::from_str(&workbench_http::openapi::document_json()).unwrap();
    let listed: Vec<&str> = doc["components"]["schemas"]["TokenScope"]["enum"]
        .as_array()
        .expect("the TokenScope schema lists its values")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let scopes: Vec<&str> = workbench_tokens::Scope::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(listed, scopes);
}

#[test]
fn the_scope_table_answers_what_the_document_declares() {
    use actix_web::http::Method;
    use workbench_http::scopes::{Requirement, ScopeTable};
    use workbench_tokens::Scope;

    let table = ScopeTable::from_paths(&workbench_http::openapi::paths_for(&workbench_http::groups::RouteSet::all()));
    let tasks_read = Some(Requirement::Scope(Scope::TasksRead));
    assert_eq!(table.required(&Method::GET, "/api/v1/tasks/{id}"), tasks_read);
    assert_eq!(table.required(&Method::HEAD, "/api/v1/tasks/{id}"), tasks_read);
    assert_eq!(table.required(&Method::PATCH, "/api/v1/tasks/{id}"), Some(Requirement::Scope(Scope::TasksWrite)));
    assert_eq!(table.required(&Method::POST, "/api/v1/tokens"), Some(Requirement::Session));
    assert_eq!(table.required(&Method::POST, "/api/v1/categories"), Some(Requirement::Admin));
    assert_eq!(table.required(&Method::GET, "/api/v1/admin/audit"), Some(Requirement::Admin));
    assert_eq!(table.required(&Method::GET, "/api/v1/categories"), None, "public: nothing to check");
    assert_eq!(table.required(&Method::GET, "/api/v1/nowhere"), None);
    assert_eq!(table.required(&Method::OPTIONS, "/api/v1/tasks/{id}"), None);
}

/// The server's `405` and scope tables read the paths alone (`methods_for`, `paths_for`), never the
/// document: for any set of route groups, those are the document's paths, with the same methods,
/// and (`paths_for`) the same operations and security requirements.
#[test]
fn the_tables_paths_are_the_documents() {
    use workbench_http::groups::RouteSet;
    use workbench_http::openapi::{document_for, methods_for, paths_for};

    // Per path: the methods it takes.
    fn methods(paths: &utoipa::openapi::path::Paths) -> Vec<(String, Vec<String>)> {
        paths
            .paths
            .iter()
            .map(|(path, item)| {
                let item = serde_json::to_value(item).unwrap();
                (path.clone(), item.as_object().unwrap().keys().cloned().collect())
            })
            .collect()
    }

    // Per path: each operation's method, id and security, as the document writes them.
    fn operations(paths: &utoipa::openapi::path::Paths) -> Vec<(String, serde_json::Value)> {
        paths
            .paths
            .iter()
            .map(|(path, item)| {
                let item = serde_json::to_value(item).unwrap();
                let ops = item
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(method, op)| serde_json::json!([method, op["operationId"], op["security"]]))
                    .collect();
                (path.clone(), serde_json::Value::Array(ops))
            })
            .collect()
    }
    for spec in ["all", "none", "tasks", "auth,files,realtime"] {
        let routes = RouteSet::parse(spec).unwrap();
        let (listed, documented) = (operations(&paths_for(&routes)), operations(&document_for(&routes).paths));
        assert!(!listed.is_empty(), "{spec}: the operational routes at least");
        assert_eq!(listed, documented, "{spec}");
        let document = document_for(&routes).paths;
        assert_eq!(methods(&methods_for(&routes)), methods(&document), "{spec}: the 405 table's methods");
    }
}
