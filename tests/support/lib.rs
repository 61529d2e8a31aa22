//! The harness for black-box tests: each test starts the real Workbench application on a free
//! port with its own fresh database (a SQLite file, or a new PostgreSQL database) and talks HTTP
//! to it, as any client would.

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use workbench_app::config::LogFormat;
use workbench_app::{Application, Settings};
pub use workbench_auth::testing::FakeProvider;
pub use workbench_store::Backend;
use workbench_store::testing::TestDatabase;

/// Generates one `#[tokio::test]` per engine for an `async fn(TestApp)` case:
/// `engines!(case_name);` makes `case_name::sqlite` and `case_name::postgres`.
#[macro_export]
macro_rules! engines {
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::TestApp::spawn($crate::Backend::Sqlite).await.expect("SQLite always works");
                super::$case(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                // `None`: PostgreSQL is unreachable and not required; the skip was reported.
                if let Some(app) = $crate::TestApp::spawn($crate::Backend::Postgres).await {
                    super::$case(app).await;
                }
            }
        }
    )+};
}

/// Like [`engines!`], for cases that start their own apps (several instances, a child process):
/// each case is an `async fn(Backend)`, run once per engine.
#[macro_export]
macro_rules! per_engine {
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$case($crate::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$case($crate::Backend::Postgres).await;
            }
        }
    )+};
}

/// Like [`engines!`], for cases that talk to a fake third party: `$start` (an async fn) starts the
/// fake, which tells its address with `uri()`; `$point` (a fn of the settings and that address)
/// points the app at it; each case is an `async fn(TestApp, Fake)`.
#[macro_export]
macro_rules! engines_with_fake {
    ($start:ident, $point:ident; $($case:ident),+ $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let fake = super::$start().await;
                let uri = fake.uri();
                let app = $crate::TestApp::spawn_with($crate::Backend::Sqlite, |s| super::$point(s, &uri))
                    .await
                    .expect("SQLite always works");
                super::$case(app, fake).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let fake = super::$start().await;
                let uri = fake.uri();
                // `None`: PostgreSQL is unreachable and not required; the skip was reported.
                if let Some(app) = $crate::TestApp::spawn_with($crate::Backend::Postgres, |s| super::$point(s, &uri)).await {
                    super::$case(app, fake).await;
                }
            }
        }
    )+};
}

/// Like [`engines!`], for cases that sign in through OAuth: each test starts a [`FakeProvider`]
/// (fake Google and GitHub) and an app with both providers pointed at it, and calls an
/// `async fn(TestApp, FakeProvider)`. `case with |settings| ...` adjusts the settings further.
#[macro_export]
macro_rules! oauth_engines {
    ($($case:ident $(with $tweak:expr)?),+ $(,)?) => {$(
        mod $case {
            // The tweak is written in the calling module: let it name that module's items.
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let fake = $crate::FakeProvider::start().await;
                let app = $crate::TestApp::spawn_with_oauth($crate::Backend::Sqlite, &fake, $crate::oauth_engines!(@tweak $($tweak)?))
                    .await
                    .expect("SQLite always works");
                super::$case(app, fake).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let fake = $crate::FakeProvider::start().await;
                // `None`: PostgreSQL is unreachable and not required; the skip was reported.
                if let Some(app) = $crate::TestApp::spawn_with_oauth($crate::Backend::Postgres, &fake, $crate::oauth_engines!(@tweak $($tweak)?)).await {
                    super::$case(app, fake).await;
                }
            }
        }
    )+};
    (@tweak) => { |_| {} };
    (@tweak $tweak:expr) => { $tweak };
}

