//! Health, readiness, docs, metrics and the conventions every endpoint shares.

use serde_json::{Value, json};
use workbench_e2e::{TestApp, engines, expect_problem};

async fn health_and_readiness(app: TestApp) {
    let res = app.get("/health").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));

    let res = app.get("/ready").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
}

async fn unknown_routes_and_methods_are_problems(app: TestApp) {
    let res = app.get("/api/v1/no-such-thing").send().await.unwrap();
    expect_problem(res, 404).await;
    let res = app.request(reqwest::Method::DELETE, "/api/v1/auth/login").send().await.unwrap();
    assert_eq!(res.headers()["allow"], "POST");
    expect_problem(res, 405).await;
}

async fn every_response_has_a_request_id(app: TestApp) {
    let res = app.get("/health").header("x-request-id", "client-id.1_2").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-id.1_2");
    for bad in ["has space", "", &"x".repeat(129)] {
        let res = app.get("/api/v1/nothing").header("x-request-id", bad).send().await.unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(!id.is_empty() && id != bad, "a bad id {bad:?} must be replaced, got {id:?}");
    }
}

async fn swagger_ui_and_openapi_are_served(app: TestApp) {
    let res = app.get("/swagger-ui/").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("swagger-ui"));
    let res = app.get("/swagger-ui").send().await.unwrap();
    assert!(res.status().is_redirection());
    let doc: Value = app.get("/api-docs/openapi.json").send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(doc["components"]["securitySchemes"]["bearer_auth"]["scheme"], "bearer");
    assert_eq!(doc, serde_json::from_str::<Value>(&workbench_app::openapi::document_json()).unwrap());
}

async fn metrics_are_labelled_by_route_template(app: TestApp) {
    app.get("/api/v1/users/12345").send().await.unwrap();
    let text = app.get("/metrics").send().await.unwrap().text().await.unwrap();
    assert!(text.contains(r#"route="/api/v1/users/{id}""#), "{text}");
    assert!(!text.contains("/users/12345"), "raw paths must never become labels");
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains(r#"db_pool_connections{state="max"}"#));
}

engines!(
    health_and_readiness,
    unknown_routes_and_methods_are_problems,
    every_response_has_a_request_id,
    swagger_ui_and_openapi_are_served,
    metrics_are_labelled_by_route_template,
);

/// Every operation in the OpenAPI document is served: none answers "no such route" or 405.
async fn documented_routes_are_served(app: TestApp) {
    let doc: Value = serde_json::from_str(&workbench_app::openapi::document_json()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace("{id}", "1").replace(['{', '}'], "");
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = app.request(method.clone(), &concrete).send().await.unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap_or_default();
            assert_ne!(status, 405, "{method} {path} is documented but not served");
            assert!(!body.contains("No route matches"), "{method} {path} is documented but not served");
        }
    }
}

engines!(documented_routes_are_served);

/// Responses are compressed as the client asks (`Accept-Encoding`), and only then.
async fn responses_are_compressed_as_negotiated(app: TestApp) {
    let ann = app.signup("ann").await;
    for n in 0..30 {
        let body = json!({"title": format!("Task {n} with a title long enough to be worth compressing")});
        app.post("/api/v1/tasks").bearer_auth(&ann.access_token).json(&body).send().await.unwrap();
    }
    let list = |encoding: Option<&'static str>| {
        let mut req = app.get("/api/v1/tasks?per_page=100").bearer_auth(&ann.access_token);
        if let Some(encoding) = encoding {
            req = req.header("accept-encoding", encoding);
        }
        req.send()
    };
    let plain = list(None).await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain_len = plain.bytes().await.unwrap().len();
    for (asked, expected) in [("gzip", "gzip"), ("br", "br"), ("zstd", "zstd"), ("br;q=0.5, gzip;q=1.0", "gzip")] {
        let res = list(Some(asked)).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers().get("content-encoding").and_then(|v| v.to_str().ok()), Some(expected), "{asked}");
        let compressed = res.bytes().await.unwrap().len();
        assert!(compressed * 3 < plain_len, "{asked}: {compressed} bytes against {plain_len}");
    }
    let doc = app.get("/api-docs/openapi.json").header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(doc.headers().get("content-encoding").and_then(|v| v.to_str().ok()), Some("gzip"));
}

engines!(responses_are_compressed_as_negotiated);
