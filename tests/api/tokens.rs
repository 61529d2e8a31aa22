//! Personal access tokens as a script's author meets them: made once by a signed-in user who
//! confirms their password (or, without one, signed in within ten minutes), the secret shown only
//! then; sent as a bearer token, acting as their user within their scopes (`:write` implies
//! `:read`), never managing tokens, the password, two-factor sign-in or admin routes, whatever the
//! user's role; stopped at once by revocation, expiry, a disabled account or the detected theft of
//! the session that made them, on every instance; and listed with when they were last used.

use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use workbench_auth::testing::FakeGoogleUser;
use workbench_e2e::{
    Account, Backend, FakeProvider, PASSWORD, TestApp, engines, error_fields, eventually, expect_json, expect_problem,
    oauth_engines, per_engine, send_as,
};

/// `body` with the account's current password, as every request that makes a token carries it.
fn with_password(mut body: Value) -> Value {
    body["password"] = json!(PASSWORD);
    body
}

/// `who`'s new token with `scopes` (and the body's other fields), confirmed with their password,
/// after checking it was made.
async fn make_token(app: &TestApp, who: &Account, body: Value) -> Value {
    expect_json(send_as(app, who, Method::POST, "/tokens", Some(with_password(body))).await, StatusCode::CREATED).await
}

/// `who` as a script holding `token` sees them: the same account, another bearer.
fn scripted(who: &Account, token: &Value) -> Account {
    Account { access_token: token["token"].as_str().expect("the secret is shown once").to_owned(), ..who.clone() }
}

/// A `403 insufficient-scope`, and the scope it names (in its challenge) if any.
async fn refused_for_scope(res: Response) -> Option<String> {
    let challenge = res.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let problem = expect_problem(res, 403).await;
    assert!(problem["type"].as_str().unwrap().ends_with("/insufficient-scope"), "{problem}");
    assert!(challenge.starts_with("Bearer error=\"insufficient_scope\""), "{challenge}");
    let scope = challenge.split("scope=\"").nth(1).map(|rest| rest.trim_end_matches('"').to_owned());
    if let Some(scope) = &scope {
        assert!(problem["detail"].as_str().unwrap().contains(scope.as_str()), "the detail names {scope}: {problem}");
    }
    scope
}

engines!(
    a_token_acts_as_its_user_within_its_scopes,
    write_implies_read_and_read_never_writes,
    no_token_manages_tokens_the_password_two_factor_or_admin_routes,
    an_admins_token_never_uses_an_admin_route,
    every_route_that_refuses_a_user_for_their_role_is_an_admin_route_and_refuses_every_token,
    a_token_is_shown_once_with_its_prefix_and_expiry,
    every_bad_field_is_named_at_once,
    making_a_token_takes_the_current_password,
    the_listing_shows_last_use_and_never_a_secret,
    revoked_expired_and_unknown_tokens_are_refused,
    a_disabled_account_stops_its_tokens_and_a_password_change_or_sign_out_does_not,
    a_stolen_session_takes_the_tokens_made_from_it_and_no_other,
    making_and_revoking_tokens_is_audited,
);

oauth_engines!(an_account_without_a_password_makes_tokens_only_within_ten_minutes_of_signing_in);

async fn a_token_acts_as_its_user_within_its_scopes(app: TestApp) {
    let ann = app.signup("ann").await;
    let token = make_token(&app, &ann, json!({"name": "backup script", "scopes": ["tasks:write"]})).await;
    let script = scripted(&ann, &token);

    let made = send_as(&app, &script, Method::POST, "/tasks", Some(json!({"title": "Rotate the backups"}))).await;
    let task = expect_json(made, StatusCode::CREATED).await;
    assert_eq!(task["owner_id"], ann.id, "the token acts as its user");
    let seen = send_as(&app, &ann, Method::GET, &format!("/tasks/{}", task["id"]), None).await;
    assert_eq!(seen.status(), StatusCode::OK, "and its user sees what the script made");

    let projects = send_as(&app, &script, Method::GET, "/projects", None).await;
    assert_eq!(refused_for_scope(projects).await.as_deref(), Some("projects:read"));
    let me = send_as(&app, &script, Method::GET, "/users/me", None).await;
    assert_eq!(refused_for_scope(me).await.as_deref(), Some("profile:read"));
    let upload = send_as(&app, &script, Method::GET, &format!("/tasks/{}/attachments", task["id"]), None).await;
    assert_eq!(refused_for_scope(upload).await.as_deref(), Some("files:read"));

    // A scope a route does not need changes nothing about what the user may see.
    let bob = app.signup("bob").await;
    let bobs = make_token(&app, &bob, json!({"name": "bob", "scopes": ["tasks:read"]})).await;
    let theirs = send_as(&app, &scripted(&bob, &bobs), Method::GET, &format!("/tasks/{}", task["id"]), None).await;
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND, "a token sees only what its user sees");
}

