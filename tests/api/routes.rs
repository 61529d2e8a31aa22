//! Route groups: a process started with `WORKBENCH_ROUTES=auth,users` is the auth-and-users
//! service of a split deployment. It answers those groups, health, readiness, metrics and its own
//! OpenAPI document, and `404` problems for every other group's paths (the gateway sends those
//! elsewhere).

use reqwest::StatusCode;
use serde_json::{Value, json};
use workbench_e2e::{Backend, PASSWORD, TestApp, engines, expect_problem};

async fn a_role_serves_only_its_groups(app: TestApp) {
    let res = app
        .post("/api/v1/auth/register")
        .json(&json!({"username": "ann", "email": "ann@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap_or_default());
    let ann = app.login("ann@example.com", PASSWORD).await;
    let me = app.get("/api/v1/users/me").bearer_auth(&ann.access_token).send().await.expect("request");
    assert_eq!(me.status(), StatusCode::OK, "users is served");

    for path in [
        "/api/v1/tasks",
        "/api/v1/tasks/stats",
        "/api/v1/products",
        "/api/v1/files",
        "/api/v1/admin/audit",
        "/api/v1/system/metrics",
    ] {
        let res = app.get(path).bearer_auth(&ann.access_token).send().await.expect("request");
        expect_problem(res, 404).await;
    }
    let res = app.post("/api/v1/tasks").bearer_auth(&ann.access_token).json(&json!({"title": "x"})).send().await;
    expect_problem(res.expect("request"), 404).await;

    // The dashboard's page is served by every role, like the operational routes.
    for path in ["/health", "/ready", "/metrics", "/dashboard/"] {
        assert_eq!(app.get(path).send().await.expect("request").status(), StatusCode::OK, "{path}");
    }
    let doc: Value = app.get("/api-docs/openapi.json").send().await.expect("request").json().await.expect("JSON");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/api/v1/auth/register") && paths.contains_key("/api/v1/users/me"));
    assert!(paths.contains_key("/health"));
    assert!(!paths.keys().any(|p| p.starts_with("/api/v1/tasks")), "the document covers only what is served");
}

async fn auth_and_users(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |settings| settings.server.routes = Some("auth,users".into())).await
}

mod a_role_serves_only_its_groups {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = super::auth_and_users(super::Backend::Sqlite).await.expect("SQLite always works");
        super::a_role_serves_only_its_groups(app).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = super::auth_and_users(super::Backend::Postgres).await {
            super::a_role_serves_only_its_groups(app).await;
        }
    }
}

/// The default is unchanged: every group is served.
async fn every_group_by_default(app: TestApp) {
    let ann = app.signup("ann").await;
    let res = app.get("/api/v1/tasks").bearer_auth(&ann.access_token).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::OK);
}

engines!(every_group_by_default);
