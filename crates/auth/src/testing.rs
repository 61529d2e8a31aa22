//! A fake Google and GitHub for tests (feature `testing`): a real HTTP server on `127.0.0.1:0`
//! that speaks the authorization-code flow with PKCE strictly enough that a client bug (a wrong
//! verifier, a replayed code, a changed redirect URI, missing credentials or `User-Agent`) fails
//! here as it would at the real provider.
//!
//! ```no_run
//! # async fn demo() {
//! use workbench_auth::testing::FakeProvider;
//! let fake = FakeProvider::start().await;
//! for (name, value) in fake.google_env() {
//!     // point the app's OAUTH_GOOGLE_* settings at the fake
//! #   let _ = (name, value);
//! }
//! # }
//! ```
//!
//! Routes, under [`FakeProvider::url`]: Google `/google/authorize`, `/google/token`,
//! `/google/userinfo`; GitHub `/github/login/oauth/authorize`, `/github/login/oauth/access_token`,
//! `/github/api/user`, `/github/api/user/emails`.
//!
//! The fixture panics when it cannot start, as a test should.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, LOCATION, USER_AGENT};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};
use url::{Url, form_urlencoded};

/// The client id the fake Google accepts.
pub const GOOGLE_CLIENT_ID: &str = "fake-google-client-id";
/// The client secret the fake Google accepts.
pub const GOOGLE_CLIENT_SECRET: &str = "fake-google-client-secret";
/// The client id the fake GitHub accepts.
pub const GITHUB_CLIENT_ID: &str = "fake-github-client-id";
/// The client secret the fake GitHub accepts.
pub const GITHUB_CLIENT_SECRET: &str = "fake-github-client-secret";

/// The person signing in at the fake Google.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeGoogleUser {
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
}

impl Default for FakeGoogleUser {
    fn default() -> Self {
        Self { sub: "109876543210987654321".into(), email: "ann.google@example.com".into(), email_verified: true }
    }
}

/// The person signing in at the fake GitHub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeGitHubUser {
    pub id: u64,
    pub login: String,
    /// The email shown on the public profile (`/user`'s `email`), if any.
    pub public_email: Option<String>,
    /// What `/user/emails` lists.
    pub emails: Vec<FakeEmail>,
}

impl Default for FakeGitHubUser {
    fn default() -> Self {
        Self {
            id: 583231,
            login: "octocat".into(),
            public_email: Some("octocat@public.example.com".into()),
            emails: vec![FakeEmail { email: "octocat@example.com".into(), primary: true, verified: true }],
        }
    }
}

/// One entry of GitHub's `/user/emails`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeEmail {
    pub email: String,
    pub primary: bool,
    pub verified: bool,
}

/// Which provider a route plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Google,
    GitHub,
}

impl Flavor {
    fn client_id(self) -> &'static str {
        match self {
            Flavor::Google => GOOGLE_CLIENT_ID,
            Flavor::GitHub => GITHUB_CLIENT_ID,
        }
    }

    fn client_secret(self) -> &'static str {
        match self {
            Flavor::Google => GOOGLE_CLIENT_SECRET,
            Flavor::GitHub => GITHUB_CLIENT_SECRET,
        }
    }
}

/// The person a code or token stands for, as they were when the code was issued.
#[derive(Debug, Clone)]
enum Person {
    Google(FakeGoogleUser),
    GitHub(FakeGitHubUser),
}

impl Person {
    fn flavor(&self) -> Flavor {
        match self {
            Person::Google(_) => Flavor::Google,
            Person::GitHub(_) => Flavor::GitHub,
        }
    }
}

/// An authorization code, as remembered until it is exchanged.
#[derive(Debug, Clone)]
struct IssuedCode {
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    person: Person,
}

#[derive(Debug, Default)]
struct State {
    google_user: FakeGoogleUser,
    github_user: FakeGitHubUser,
    codes: HashMap<String, IssuedCode>,
    tokens: HashMap<String, Person>,
    fail_token: Option<u16>,
    fail_profile: Option<u16>,
    deny_next: bool,
    errors_as_200: bool,
    token_requests: usize,
}

type Shared = Arc<Mutex<State>>;

/// Locks the state; a panicking handler must not wedge every later request of the test.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake Google + GitHub. Stops when dropped.
pub struct FakeProvider {
    url: String,
    state: Shared,
    handle: ServerHandle,
}