async fn write_implies_read_and_read_never_writes(app: TestApp) {
    let ann = app.signup("ann").await;
    let task = expect_json(
        send_as(&app, &ann, Method::POST, "/tasks", Some(json!({"title": "Water the plants"}))).await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/tasks/{}", task["id"]);
    let reader = scripted(&ann, &make_token(&app, &ann, json!({"name": "r", "scopes": ["tasks:read"]})).await);
    let writer = scripted(&ann, &make_token(&app, &ann, json!({"name": "w", "scopes": ["tasks:write"]})).await);

    assert_eq!(send_as(&app, &reader, Method::GET, &path, None).await.status(), StatusCode::OK);
    let patch = send_as(&app, &reader, Method::PATCH, &path, Some(json!({"status": "completed"}))).await;
    assert_eq!(refused_for_scope(patch).await.as_deref(), Some("tasks:write"));
    let delete = send_as(&app, &reader, Method::DELETE, &path, None).await;
    assert_eq!(refused_for_scope(delete).await.as_deref(), Some("tasks:write"));

    assert_eq!(send_as(&app, &writer, Method::GET, &path, None).await.status(), StatusCode::OK, "write reads");
    let patched = send_as(&app, &writer, Method::PATCH, &path, Some(json!({"status": "completed"}))).await;
    assert_eq!(expect_json(patched, StatusCode::OK).await["status"], "completed");
}

async fn no_token_manages_tokens_the_password_two_factor_or_admin_routes(app: TestApp) {
    let root = app.signup_with_role("root", "admin").await;
    let token = make_token(&app, &root, json!({"name": "everything", "scopes": every_scope()})).await;
    let script = scripted(&root, &token);

    let attempts = [
        (Method::POST, "/tokens".to_owned(), Some(with_password(json!({"name": "more", "scopes": ["tasks:read"]})))),
        (Method::GET, "/tokens".to_owned(), None),
        (Method::DELETE, format!("/tokens/{}", token["id"]), None),
        (Method::PUT, "/users/me/password".to_owned(), Some(json!({"current_password": "x", "new_password": "y"}))),
        (Method::PATCH, "/users/me".to_owned(), Some(json!({"bio": "set by a script"}))),
        (Method::POST, "/auth/totp/setup".to_owned(), None),
        (Method::GET, "/admin/dashboard".to_owned(), None),
        (Method::GET, "/admin/audit".to_owned(), None),
        (Method::PATCH, format!("/admin/users/{}", root.id), Some(json!({"status": "disabled"}))),
    ];
    for (method, path, body) in attempts {
        let res = send_as(&app, &script, method.clone(), &path, body).await;
        assert_eq!(refused_for_scope(res).await, None, "{method} {path} is for sessions only, whatever the scopes");
    }
    // The same routes still serve the session, and the token was neither used up nor revoked.
    assert_eq!(send_as(&app, &root, Method::GET, "/admin/dashboard", None).await.status(), StatusCode::OK);
    assert_eq!(send_as(&app, &script, Method::GET, "/tasks", None).await.status(), StatusCode::OK);

    let socket = app.get(&format!("/api/v1/ws?token={}", script.access_token)).send().await.unwrap();
    assert_eq!(refused_for_scope(socket).await, None, "sockets are for sessions");
}

/// Every scope a token may be granted.
fn every_scope() -> Value {
    json!([
        "tasks:write",
        "projects:write",
        "products:write",
        "files:write",
        "chat:write",
        "webhooks:write",
        "profile:read"
    ])
}

/// The `403` of a token on an admin route: `insufficient-scope`, naming no scope, saying why.
async fn refused_on_an_admin_route(res: Response) {
    let url = res.url().clone();
    let challenge = res.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let problem = expect_problem(res, 403).await;
    assert!(problem["type"].as_str().unwrap().ends_with("/insufficient-scope"), "{url}: {problem}");
    assert_eq!(challenge, "Bearer error=\"insufficient_scope\"", "{url}: no scope opens an admin route");
    assert!(problem["detail"].as_str().unwrap().contains("admin route"), "{url}: {problem}");
}

async fn an_admins_token_never_uses_an_admin_route(app: TestApp) {
    let root = app.signup_with_role("root", "admin").await;
    let created = |path: &'static str, body: Value| {
        let (app, root) = (&app, &root);
        async move { expect_json(send_as(app, root, Method::POST, path, Some(body)).await, StatusCode::CREATED).await }
    };
    let category = created("/categories", json!({"name": "Tools"})).await;
    let drill = json!({"name": "Drill", "category_id": category["id"], "brand": "Bosch", "warranty_months": 24});
    let product = created("/products", drill).await;
    let (category_path, product_path) =
        (format!("/categories/{}", category["id"]), format!("/products/{}", product["id"]));
    let token = make_token(&app, &root, json!({"name": "catalogue", "scopes": ["products:write"]})).await;
    let script = scripted(&root, &token);

    let attempts = [
        (Method::POST, "/categories".to_owned(), Some(json!({"name": "Garden"}))),
        (Method::PUT, category_path.clone(), Some(json!({"name": "Hand tools"}))),
        (Method::DELETE, category_path, None),
        (
            Method::POST,
            "/products".to_owned(),
            Some(json!({"name": "Saw", "category_id": category["id"], "warranty_months": 12})),
        ),
        (Method::PUT, product_path.clone(), Some(json!({"name": "Hammer drill"}))),
        (Method::PATCH, product_path.clone(), Some(json!({"brand": "Makita"}))),
        (Method::DELETE, product_path.clone(), None),
        (Method::GET, "/admin/dashboard".to_owned(), None),
        (Method::GET, "/admin/audit".to_owned(), None),
        (Method::GET, "/admin/jobs".to_owned(), None),
        (Method::GET, "/system/metrics".to_owned(), None),
    ];
    for (method, path, body) in attempts {
        refused_on_an_admin_route(send_as(&app, &script, method, &path, body).await).await;
    }
    // Nothing changed, the token still does what its scope opens, and the session still administers.
    let listed = expect_json(app.get("/api/v1/categories").send().await.unwrap(), StatusCode::OK).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    let read = expect_json(send_as(&app, &script, Method::GET, &product_path, None).await, StatusCode::OK).await;
    assert_eq!(read["name"], "Drill");
    let mine = send_as(&app, &script, Method::GET, "/user-products", None).await;
    assert_eq!(mine.status(), StatusCode::OK, "products:write opens the user's own collection");
    let deleted = send_as(&app, &root, Method::DELETE, &product_path, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT, "the admin's session may");
}

