//! Rate limits as clients see them: the `RateLimit-*` headers, the 429 with an honest
//! `Retry-After`, the buckets (per address on sign-in, per user, per address otherwise), trusted
//! proxies, and one limit shared by several instances.

use reqwest::{Response, StatusCode};
use serde_json::json;
use std::time::Instant;
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

/// How many cells a bucket that gives one back every `every_secs` can have given back since
/// `started`. A burst normally takes a fraction of that, but on a loaded machine it may not, and a
/// test that assumed otherwise would fail there for the limiter doing its job.
fn refilled_since(started: Instant, every_secs: u64) -> usize {
    usize::try_from(started.elapsed().as_secs() / every_secs).unwrap_or(usize::MAX)
}

/// The check: a burst of 25 logins from one address gets 20 answers, then 429s; the
/// last request of the burst is a registration, which draws from the same bucket.
async fn a_burst_of_logins_gets_twenty_answers_then_429(app: TestApp) {
    let started = Instant::now();
    let mut answers = Vec::new();
    for n in 0..25 {
        let res = if n < 24 {
            login(&app, None).await
        } else {
            app.post("/api/v1/auth/register").json(&json!({})).send().await.expect("request")
        };
        answers.push(res);
    }
    let refilled = refilled_since(started, 3); // 20 per minute
    let (answered, refused): (Vec<_>, Vec<_>) =
        answers.into_iter().enumerate().partition(|(_, res)| res.status() != StatusCode::TOO_MANY_REQUESTS);
    let order: Vec<usize> = answered.iter().map(|(n, _)| *n).collect();
    assert!(order.len() >= 20, "only {} answered", order.len());
    assert_eq!(order[..20], (0..20).collect::<Vec<_>>(), "the bucket starts full: {order:?}");
    assert!(answered.len() <= 20 + refilled, "{} answered with {refilled} cells given back", answered.len());
    assert!(refused.len() + refilled >= 5, "{} refused with {refilled} cells given back", refused.len());
    let mut remaining = Vec::new();
    for (n, res) in &answered[..20] {
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "login {n} answered: wrong credentials");
        assert_eq!(header(res, "ratelimit-limit"), Some(20));
        remaining.push(header(res, "ratelimit-remaining").expect("remaining"));
        assert!(header(res, "ratelimit-reset").is_some_and(|s| (1..=60).contains(&s)));
    }
    assert_eq!(remaining[0], 19);
    assert!(remaining.windows(2).all(|w| w[1] < w[0] || refilled > 0), "each answer spends a cell: {remaining:?}");
    if refilled == 0 {
        assert_eq!(remaining[19], 0);
    }
    for (_, res) in refused {
        let retry = header(&res, "retry-after").expect("Retry-After in whole seconds");
        assert!((1..=3).contains(&retry), "one request every 3 s at 20 per minute: {retry}");
        assert_eq!(header(&res, "ratelimit-remaining"), Some(0));
        let problem = expect_problem(res, 429).await;
        assert!(problem["type"].as_str().unwrap().ends_with("rate-limited"));
    }
    // Probes are never limited.
    let res = app.get("/health").send().await.expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("ratelimit-limit").is_none());
}

/// The bucket is the route's, however the path is spelt: percent-encoded letters reach the same
/// handler and draw from the same bucket; doubled slashes reach no route at all. Were the bucket
/// chosen from the raw path, each encoded spelling would have a bucket of its own, and 14 of the
/// 25 wrong passwords would be tried instead of 2. The bucket holds 4 here (one back every 15 s).
async fn the_sign_in_bucket_follows_the_route_however_it_is_spelt(app: TestApp) {
    let started = Instant::now();
    let ann = app.signup("ann").await; // registration and sign-in: 2 of the 4
    let wrong = json!({"email": ann.email, "password": "not the password"});
    let spellings = ["/api/v1/auth/%6Cogin", "/api/v1/auth/logi%6E", "/api/v1/%61uth/login", "/api/v1/auth/login"];
    let mut statuses = Vec::new();
    for n in 0..25 {
        let res = app.post(spellings[n % spellings.len()]).json(&wrong).send().await.expect("request");
        statuses.push(res.status().as_u16());
    }
    let right = json!({"email": ann.email, "password": ann.password});
    let res = app.post("/api/v1/auth/%6Cogin").json(&right).send().await.expect("request");
    let refilled = refilled_since(started, 15);
    assert_eq!(statuses[..2], [401; 2], "{statuses:?}");
    let answered = statuses.iter().filter(|s| **s == 401).count();
    assert!(answered <= 2 + refilled, "{answered} answered with {refilled} cells given back: {statuses:?}");
    assert!(statuses.iter().all(|s| [401, 429].contains(s)), "{statuses:?}");
    if refilled == 0 {
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the right password waits like any other");
    }
    let res = app.post("/api/v1/auth/%72egister").json(&json!({})).send().await.expect("request");
    if refilled_since(started, 15) == 0 {
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "registration shares the bucket");
    }
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
    // The bucket gives a sign-in back every 3 s: on a loaded machine the burst may take longer
    // than that, so the bounds count the refills. Unshared, the two would answer 40 at once.
    let started = Instant::now();
    let mut statuses = Vec::new();
    for n in 0..30 {
        statuses.push(login(&apps[n % 2], None).await.status().as_u16());
    }
    let refilled = refilled_since(started, 3);
    assert_eq!(statuses[..20], [401; 20], "the shared bucket starts full: {statuses:?}");
    let answered = statuses.iter().filter(|s| **s == 401).count();
    assert!(answered <= 20 + refilled, "{answered} answered with {refilled} cells given back: {statuses:?}");
    if refilled == 0 {
        assert_eq!(statuses[20..], [429; 10], "both instances refuse once the shared bucket is empty");
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
    the_sign_in_bucket_follows_the_route_however_it_is_spelt with |s: &mut workbench_app::Settings| s.limits.auth_per_minute = 4,
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
