//! Account administration: roles, status and deletion.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use workbench_e2e::{Account, PASSWORD, TestApp, engines, error_fields, expect_problem};

/// Asserts `res` has `status` and returns its JSON body (the body is shown when it does not).
async fn expect_json(res: Response, status: u16) -> Value {
    let (code, url) = (res.status().as_u16(), res.url().clone());
    let text = res.text().await.unwrap();
    assert_eq!(code, status, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

async fn administer(app: &TestApp, actor: &Account, id: i64, body: &Value) -> Response {
    app.request(Method::PATCH, &format!("/api/v1/admin/users/{id}"))
        .bearer_auth(&actor.access_token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn delete(app: &TestApp, actor: &Account, id: i64) -> Response {
    app.request(Method::DELETE, &format!("/api/v1/admin/users/{id}"))
        .bearer_auth(&actor.access_token)
        .send()
        .await
        .unwrap()
}

async fn user(app: &TestApp, viewer: &Account, id: i64) -> Value {
    let res = app.get(&format!("/api/v1/users/{id}")).bearer_auth(&viewer.access_token).send().await.unwrap();
    expect_json(res, 200).await
}

async fn me(app: &TestApp, who: &Account) -> Response {
    app.get("/api/v1/auth/me").bearer_auth(&who.access_token).send().await.unwrap()
}

async fn refresh(app: &TestApp, token: &str) -> Response {
    app.post("/api/v1/auth/refresh").json(&json!({"refresh_token": token})).send().await.unwrap()
}

async fn login(app: &TestApp, email: &str, password: &str) -> Response {
    app.post("/api/v1/auth/login").json(&json!({"email": email, "password": password})).send().await.unwrap()
}

async fn admins_change_role_and_status(app: TestApp) {
    let ann = app.signup("ann").await;
    let admin = app.signup_with_role("adm", "admin").await;

    let updated = expect_json(administer(&app, &admin, ann.id, &json!({"role": "moderator"})).await, 200).await;
    assert_eq!(updated["id"], ann.id);
    assert_eq!(updated["role"], "moderator");
    assert_eq!(updated["status"], "active");
    assert_eq!(updated["email"], "ann@example.com", "admins see emails");
    assert_eq!(user(&app, &admin, ann.id).await["role"], "moderator");
    assert_eq!(expect_json(me(&app, &ann).await, 200).await["role"], "moderator");

    let unchanged = expect_json(administer(&app, &admin, ann.id, &json!({})).await, 200).await;
    assert_eq!((&unchanged["role"], &unchanged["status"]), (&json!("moderator"), &json!("active")));

    let updated =
        expect_json(administer(&app, &admin, ann.id, &json!({"role": "user", "status": "disabled"})).await, 200).await;
    assert_eq!((&updated["role"], &updated["status"]), (&json!("user"), &json!("disabled")));
    let updated =
        expect_json(administer(&app, &admin, ann.id, &json!({"status": "active", "colour": "red"})).await, 200).await;
    assert_eq!((&updated["role"], &updated["status"]), (&json!("user"), &json!("active")));
}

async fn only_admins_administer(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let moderator = app.signup_with_role("mod", "moderator").await;
    let admin = app.signup_with_role("adm", "admin").await;

    for actor in [&ann, &moderator] {
        expect_problem(administer(&app, actor, bob.id, &json!({"status": "disabled"})).await, 403).await;
        expect_problem(administer(&app, actor, bob.id, &json!({"role": "admin"})).await, 403).await;
        expect_problem(administer(&app, actor, actor.id, &json!({"role": "admin"})).await, 403).await;
        expect_problem(delete(&app, actor, bob.id).await, 403).await;
    }
    let bob_now = user(&app, &admin, bob.id).await;
    assert_eq!((&bob_now["role"], &bob_now["status"]), (&json!("user"), &json!("active")));
    assert_eq!(expect_json(me(&app, &ann).await, 200).await["role"], "user");

    let res = app.request(Method::PATCH, &format!("/api/v1/admin/users/{}", bob.id)).json(&json!({})).send().await;
    let res = res.unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    expect_problem(res, 401).await;
    expect_problem(app.request(Method::DELETE, &format!("/api/v1/admin/users/{}", bob.id)).send().await.unwrap(), 401)
        .await;

    expect_problem(administer(&app, &admin, 999_999, &json!({"status": "disabled"})).await, 404).await;
    expect_problem(delete(&app, &admin, 999_999).await, 404).await;
    let res = app
        .request(Method::PATCH, "/api/v1/admin/users/xyz")
        .bearer_auth(&admin.access_token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_problem(res, 400).await;
    let res = app.request(Method::DELETE, "/api/v1/admin/users/xyz").bearer_auth(&admin.access_token).send().await;
    expect_problem(res.unwrap(), 400).await;
}

async fn admin_changes_are_validated(app: TestApp) {
    let ann = app.signup("ann").await;
    let admin = app.signup_with_role("adm", "admin").await;
    for (body, field) in [
        (json!({"role": "god"}), "role"),
        (json!({"role": "Admin"}), "role"),
        (json!({"role": 5}), "role"),
        (json!({"status": "gone"}), "status"),
        (json!({"status": true}), "status"),
        // An account always has both: null is not "leave it".
        (json!({"role": null}), "role"),
        (json!({"status": null, "role": "moderator"}), "status"),
    ] {
        let problem = expect_problem(administer(&app, &admin, ann.id, &body).await, 422).await;
        assert_eq!(error_fields(&problem), [field], "{body}: {problem}");
    }
    let res = app
        .request(Method::PATCH, &format!("/api/v1/admin/users/{}", ann.id))
        .bearer_auth(&admin.access_token)
        .header("content-type", "application/json")
        .body("role=admin")
        .send()
        .await
        .unwrap();
    expect_problem(res, 400).await;
    let ann_now = user(&app, &admin, ann.id).await;
    assert_eq!((&ann_now["role"], &ann_now["status"]), (&json!("user"), &json!("active")));
}

/// The contract: "A 422 lists every failing field at once".
async fn invalid_role_and_status_are_listed_together(app: TestApp) {
    let ann = app.signup("ann").await;
    let admin = app.signup_with_role("adm", "admin").await;
    let problem =
        expect_problem(administer(&app, &admin, ann.id, &json!({"role": "god", "status": "gone"})).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["role", "status"], "{problem}");
}

async fn nobody_acts_above_their_rank(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let admin = app.signup_with_role("adm", "admin").await;
    let root = app.signup_with_role("root", "super_admin").await;

    // An admin cannot grant super_admin, even together with an allowed change; nothing applies.
    expect_problem(administer(&app, &admin, ann.id, &json!({"role": "super_admin"})).await, 403).await;
    let res = administer(&app, &admin, ann.id, &json!({"role": "super_admin", "status": "disabled"})).await;
    expect_problem(res, 403).await;
    let ann_now = user(&app, &admin, ann.id).await;
    assert_eq!((&ann_now["role"], &ann_now["status"]), (&json!("user"), &json!("active")));

    // Nor act on their own account, nor on an account that outranks them.
    for body in [json!({"status": "disabled"}), json!({"role": "user"}), json!({})] {
        expect_problem(administer(&app, &admin, admin.id, &body).await, 403).await;
        expect_problem(administer(&app, &admin, root.id, &body).await, 403).await;
    }
    expect_problem(delete(&app, &admin, admin.id).await, 403).await;
    expect_problem(delete(&app, &admin, root.id).await, 403).await;
    expect_problem(administer(&app, &root, root.id, &json!({"role": "user"})).await, 403).await;
    let root_now = user(&app, &admin, root.id).await;
    assert_eq!((&root_now["role"], &root_now["status"]), (&json!("super_admin"), &json!("active")));
    assert_eq!(expect_json(me(&app, &admin).await, 200).await["role"], "admin");

    // Granting one's own rank is allowed; a super admin may grant admin and super_admin.
    let updated = expect_json(administer(&app, &admin, ann.id, &json!({"role": "admin"})).await, 200).await;
    assert_eq!(updated["role"], "admin");
    let updated = expect_json(administer(&app, &root, bob.id, &json!({"role": "admin"})).await, 200).await;
    assert_eq!(updated["role"], "admin");
    let updated = expect_json(administer(&app, &root, bob.id, &json!({"role": "super_admin"})).await, 200).await;
    assert_eq!(updated["role"], "super_admin");
    // Bob now outranks the admin.
    expect_problem(administer(&app, &admin, bob.id, &json!({"status": "disabled"})).await, 403).await;
}

async fn disabling_cuts_off_access_at_once(app: TestApp) {
    let ann = app.signup("ann").await;
    let other_session = app.login(&ann.email, PASSWORD).await;
    let admin = app.signup_with_role("adm", "admin").await;
    expect_json(me(&app, &ann).await, 200).await;

    let updated = expect_json(administer(&app, &admin, ann.id, &json!({"status": "disabled"})).await, 200).await;
    assert_eq!(updated["status"], "disabled");

    let res = me(&app, &ann).await;
    assert!(res.headers().contains_key("www-authenticate"));
    expect_problem(res, 401).await;
    let res = app.get("/api/v1/users").bearer_auth(&other_session.access_token).send().await.unwrap();
    expect_problem(res, 401).await;
    for token in [&ann.refresh_token, &other_session.refresh_token] {
        expect_problem(refresh(&app, token).await, 401).await;
    }
    let problem = expect_problem(login(&app, &ann.email, PASSWORD).await, 403).await;
    assert!(problem["type"].as_str().unwrap().ends_with("account-disabled"), "{problem}");
    // A wrong password does not learn that the account exists and is disabled.
    let problem = expect_problem(login(&app, &ann.email, "not the password").await, 401).await;
    assert!(problem["type"].as_str().unwrap().ends_with("invalid-credentials"), "{problem}");

    expect_json(administer(&app, &admin, ann.id, &json!({"status": "active"})).await, 200).await;
    let back = app.login(&ann.email, PASSWORD).await;
    assert_eq!(expect_json(me(&app, &back).await, 200).await["status"], "active");
    expect_json(refresh(&app, &back.refresh_token).await, 200).await;
    // The refresh tokens revoked by disabling stay revoked.
    expect_problem(refresh(&app, &other_session.refresh_token).await, 401).await;
}

/// The contract: "disabling a user revokes their tokens". An access token issued before the
/// account was disabled should not come back to life when the account is re-enabled.
async fn access_tokens_stay_revoked_after_reenabling(app: TestApp) {
    let ann = app.signup("ann").await;
    let admin = app.signup_with_role("adm", "admin").await;
    expect_json(administer(&app, &admin, ann.id, &json!({"status": "disabled"})).await, 200).await;
    expect_problem(me(&app, &ann).await, 401).await;
    expect_json(administer(&app, &admin, ann.id, &json!({"status": "active"})).await, 200).await;
    expect_problem(me(&app, &ann).await, 401).await;
}

async fn role_changes_apply_at_once(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let root = app.signup_with_role("root", "super_admin").await;

    // Ann keeps using the token she got as a plain user.
    expect_problem(administer(&app, &ann, bob.id, &json!({"role": "moderator"})).await, 403).await;
    let bob_seen = user(&app, &ann, bob.id).await;
    assert!(bob_seen.get("email").is_none());

    expect_json(administer(&app, &root, ann.id, &json!({"role": "admin"})).await, 200).await;
    assert_eq!(expect_json(me(&app, &ann).await, 200).await["role"], "admin");
    let updated = expect_json(administer(&app, &ann, bob.id, &json!({"role": "moderator"})).await, 200).await;
    assert_eq!(updated["role"], "moderator");
    assert_eq!(user(&app, &ann, bob.id).await["email"], "bob@example.com");

    expect_json(administer(&app, &root, ann.id, &json!({"role": "user"})).await, 200).await;
    expect_problem(administer(&app, &ann, bob.id, &json!({"role": "user"})).await, 403).await;
    assert!(user(&app, &ann, bob.id).await.get("email").is_none());
    // A refreshed session reflects the current role as well.
    let pair = expect_json(refresh(&app, &ann.refresh_token).await, 200).await;
    assert_eq!(pair["user"]["role"], "user");
}

async fn deleting_a_user(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let admin = app.signup_with_role("adm", "admin").await;

    expect_problem(delete(&app, &bob, ann.id).await, 403).await;
    user(&app, &bob, ann.id).await;

    let res = delete(&app, &admin, ann.id).await;
    assert_eq!(res.status(), 204);
    assert!(res.bytes().await.unwrap().is_empty());

    for viewer in [&admin, &bob] {
        let res = app.get(&format!("/api/v1/users/{}", ann.id)).bearer_auth(&viewer.access_token).send().await;
        expect_problem(res.unwrap(), 404).await;
    }
    let list = expect_json(app.get("/api/v1/users").bearer_auth(&admin.access_token).send().await.unwrap(), 200).await;
    assert_eq!(list["pagination"]["total"], 2);
    assert!(list["data"].as_array().unwrap().iter().all(|u| u["id"] != ann.id), "{list}");

    let res = me(&app, &ann).await;
    assert!(res.headers().contains_key("www-authenticate"));
    expect_problem(res, 401).await;
    expect_problem(refresh(&app, &ann.refresh_token).await, 401).await;
    expect_problem(login(&app, &ann.email, PASSWORD).await, 401).await;
    expect_problem(delete(&app, &admin, ann.id).await, 404).await;
    expect_problem(administer(&app, &admin, ann.id, &json!({"status": "active"})).await, 404).await;

    // The email and username are free again, for a new account with a new id.
    let again = app.signup("ann").await;
    assert_ne!(again.id, ann.id);
    expect_problem(me(&app, &ann).await, 401).await;
}

engines!(
    admins_change_role_and_status,
    only_admins_administer,
    admin_changes_are_validated,
    nobody_acts_above_their_rank,
    disabling_cuts_off_access_at_once,
    role_changes_apply_at_once,
    deleting_a_user,
);

async fn dashboard(app: &TestApp, who: &Account) -> Response {
    app.get("/api/v1/admin/dashboard").bearer_auth(&who.access_token).send().await.unwrap()
}

async fn the_dashboard_counts_the_platform_for_admins(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let moderator = app.signup_with_role("mod", "moderator").await;
    let ann = app.signup("ann").await;
    for title in ["One", "Two"] {
        let res = app.post("/api/v1/tasks").bearer_auth(&ann.access_token).json(&json!({"title": title})).send();
        assert_eq!(res.await.unwrap().status(), 201);
    }
    let counts = expect_json(dashboard(&app, &admin).await, 200).await;
    let sessions = counts["active_sessions"].as_u64().unwrap();
    assert!(sessions >= 3, "everyone is signed in: {counts}");
    assert_eq!(
        counts,
        json!({"users_count": 3, "tasks_count": 2, "products_count": 0, "files_count": 0,
               "new_users_today": 3, "active_sessions": sessions})
    );

    // A second sign-in of Ann is one more live session; signing out of it ends it again.
    let again = app.login(&ann.email, PASSWORD).await;
    assert_eq!(expect_json(dashboard(&app, &admin).await, 200).await["active_sessions"], sessions + 1);
    let res = app.post("/api/v1/auth/logout").json(&json!({"refresh_token": again.refresh_token})).send();
    assert_eq!(res.await.unwrap().status(), 204);
    assert_eq!(expect_json(dashboard(&app, &admin).await, 200).await["active_sessions"], sessions);

    for who in [&moderator, &ann] {
        expect_problem(dashboard(&app, who).await, 403).await;
    }
    expect_problem(app.get("/api/v1/admin/dashboard").send().await.unwrap(), 401).await;
}

engines!(invalid_role_and_status_are_listed_together);
engines!(the_dashboard_counts_the_platform_for_admins);
engines!(access_tokens_stay_revoked_after_reenabling);