/// `template` with each path parameter filled with a value naming nothing: ids no row has,
/// names no station or room has.
fn nowhere(template: &str) -> String {
    let mut path = String::new();
    for (i, part) in template.split(['{', '}']).enumerate() {
        match (i % 2, part.ends_with("id")) {
            (0, _) => path.push_str(part),
            (_, true) => path.push_str("999999"),
            (_, false) => path.push_str("no-such"),
        }
    }
    path
}

/// Derives the admin routes from what the server does, not from what they declare: every
/// authenticated operation of the document is called by an account without a platform role, and
/// those it is refused (`403`) are exactly the ones declared `admin`; each refuses a token of every
/// scope whose user is an admin, and serves that admin's session. So a new admin route declared
/// with a scope (as the catalogue's writes once were) fails here.
async fn every_route_that_refuses_a_user_for_their_role_is_an_admin_route_and_refuses_every_token(app: TestApp) {
    let doc = expect_json(app.get("/api-docs/openapi.json").send().await.unwrap(), StatusCode::OK).await;
    let root = app.signup_with_role("root", "admin").await;
    let ann = app.signup("ann").await;
    let script = scripted(&root, &make_token(&app, &root, json!({"name": "all", "scopes": every_scope()})).await);
    let mut admin_routes = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(declared) = operation["x-required-scope"].as_str() else { continue };
            let path = nowhere(template.strip_prefix("/api/v1").expect("every authenticated route is under /api/v1"));
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = [Method::POST, Method::PUT, Method::PATCH].contains(&method).then(|| json!({}));
            let as_user = send_as(&app, &ann, method.clone(), &path, body.clone()).await;
            let refused = as_user.status() == StatusCode::FORBIDDEN;
            if refused {
                let problem = expect_problem(as_user, 403).await;
                assert!(problem["type"].as_str().unwrap().ends_with("/forbidden"), "{method} {path}: {problem}");
            }
            assert_eq!(refused, declared == "admin", "{method} {template}: declared {declared}");
            if refused {
                refused_on_an_admin_route(send_as(&app, &script, method.clone(), &path, body.clone()).await).await;
                let as_admin = send_as(&app, &root, method.clone(), &path, body).await.status();
                assert_ne!(as_admin, StatusCode::FORBIDDEN, "{method} {template}: the admin's session may");
                admin_routes.push(format!("{method} {template}"));
            }
        }
    }
    for known in ["POST /api/v1/categories", "DELETE /api/v1/products/{id}", "GET /api/v1/system/metrics"] {
        assert!(admin_routes.iter().any(|r| r == known), "{known} among {admin_routes:?}");
    }
}

