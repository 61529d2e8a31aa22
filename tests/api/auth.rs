//! Registration, sign-in, refresh-token rotation, sign-out and `GET /auth/me`.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use workbench_e2e::{Account, PASSWORD, TestApp, engines, error_fields, expect_problem};

/// Asserts `res` has `status` and returns its JSON body (the body is shown when it does not).
async fn expect_json(res: Response, status: u16) -> Value {
    let (code, url) = (res.status().as_u16(), res.url().clone());
    let text = res.text().await.unwrap();
    assert_eq!(code, status, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

async fn register(app: &TestApp, body: &Value) -> Response {
    app.post("/api/v1/auth/register").json(body).send().await.unwrap()
}

async fn login(app: &TestApp, email: &str, password: &str) -> Response {
    app.post("/api/v1/auth/login").json(&json!({"email": email, "password": password})).send().await.unwrap()
}

async fn refresh(app: &TestApp, token: &str) -> Response {
    app.post("/api/v1/auth/refresh").json(&json!({"refresh_token": token})).send().await.unwrap()
}

async fn me(app: &TestApp, token: &str) -> Response {
    app.get("/api/v1/auth/me").bearer_auth(token).send().await.unwrap()
}

fn header(res: &Response, name: &str) -> String {
    res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

async fn register_creates_a_user_at_its_location(app: TestApp) {
    let res =
        register(&app, &json!({"username": "Ann.Lee_1", "email": "Ann.Lee@Example.COM", "password": PASSWORD})).await;
    let location = header(&res, "location");
    let created = expect_json(res, 201).await;
    let id = created["id"].as_i64().expect("a numeric id");
    assert!(id > 0);
    assert_eq!(location, format!("/api/v1/users/{id}"));
    assert_eq!(created["username"], "Ann.Lee_1");
    assert_eq!(created["email"], "ann.lee@example.com", "emails are stored lower-cased");
    assert_eq!(created["role"], "user");
    assert_eq!(created["status"], "active");
    assert_eq!(created["totp_enabled"], false);
    for nullable in ["first_name", "last_name", "bio", "avatar_url"] {
        assert!(created[nullable].is_null(), "{nullable}: {created}");
    }
    for secret in ["password", "password_hash"] {
        assert!(created.get(secret).is_none(), "{secret} must never be sent: {created}");
    }
    for stamp in ["created_at", "updated_at"] {
        let text = created[stamp].as_str().expect("a timestamp string");
        assert!(text.ends_with('Z') && text.contains('T'), "{stamp} must be RFC 3339 in UTC: {text}");
    }

    // Signing in with the email in any case works, and the stored user reads back identically.
    let account = app.login("ANN.LEE@example.com", PASSWORD).await;
    assert_eq!(account.id, id);
    let at_location =
        expect_json(app.get(&location).bearer_auth(&account.access_token).send().await.unwrap(), 200).await;
    assert_eq!(at_location, created);
    assert_eq!(expect_json(me(&app, &account.access_token).await, 200).await, created);
}

async fn register_lists_every_missing_field(app: TestApp) {
    let problem = expect_problem(register(&app, &json!({})).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["email", "password", "username"], "{problem}");
    assert!(problem["type"].as_str().unwrap().ends_with("validation-error"), "{problem}");

    let problem = expect_problem(register(&app, &json!({"username": "ann"})).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["email", "password"], "{problem}");
}

async fn register_validates_each_field(app: TestApp) {
    let valid = json!({"username": "ann", "email": "ann@example.com", "password": PASSWORD});
    let cases: &[(&str, Value)] = &[
        ("username", json!("ab")),
        ("username", json!("  ab  ")),
        ("username", json!("bad name")),
        ("username", json!("x".repeat(33))),
        ("username", json!("Été")),
        ("email", json!("not-an-email")),
        ("email", json!("ann@localhost")),
        ("email", json!("a b@example.com")),
        ("password", json!("1234567")),
        ("password", json!("x".repeat(73))),
        // 25 three-byte characters: 25 characters but 75 bytes, over bcrypt's 72.
        ("password", json!("€".repeat(25))),
    ];
    for (field, value) in cases {
        let mut body = valid.clone();
        body[*field] = value.clone();
        let problem = expect_problem(register(&app, &body).await, 422).await;
        assert_eq!(error_fields(&problem), [*field], "{field} = {value}: {problem}");
    }

    // The limits themselves are allowed, and such a password signs in.
    let long_ascii = "x".repeat(72);
    let long_euro = "€".repeat(24);
    let name32 = "n".repeat(32);
    for (username, password) in [("abc", long_ascii.as_str()), (name32.as_str(), long_euro.as_str())] {
        let email = format!("{username}@example.com");
        let res = register(&app, &json!({"username": username, "email": email, "password": password})).await;
        expect_json(res, 201).await;
        let account = app.login(&email, password).await;
        assert_eq!(account.username, username);
    }
    // Nothing was created by the refused attempts.
    let account = app.login("abc@example.com", &long_ascii).await;
    let list =
        expect_json(app.get("/api/v1/users").bearer_auth(&account.access_token).send().await.unwrap(), 200).await;
    assert_eq!(list["pagination"]["total"], 2, "{list}");
}

async fn register_conflicts_on_taken_email_or_username_in_any_case(app: TestApp) {
    expect_json(
        register(&app, &json!({"username": "ann", "email": "ann@example.com", "password": PASSWORD})).await,
        201,
    )
    .await;

    let res = register(&app, &json!({"username": "other", "email": "ANN@Example.com", "password": PASSWORD})).await;
    let problem = expect_problem(res, 409).await;
    assert_eq!(error_fields(&problem), ["email"], "{problem}");

    let res = register(&app, &json!({"username": "ANN", "email": "other@example.com", "password": PASSWORD})).await;
    let problem = expect_problem(res, 409).await;
    assert_eq!(error_fields(&problem), ["username"], "{problem}");

    // The refused registrations left nothing behind: "other" can still sign up with either value.
    expect_json(
        register(&app, &json!({"username": "other", "email": "other@example.com", "password": PASSWORD})).await,
        201,
    )
    .await;
}

async fn register_refuses_malformed_bodies(app: TestApp) {
    let url = "/api/v1/auth/register";
    let res = app.post(url).header("content-type", "application/json").body("{not json").send().await.unwrap();
    expect_problem(res, 400).await;
    let valid = json!({"username": "ann", "email": "ann@example.com", "password": PASSWORD}).to_string();
    let res = app.post(url).header("content-type", "text/plain").body(valid.clone()).send().await.unwrap();
    expect_problem(res, 400).await;
    let res = app.post(url).body(valid).send().await.unwrap();
    expect_problem(res, 400).await;

    let res = register(&app, &json!({"username": 5, "email": "ann@example.com", "password": PASSWORD})).await;
    let problem = expect_problem(res, 422).await;
    assert_eq!(error_fields(&problem), ["username"], "{problem}");
    let res = register(&app, &json!({"username": null, "email": "ann@example.com", "password": PASSWORD})).await;
    let problem = expect_problem(res, 422).await;
    assert_eq!(error_fields(&problem), ["username"], "{problem}");
    let problem = expect_problem(register(&app, &json!(["ann"])).await, 422).await;
    assert!(!error_fields(&problem).is_empty(), "{problem}");

    // Unknown fields are ignored, and a client cannot pick its own role or status.
    let res = register(
        &app,
        &json!({"username": "ann", "email": "ann@example.com", "password": PASSWORD,
                "role": "super_admin", "status": "disabled", "colour": "red"}),
    )
    .await;
    let user = expect_json(res, 201).await;
    assert_eq!((&user["role"], &user["status"]), (&json!("user"), &json!("active")), "{user}");
}

/// The contract: "A 422 lists every failing field at once". A wrong JSON type in one field must
/// not hide the other fields' errors.
async fn register_lists_type_errors_together_with_other_invalid_fields(app: TestApp) {
    let res = register(&app, &json!({"username": 5, "email": "nope", "password": "short"})).await;
    let problem = expect_problem(res, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["email", "password", "username"], "{problem}");
}

async fn login_returns_a_token_pair_and_the_user(app: TestApp) {
    let ann = app.signup("ann").await;
    let res = login(&app, "ann@example.com", PASSWORD).await;
    assert_eq!(header(&res, "cache-control"), "no-store");
    let body = expect_json(res, 200).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["id"], ann.id);
    assert_eq!(body["user"]["email"], "ann@example.com");
    let access = body["access_token"].as_str().unwrap();
    let refresh_token = body["refresh_token"].as_str().unwrap();
    assert_eq!(access.split('.').count(), 3, "the access token is a JWT");
    assert!(refresh_token.len() >= 43, "a refresh token carries at least 256 bits: {refresh_token}");
    assert_ne!(refresh_token, ann.refresh_token, "each sign-in gets its own refresh token");

    let me_body = expect_json(me(&app, access).await, 200).await;
    assert_eq!(me_body["id"], ann.id);
    assert_eq!(me_body["username"], "ann");
    assert_eq!(me_body["email"], "ann@example.com");
    assert_eq!(me_body, body["user"]);

    // The email compares case-insensitively (and surrounding spaces do not matter).
    expect_json(login(&app, "ANN@EXAMPLE.COM", PASSWORD).await, 200).await;
    expect_json(login(&app, " Ann@Example.com ", PASSWORD).await, 200).await;
    // The password does not.
    expect_problem(login(&app, "ann@example.com", &PASSWORD.to_uppercase()).await, 401).await;
}

async fn login_failures_look_the_same(app: TestApp) {
    app.signup("ann").await;
    let wrong_password = expect_problem(login(&app, "ann@example.com", "not the password").await, 401).await;
    let unknown_email = expect_problem(login(&app, "nobody@example.com", PASSWORD).await, 401).await;
    let malformed_email = expect_problem(login(&app, "nobody", PASSWORD).await, 401).await;
    for other in [&unknown_email, &malformed_email] {
        assert_eq!(wrong_password["type"], other["type"]);
        assert_eq!(wrong_password["title"], other["title"]);
        assert_eq!(wrong_password["detail"], other["detail"]);
    }

    let res = app.post("/api/v1/auth/login").json(&json!({"email": "ann@example.com"})).send().await.unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(error_fields(&problem), ["password"], "{problem}");
    let problem = expect_problem(app.post("/api/v1/auth/login").json(&json!({})).send().await.unwrap(), 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["email", "password"], "{problem}");
    let res = app.post("/api/v1/auth/login").header("content-type", "application/json").body("email=ann").send().await;
    expect_problem(res.unwrap(), 400).await;
}

async fn token_lifetimes_follow_the_settings(app: TestApp) {
    let app = TestApp::spawn_with(app.backend, |s| {
        s.auth.access_token_ttl = Duration::from_secs(120);
        s.auth.refresh_token_ttl = Duration::from_secs(1);
    })
    .await
    .expect("the backend was reachable a moment ago");
    app.signup("ann").await;
    let body = expect_json(login(&app, "ann@example.com", PASSWORD).await, 200).await;
    assert_eq!(body["expires_in"], 120);
    let old = body["refresh_token"].as_str().unwrap().to_owned();
    let fresh = expect_json(refresh(&app, &old).await, 200).await;
    assert_eq!(fresh["expires_in"], 120);

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let problem = expect_problem(refresh(&app, fresh["refresh_token"].as_str().unwrap()).await, 401).await;
    assert!(problem["type"].as_str().unwrap().ends_with("invalid-token"), "{problem}");
}

async fn refresh_rotates_and_reuse_revokes_the_family(app: TestApp) {
    let ann = app.signup("ann").await;
    let other_session = app.login(&ann.email, PASSWORD).await;

    // No Bearer header is needed.
    let res = refresh(&app, &ann.refresh_token).await;
    assert_eq!(header(&res, "cache-control"), "no-store");
    let pair = expect_json(res, 200).await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["user"]["id"], ann.id);
    assert_eq!(pair["user"]["email"], ann.email);
    let new_refresh = pair["refresh_token"].as_str().unwrap();
    let new_access = pair["access_token"].as_str().unwrap();
    assert_ne!(new_refresh, ann.refresh_token);
    assert_eq!(expect_json(me(&app, new_access).await, 200).await["id"], ann.id);

    // The presented token stopped working; presenting it again revokes the new one too, and
    // ends every access token issued before (the thief's and the rightful client's alike).
    expect_problem(refresh(&app, &ann.refresh_token).await, 401).await;
    expect_problem(refresh(&app, new_refresh).await, 401).await;
    expect_problem(me(&app, new_access).await, 401).await;
    expect_problem(me(&app, &ann.access_token).await, 401).await;
    expect_problem(me(&app, &other_session.access_token).await, 401).await;

    // Another sign-in is another family: its refresh token still works, and brings access again.
    let other = expect_json(refresh(&app, &other_session.refresh_token).await, 200).await;
    let again = expect_json(refresh(&app, other["refresh_token"].as_str().unwrap()).await, 200).await;
    expect_json(me(&app, again["access_token"].as_str().unwrap()).await, 200).await;
}

async fn concurrent_refreshes_of_one_token_yield_one_pair(app: TestApp) {
    let ann = app.signup("ann").await;
    let (a, b) = tokio::join!(refresh(&app, &ann.refresh_token), refresh(&app, &ann.refresh_token));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "exactly one exchange of a token may succeed");
    let winner = if a.status() == StatusCode::OK { a } else { b };
    let pair: Value = winner.json().await.unwrap();
    // The second presentation was reuse: the whole family, including the pair just issued, is gone.
    expect_problem(refresh(&app, pair["refresh_token"].as_str().unwrap()).await, 401).await;
}

