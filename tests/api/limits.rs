//! Rate limits as clients see them: the `RateLimit-*` headers, the 429 with an honest
//! `Retry-After`, the buckets (per address on sign-in, per user, per address otherwise), trusted
//! proxies, and one limit shared by several instances.

use reqwest::{Response, StatusCode};
use serde_json::json;
use workbench_e2e::{Backend, TestApp, expect_problem};

fn header(res: &Response, name: &str) -> Option<u64> {
    res.headers().get(name)?.to_str().ok()?.parse().ok()
}

async fn login(app: &TestApp, forwarded_for: Option<&str>) -> Response {
    let mut req =
        app.post("/api/v1/auth/login").json(&json!({"email": "nobody@example.com", "password": "wrong-password"}));
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.expect("request")
}

/// The check: a burst of 25 logins from one address gets 20 answers, then 429s.
async fn a_burst_of_logins_gets_twenty_answers_then_429(app: TestApp) {
    let mut remaining = Vec::new();
    for _ in 0..20 {
        let res = login(&app, None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "answered: wrong credentials");
        assert_eq!(header(&res, "ratelimit-limit"), Some(20));
        remaining.push(header(&res, "ratelimit-remaining").expect("remaining"));
        assert!(header(&res, "ratelimit-reset").is_some_and(|s| (1..=60).contains(&s)));
    }
    assert_eq!((remaining[0], remaining[19]), (19, 0));
    for _ in 0..5 {
        let res = login(&app, None).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry = header(&res, "retry-after").expect("Retry-After in whole seconds");
        assert!((1..=3).contains(&retry), "one request every 3 s at 20 per minute: {retry}");
        assert_eq!(header(&res, "ratelimit-remaining"), Some(0));
        let problem = expect_problem(res, 429).await;
        assert!(problem["type"].as_str().unwrap().ends_with("rate-limited"));
    }
    // Registration and refresh share the same bucket.
    let res = app.post("/api/v1/auth/register").json(&json!({})).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Probes are never limited.
    let res = app.get("/health").send().await.expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("ratelimit-limit").is_none());
}

/// The bucket is the route's, however the path is spelt: percent-encoded letters reach the same
/// handler and draw from the same bucket; doubled slashes reach no route at all. Were the bucket
/// chosen from the raw path, the encoded spellings would escape the sign-in limit and the right
/// password would get through after 25 wrong ones.
async fn the_sign_in_bucket_follows_the_route_however_it_is_spelt(app: TestApp) {
    let ann = app.signup("ann").await; // registration and sign-in: 2 of the 20
    let wrong = json!({"email": ann.email, "password": "not the password"});
    let spellings = ["/api/v1/auth/%6Cogin", "/api/v1/auth/logi%6E", "/api/v1/%61uth/login", "/api/v1/auth/login"];
    let mut statuses = Vec::new();
    for n in 0..25 {
        let res = app.post(spellings[n % spellings.len()]).json(&wrong).send().await.expect("request");
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 18, "{statuses:?}");
    assert_eq!(statuses[18..], [429; 7], "{statuses:?}");
    let right = json!({"email": ann.email, "password": ann.password});
    let res = app.post("/api/v1/auth/%6Cogin").json(&right).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the right password waits like any other");
    let res = app.post("/api/v1/auth/%72egister").json(&json!({})).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "registration shares the bucket");
    for doubled in ["/api/v1//auth/login", "/api/v1/auth//login"] {
        let res = app.post(doubled).json(&right).send().await.expect("request");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{doubled} reaches no route, so no sign-in");
    }
}