async fn a_token_is_shown_once_with_its_prefix_and_expiry(app: TestApp) {
    let ann = app.signup("ann").await;
    let body = with_password(json!({"name": "  ci  ", "scopes": ["files:read"]}));
    let res = send_as(&app, &ann, Method::POST, "/tokens", Some(body)).await;
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store", "a credential is never cached");
    let location = res.headers().get("location").unwrap().to_str().unwrap().to_owned();
    let token = expect_json(res, StatusCode::CREATED).await;
    assert_eq!(location, format!("/api/v1/tokens/{}", token["id"]));
    let secret = token["token"].as_str().unwrap();
    let random = secret.strip_prefix("wbp_").expect("wbp_ and base62");
    assert!(random.len() >= 43 && random.bytes().all(|c| c.is_ascii_alphanumeric()), "{secret}");
    assert_eq!(token["prefix"], secret[..12]);
    assert_eq!(token["name"], "ci");
    assert_eq!(token["scopes"], json!(["files:read"]));
    let created = chrono::DateTime::parse_from_rfc3339(token["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(token["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, chrono::Duration::days(90), "90 days unless asked");

    let short = make_token(&app, &ann, json!({"name": "a day", "scopes": ["tasks:read"], "expires_in_days": 1})).await;
    let created = chrono::DateTime::parse_from_rfc3339(short["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(short["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, chrono::Duration::days(1));
    assert_ne!(short["token"], token["token"]);
}

async fn every_bad_field_is_named_at_once(app: TestApp) {
    let ann = app.signup("ann").await;
    let cases = [
        (json!({}), vec!["name", "scopes"]),
        (json!({"name": " ", "scopes": [], "expires_in_days": 0}), vec!["name", "scopes", "expires_in_days"]),
        (
            json!({"name": "n".repeat(101), "scopes": ["tasks:delete"], "expires_in_days": 366}),
            vec!["name", "scopes", "expires_in_days"],
        ),
        (
            json!({"name": 5, "scopes": "tasks:read", "expires_in_days": "soon"}),
            vec!["name", "scopes", "expires_in_days"],
        ),
        (json!({"name": null, "scopes": null}), vec!["name", "scopes"]),
        (json!({"name": "nightly\u{0}backup", "scopes": ["tasks:read"]}), vec!["name"]),
    ];
    for (body, fields) in cases {
        let body = with_password(body);
        let problem = expect_problem(send_as(&app, &ann, Method::POST, "/tokens", Some(body.clone())).await, 422).await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    let longest = with_password(json!({"name": "n".repeat(100), "scopes": ["profile:read"], "expires_in_days": 365}));
    assert_eq!(send_as(&app, &ann, Method::POST, "/tokens", Some(longest)).await.status(), StatusCode::CREATED);
    let listed = expect_json(send_as(&app, &ann, Method::GET, "/tokens", None).await, StatusCode::OK).await;
    assert_eq!(listed["pagination"]["total"], 1, "nothing was made by the refused requests");
}

/// The failing fields of a problem, with their messages.
fn named(problem: &Value) -> Vec<(String, String)> {
    let errors = problem["errors"].as_array().unwrap_or_else(|| panic!("{problem}"));
    errors
        .iter()
        .map(|e| (e["field"].as_str().unwrap().to_owned(), e["message"].as_str().unwrap().to_owned()))
        .collect()
}

async fn making_a_token_takes_the_current_password(app: TestApp) {
    let ann = app.signup("ann").await;
    let refused = |body: Value| {
        let (app, ann) = (&app, &ann);
        async move { named(&expect_problem(send_as(app, ann, Method::POST, "/tokens", Some(body)).await, 422).await) }
    };
    let required = || ("password".to_owned(), "is required: the current password of the account".to_owned());
    let wrong = || ("password".to_owned(), "is not the current password".to_owned());
    assert_eq!(refused(json!({"name": "ci", "scopes": ["tasks:read"]})).await, [required()], "a session alone");
    assert_eq!(refused(json!({"name": "ci", "scopes": ["tasks:read"], "password": null})).await, [required()]);
    assert_eq!(refused(json!({"name": "ci", "scopes": ["tasks:read"], "password": ""})).await, [required()]);
    assert_eq!(refused(json!({"name": "ci", "scopes": ["tasks:read"], "password": "a guess"})).await, [wrong()]);
    let typed = refused(json!({"name": "ci", "scopes": ["tasks:read"], "password": 5})).await;
    assert_eq!(typed.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(), ["password"], "{typed:?}");
    let all = refused(json!({"name": " ", "scopes": ["tasks:read"], "password": "a guess"})).await;
    assert_eq!(all.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(), ["name", "password"], "every field at once");

    // The same rule, in the same words, as turning two-factor sign-in on.
    expect_json(send_as(&app, &ann, Method::POST, "/auth/totp/setup", None).await, StatusCode::OK).await;
    let totp = send_as(&app, &ann, Method::POST, "/auth/totp/enable", Some(json!({"code": "000000"}))).await;
    assert!(named(&expect_problem(totp, 422).await).contains(&required()));

    let listed = expect_json(send_as(&app, &ann, Method::GET, "/tokens", None).await, StatusCode::OK).await;
    assert_eq!(listed["pagination"]["total"], 0, "nothing was made by the refused requests");
    let body = json!({"name": "ci", "scopes": ["tasks:read"], "password": PASSWORD});
    assert_eq!(send_as(&app, &ann, Method::POST, "/tokens", Some(body)).await.status(), StatusCode::CREATED);
}

per_engine!(password_confirmations_draw_from_the_account_s_sign_in_bucket);

/// A stolen session guesses the password no faster than a login: every request that confirms the
/// password draws from a bucket of the account's own at the sign-in rate, right or wrong, from
/// whatever address (the clients here are told apart behind a trusted proxy); another account at
/// the same address is not held up, nor is what takes no password.
async fn password_confirmations_draw_from_the_account_s_sign_in_bucket(backend: Backend) {
    let behind_a_proxy = |s: &mut workbench_app::Settings| {
        s.limits.auth_per_minute = 3;
        s.server.trusted_proxies = Some("127.0.0.1/32".into());
    };
    let Some(app) = TestApp::spawn_with(backend, behind_a_proxy).await else { return };
    // Each signs up and in from an address of their own: signing in has its own buckets.
    let signup = |name: &'static str, address: &'static str| {
        let app = &app;
        async move {
            let email = format!("{name}@example.com");
            let body = json!({"username": name, "email": email, "password": PASSWORD});
            let registered = app.post("/api/v1/auth/register").header("x-forwarded-for", address).json(&body);
            assert_eq!(registered.send().await.unwrap().status(), StatusCode::CREATED);
            let login = json!({"email": email, "password": PASSWORD});
            let res = app.post("/api/v1/auth/login").header("x-forwarded-for", address).json(&login).send().await;
            let session = expect_json(res.unwrap(), StatusCode::OK).await;
            Account {
                id: session["user"]["id"].as_i64().unwrap(),
                username: name.to_owned(),
                email,
                password: PASSWORD.to_owned(),
                access_token: session["access_token"].as_str().unwrap().to_owned(),
                refresh_token: session["refresh_token"].as_str().unwrap().to_owned(),
            }
        }
    };
    let ann = signup("ann", "192.0.2.1").await;
    let bob = signup("bob", "192.0.2.2").await;
    let guess = |who: &Account, password: &str, forwarded_for: &str| {
        let body = json!({"name": "ci", "scopes": ["tasks:read"], "password": password});
        let req = app.post("/api/v1/tokens").bearer_auth(&who.access_token).header("x-forwarded-for", forwarded_for);
        req.json(&body).send()
    };
    for i in 0..3 {
        let res = guess(&ann, "a guess", &format!("203.0.113.{i}")).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(res.headers()["ratelimit-limit"], "3");
    }
    let res = guess(&ann, PASSWORD, "198.51.100.7").await.unwrap();
    let problem = expect_problem(res, 429).await;
    assert!(problem["type"].as_str().unwrap().ends_with("/rate-limited"), "{problem}");
    let change = json!({"current_password": "another guess", "new_password": "a brand new passphrase"});
    let res = send_as(&app, &ann, Method::PUT, "/users/me/password", Some(change)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "changing the password shares the account's bucket");

    assert_eq!(guess(&bob, PASSWORD, "203.0.113.0").await.unwrap().status(), StatusCode::CREATED, "bob's own");
    let listed = expect_json(send_as(&app, &ann, Method::GET, "/tokens", None).await, StatusCode::OK).await;
    assert_eq!(listed["pagination"]["total"], 0, "listing takes no password and is not held up");
}

async fn a_stolen_session_takes_the_tokens_made_from_it_and_no_other(app: TestApp) {
    let root = app.signup_with_role("root", "admin").await;
    let ann = app.signup("ann").await;
    let laptop = app.login(&ann.email, PASSWORD).await;
    let stolen =
        make_token(&app, &ann, json!({"name": "made from the stolen session", "scopes": ["tasks:read"]})).await;
    let kept = make_token(&app, &laptop, json!({"name": "made on the laptop", "scopes": ["tasks:read"]})).await;
    for token in [&stolen, &kept] {
        assert_eq!(send_as(&app, &scripted(&ann, token), Method::GET, "/tasks", None).await.status(), StatusCode::OK);
    }

    // The thief refreshes first; the rightful client then presents the token the thief used.
    let refresh = |token: String| app.post("/api/v1/auth/refresh").json(&json!({"refresh_token": token})).send();
    let thief = expect_json(refresh(ann.refresh_token.clone()).await.unwrap(), StatusCode::OK).await;
    expect_problem(refresh(ann.refresh_token.clone()).await.unwrap(), 401).await;

    let refused = send_as(&app, &scripted(&ann, &stolen), Method::GET, "/tasks", None).await;
    expect_problem(refused, 401).await;
    let other = send_as(&app, &scripted(&ann, &kept), Method::GET, "/tasks", None).await;
    assert_eq!(other.status(), StatusCode::OK, "a token made from another session goes on");
    expect_problem(refresh(thief["refresh_token"].as_str().unwrap().to_owned()).await.unwrap(), 401).await;

    let ann = app.login(&ann.email, PASSWORD).await;
    let listed = expect_json(send_as(&app, &ann, Method::GET, "/tokens", None).await, StatusCode::OK).await;
    let names: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["made on the laptop"], "the revoked token leaves the listing");
    let trail = send_as(&app, &root, Method::GET, "/admin/audit?action=refresh_token_reuse", None).await;
    let trail = expect_json(trail, StatusCode::OK).await;
    assert_eq!(trail["data"][0]["details"]["revoked_token_ids"], json!([stolen["id"]]), "{trail}");
}

/// A person who signed in through a provider alone has no password to type: a sign-in of the
/// last ten minutes stands in for it. Refreshing the session does not make its sign-in recent.
async fn an_account_without_a_password_makes_tokens_only_within_ten_minutes_of_signing_in(
    app: TestApp,
    fake: FakeProvider,
) {
    let person = FakeGoogleUser { sub: "g-4242".into(), email: "olu@example.com".into(), email_verified: true };
    fake.set_google_user(person);
    let sign_in = || async {
        let body = expect_json(app.oauth_walk("google").await.response, StatusCode::OK).await;
        Account {
            id: body["user"]["id"].as_i64().unwrap(),
            username: body["user"]["username"].as_str().unwrap().to_owned(),
            email: "olu@example.com".into(),
            password: String::new(),
            access_token: body["access_token"].as_str().unwrap().to_owned(),
            refresh_token: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    };
    let olu = sign_in().await;
    let body = json!({"name": "ci", "scopes": ["tasks:read"]});
    let made = send_as(&app, &olu, Method::POST, "/tokens", Some(body.clone())).await;
    let token = expect_json(made, StatusCode::CREATED).await;
    assert_eq!(send_as(&app, &scripted(&olu, &token), Method::GET, "/tasks", None).await.status(), StatusCode::OK);

    // Eleven minutes pass.
    let then = (chrono::Utc::now() - chrono::Duration::minutes(11)).format("%Y-%m-%d %H:%M:%S%.6f");
    app.execute_sql(&format!("UPDATE refresh_tokens SET signed_in_at = '{then}' WHERE user_id = {}", olu.id)).await;
    let reauthenticate = |res: Response| async {
        let problem = expect_problem(res, 403).await;
        assert!(problem["type"].as_str().unwrap().ends_with("/reauthentication-required"), "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("sign in again"), "{problem}");
    };
    reauthenticate(send_as(&app, &olu, Method::POST, "/tokens", Some(body.clone())).await).await;
    let guessed = json!({"name": "ci", "scopes": ["tasks:read"], "password": "anything"});
    reauthenticate(send_as(&app, &olu, Method::POST, "/tokens", Some(guessed)).await).await;
    let refreshed = app.post("/api/v1/auth/refresh").json(&json!({"refresh_token": olu.refresh_token})).send().await;
    let refreshed = expect_json(refreshed.unwrap(), StatusCode::OK).await;
    let refreshed = Account { access_token: refreshed["access_token"].as_str().unwrap().to_owned(), ..olu.clone() };
    reauthenticate(send_as(&app, &refreshed, Method::POST, "/tokens", Some(body.clone())).await).await;

    let again = sign_in().await;
    let made = send_as(&app, &again, Method::POST, "/tokens", Some(body)).await;
    assert_eq!(made.status(), StatusCode::CREATED, "signing in again is the proof");
    let listed = expect_json(send_as(&app, &again, Method::GET, "/tokens", None).await, StatusCode::OK).await;
    assert_eq!(listed["pagination"]["total"], 2, "nothing was made by the refused requests");
}

async fn the_listing_shows_last_use_and_never_a_secret(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let used = make_token(&app, &ann, json!({"name": "used", "scopes": ["tasks:read"]})).await;
    make_token(&app, &ann, json!({"name": "idle", "scopes": ["chat:read"]})).await;
    make_token(&app, &bob, json!({"name": "bob's", "scopes": ["tasks:read"]})).await;

    let listed = expect_json(send_as(&app, &ann, Method::GET, "/tokens", None).await, StatusCode::OK).await;
    let names: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["idle", "used"], "the caller's own, newest first");
    assert_eq!(listed["pagination"]["total"], 2);
    for token in listed["data"].as_array().unwrap() {
        assert!(token.get("token").is_none(), "no secret in a listing: {token}");
        assert!(token["prefix"].as_str().unwrap().starts_with("wbp_"));
        assert!(token["last_used_at"].is_null(), "not used yet: {token}");
    }
    let page = expect_json(send_as(&app, &ann, Method::GET, "/tokens?per_page=1&page=2", None).await, StatusCode::OK);
    assert_eq!(page.await["data"][0]["name"], "used");

    let script = scripted(&ann, &used);
    assert_eq!(send_as(&app, &script, Method::GET, "/tasks", None).await.status(), StatusCode::OK);
    let last_used = eventually("last_used_at is written", Duration::from_secs(15), || async {
        let listed = expect_json(send_as(&app, &ann, Method::GET, "/tokens", None).await, StatusCode::OK).await;
        let token = listed["data"].as_array().unwrap().iter().find(|t| t["id"] == used["id"]).cloned().unwrap();
        token["last_used_at"].as_str().map(str::to_owned)
    })
    .await;
    let at = chrono::DateTime::parse_from_rfc3339(&last_used).unwrap();
    assert!((chrono::Utc::now() - at.to_utc()).num_seconds().abs() < 60, "{last_used}");
    let listed = expect_json(send_as(&app, &ann, Method::GET, "/tokens", None).await, StatusCode::OK).await;
    assert!(listed["data"][0]["last_used_at"].is_null(), "the idle token stays unused");
}

async fn revoked_expired_and_unknown_tokens_are_refused(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let token = make_token(&app, &ann, json!({"name": "ci", "scopes": ["tasks:read"]})).await;
    let script = scripted(&ann, &token);
    assert_eq!(send_as(&app, &script, Method::GET, "/tasks", None).await.status(), StatusCode::OK);

    let path = format!("/tokens/{}", token["id"]);
    expect_problem(send_as(&app, &bob, Method::DELETE, &path, None).await, 404).await;
    assert_eq!(send_as(&app, &script, Method::GET, "/tasks", None).await.status(), StatusCode::OK, "still Ann's");
    assert_eq!(send_as(&app, &ann, Method::DELETE, &path, None).await.status(), StatusCode::NO_CONTENT);
    let refused = send_as(&app, &script, Method::GET, "/tasks", None).await;
    let challenge = refused.headers().get("www-authenticate").unwrap().to_str().unwrap().to_owned();
    assert_eq!(challenge, "Bearer error=\"invalid_token\"");
    expect_problem(refused, 401).await;
    expect_problem(send_as(&app, &ann, Method::DELETE, &path, None).await, 404).await;
    let listed = expect_json(send_as(&app, &ann, Method::GET, "/tokens", None).await, StatusCode::OK).await;
    assert_eq!(listed["pagination"]["total"], 0, "a revoked token leaves the listing");

    // Time passes for a token before it is ever used.
    let old = make_token(&app, &ann, json!({"name": "old", "scopes": ["tasks:read"]})).await;
    app.execute_sql(&format!(
        "UPDATE personal_access_tokens SET expires_at = '2020-01-01 00:00:00' WHERE id = {}",
        old["id"]
    ))
    .await;
    expect_problem(send_as(&app, &scripted(&ann, &old), Method::GET, "/tasks", None).await, 401).await;

    let unknown = Account { access_token: format!("wbp_{}", "A".repeat(43)), ..ann.clone() };
    expect_problem(send_as(&app, &unknown, Method::GET, "/tasks", None).await, 401).await;
    let truncated = Account { access_token: script.access_token[..20].to_owned(), ..ann.clone() };
    expect_problem(send_as(&app, &truncated, Method::GET, "/tasks", None).await, 401).await;
}

async fn a_disabled_account_stops_its_tokens_and_a_password_change_or_sign_out_does_not(app: TestApp) {
    let root = app.signup_with_role("root", "admin").await;
    let ann = app.signup("ann").await;
    let token = make_token(&app, &ann, json!({"name": "ci", "scopes": ["tasks:read"]})).await;
    let script = scripted(&ann, &token);
    assert_eq!(send_as(&app, &script, Method::GET, "/tasks", None).await.status(), StatusCode::OK);

    let change = json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"});
    let changed = send_as(&app, &ann, Method::PUT, "/users/me/password", Some(change)).await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        send_as(&app, &script, Method::GET, "/tasks", None).await.status(),
        StatusCode::OK,
        "a password change does not end a token"
    );
    // A new session makes a token (with the new password), then signs out.
    let again = app.login(&ann.email, "a brand new passphrase").await;
    let body = json!({"name": "ci 2", "scopes": ["tasks:read"], "password": "a brand new passphrase"});
    let made = expect_json(send_as(&app, &again, Method::POST, "/tokens", Some(body)).await, StatusCode::CREATED);
    let second = scripted(&ann, &made.await);
    let logout = app.post("/api/v1/auth/logout").json(&json!({"refresh_token": again.refresh_token})).send().await;
    assert_eq!(logout.unwrap().status(), StatusCode::NO_CONTENT);
    for script in [&script, &second] {
        let res = send_as(&app, script, Method::GET, "/tasks", None).await;
        assert_eq!(res.status(), StatusCode::OK, "signing out of the session that made it does not end a token");
    }

    let disable = json!({"status": "disabled"});
    let path = format!("/admin/users/{}", ann.id);
    assert_eq!(send_as(&app, &root, Method::PATCH, &path, Some(disable)).await.status(), StatusCode::OK);
    expect_problem(send_as(&app, &script, Method::GET, "/tasks", None).await, 401).await;
    expect_problem(send_as(&app, &second, Method::GET, "/tasks", None).await, 401).await;
}

async fn making_and_revoking_tokens_is_audited(app: TestApp) {
    let root = app.signup_with_role("root", "admin").await;
    let ann = app.signup("ann").await;
    let token = make_token(&app, &ann, json!({"name": "ci", "scopes": ["tasks:read"]})).await;
    let revoked = send_as(&app, &ann, Method::DELETE, &format!("/tokens/{}", token["id"]), None).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    for action in ["token_created", "token_revoked"] {
        let trail = send_as(&app, &root, Method::GET, &format!("/admin/audit?action={action}"), None).await;
        let trail = expect_json(trail, StatusCode::OK).await;
        let entry = &trail["data"][0];
        assert_eq!(entry["actor_id"], ann.id, "{action}: {trail}");
        assert_eq!(entry["details"]["token_id"], token["id"], "{action}: {entry}");
        assert!(!entry.to_string().contains(token["token"].as_str().unwrap()), "no secret in the trail");
    }
}

per_engine!(a_revoked_token_is_refused_on_every_instance_at_its_next_request);

/// Two instances on one database and one Redis: each keeps the token's grant in memory, and a
/// revocation on one is honoured by the other at the token's very next request; so is disabling
/// its user.
async fn a_revoked_token_is_refused_on_every_instance_at_its_next_request(backend: Backend) {
    let Some(apps) = TestApp::spawn_cluster(backend, 2).await else { return };
    let (one, two) = (&apps[0], &apps[1]);
    let root = one.signup_with_role("root", "admin").await;
    let ann = one.signup("ann").await;
    let revoked = make_token(one, &ann, json!({"name": "revoked", "scopes": ["tasks:read"]})).await;
    let kept = make_token(one, &ann, json!({"name": "kept", "scopes": ["tasks:read"]})).await;
    for script in [scripted(&ann, &revoked), scripted(&ann, &kept)] {
        // Instance two now holds both grants in memory.
        for _ in 0..3 {
            assert_eq!(send_as(two, &script, Method::GET, "/tasks", None).await.status(), StatusCode::OK);
        }
    }

    let path = format!("/tokens/{}", revoked["id"]);
    assert_eq!(send_as(one, &ann, Method::DELETE, &path, None).await.status(), StatusCode::NO_CONTENT);
    let refused = send_as(two, &scripted(&ann, &revoked), Method::GET, "/tasks", None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "refused on the other instance at once");
    let other = send_as(two, &scripted(&ann, &kept), Method::GET, "/tasks", None).await;
    assert_eq!(other.status(), StatusCode::OK, "the other token goes on");

    let disable = json!({"status": "disabled"});
    assert_eq!(
        send_as(one, &root, Method::PATCH, &format!("/admin/users/{}", ann.id), Some(disable)).await.status(),
        StatusCode::OK
    );
    let stopped = send_as(two, &scripted(&ann, &kept), Method::GET, "/tasks", None).await;
    assert_eq!(stopped.status(), StatusCode::UNAUTHORIZED, "a disabled user's tokens stop on every instance");
}

per_engine!(a_stolen_session_s_tokens_are_refused_on_every_instance_at_their_next_request);

/// Two instances hold the grants of tokens made from two sessions; a theft of one session detected
/// on one instance is honoured by the other at the token's very next request.
async fn a_stolen_session_s_tokens_are_refused_on_every_instance_at_their_next_request(backend: Backend) {
    let Some(apps) = TestApp::spawn_cluster(backend, 2).await else { return };
    let (one, two) = (&apps[0], &apps[1]);
    let ann = one.signup("ann").await;
    let laptop = one.login(&ann.email, PASSWORD).await;
    let stolen = make_token(one, &ann, json!({"name": "stolen", "scopes": ["tasks:read"]})).await;
    let kept = make_token(one, &laptop, json!({"name": "kept", "scopes": ["tasks:read"]})).await;
    for script in [scripted(&ann, &stolen), scripted(&ann, &kept)] {
        // Instance two now holds both grants in memory.
        for _ in 0..3 {
            assert_eq!(send_as(two, &script, Method::GET, "/tasks", None).await.status(), StatusCode::OK);
        }
    }

    let refresh = || one.post("/api/v1/auth/refresh").json(&json!({"refresh_token": ann.refresh_token})).send();
    assert_eq!(refresh().await.unwrap().status(), StatusCode::OK);
    assert_eq!(refresh().await.unwrap().status(), StatusCode::UNAUTHORIZED, "reuse: the session is stolen");

    let refused = send_as(two, &scripted(&ann, &stolen), Method::GET, "/tasks", None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "refused on the other instance at once");
    let other = send_as(two, &scripted(&ann, &kept), Method::GET, "/tasks", None).await;
    assert_eq!(other.status(), StatusCode::OK, "the other session's token goes on there too");
}