async fn refresh_refuses_bad_tokens(app: TestApp) {
    let ann = app.signup("ann").await;
    for garbage in ["garbage", &"0".repeat(64), &ann.access_token] {
        let problem = expect_problem(refresh(&app, garbage).await, 401).await;
        assert!(problem["type"].as_str().unwrap().ends_with("invalid-token"), "{problem}");
    }
    for body in [json!({}), json!({"refresh_token": ""}), json!({"refresh_token": null}), json!({"refresh_token": 5})] {
        let problem = expect_problem(app.post("/api/v1/auth/refresh").json(&body).send().await.unwrap(), 422).await;
        assert_eq!(error_fields(&problem), ["refresh_token"], "{body}: {problem}");
    }
    let res = app.post("/api/v1/auth/refresh").header("content-type", "text/plain").body("x").send().await.unwrap();
    expect_problem(res, 400).await;
    // None of that disturbed the real token.
    expect_json(refresh(&app, &ann.refresh_token).await, 200).await;
}

async fn logout_revokes_the_session(app: TestApp) {
    let ann = app.signup("ann").await;
    let other_session = app.login(&ann.email, PASSWORD).await;
    let logout = |token: &str| app.post("/api/v1/auth/logout").json(&json!({"refresh_token": token})).send();

    let res = logout(&ann.refresh_token).await.unwrap();
    assert_eq!(res.status(), 204);
    assert!(res.bytes().await.unwrap().is_empty());
    expect_problem(refresh(&app, &ann.refresh_token).await, 401).await;
    // Signing out twice, or with a token the server never issued, still answers 204.
    assert_eq!(logout(&ann.refresh_token).await.unwrap().status(), 204);
    assert_eq!(logout("never-issued").await.unwrap().status(), 204);
    let problem = expect_problem(app.post("/api/v1/auth/logout").json(&json!({})).send().await.unwrap(), 422).await;
    assert_eq!(error_fields(&problem), ["refresh_token"]);

    // Other sessions are not signed out.
    let rotated = expect_json(refresh(&app, &other_session.refresh_token).await, 200).await;
    let current = rotated["refresh_token"].as_str().unwrap();
    // Signing out with an already-rotated token of a family ends the family's current token too.
    assert_eq!(logout(&other_session.refresh_token).await.unwrap().status(), 204);
    expect_problem(refresh(&app, current).await, 401).await;
}

