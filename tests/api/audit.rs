//! The audit trail: every security-relevant action leaves an entry that admins can read and filter.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use workbench_e2e::{Account, PASSWORD, TestApp, engines, error_fields, expect_problem};

engines!(
    sign_ins_and_failures_are_recorded_with_ip_and_user_agent,
    sessions_and_account_changes_are_recorded,
    two_factor_changes_are_recorded,
    filters_and_pages,
    only_admins_read_the_trail,
);

async fn json_of(res: Response, status: u16) -> Value {
    let (code, url) = (res.status().as_u16(), res.url().clone());
    let text = res.text().await.unwrap();
    assert_eq!(code, status, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

/// The entries `admin` reads with `query` (`action=login&...`), newest first.
async fn trail(app: &TestApp, admin: &Account, query: &str) -> Vec<Value> {
    let res = app.get(&format!("/api/v1/admin/audit?per_page=100&{query}")).bearer_auth(&admin.access_token);
    let body = json_of(res.send().await.unwrap(), 200).await;
    body["data"].as_array().unwrap().clone()
}

/// The one entry of `action` about `target`; fails unless there is exactly one.
async fn only_entry(app: &TestApp, admin: &Account, action: &str, target: i64) -> Value {
    let entries: Vec<Value> =
        trail(app, admin, &format!("action={action}")).await.into_iter().filter(|e| e["target_id"] == target).collect();
    assert_eq!(entries.len(), 1, "one {action} entry about user {target}: {entries:?}");
    entries.into_iter().next().unwrap()
}

async fn login_as(app: &TestApp, email: &str, password: &str, agent: &str) -> Response {
    app.post("/api/v1/auth/login")
        .header("User-Agent", agent)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn sign_ins_and_failures_are_recorded_with_ip_and_user_agent(app: TestApp) {
    let admin = app.signup_with_role("adm", "admin").await;
    let ann = app.signup("ann").await;
    assert_eq!(login_as(&app, &ann.email, PASSWORD, "Firefox/140").await.status(), 200);
    assert_eq!(login_as(&app, &ann.email, "wrong password", "curl/8.5").await.status(), 401);
    assert_eq!(login_as(&app, "ghost@example.com", PASSWORD, "curl/8.5").await.status(), 401);

    let logins: Vec<Value> =
        trail(&app, &admin, "action=login").await.into_iter().filter(|e| e["actor_id"] == ann.id).collect();
    assert_eq!(logins.len(), 2, "signup's login and the Firefox one: {logins:?}");
    let latest = &logins[0];
    assert_eq!(latest["user_agent"], "Firefox/140");
    assert_eq!(latest["ip"], "127.0.0.1");
    assert_eq!(latest["target_id"], ann.id);
    assert_eq!(latest["details"]["method"], "password");
    assert!(latest["created_at"].as_str().unwrap().ends_with('Z'));

    let failures = trail(&app, &admin, "action=login_failed").await;
    assert_eq!(failures.len(), 2, "{failures:?}");
    let (ghost, wrong) = (&failures[0], &failures[1]);
    assert_eq!(wrong["target_id"], ann.id);
    assert_eq!(wrong["details"]["reason"], "wrong_password");
    assert_eq!(wrong["user_agent"], "curl/8.5");
    assert_eq!((ghost["target_id"].clone(), ghost["actor_id"].clone()), (Value::Null, Value::Null));
    assert_eq!(ghost["details"]["email"], "ghost@example.com");
    assert_eq!(ghost["details"]["reason"], "unknown_email");
    assert!(!ghost.to_string().contains(PASSWORD), "passwords never reach the trail");
}

async fn sessions_and_account_changes_are_recorded(app: TestApp) {
    let admin = app.signup_with_role("adm", "admin").await;
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;

    // Logout.
    let res = app.post("/api/v1/auth/logout").json(&json!({"refresh_token": ann.refresh_token})).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(only_entry(&app, &admin, "logout", ann.id).await["actor_id"], ann.id);

    // Refresh-token reuse.
    let first = app.login(&ann.email, PASSWORD).await;
    let rotated = app.post("/api/v1/auth/refresh").json(&json!({"refresh_token": first.refresh_token}));
    assert_eq!(rotated.send().await.unwrap().status(), 200);
    let replayed = app.post("/api/v1/auth/refresh").json(&json!({"refresh_token": first.refresh_token}));
    assert_eq!(replayed.send().await.unwrap().status(), 401);
    only_entry(&app, &admin, "refresh_token_reuse", ann.id).await;

    // Password change.
    let res = app
        .request(Method::PUT, "/api/v1/users/me/password")
        .bearer_auth(&bob.access_token)
        .json(&json!({"current_password": PASSWORD, "new_password": "another long password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(only_entry(&app, &admin, "password_changed", bob.id).await["actor_id"], bob.id);

    // Role and status, in one request: two entries, by the admin.
    let res = app
        .request(Method::PATCH, &format!("/api/v1/admin/users/{}", ann.id))
        .bearer_auth(&admin.access_token)
        .json(&json!({"role": "moderator", "status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let role = only_entry(&app, &admin, "role_changed", ann.id).await;
    assert_eq!(
        (role["actor_id"].clone(), role["details"].clone()),
        (json!(admin.id), json!({"from": "user", "to": "moderator"}))
    );
    let status = only_entry(&app, &admin, "status_changed", ann.id).await;
    assert_eq!(status["details"], json!({"from": "active", "to": "disabled"}));
    // Sending the same values again changes nothing and records nothing.
    let again = app
        .request(Method::PATCH, &format!("/api/v1/admin/users/{}", ann.id))
        .bearer_auth(&admin.access_token)
        .json(&json!({"role": "moderator"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    only_entry(&app, &admin, "role_changed", ann.id).await;
    // A disabled account's sign-in is refused and recorded.
    assert_eq!(login_as(&app, &ann.email, PASSWORD, "x").await.status(), 403);
    assert_eq!(only_entry(&app, &admin, "login_failed", ann.id).await["details"]["reason"], "account_disabled");

    // Deletion: the entry outlives the account.
    let res = app
        .request(Method::DELETE, &format!("/api/v1/admin/users/{}", bob.id))
        .bearer_auth(&admin.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let deleted = only_entry(&app, &admin, "user_deleted", bob.id).await;
    assert_eq!((deleted["actor_id"].clone(), deleted["details"]["username"].clone()), (json!(admin.id), json!("bob")));
    only_entry(&app, &admin, "password_changed", bob.id).await;
}

/// The code an authenticator app shows for `secret` now, or `steps` periods later.
fn code(secret: &str, steps: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    totp.generate(now + 30 * steps).to_string()
}

async fn two_factor_changes_are_recorded(app: TestApp) {
    let admin = app.signup_with_role("adm", "admin").await;
    let ann = app.signup("ann").await;
    let post = |path: &str, body: Value| app.post(path).bearer_auth(&ann.access_token).json(&body).send();
    let setup = json_of(post("/api/v1/auth/totp/setup", json!({})).await.unwrap(), 200).await;
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let enabled = json_of(
        post("/api/v1/auth/totp/enable", json!({"code": code(&secret, 0), "password": PASSWORD})).await.unwrap(),
        200,
    )
    .await;
    let recovery = enabled["recovery_codes"][0].as_str().unwrap().to_owned();
    let entry = only_entry(&app, &admin, "totp_enabled", ann.id).await;
    assert!(!entry.to_string().contains(&secret), "the secret never reaches the trail");

    let signed_in = app
        .post("/api/v1/auth/login")
        .json(&json!({"email": ann.email, "password": PASSWORD, "recovery_code": recovery}));
    assert_eq!(signed_in.send().await.unwrap().status(), 200);
    let used = only_entry(&app, &admin, "recovery_code_used", ann.id).await;
    assert_eq!(used["details"]["recovery_codes_left"], 9);
    let logins: Vec<Value> = trail(&app, &admin, &format!("action=login&actor_id={}", ann.id)).await;
    assert_eq!(logins[0]["details"]["second_factor"], "recovery_code");

    let res = post("/api/v1/auth/totp/disable", json!({"code": code(&secret, 1), "password": PASSWORD})).await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(only_entry(&app, &admin, "totp_disabled", ann.id).await["details"]["second_factor"], "totp");
}

async fn filters_and_pages(app: TestApp) {
    let admin = app.signup_with_role("adm", "admin").await;
    let ann = app.signup("ann").await;
    for _ in 0..4 {
        app.login(&ann.email, PASSWORD).await;
    }
    let mine = trail(&app, &admin, &format!("actor_id={}", ann.id)).await;
    assert_eq!(mine.len(), 5, "signup's login and four more: {mine:?}");
    assert!(mine.iter().all(|e| e["actor_id"] == ann.id));
    let ids: Vec<i64> = mine.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    let res = app.get(&format!("/api/v1/admin/audit?actor_id={}&per_page=2&page=2", ann.id));
    let res = res.bearer_auth(&admin.access_token).send().await.unwrap();
    let link = res.headers().get("link").unwrap().to_str().unwrap().to_owned();
    let page = json_of(res, 200).await;
    assert_eq!(page["pagination"], json!({"page": 2, "per_page": 2, "total": 5, "pages": 3}));
    assert_eq!(page["data"][0]["id"], ids[2]);
    assert!(link.contains("rel=\"next\"") && link.contains("rel=\"prev\"") && link.contains("actor_id="), "{link}");

    let future = trail(&app, &admin, "since=2999-01-01").await;
    assert!(future.is_empty());
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(trail(&app, &admin, &format!("since={today}")).await.len() >= 5);
    let since = trail(&app, &admin, "since=2020-01-01T00:00:00Z&action=login").await;
    assert!(since.iter().all(|e| e["action"] == "login"));

    let get = |q: &str| app.get(&format!("/api/v1/admin/audit?{q}")).bearer_auth(&admin.access_token).send();
    assert_eq!(error_fields(&expect_problem(get("action=lunch").await.unwrap(), 422).await), ["action"]);
    assert_eq!(error_fields(&expect_problem(get("page=0").await.unwrap(), 422).await), ["page"]);
    expect_problem(get("since=yesterday").await.unwrap(), 400).await;
    expect_problem(get("actor_id=abc").await.unwrap(), 400).await;
}

async fn only_admins_read_the_trail(app: TestApp) {
    let moderator = app.signup_with_role("mod", "moderator").await;
    let ann = app.signup("ann").await;
    for who in [&ann, &moderator] {
        let res = app.get("/api/v1/admin/audit?action=lunch").bearer_auth(&who.access_token).send().await.unwrap();
        expect_problem(res, 403).await;
    }
    expect_problem(app.get("/api/v1/admin/audit").send().await.unwrap(), 401).await;
    let admin = app.signup_with_role("adm", "admin").await;
    let body =
        json_of(app.get("/api/v1/admin/audit").bearer_auth(&admin.access_token).send().await.unwrap(), 200).await;
    assert!(body["pagination"]["total"].as_u64().unwrap() > 0);
}
