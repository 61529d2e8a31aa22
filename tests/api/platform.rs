//! Health, readiness, docs, metrics and the conventions every endpoint shares.

use serde_json::{Value, json};
use workbench_e2e::{Backend, TestApp, engines, engines_with, error_fields, expect_problem, per_engine};

async fn health_and_readiness(app: TestApp) {
    let res = app.get("/health").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
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
    for id in [12345, 67890, 13579] {
        assert_eq!(app.get(&format!("/api/v1/users/{id}")).send().await.unwrap().status(), 401);
    }
    let text = app.get("/metrics").send().await.unwrap().text().await.unwrap();
    // Every request counts, not only the first of its series.
    let series = r#"http_requests_total{method="GET",route="/api/v1/users/{id}",status="401"} 3"#;
    assert!(text.contains(series), "{text}");
    assert!(!text.contains("/users/12345"), "raw paths must never become labels");
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains(r#"db_pool_connections{state="max"}"#));
}

/// With `METRICS_TOKEN` set, `/metrics` is for whoever presents it as a bearer token; the probes
/// stay open.
async fn metrics_need_the_token_when_one_is_set(app: TestApp) {
    let refused = app.get("/metrics").send().await.unwrap();
    assert_eq!(refused.headers().get("www-authenticate").map(|v| v.to_str().unwrap()), Some("Bearer"));
    let problem = expect_problem(refused, 401).await;
    assert!(problem["type"].as_str().unwrap().ends_with("/unauthorized"), "{problem}");
    for wrong in
        ["Bearer scrape-secreT", "Bearer scrape-secret-and-more", "Basic c2NyYXBlLXNlY3JldA==", "scrape-secret"]
    {
        let res = app.get("/metrics").header("authorization", wrong).send().await.unwrap();
        assert_eq!(res.status(), 401, "{wrong}");
    }
    let res = app.get("/metrics").bearer_auth("scrape-secret").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("http_requests_total"));
    assert_eq!(app.get("/health").send().await.unwrap().status(), 200);
    assert_eq!(app.get("/ready").send().await.unwrap().status(), 200);
}

engines_with!(
    metrics_need_the_token_when_one_is_set with |s: &mut workbench_app::Settings| {
        s.server.metrics_token = Some("scrape-secret".into());
    },
);

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
    // What browsers send gets zstd; brotli is not offered (see the workspace's Cargo.toml).
    let negotiated = [
        ("gzip", "gzip"),
        ("zstd", "zstd"),
        ("gzip, deflate, br, zstd", "zstd"),
        ("gzip, deflate, br", "gzip"),
        ("br;q=0.5, gzip;q=1.0", "gzip"),
    ];
    for (asked, expected) in negotiated {
        let res = list(Some(asked)).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers().get("content-encoding").and_then(|v| v.to_str().ok()), Some(expected), "{asked}");
        let compressed = res.bytes().await.unwrap().len();
        assert!(compressed * 3 < plain_len, "{asked}: {compressed} bytes against {plain_len}");
    }
    let only_br = list(Some("br")).await.unwrap();
    assert_eq!(only_br.status(), 200);
    assert!(only_br.headers().get("content-encoding").is_none(), "br alone is answered uncompressed");
    let doc = app.get("/api-docs/openapi.json").header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(doc.headers().get("content-encoding").and_then(|v| v.to_str().ok()), Some("gzip"));
}

engines!(responses_are_compressed_as_negotiated);