impl std::fmt::Debug for FakeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProvider").field("url", &self.url).finish_non_exhaustive()
    }
}

impl FakeProvider {
    /// Starts the server on a free port of 127.0.0.1, on the current Tokio runtime (works under
    /// `#[tokio::test]` and `#[actix_web::test]` alike).
    pub async fn start() -> FakeProvider {
        let state: Shared = Arc::default();
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(routes))
            .workers(1)
            .disable_signals()
            .shutdown_timeout(0)
            .bind(("127.0.0.1", 0))
            .expect("bind the fake OAuth provider to 127.0.0.1:0");
        let addr = *server.addrs().first().expect("the fake OAuth provider is bound to an address");
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        FakeProvider { url: format!("http://{addr}"), state, handle }
    }

    /// The base URL, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// `OAUTH_GOOGLE_*` settings pointing at this fake.
    pub fn google_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OAUTH_GOOGLE_CLIENT_ID", GOOGLE_CLIENT_ID.to_owned()),
            ("OAUTH_GOOGLE_CLIENT_SECRET", GOOGLE_CLIENT_SECRET.to_owned()),
            ("OAUTH_GOOGLE_AUTH_URL", format!("{}/google/authorize", self.url)),
            ("OAUTH_GOOGLE_TOKEN_URL", format!("{}/google/token", self.url)),
            ("OAUTH_GOOGLE_USERINFO_URL", format!("{}/google/userinfo", self.url)),
        ]
    }

    /// `OAUTH_GITHUB_*` settings pointing at this fake.
    pub fn github_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OAUTH_GITHUB_CLIENT_ID", GITHUB_CLIENT_ID.to_owned()),
            ("OAUTH_GITHUB_CLIENT_SECRET", GITHUB_CLIENT_SECRET.to_owned()),
            ("OAUTH_GITHUB_AUTH_URL", format!("{}/github/login/oauth/authorize", self.url)),
            ("OAUTH_GITHUB_TOKEN_URL", format!("{}/github/login/oauth/access_token", self.url)),
            ("OAUTH_GITHUB_API_URL", format!("{}/github/api", self.url)),
        ]
    }

    /// Who signs in at Google from the next authorization on.
    pub fn set_google_user(&self, user: FakeGoogleUser) {
        lock(&self.state).google_user = user;
    }

    /// Who signs in at GitHub from the next authorization on.
    pub fn set_github_user(&self, user: FakeGitHubUser) {
        lock(&self.state).github_user = user;
    }

    /// Makes the next authorization end with `error=access_denied`, as when the person declines.
    pub fn deny_next_authorization(&self) {
        lock(&self.state).deny_next = true;
    }

    /// Makes every token request answer `status` until [`Self::reset_failures`]: a 5xx answers
    /// `{"error":"temporarily_unavailable"}` (an outage, even though the body looks like an OAuth
    /// error), 401 `{"error":"invalid_client"}`, any other status `{"error":"invalid_grant"}`.
    pub fn fail_token_with(&self, status: u16) {
        lock(&self.state).fail_token = Some(status);
    }

    /// Makes every profile request (Google userinfo, GitHub `/user` and `/user/emails`) answer
    /// `status` until [`Self::reset_failures`].
    pub fn fail_profile_with(&self, status: u16) {
        lock(&self.state).fail_profile = Some(status);
    }

    /// Makes refused token requests answer `200 {"error":"bad_verification_code"}` instead of
    /// `400 {"error":"invalid_grant"}`, as real GitHub does, until [`Self::reset_failures`].
    pub fn refuse_tokens_with_200(&self) {
        lock(&self.state).errors_as_200 = true;
    }

    /// Ends the failures set by `fail_*`, `deny_next_authorization` and `refuse_tokens_with_200`.
    pub fn reset_failures(&self) {
        let mut state = lock(&self.state);
        state.fail_token = None;
        state.fail_profile = None;
        state.deny_next = false;
        state.errors_as_200 = false;
    }

    /// How many token requests arrived, for both providers, failed ones included.
    pub fn token_requests(&self) -> usize {
        lock(&self.state).token_requests
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for completion,
        // which a destructor cannot do.
        let stopping = self.handle.stop(false);
        drop(stopping);
    }
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/google")
            .app_data(web::Data::new(Flavor::Google))
            .route("/authorize", web::get().to(authorize))
            .route("/token", web::post().to(token))
            .route("/userinfo", web::get().to(google_userinfo)),
    )
    .service(
        web::scope("/github")
            .app_data(web::Data::new(Flavor::GitHub))
            .route("/login/oauth/authorize", web::get().to(authorize))
            .route("/login/oauth/access_token", web::post().to(token))
            .route("/api/user", web::get().to(github_user))
            .route("/api/user/emails", web::get().to(github_emails)),
    );
}

