//! Personal access tokens as a script's author meets them: made once by a signed-in user (the
//! secret shown only then), sent as a bearer token, acting as their user within their scopes
//! (`:write` implies `:read`), never managing tokens, the password, two-factor sign-in or admin
//! routes, stopped at once by revocation, expiry or a disabled account on every instance, and
//! listed with when they were last used.

use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use workbench_e2e::{
    Account, Backend, TestApp, engines, error_fields, eventually, expect_json, expect_problem, per_engine, send_as,
};

/// `who`'s new token with `scopes` (and the body's other fields), after checking it was made.
async fn make_token(app: &TestApp, who: &Account, body: Value) -> Value {
    expect_json(send_as(app, who, Method::POST, "/tokens", Some(body)).await, StatusCode::CREATED).await
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
    a_token_is_shown_once_with_its_prefix_and_expiry,
    every_bad_field_is_named_at_once,
    the_listing_shows_last_use_and_never_a_secret,
    revoked_expired_and_unknown_tokens_are_refused,
    a_disabled_account_stops_its_tokens_and_a_password_change_does_not,
    making_and_revoking_tokens_is_audited,
);

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
    let every_scope = json!([
        "tasks:write",
        "projects:write",
        "products:write",
        "files:write",
        "chat:write",
        "webhooks:write",
        "profile:read"
    ]);
    let token = make_token(&app, &root, json!({"name": "everything", "scopes": every_scope})).await;
    let script = scripted(&root, &token);

    let attempts = [
        (Method::POST, "/tokens".to_owned(), Some(json!({"name": "more", "scopes": ["tasks:read"]}))),
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

async fn a_token_is_shown_once_with_its_prefix_and_expiry(app: TestApp) {
    let ann = app.signup("ann").await;
    let res =
        send_as(&app, &ann, Method::POST, "/tokens", Some(json!({"name": "  ci  ", "scopes": ["files:read"]}))).await;
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
        let problem = expect_problem(send_as(&app, &ann, Method::POST, "/tokens", Some(body.clone())).await, 422).await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    let longest = json!({"name": "n".repeat(100), "scopes": ["profile:read"], "expires_in_days": 365});
    assert_eq!(send_as(&app, &ann, Method::POST, "/tokens", Some(longest)).await.status(), StatusCode::CREATED);
    let listed = expect_json(send_as(&app, &ann, Method::GET, "/tokens", None).await, StatusCode::OK).await;
    assert_eq!(listed["pagination"]["total"], 1, "nothing was made by the refused requests");
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

async fn a_disabled_account_stops_its_tokens_and_a_password_change_does_not(app: TestApp) {
    let root = app.signup_with_role("root", "admin").await;
    let ann = app.signup("ann").await;
    let token = make_token(&app, &ann, json!({"name": "ci", "scopes": ["tasks:read"]})).await;
    let script = scripted(&ann, &token);
    assert_eq!(send_as(&app, &script, Method::GET, "/tasks", None).await.status(), StatusCode::OK);

    let change = json!({"current_password": workbench_e2e::PASSWORD, "new_password": "a brand new passphrase"});
    let changed = send_as(&app, &ann, Method::PUT, "/users/me/password", Some(change)).await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        send_as(&app, &script, Method::GET, "/tasks", None).await.status(),
        StatusCode::OK,
        "a password change does not end a token"
    );

    let disable = json!({"status": "disabled"});
    let path = format!("/admin/users/{}", ann.id);
    assert_eq!(send_as(&app, &root, Method::PATCH, &path, Some(disable)).await.status(), StatusCode::OK);
    expect_problem(send_as(&app, &script, Method::GET, "/tasks", None).await, 401).await;
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