/// The announced wait is honest: after it, the next login is answered.
async fn retry_after_can_be_trusted(app: TestApp) {
    for _ in 0..3 {
        assert_ne!(login(&app, None).await.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let refused = login(&app, None).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = header(&refused, "retry-after").expect("Retry-After");
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    assert_ne!(login(&app, None).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// Signed-in requests draw from their user's bucket; another user is unaffected.
async fn each_user_has_a_bucket(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    for n in (0..5).rev() {
        let res = app.get("/api/v1/tasks").bearer_auth(&ann.access_token).send().await.expect("request");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!((header(&res, "ratelimit-limit"), header(&res, "ratelimit-remaining")), (Some(5), Some(n)));
    }
    let res = app.get("/api/v1/tasks").bearer_auth(&ann.access_token).send().await.expect("request");
    expect_problem(res, 429).await;
    let res = app.get("/api/v1/tasks").bearer_auth(&bob.access_token).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::OK, "Bob's bucket is his own");
}

/// `X-Forwarded-For` is believed only from a trusted proxy.
async fn forwarded_addresses_need_a_trusted_proxy(app: TestApp, trusted: bool) {
    for _ in 0..3 {
        login(&app, Some("203.0.113.1")).await;
    }
    let other = login(&app, Some("203.0.113.2")).await;
    if trusted {
        assert_ne!(other.status(), StatusCode::TOO_MANY_REQUESTS, "another client behind the proxy");
    } else {
        assert_eq!(other.status(), StatusCode::TOO_MANY_REQUESTS, "a forged header changes nothing");
    }
}

async fn a_trusted_proxy_forwards_client_addresses(app: TestApp) {
    forwarded_addresses_need_a_trusted_proxy(app, true).await;
}

async fn an_untrusted_peer_cannot_forge_its_address(app: TestApp) {
    forwarded_addresses_need_a_trusted_proxy(app, false).await;
}

/// Two instances on one Redis share one sign-in limit instead of multiplying it.
async fn instances_share_the_sign_in_limit(backend: Backend) {
    let Some(apps) = TestApp::spawn_cluster_with(backend, 2, |s| s.limits.auth_per_minute = 20).await else {
        return;
    };
    // The bucket refills one sign-in every 3 s: on a loaded machine the burst may take longer
    // than that, so the bound counts the refills. Unshared, the two would allow 40 at once.
    let started = std::time::Instant::now();
    let mut allowed = 0;
    loop {
        let res = login(&apps[allowed % 2], None).await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "login {allowed} is within the shared limit");
        allowed += 1;
        let refilled = usize::try_from(started.elapsed().as_secs() / 3).unwrap_or(usize::MAX) + 1;
        assert!(allowed <= 20 + refilled, "{allowed} sign-ins allowed in {:?}", started.elapsed());
    }
    assert!(allowed >= 20, "only {allowed} sign-ins allowed");
    for app in &apps {
        assert_eq!(login(app, None).await.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}

macro_rules! limited {
    ($($case:ident $(with $tweak:expr)?),+ $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = workbench_e2e::TestApp::spawn_with(workbench_e2e::Backend::Sqlite, limited!(@tweak $($tweak)?))
                    .await
                    .expect("SQLite always works");
                super::$case(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = workbench_e2e::TestApp::spawn_with(workbench_e2e::Backend::Postgres, limited!(@tweak $($tweak)?)).await {
                    super::$case(app).await;
                }
            }
        }
    )+};
    (@tweak) => { |s: &mut workbench_app::Settings| s.limits.auth_per_minute = 20 };
    (@tweak $tweak:expr) => { $tweak };
}

limited!(
    a_burst_of_logins_gets_twenty_answers_then_429,
    the_sign_in_bucket_follows_the_route_however_it_is_spelt,
    retry_after_can_be_trusted with |s: &mut workbench_app::Settings| s.limits.auth_per_minute = 3,
    each_user_has_a_bucket with |s: &mut workbench_app::Settings| s.limits.per_minute = 5,
    a_trusted_proxy_forwards_client_addresses with |s: &mut workbench_app::Settings| {
        s.limits.auth_per_minute = 3;
        s.server.trusted_proxies = Some("127.0.0.1/32".into());
    },
    an_untrusted_peer_cannot_forge_its_address with |s: &mut workbench_app::Settings| s.limits.auth_per_minute = 3,
);

mod instances_share_the_sign_in_limit {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::instances_share_the_sign_in_limit(workbench_e2e::Backend::Postgres).await;
    }
}