fn bad_request(reason: &str) -> HttpResponse {
    HttpResponse::BadRequest().body(reason.to_owned())
}

/// `GET .../authorize`: checks the request as the real providers do, then "signs in" the
/// configured person and redirects back with a fresh code.
async fn authorize(
    flavor: web::Data<Flavor>,
    state: web::Data<Mutex<State>>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let flavor = **flavor;
    let param = |name: &str| query.get(name).map(String::as_str).filter(|v| !v.is_empty());
    if param("client_id") != Some(flavor.client_id()) {
        return bad_request("unknown client_id");
    }
    if param("response_type") != Some("code") {
        return bad_request("response_type must be code");
    }
    if param("code_challenge_method") != Some("S256") {
        return bad_request("code_challenge_method must be S256");
    }
    let (Some(code_challenge), Some(state_param), Some(redirect_uri)) =
        (param("code_challenge"), param("state"), param("redirect_uri"))
    else {
        return bad_request("code_challenge, state and redirect_uri are required");
    };
    let Ok(mut location) = Url::parse(redirect_uri) else {
        return bad_request("redirect_uri is not a URL");
    };
    let mut shared = lock(&state);
    if std::mem::take(&mut shared.deny_next) {
        location.query_pairs_mut().append_pair("error", "access_denied").append_pair("state", state_param);
    } else {
        let person = match flavor {
            Flavor::Google => Person::Google(shared.google_user.clone()),
            Flavor::GitHub => Person::GitHub(shared.github_user.clone()),
        };
        let code = random();
        let issued = IssuedCode {
            redirect_uri: redirect_uri.to_owned(),
            code_challenge: code_challenge.to_owned(),
            scope: param("scope").unwrap_or_default().to_owned(),
            person,
        };
        shared.codes.insert(code.clone(), issued);
        location.query_pairs_mut().append_pair("code", &code).append_pair("state", state_param);
    }
    HttpResponse::Found().insert_header((LOCATION, location.as_str())).finish()
}

/// `POST .../token`: exchanges a code, once, for an access token.
async fn token(
    flavor: web::Data<Flavor>,
    state: web::Data<Mutex<State>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let flavor = **flavor;
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let mut shared = lock(&state);
    shared.token_requests += 1;
    if let Some(status) = shared.fail_token {
        let error = match status {
            500.. => "temporarily_unavailable",
            401 => "invalid_client",
            _ => "invalid_grant",
        };
        return oauth_json(status, json!({ "error": error }));
    }
    let errors_as_200 = shared.errors_as_200;
    let invalid_grant = || {
        if errors_as_200 {
            oauth_json(
                200,
                json!({ "error": "bad_verification_code", "error_description": "The code passed is incorrect or expired." }),
            )
        } else {
            oauth_json(400, json!({ "error": "invalid_grant" }))
        }
    };
    if form.get("grant_type").map(String::as_str) != Some("authorization_code")
        || !client_authenticated(flavor, &request, &form)
    {
        return invalid_grant();
    }
    // Removed on first use, whatever comes next: a code is good for one attempt only.
    let Some(issued) = form.get("code").and_then(|code| shared.codes.remove(code)) else {
        return invalid_grant();
    };
    let verifier = form.get("code_verifier").map(String::as_str).unwrap_or_default();
    if issued.person.flavor() != flavor
        || form.get("redirect_uri") != Some(&issued.redirect_uri)
        || verifier.is_empty()
        || URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != issued.code_challenge
    {
        return invalid_grant();
    }
    let access_token = random();
    shared.tokens.insert(access_token.clone(), issued.person);
    oauth_json(200, json!({ "access_token": access_token, "token_type": "bearer", "scope": issued.scope }))
}