/// `page` and `per_page` below 1 are parsable values outside the allowed set on every paginated
/// list: a negative one is a `422` naming it, like `0`, while one that is not a number stays `400`.
async fn a_page_below_one_is_422_naming_it_on_every_list(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let res = app.post("/api/v1/tasks").bearer_auth(&admin.access_token).json(&json!({"title": "T"})).send();
    let task: Value = res.await.unwrap().json().await.unwrap();
    let comments = format!("/api/v1/tasks/{}/comments", task["id"]);
    let lists = [
        "/api/v1/tasks",
        "/api/v1/users",
        "/api/v1/users/except-me",
        &comments,
        "/api/v1/products",
        "/api/v1/user-products",
        "/api/v1/admin/jobs",
        "/api/v1/admin/jobs/runs",
        "/api/v1/admin/audit",
    ];
    let get = |path: &str, query: &str| app.get(&format!("{path}?{query}")).bearer_auth(&admin.access_token).send();
    for list in lists {
        for (query, fields) in [
            ("page=-1", &["page"][..]),
            ("per_page=-1", &["per_page"]),
            ("page=-9223372036854775808&per_page=-5", &["page", "per_page"]),
            ("page=0&per_page=-1", &["page", "per_page"]),
        ] {
            let problem = expect_problem(get(list, query).await.unwrap(), 422).await;
            let mut named = error_fields(&problem);
            named.sort();
            assert_eq!(named, fields, "{list}?{query}: {problem}");
        }
        for query in ["page=abc", "per_page=lots", "page=1.5"] {
            expect_problem(get(list, query).await.unwrap(), 400).await;
        }
        let res = get(list, "per_page=1000").await.unwrap();
        assert_eq!(res.status(), 200, "{list}");
        assert_eq!(res.json::<Value>().await.unwrap()["pagination"]["per_page"], 100, "{list}: still clamped");
    }
}

/// A JSON body over the limit is refused before any handler runs (`413`, as a problem), yet the
/// answer keeps the headers every response of the route carries: rate limits, CORS, security.
async fn a_body_over_the_limit_keeps_the_routes_headers(app: TestApp) {
    let ann = app.signup("ann").await;
    let post = |body: &Value| {
        app.post("/api/v1/tasks")
            .bearer_auth(&ann.access_token)
            .header("origin", ORIGIN)
            .header("x-request-id", "limit-1")
            .json(body)
            .send()
    };
    let normal = post(&json!({"title": "small"})).await.unwrap();
    assert_eq!(normal.status(), 201);
    let res = post(&json!({"title": "big", "description": "x".repeat(1024 * 1024)})).await.unwrap();
    let headers = res.headers().clone();
    expect_problem(res, 413).await;
    assert_eq!(headers["x-request-id"], "limit-1");
    for name in [
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "access-control-allow-origin",
        "access-control-expose-headers",
        "x-content-type-options",
        "x-frame-options",
    ] {
        assert!(normal.headers().contains_key(name), "a normal answer carries {name}: {:?}", normal.headers());
        assert!(headers.contains_key(name), "the 413 lost {name}: {headers:?}");
    }
    assert_eq!(headers["ratelimit-limit"], normal.headers()["ratelimit-limit"]);
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

const ORIGIN: &str = "https://app.example.com";

engines!(a_page_below_one_is_422_naming_it_on_every_list);
workbench_e2e::engines_with!(
    a_body_over_the_limit_keeps_the_routes_headers with |s: &mut workbench_app::Settings| {
        s.server.cors_allowed_origins = Some(ORIGIN.into());
    },
);

/// One exchange on a connection of its own, the request written as given: the answer's head
/// (lower-cased) and its body as the head's framing delimits it. Panics when the framing lies
/// (a chunked head over a body that is not chunks, a length that is not the body's).
async fn raw_exchange(app: &TestApp, request: &str) -> (String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    // A body delimited by the connection's end is read until then; anything else is whole once
    // its framing says so, and the read stops at the deadline.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut bytes)).await;
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a whole head") + 4;
    let head = String::from_utf8_lossy(&bytes[..split]).to_lowercase();
    let raw = &bytes[split..];
    let body = if head.contains("\r\ntransfer-encoding: chunked\r\n") {
        let (mut body, mut rest) = (Vec::new(), raw);
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").expect("a chunk size line");
            let size_text = std::str::from_utf8(&rest[..line_end]).expect("a chunk size in text");
            let size = usize::from_str_radix(size_text.trim(), 16)
                .unwrap_or_else(|_| panic!("a chunked head over a body that is not chunks: {head}"));
            rest = &rest[line_end + 2..];
            if size == 0 {
                break body;
            }
            body.extend_from_slice(&rest[..size]);
            assert_eq!(&rest[size..size + 2], b"\r\n", "a chunk ends its line");
            rest = &rest[size + 2..];
        }
    } else if let Some(length) = head.split("\r\ncontent-length: ").nth(1) {
        let length: usize = length.split("\r\n").next().unwrap().parse().unwrap();
        assert_eq!(raw.len(), length, "the body is as long as its head says");
        raw.to_vec()
    } else {
        assert!(
            head.contains("\r\nconnection: close\r\n"),
            "a body neither sized nor chunked ends the connection: {head}"
        );
        raw.to_vec()
    };
    let body = if head.contains("\r\ncontent-encoding: gzip\r\n") {
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain)
            .expect("a whole gzip body");
        plain
    } else {
        body
    };
    (head, body)
}

