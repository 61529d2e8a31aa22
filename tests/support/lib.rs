//! The harness for black-box tests: each test starts the real Workbench application on a free
//! port with its own fresh database (a SQLite file, or a new PostgreSQL database) and talks HTTP
//! to it, as any client would.

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use workbench_app::config::LogFormat;
use workbench_app::{Application, Settings};
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

/// A running application and a client for it.
#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    _db: TestDatabase,
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
        let mut settings = Settings {
            bind_addr: "127.0.0.1:0".into(),
            database_url: Some(db.url().to_owned()),
            bcrypt_cost: 4,
            jwt_secret: Some("test-secret-of-at-least-thirty-two-bytes".into()),
            log_format: LogFormat::Pretty,
            workers: Some(2),
            ..Settings::default()
        };
        tweak(&mut settings);
        let app = Application::build(settings).await.expect("the application starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Some(Self { base, client, backend, _db: db })
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

fn set_role(url: &str, id: i64, role: &str) {
    use workbench_store::{Database, PoolOptions};
    let db = Database::connect(url, PoolOptions { max_size: 1, ..PoolOptions::default_for(Backend::from_url(url)) })
        .expect("the test database opens");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(db.execute_sql(&format!("UPDATE users SET role = '{role}' WHERE id = {id}"))).expect("role set");
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