/// Client authentication by HTTP Basic (RFC 6749 §2.3.1, id and secret form-urlencoded first)
/// or by `client_id` and `client_secret` form fields.
fn client_authenticated(flavor: Flavor, request: &HttpRequest, form: &HashMap<String, String>) -> bool {
    let basic =
        request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "));
    let (id, secret) = match basic {
        Some(encoded) => {
            let Some(decoded) = STANDARD.decode(encoded.trim()).ok().and_then(|d| String::from_utf8(d).ok()) else {
                return false;
            };
            let Some((id, secret)) = decoded.split_once(':') else {
                return false;
            };
            (form_decode(id), form_decode(secret))
        }
        None => {
            (form.get("client_id").cloned().unwrap_or_default(), form.get("client_secret").cloned().unwrap_or_default())
        }
    };
    id == flavor.client_id() && secret == flavor.client_secret()
}

/// Undoes `application/x-www-form-urlencoded` escaping of one value.
fn form_decode(value: &str) -> String {
    form_urlencoded::parse(format!("v={value}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

fn oauth_json(status: u16, body: serde_json::Value) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).insert_header(("Cache-Control", "no-store")).json(body)
}

/// Why a profile request gets no profile.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// A failure the test asked for, with this status.
    Requested(u16),
    /// No token, or one the fake did not issue for this provider.
    BadToken,
    /// No `User-Agent` (GitHub only).
    NoUserAgent,
}

impl Refusal {
    fn answer(self) -> HttpResponse {
        match self {
            Refusal::Requested(status) => oauth_json(status, json!({ "message": "failure requested by the test" })),
            Refusal::BadToken => oauth_json(401, json!({ "message": "Bad credentials" })),
            Refusal::NoUserAgent => HttpResponse::Forbidden().body(
                "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
            ),
        }
    }
}

/// The person behind the request's bearer token, if the fake issued it for `flavor`.
fn person(flavor: Flavor, state: &Mutex<State>, request: &HttpRequest) -> Result<Person, Refusal> {
    let shared = lock(state);
    if let Some(status) = shared.fail_profile {
        return Err(Refusal::Requested(status));
    }
    let token = request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        // GitHub also takes its older `token` scheme.
        let known = scheme.eq_ignore_ascii_case("bearer") || (flavor == Flavor::GitHub && scheme == "token");
        known.then(|| token.trim())
    });
    match token.and_then(|t| shared.tokens.get(t)) {
        Some(person) if person.flavor() == flavor => Ok(person.clone()),
        _ => Err(Refusal::BadToken),
    }
}

fn google_person(state: &Mutex<State>, request: &HttpRequest) -> Result<FakeGoogleUser, Refusal> {
    match person(Flavor::Google, state, request)? {
        Person::Google(user) => Ok(user),
        Person::GitHub(_) => Err(Refusal::BadToken),
    }
}

fn github_person(state: &Mutex<State>, request: &HttpRequest) -> Result<FakeGitHubUser, Refusal> {
    // Real GitHub refuses API requests without a `User-Agent`, before looking at the token.
    if request.headers().get(USER_AGENT).is_none_or(|v| v.is_empty()) {
        return Err(Refusal::NoUserAgent);
    }
    match person(Flavor::GitHub, state, request)? {
        Person::GitHub(user) => Ok(user),
        Person::Google(_) => Err(Refusal::BadToken),
    }
}

async fn google_userinfo(state: web::Data<Mutex<State>>, request: HttpRequest) -> HttpResponse {
    let user = match google_person(&state, &request) {
        Ok(user) => user,
        Err(refusal) => return refusal.answer(),
    };
    let name = user.email.split('@').next().unwrap_or_default().to_owned();
    HttpResponse::Ok().json(json!({
        "sub": user.sub,
        "email": user.email,
        "email_verified": user.email_verified,
        "name": name,
        "given_name": name,
        "picture": "https://lh3.example.com/a/photo.png",
    }))
}

async fn github_user(state: web::Data<Mutex<State>>, request: HttpRequest) -> HttpResponse {
    match github_person(&state, &request) {
        Ok(user) => HttpResponse::Ok().json(json!({
            "id": user.id,
            "login": user.login,
            "email": user.public_email,
            "name": null,
            "type": "User",
        })),
        Err(refusal) => refusal.answer(),
    }
}

async fn github_emails(state: web::Data<Mutex<State>>, request: HttpRequest) -> HttpResponse {
    match github_person(&state, &request) {
        Ok(user) => {
            let emails: Vec<_> = user
                .emails
                .iter()
                .map(|e| json!({ "email": e.email, "primary": e.primary, "verified": e.verified, "visibility": null }))
                .collect();
            HttpResponse::Ok().json(emails)
        }
        Err(refusal) => refusal.answer(),
    }
}

/// An unguessable code or token.
fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