/// `Connection: Upgrade` with `Upgrade: websocket` on a route that is not the WebSocket's, and a
/// compressed answer: actix-http would send the body unframed under a chunked head (curl exits
/// 56). Every such answer is well-formed, compressed or not, streamed or not.
async fn an_upgrade_asked_of_a_plain_route_gets_a_well_formed_answer(app: TestApp) {
    let ann = app.signup("ann").await;
    let created = app
        .post("/api/v1/tasks")
        .bearer_auth(&ann.access_token)
        .json(&json!({"title": "framed", "description": "x".repeat(4_000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    for (path, auth, status) in [
        ("/api/v1/tasks", format!("Authorization: Bearer {}\r\n", ann.access_token), 200),
        ("/api/v1/tasks", String::new(), 401),
        ("/api-docs/openapi.json", String::new(), 200),
    ] {
        for encoding in ["Accept-Encoding: gzip\r\n", ""] {
            let request = format!("GET {path} HTTP/1.1\r\nHost: workbench.test\r\n{upgrade}{auth}{encoding}\r\n");
            let (head, body) = raw_exchange(&app, &request).await;
            assert!(head.starts_with(&format!("http/1.1 {status} ")), "{path} {encoding:?}: {head}");
            let body: Value =
                serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{path} {encoding:?}: {e}: {head}"));
            if status == 200 && path == "/api/v1/tasks" {
                assert_eq!(body["data"][0]["title"], "framed");
            }
        }
    }
}

/// What the server keeps at rest holds password hashes and TOTP and webhook secrets: the data
/// directory it makes is `0700`, a SQLite database it makes is `0600` (and so are its `-wal` and
/// `-shm` files, which SQLite makes with the database's mode), and so is an export archive.
async fn files_at_rest_are_private(backend: Backend) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("made-by-workbench");
    let made = data_dir.clone();
    let Some(app) = TestApp::spawn_with(backend, move |s| s.server.data_dir = made).await else { return };
    assert_eq!(mode(&data_dir), 0o700, "the data directory it made");
    if backend == Backend::Sqlite {
        let db = std::path::PathBuf::from(app.database_url());
        app.signup("ann").await; // a write, so that the write-ahead log exists
        for file in [db.clone(), db.with_extension("db-wal"), db.with_extension("db-shm")] {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
    let url = app.database_url().to_owned();
    let database = tokio::task::spawn_blocking(move || {
        workbench_store::Database::connect(&url, workbench_store::PoolOptions::default_for(backend)).unwrap()
    })
    .await
    .unwrap();
    let archive = scratch.path().join("workbench.wbx");
    workbench_archive::export_to_file(&database, &archive, Default::default()).await.expect("exported");
    assert_eq!(mode(&archive), 0o600, "the export archive");
    assert!(std::fs::metadata(&archive).unwrap().len() > 0);
}

per_engine!(files_at_rest_are_private);

engines!(an_upgrade_asked_of_a_plain_route_gets_a_well_formed_answer);