async fn me_needs_a_valid_bearer_token(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;

    let res = app.get("/api/v1/auth/me").send().await.unwrap();
    assert_eq!(header(&res, "www-authenticate"), "Bearer");
    expect_problem(res, 401).await;

    // Access token with another user's claims spliced in (the signature no longer matches), an
    // unsigned token claiming to be ann, a refresh token and junk.
    let [header_part, _, signature] = ann.access_token.splitn(3, '.').collect::<Vec<_>>()[..] else {
        panic!("not a JWT: {}", ann.access_token)
    };
    let bob_claims = bob.access_token.split('.').nth(1).unwrap();
    let ann_claims = ann.access_token.split('.').nth(1).unwrap();
    let spliced = format!("{header_part}.{bob_claims}.{signature}");
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{ann_claims}.");
    for token in [spliced.as_str(), unsigned.as_str(), &ann.refresh_token, "garbage", "a.b.c"] {
        let res = me(&app, token).await;
        let challenge = header(&res, "www-authenticate");
        assert!(challenge.starts_with("Bearer"), "{token}: challenge {challenge:?}");
        expect_problem(res, 401).await;
    }

    let basic = app.get("/api/v1/auth/me").header("authorization", "Basic YW5uOnBhc3N3b3Jk").send().await.unwrap();
    assert!(header(&basic, "www-authenticate").starts_with("Bearer"));
    expect_problem(basic, 401).await;
    let bare = app.get("/api/v1/auth/me").header("authorization", &ann.access_token).send().await.unwrap();
    expect_problem(bare, 401).await;

    // The scheme name is case-insensitive (RFC 9110).
    let res = app.get("/api/v1/auth/me").header("authorization", format!("bearer {}", ann.access_token)).send().await;
    assert_eq!(expect_json(res.unwrap(), 200).await["id"], ann.id);
}