/// A running application and a client for it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    /// The app's broadcast bus, for tests that listen to what the app publishes.
    pub bus: std::sync::Arc<dyn workbench_core::broadcast::Broadcast>,
    /// Where this instance's radio sources connect.
    pub radio_sources: Option<std::net::SocketAddr>,
    /// Shared by the instances of a [`TestApp::spawn_cluster`].
    _db: std::sync::Arc<TestDatabase>,
    /// `DATA_DIR`: where a SQLite backup would go.
    _data: std::sync::Arc<tempfile::TempDir>,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp").field("base", &self.base).field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// A signed-in user: their id, tokens and credentials.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password: String,
    pub access_token: String,
    pub refresh_token: String,
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    /// Starts the app on `backend`; `None` when PostgreSQL is skipped.
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts the app with settings adjusted by `tweak`.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> Option<Self> {
        let db = tokio::task::spawn_blocking(move || TestDatabase::of(backend)).await.expect("no panic")?;
        Some(Self::start(std::sync::Arc::new(db), tweak).await)
    }

    /// `n` instances on one fresh database of `backend` and the test Redis (under a key prefix
    /// of their own), as a load balancer would see them; `None` when PostgreSQL or Redis is
    /// skipped.
    pub async fn spawn_cluster(backend: Backend, n: usize) -> Option<Vec<Self>> {
        Self::spawn_cluster_with(backend, n, |_| {}).await
    }

    /// [`Self::spawn_cluster`] with settings adjusted by `tweak` on every instance.
    pub async fn spawn_cluster_with(backend: Backend, n: usize, tweak: impl Fn(&mut Settings)) -> Option<Vec<Self>> {
        workbench_cache::testing::redis_pool().await?;
        let db = tokio::task::spawn_blocking(move || TestDatabase::of(backend)).await.expect("no panic")?;
        let db = std::sync::Arc::new(db);
        let prefix = format!("wbtest:{}", uuid::Uuid::new_v4().simple());
        let mut apps = Vec::with_capacity(n);
        for _ in 0..n {
            let (url, prefix) = (workbench_cache::testing::redis_url(), prefix.clone());
            apps.push(
                Self::start(db.clone(), |settings| {
                    settings.redis.url = Some(url);
                    settings.redis.prefix = prefix;
                    // One public URL, as behind a load balancer: tokens name it as their issuer.
                    settings.server.public_url = Some("http://workbench.test".into());
                    tweak(settings);
                })
                .await,
            );
        }
        Some(apps)
    }

    /// Another instance on this one's database (without Redis: instances share only the
    /// database), with settings adjusted by `tweak`.
    pub async fn spawn_sharing(&self, tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::start(self._db.clone(), tweak).await
    }

    /// The database URL, for a process of its own on the same database.
    pub fn database_url(&self) -> &str {
        self._db.url()
    }

    async fn start(db: std::sync::Arc<TestDatabase>, tweak: impl FnOnce(&mut Settings)) -> Self {
        let backend = db.backend();
        let data = std::sync::Arc::new(tempfile::tempdir().expect("a data directory"));
        let mut settings = Settings::default();
        settings.server.bind_addr = "127.0.0.1:0".into();
        settings.server.data_dir = data.path().to_owned();
        settings.server.log_format = LogFormat::Pretty;
        settings.server.workers = Some(2);
        settings.database.url = Some(db.url().to_owned());
        settings.auth.bcrypt_cost = 4;
        settings.auth.jwt_secret = Some("test-secret-of-at-least-thirty-two-bytes".into());
        // The suites sign in many times from one address, as an operator's test rig would:
        // high limits keep the headers and the code path without refusing anyone.
        settings.limits.per_minute = 1_000_000;
        settings.limits.auth_per_minute = 1_000_000;
        // A free port of each instance's own, so that tests in parallel do not collide.
        settings.radio.source_addr = "127.0.0.1:0".into();
        tweak(&mut settings);
        let app = Application::build(settings).await.expect("the application starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let radio_sources = app.radio_source_addr();
        let bus = app.state().bus.clone();
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { base, client, backend, bus, radio_sources, _db: db, _data: data }
    }

    /// Starts the app with Google and GitHub pointed at `fake`, then adjusted by `tweak`.
    pub async fn spawn_with_oauth(
        backend: Backend,
        fake: &FakeProvider,
        tweak: impl FnOnce(&mut Settings),
    ) -> Option<Self> {
        let env: Vec<_> = fake.google_env().into_iter().chain(fake.github_env()).collect();
        Self::spawn_with(backend, move |settings| {
            apply_oauth_env(settings, &env);
            tweak(settings);
        })
        .await
    }

    /// `GET /auth/oauth/{provider}` from the shared client, which keeps no cookies: asserts the
    /// redirect and returns where it points (the provider's authorization URL).
    pub async fn oauth_start(&self, provider: &str) -> String {
        self.oauth_start_in(&self.client, provider).await
    }

    /// [`Self::oauth_start`] from `browser`, which keeps the cookie that binds the sign-in to it.
    pub async fn oauth_start_in(&self, browser: &reqwest::Client, provider: &str) -> String {
        let res = browser.get(format!("{}/api/v1/auth/oauth/{provider}", self.base)).send().await.expect("request");
        assert_eq!(res.status(), StatusCode::FOUND, "start {provider}: {}", res.text().await.unwrap_or_default());
        location(&res)
    }

    /// What a browser does to sign in through `provider`, one redirect at a time: the app's
    /// start URL, the provider (which signs in the person configured on the fake and sends the
    /// browser back), then the app's callback. Each walk is a new [`browser`]. Returns the
    /// callback's answer, unchecked.
    pub async fn oauth_walk(&self, provider: &str) -> OAuthWalk {
        let browser = browser();
        let authorize_url = self.oauth_start_in(&browser, provider).await;
        let res = browser.get(&authorize_url).send().await.expect("request to the provider");
        assert_eq!(res.status(), StatusCode::FOUND, "the provider: {}", res.text().await.unwrap_or_default());
        let callback_url = location(&res);
        let expected = format!("{}/api/v1/auth/oauth/{provider}/callback?", self.base);
        assert!(callback_url.starts_with(&expected), "the provider sent the browser to {callback_url}");
        let response = browser.get(&callback_url).send().await.expect("request to the callback");
        OAuthWalk { authorize_url, callback_url, response, browser }
    }

    /// The same walk with a client that follows redirects by itself and keeps cookies, like a
    /// browser: returns the last answer.
    pub async fn oauth_walk_following_redirects(&self, provider: &str) -> Response {
        let client = reqwest::Client::builder().cookie_store(true).build().expect("client");
        client.get(format!("{}/api/v1/auth/oauth/{provider}", self.base)).send().await.expect("request")
    }

    /// A request to `path` (`/api/v1/...` or `/health`).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    /// Registers `username` (email `<username>@example.com`, password [`PASSWORD`]) and signs in.
    pub async fn signup(&self, username: &str) -> Account {
        let email = format!("{username}@example.com");
        let res = self
            .post("/api/v1/auth/register")
            .json(&json!({"username": username, "email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::CREATED, "register {username}: {}", res.text().await.unwrap_or_default());
        self.login(&email, PASSWORD).await
    }

    /// Signs in and returns the account.
    pub async fn login(&self, email: &str, password: &str) -> Account {
        let res = self
            .post("/api/v1/auth/login")
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::OK, "login {email}");
        let body: Value = res.json().await.expect("json");
        Account {
            id: body["user"]["id"].as_i64().expect("user id"),
            username: body["user"]["username"].as_str().unwrap_or_default().to_owned(),
            email: email.to_owned(),
            password: password.to_owned(),
            access_token: body["access_token"].as_str().expect("access token").to_owned(),
            refresh_token: body["refresh_token"].as_str().expect("refresh token").to_owned(),
        }
    }

    /// Registers a user and gives them `role` directly in the database (there is no API for the
    /// first admin: operators use `workbench admin create-user`), then signs in again.
    pub async fn signup_with_role(&self, username: &str, role: &str) -> Account {
        let account = self.signup(username).await;
        let url = self._db.url().to_owned();
        let (id, role) = (account.id, role.to_owned());
        tokio::task::spawn_blocking(move || set_role(&url, id, &role)).await.expect("no panic");
        self.login(&account.email, PASSWORD).await
    }
}

impl TestApp {
    /// Runs `sql` on the app's database behind its back: for what no endpoint can do yet (time
    /// passing for a link that expires in an hour).
    pub async fn execute_sql(&self, sql: &str) -> usize {
        let (url, sql) = (self._db.url().to_owned(), sql.to_owned());
        tokio::task::spawn_blocking(move || run_sql(&url, &sql)).await.expect("no panic")
    }
}

fn set_role(url: &str, id: i64, role: &str) {
    run_sql(url, &format!("UPDATE users SET role = '{role}' WHERE id = {id}"));
}

fn run_sql(url: &str, sql: &str) -> usize {
    use workbench_store::{Database, PoolOptions};
    let db = Database::connect(url, PoolOptions { max_size: 1, ..PoolOptions::default_for(Backend::from_url(url)) })
        .expect("the test database opens");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(workbench_store::testing::execute_sql(&db, sql)).expect("the statement runs")
}

/// `method path` (under `/api/v1`) as `who`, with `body` as JSON when there is one.
pub async fn send_as(app: &TestApp, who: &Account, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut req = app.request(method, &format!("/api/v1{path}")).bearer_auth(&who.access_token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("request")
}

/// Asserts that `res` has `status` (showing its body when not), and returns its JSON body (`null`
/// when it has none).
pub async fn expect_json(res: Response, status: StatusCode) -> Value {
    let got = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

/// Asserts that `res` is a problem document with `status`, and returns its body.
pub async fn expect_problem(res: Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status, "unexpected status for {}", res.url());
    let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(content_type.starts_with("application/problem+json"), "content type was {content_type:?}");
    let body: Value = res.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status, "{body}");
    assert!(body["type"].is_string() && body["title"].is_string(), "{body}");
    body
}

/// The `field` names of a problem's `errors`.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// A client that keeps cookies, as a browser does, and does not follow redirects (each step of
/// a walk is looked at).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// One sign-in through a provider, as [`TestApp::oauth_walk`] made it.
#[derive(Debug)]
pub struct OAuthWalk {
    /// Where the app sent the browser: the provider's authorization URL.
    pub authorize_url: String,
    /// Where the provider sent the browser back: the app's callback, with `code` and `state`.
    pub callback_url: String,
    /// The app's answer to the callback.
    pub response: Response,
    /// The browser that made the walk, with its cookies.
    pub browser: reqwest::Client,
}

/// Applies environment-style pairs, such as [`FakeProvider::google_env`]'s, to `settings`.
pub fn apply_oauth_env(settings: &mut Settings, env: &[(&str, String)]) {
    *settings = settings.clone().with_overrides(env.iter().cloned()).expect("settings Workbench reads");
}

/// The `Location` header of a redirect (empty when there is none).
pub fn location(res: &Response) -> String {
    res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// Like [`engines!`], with the settings of every test app adjusted: `case with |settings| ...`.
#[macro_export]
macro_rules! engines_with {
    ($($case:ident with $tweak:expr),+ $(,)?) => {$(
        mod $case {
            // The tweak is written in the calling module: let it name that module's items.
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::TestApp::spawn_with($crate::Backend::Sqlite, $tweak).await.expect("SQLite always works");
                super::$case(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                // `None`: PostgreSQL is unreachable and not required; the skip was reported.
                if let Some(app) = $crate::TestApp::spawn_with($crate::Backend::Postgres, $tweak).await {
                    super::$case(app).await;
                }
            }
        }
    )+};
}

/// Polls `check` every 100 ms until it answers `Some`, for at most `timeout`; panics naming
/// `what` otherwise.
pub async fn eventually<T, F, Fut>(what: &str, timeout: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {timeout:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Signatures made as GitHub, Stripe and Standard Webhooks receivers make and check them,
/// written here from the providers' documentation rather than taken from the code under test.
pub mod signatures {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// `X-Hub-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the body.
    pub fn github(secret: &str, body: &[u8]) -> String {
        format!("sha256={}", hex::encode(mac(secret.as_bytes(), &[body])))
    }

    /// `Stripe-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">`.
    pub fn stripe(secret: &str, timestamp: i64, body: &[u8]) -> String {
        let t = timestamp.to_string();
        format!("t={t},v1={}", hex::encode(mac(secret.as_bytes(), &[t.as_bytes(), b".", body])))
    }

    /// Whether `signature` (space-separated `v1,<base64>` values) signs `{id}.{timestamp}.{body}`
    /// with the `whsec_` secret, as a Standard Webhooks receiver checks it.
    pub fn standard_webhooks_valid(secret: &str, id: &str, timestamp: &str, signature: &str, body: &[u8]) -> bool {
        let b64 = base64::engine::general_purpose::STANDARD;
        let Ok(key) = b64.decode(secret.strip_prefix("whsec_").unwrap_or(secret)) else { return false };
        let expected = b64.encode(mac(&key, &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body]));
        signature.split(' ').any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
    }
}