async fn tokens_of_another_deployment_are_refused(app: TestApp) {
    let ann = app.signup("ann").await;
    let elsewhere = TestApp::spawn_with(app.backend, |s| {
        s.auth.jwt_secret = Some("another-secret-of-at-least-thirty-two-bytes".into());
    })
    .await
    .expect("the backend was reachable a moment ago");
    let impostor: Account = elsewhere.signup("ann").await;
    assert_eq!(impostor.id, ann.id, "both databases are fresh, so the ids (the `sub` claims) match");
    let res = me(&app, &impostor.access_token).await;
    assert!(header(&res, "www-authenticate").starts_with("Bearer"));
    expect_problem(res, 401).await;
    expect_problem(refresh(&app, &impostor.refresh_token).await, 401).await;
}

engines!(
    register_creates_a_user_at_its_location,
    register_lists_every_missing_field,
    register_validates_each_field,
    register_conflicts_on_taken_email_or_username_in_any_case,
    register_refuses_malformed_bodies,
    login_returns_a_token_pair_and_the_user,
    login_failures_look_the_same,
    token_lifetimes_follow_the_settings,
    refresh_rotates_and_reuse_revokes_the_family,
    concurrent_refreshes_of_one_token_yield_one_pair,
    refresh_refuses_bad_tokens,
    logout_revokes_the_session,
    me_needs_a_valid_bearer_token,
    tokens_of_another_deployment_are_refused,
);

/// `engines!` for a case that exposes a known server bug: both variants are ignored with
/// `reason`, so `cargo test -- --ignored` shows whether the bug is still there.
#[macro_export]
macro_rules! known_bug {
    ($reason:literal, $case:ident) => {
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = $reason]
            async fn sqlite() {
                let app =
                    workbench_e2e::TestApp::spawn(workbench_e2e::Backend::Sqlite).await.expect("SQLite always works");
                super::$case(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = $reason]
            async fn postgres() {
                if let Some(app) = workbench_e2e::TestApp::spawn(workbench_e2e::Backend::Postgres).await {
                    super::$case(app).await;
                }
            }
        }
    };
}

engines!(register_lists_type_errors_together_with_other_invalid_fields);
