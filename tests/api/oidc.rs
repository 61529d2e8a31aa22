//! Sign-in with any OpenID Connect provider, against a real one: the certified `oidc-provider`
//! (npm), run on loopback by `tests/oidc/provider.mjs` and driven with HTTP requests as a browser
//! would. On both engines: the provider list, the browser flow with PKCE and a nonce, linking
//! (by issuer and subject; by e-mail only when verified), roles from `groups` up and down, TOTP,
//! key rotation, forged and replayed ID tokens, a provider that cannot be reached, and
//! back-channel logout ending a session's refresh token, access tokens and sockets, also on a
//! second instance.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use workbench_e2e::{Backend, TestApp, apply_oauth_env, browser, expect_problem, location};

use crate::realtime::{SIGN_IN_AGAIN, Socket};
use crate::totp::{code_at, unix_now};

/// The provider's name in Workbench's configuration and routes.
const NAME: &str = "corp";
const SECRET: &str = "a-client-secret-of-the-test-provider";

/// The test provider, stopped when dropped.
struct Idp {
    issuer: String,
    http: reqwest::Client,
    child: Child,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Idp {
    /// Starts the provider with no client yet (Workbench's port is known only once it runs);
    /// `None` when Node or the fixture's packages are missing outside CI (`npm ci --prefix
    /// tests/oidc`), which `.ci/run` installs.
    fn start() -> Option<Self> {
        Self::start_with(r#"{"port":0,"quiet":true,"clients":[],"accounts":{}}"#)
    }

    /// [`Self::start`] with this fixture configuration (`tests/oidc/README.md`).
    #[expect(clippy::print_stderr, reason = "a skipped test must be visible in the test output")]
    fn start_with(config: &str) -> Option<Self> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc");
        let installed = dir.join("node_modules/oidc-provider").is_dir();
        if !installed || Command::new("node").arg("--version").output().is_err() {
            assert!(std::env::var("CI").is_err(), "CI must install tests/oidc (npm ci --prefix tests/oidc)");
            eprintln!("skipped: the OpenID Connect test provider is not installed (npm ci --prefix tests/oidc)");
            return None;
        }
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .env("OIDC_FIXTURE", config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the READY line");
        let issuer = line.trim().strip_prefix("READY ").unwrap_or_else(|| panic!("not ready: {line:?}")).to_owned();
        Some(Self { issuer, http: reqwest::Client::new(), child })
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let res = self.http.request(method, format!("{}/admin/{path}", self.issuer)).json(&body).send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(status.is_success(), "admin {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Creates or replaces the person `sub` with these claims.
    async fn account(&self, sub: &str, claims: Value) {
        self.admin(reqwest::Method::PUT, &format!("accounts/{sub}"), claims).await;
    }

    /// Registers Workbench as client `id`, its callback at `base` and its back-channel logout
    /// endpoint at `backchannel` (another instance's, say).
    async fn client(&self, id: &str, base: &str, backchannel: &str) {
        let metadata = json!({
            "client_secret": SECRET,
            "redirect_uris": [format!("{base}/api/v1/auth/oauth/{NAME}/callback")],
            "backchannel_logout_uri": format!("{backchannel}/api/v1/auth/oidc/{NAME}/backchannel-logout"),
        });
        self.admin(reqwest::Method::PUT, &format!("clients/{id}"), metadata).await;
    }

    /// The settings that point Workbench at this provider as `corp`, with roles from `groups`.
    fn env(&self, client_id: &str) -> Vec<(&'static str, String)> {
        vec![
            ("OIDC_PROVIDERS", format!("{NAME},down")),
            ("OIDC_CORP_ISSUER", self.issuer.clone()),
            ("OIDC_CORP_CLIENT_ID", client_id.to_owned()),
            ("OIDC_CORP_CLIENT_SECRET", SECRET.to_owned()),
            ("OIDC_CORP_DISPLAY_NAME", "Corp SSO".to_owned()),
            ("OIDC_CORP_SCOPES", "openid email profile groups".to_owned()),
            ("OIDC_CORP_ROLE_CLAIM", "groups".to_owned()),
            ("OIDC_CORP_ROLE_MAP", "wb-admins=admin,wb-mods=moderator".to_owned()),
            // A provider nobody runs: its routes answer 502, naming it.
            ("OIDC_DOWN_ISSUER", "http://127.0.0.1:9".to_owned()),
            ("OIDC_DOWN_CLIENT_ID", "workbench".to_owned()),
            ("OIDC_DOWN_CLIENT_SECRET", SECRET.to_owned()),
        ]
    }

    /// The provider's session ids (`sid`) of `sub` with client `client`.
    async fn sids(&self, sub: &str, client: &str) -> Vec<String> {
        let sessions = self.admin(reqwest::Method::GET, "sessions", Value::Null).await;
        let mut found = Vec::new();
        for session in sessions.as_array().into_iter().flatten().filter(|s| s["sub"] == sub) {
            for c in session["clients"].as_array().into_iter().flatten().filter(|c| c["client_id"] == client) {
                found.push(c["sid"].as_str().unwrap().to_owned());
            }
        }
        found
    }

    /// The `sid` of `sub`'s newest sign-in with `client`: the one not in `before`.
    async fn new_sid(&self, sub: &str, client: &str, before: &[String]) -> String {
        let mut fresh: Vec<String> = self.sids(sub, client).await.into_iter().filter(|s| !before.contains(s)).collect();
        assert_eq!(fresh.len(), 1, "one new provider session: {fresh:?}");
        fresh.remove(0)
    }

    /// Has the provider send a logout token of `mode` for `claims` (`sub`, `sid`) to client
    /// `client`'s back-channel endpoint; returns what Workbench answered and the token.
    async fn logout(&self, client: &str, mode: &str, claims: Value) -> (u16, Value) {
        let mut body = json!({"client_id": client, "mode": mode});
        body.as_object_mut().unwrap().extend(claims.as_object().unwrap().clone());
        let sent = self.admin(reqwest::Method::POST, "backchannel-logout", body).await;
        (sent["status"].as_u64().unwrap() as u16, sent)
    }
}

/// One app with the provider configured and registered as client `workbench`; `None` when
/// PostgreSQL or the provider is skipped.
async fn start(backend: Backend) -> Option<(TestApp, Idp)> {
    let idp = Idp::start()?;
    let env = idp.env("workbench");
    let app = TestApp::spawn_with(backend, move |settings| apply_oauth_env(settings, &env)).await?;
    idp.client("workbench", &app.base, &app.base).await;
    Some((app, idp))
}

/// What a browser does to sign in as `sub`, in a fresh browser: Workbench's start URL, the
/// provider's authorization endpoint and its login form, back to Workbench's callback (on `at`:
/// an instance may be named by a public URL the test cannot reach). Returns the callback's answer.
async fn sign_in(app: &TestApp, at: &TestApp, idp: &Idp, sub: &str) -> reqwest::Response {
    let browser = browser();
    let authorize = app.oauth_start_in(&browser, NAME).await;
    assert!(authorize.starts_with(&idp.issuer), "{authorize}");
    let url = Url::parse(&authorize).unwrap();
    let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs.get("code_challenge_method").map(String::as_str), Some("S256"), "{authorize}");
    assert!(pairs.get("nonce").is_some_and(|n| n.len() >= 22), "a nonce: {authorize}");
    let res = browser.get(authorize).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    let interaction = format!("{}{}", idp.issuer, location(&res));
    let res = browser.post(format!("{interaction}/login")).form(&[("login", sub)]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "login {sub}: {}", res.text().await.unwrap());
    let res = browser.get(location(&res)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    let mut callback = Url::parse(&location(&res)).unwrap();
    let base = Url::parse(&at.base).unwrap();
    callback.set_host(base.host_str()).unwrap();
    callback.set_port(base.port()).unwrap();
    browser.get(callback).send().await.unwrap()
}

/// [`sign_in`] on `app` itself, which must succeed: the token response.
async fn signed_in(app: &TestApp, idp: &Idp, sub: &str) -> Value {
    let res = sign_in(app, app, idp, sub).await;
    let (status, text) = (res.status(), res.text().await.unwrap());
    assert_eq!(status, StatusCode::OK, "sign-in of {sub}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The signed-in person of a token response, as the socket helpers take them.
fn account_of(session: &Value) -> workbench_e2e::Account {
    workbench_e2e::Account {
        id: session["user"]["id"].as_i64().unwrap(),
        username: session["user"]["username"].as_str().unwrap().into(),
        email: session["user"]["email"].as_str().unwrap().into(),
        password: String::new(),
        access_token: session["access_token"].as_str().unwrap().into(),
        refresh_token: session["refresh_token"].as_str().unwrap().into(),
    }
}

async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    app.get("/api/v1/auth/me").bearer_auth(token).send().await.unwrap()
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post("/api/v1/auth/refresh").json(&json!({"refresh_token": token})).send().await.unwrap()
}

fn alice() -> Value {
    json!({"email": "alice@corp.example", "email_verified": true, "name": "Alice", "preferred_username": "alice", "groups": ["staff"]})
}

/// Every case on SQLite and, when it is reachable, PostgreSQL.
macro_rules! cases {
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some((app, idp)) = super::start(workbench_e2e::Backend::Sqlite).await {
                    super::$case(app, idp).await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some((app, idp)) = super::start(workbench_e2e::Backend::Postgres).await {
                    super::$case(app, idp).await;
                }
            }
        }
    )+};
}

cases!(
    providers_are_listed_and_an_unknown_one_is_404,
    sign_in_makes_then_finds_the_account_by_issuer_and_subject,
    an_email_links_only_when_the_provider_verified_it,
    roles_follow_the_groups_claim_up_and_down,
    an_account_with_totp_stops_at_the_second_factor,
    rotated_keys_are_fetched_again,
    forged_and_replayed_id_tokens_are_refused,
    an_unreachable_provider_is_a_502_naming_it,
    backchannel_logout_ends_that_session_with_its_tokens_and_sockets,
    backchannel_logout_by_subject_ends_every_session,
    invalid_and_replayed_logout_tokens_are_400,
    the_providers_own_end_session_logs_out_of_workbench,
);

async fn providers_are_listed_and_an_unknown_one_is_404(app: TestApp, _idp: Idp) {
    let res = app.get("/api/v1/auth/providers").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let corp = body["data"].as_array().unwrap().iter().find(|p| p["name"] == NAME).cloned().unwrap();
    assert_eq!(corp["kind"], "oidc");
    assert_eq!(corp["display_name"], "Corp SSO");
    assert_eq!(corp["start_url"], format!("{}/api/v1/auth/oauth/{NAME}", app.base));
    let down = body["data"].as_array().unwrap().iter().find(|p| p["name"] == "down").cloned().unwrap();
    assert_eq!(down["display_name"], "down", "the name, without a display name");
    for path in ["/api/v1/auth/oauth/nobody", "/api/v1/auth/oauth/google"] {
        expect_problem(app.get(path).send().await.unwrap(), 404).await;
    }
    let res = app.post("/api/v1/auth/oidc/nobody/backchannel-logout").form(&[("logout_token", "x")]).send().await;
    expect_problem(res.unwrap(), 404).await;
}

async fn sign_in_makes_then_finds_the_account_by_issuer_and_subject(app: TestApp, idp: Idp) {
    idp.account("alice", alice()).await;
    let first = signed_in(&app, &idp, "alice").await;
    assert_eq!(first["user"]["email"], "alice@corp.example");
    assert_eq!(first["user"]["username"], "alice");
    assert_eq!(first["user"]["role"], "user", "staff maps to nothing: user");
    // The person changes their address at the provider: still the same account.
    idp.account("alice", json!({"email": "alice.new@corp.example", "email_verified": true})).await;
    let second = signed_in(&app, &idp, "alice").await;
    assert_eq!(second["user"]["id"], first["user"]["id"]);
    let res = me(&app, second["access_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Another person of the same provider is another account.
    idp.account("bob", json!({"email": "bob@corp.example", "email_verified": true})).await;
    let bob = signed_in(&app, &idp, "bob").await;
    assert_ne!(bob["user"]["id"], first["user"]["id"]);
}

async fn an_email_links_only_when_the_provider_verified_it(app: TestApp, idp: Idp) {
    let ann = app.signup("ann").await;
    idp.account("ann-at-corp", json!({"email": ann.email, "email_verified": true})).await;
    let linked = signed_in(&app, &idp, "ann-at-corp").await;
    assert_eq!(linked["user"]["id"], ann.id, "a verified address links the existing account");
    let ben = app.signup("ben").await;
    idp.account("ben-at-corp", json!({"email": ben.email, "email_verified": false})).await;
    let other = signed_in(&app, &idp, "ben-at-corp").await;
    assert_ne!(other["user"]["id"], ben.id, "an unverified address links nothing: a new account");
    let email = other["user"]["email"].as_str().unwrap();
    assert!(email.ends_with(".invalid"), "the address is someone else's here: {email}");
    let again = signed_in(&app, &idp, "ben-at-corp").await;
    assert_eq!(again["user"]["id"], other["user"]["id"], "then found by issuer and subject");
    // Ben's own password still opens Ben's account.
    assert_eq!(app.login(&ben.email, &ben.password).await.id, ben.id);
}

async fn roles_follow_the_groups_claim_up_and_down(app: TestApp, idp: Idp) {
    idp.account(
        "alice",
        json!({"email": "alice@corp.example", "email_verified": true, "groups": ["staff", "wb-admins"]}),
    )
    .await;
    let admin = signed_in(&app, &idp, "alice").await;
    assert_eq!(admin["user"]["role"], "admin");
    let token = admin["access_token"].as_str().unwrap().to_owned();
    let users = app.get("/api/v1/admin/audit?per_page=5").bearer_auth(&token).send().await.unwrap();
    assert_eq!(users.status(), StatusCode::OK, "an admin's route");
    idp.account("alice", json!({"email": "alice@corp.example", "email_verified": true, "groups": ["wb-mods"]})).await;
    let moderator = signed_in(&app, &idp, "alice").await;
    assert_eq!(moderator["user"]["role"], "moderator", "down at the next sign-in");
    // The earlier session's token acts as what the account is now, at once.
    let res = app.get("/api/v1/admin/audit?per_page=5").bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    idp.account("alice", json!({"email": "alice@corp.example", "email_verified": true})).await;
    let user = signed_in(&app, &idp, "alice").await;
    assert_eq!(user["user"]["role"], "user", "no mapped group: user");
    idp.account("alice", json!({"email": "alice@corp.example", "email_verified": true, "groups": ["wb-mods"]})).await;
    assert_eq!(signed_in(&app, &idp, "alice").await["user"]["role"], "moderator", "and up again");
}

async fn an_account_with_totp_stops_at_the_second_factor(app: TestApp, idp: Idp) {
    idp.account("alice", alice()).await;
    let session = signed_in(&app, &idp, "alice").await;
    let earlier = idp.sids("alice", "workbench").await;
    let token = session["access_token"].as_str().unwrap();
    let setup: Value =
        app.post("/api/v1/auth/totp/setup").bearer_auth(token).send().await.unwrap().json().await.unwrap();
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let res = app
        .post("/api/v1/auth/totp/enable")
        .bearer_auth(token)
        .json(&json!({"code": code_at(&secret, unix_now())}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let stopped = expect_problem(sign_in(&app, &app, &idp, "alice").await, 401).await;
    assert!(stopped["type"].as_str().unwrap().ends_with("totp-required"), "{stopped}");
    assert!(stopped.get("access_token").is_none());
    // The code for the next step, so that it is not the one just spent enabling.
    let code = code_at(&secret, unix_now() + 30);
    let res = app
        .post("/api/v1/auth/login/totp")
        .json(&json!({"mfa_token": stopped["mfa_token"], "totp_code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let completed: Value = res.json().await.unwrap();
    // The provider's session went through the second factor: its logout ends this session.
    let sid = idp.new_sid("alice", "workbench", &earlier).await;
    let (status, _) = idp.logout("workbench", "normal", json!({"sub": "alice", "sid": sid})).await;
    assert_eq!(status, 200);
    assert_eq!(me(&app, completed["access_token"].as_str().unwrap()).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, token).await.status(), StatusCode::OK, "the first session is another provider session");
}

async fn rotated_keys_are_fetched_again(app: TestApp, idp: Idp) {
    idp.account("alice", alice()).await;
    signed_in(&app, &idp, "alice").await;
    idp.admin(reqwest::Method::POST, "rotate-keys", json!({"keep_old": false})).await;
    let after = signed_in(&app, &idp, "alice").await;
    assert_eq!(me(&app, after["access_token"].as_str().unwrap()).await.status(), StatusCode::OK);
}

async fn forged_and_replayed_id_tokens_are_refused(app: TestApp, idp: Idp) {
    idp.account("alice", alice()).await;
    signed_in(&app, &idp, "alice").await;
    for (mode, named) in [
        ("bad-signature", "signature"),
        ("unknown-kid", "kid"),
        ("wrong-iss", "iss"),
        ("wrong-aud", "aud"),
        ("multi-aud-no-azp", "azp"),
        ("wrong-azp", "azp"),
        ("expired", "exp"),
        ("future-iat", "iat"),
        ("wrong-nonce", "nonce"),
        ("no-nonce", "nonce"),
        ("replay", "nonce"),
        ("alg-none", "algorithm"),
        ("hs256", "HS256"),
    ] {
        idp.admin(reqwest::Method::POST, "tamper", json!({"mode": mode})).await;
        let problem = expect_problem(sign_in(&app, &app, &idp, "alice").await, 401).await;
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(problem["type"].as_str().unwrap().ends_with("invalid-id-token"), "{mode}: {problem}");
        assert!(detail.contains(named), "{mode}: the failure is named ({named}): {detail}");
    }
    // Nothing was spent or broken: the next honest sign-in works.
    signed_in(&app, &idp, "alice").await;
}

async fn an_unreachable_provider_is_a_502_naming_it(app: TestApp, _idp: Idp) {
    let problem = expect_problem(app.get("/api/v1/auth/oauth/down").send().await.unwrap(), 502).await;
    assert!(problem["detail"].as_str().unwrap().contains("down"), "{problem}");
}

async fn backchannel_logout_ends_that_session_with_its_tokens_and_sockets(app: TestApp, idp: Idp) {
    idp.account("alice", alice()).await;
    let ended = signed_in(&app, &idp, "alice").await;
    let sid = idp.new_sid("alice", "workbench", &[]).await;
    let kept = signed_in(&app, &idp, "alice").await;
    assert_eq!(idp.sids("alice", "workbench").await.len(), 2, "two provider sessions");
    let account = account_of(&ended);
    let mut socket = Socket::open(&app, &account).await;
    socket.settle().await;
    let (status, sent) = idp.logout("workbench", "normal", json!({"sub": "alice", "sid": sid})).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["headers"]["cache-control"], "no-store", "{sent}");
    assert_eq!(me(&app, &account.access_token).await.status(), StatusCode::UNAUTHORIZED, "its access token");
    expect_problem(refresh(&app, &account.refresh_token).await, 401).await;
    assert_eq!(socket.closed().await.0, SIGN_IN_AGAIN, "its socket");
    assert_eq!(me(&app, kept["access_token"].as_str().unwrap()).await.status(), StatusCode::OK, "the other session");
    assert_eq!(refresh(&app, kept["refresh_token"].as_str().unwrap()).await.status(), StatusCode::OK);
}

async fn backchannel_logout_by_subject_ends_every_session(app: TestApp, idp: Idp) {
    idp.account("alice", alice()).await;
    let one = signed_in(&app, &idp, "alice").await;
    let two = signed_in(&app, &idp, "alice").await;
    let (status, sent) = idp.logout("workbench", "normal", json!({"sub": "alice"})).await;
    assert_eq!(status, 200, "{sent}");
    for session in [&one, &two] {
        assert_eq!(me(&app, session["access_token"].as_str().unwrap()).await.status(), StatusCode::UNAUTHORIZED);
        expect_problem(refresh(&app, session["refresh_token"].as_str().unwrap()).await, 401).await;
    }
    let back = signed_in(&app, &idp, "alice").await;
    assert_eq!(me(&app, back["access_token"].as_str().unwrap()).await.status(), StatusCode::OK, "signing in again");
}

async fn invalid_and_replayed_logout_tokens_are_400(app: TestApp, idp: Idp) {
    idp.account("alice", alice()).await;
    let session = signed_in(&app, &idp, "alice").await;
    let sid = idp.sids("alice", "workbench").await.pop().unwrap();
    for mode in [
        "no-events",
        "wrong-events",
        "with-nonce",
        "wrong-aud",
        "wrong-iss",
        "expired-iat",
        "bad-signature",
        "no-sub-no-sid",
        "alg-none",
    ] {
        let (status, sent) = idp.logout("workbench", mode, json!({"sub": "alice", "sid": sid})).await;
        assert_eq!(status, 400, "{mode}: {sent}");
        let body: Value = serde_json::from_str(sent["body"].as_str().unwrap()).unwrap();
        assert!(body["type"].as_str().unwrap().ends_with("invalid-logout-token"), "{mode}: {body}");
    }
    assert_eq!(me(&app, session["access_token"].as_str().unwrap()).await.status(), StatusCode::OK, "nothing ended");
    let (status, _) = idp.logout("workbench", "normal", json!({"sub": "alice", "sid": sid})).await;
    assert_eq!(status, 200);
    let (status, sent) = idp.logout("workbench", "replay", json!({})).await;
    assert_eq!(status, 400, "the same jti again: {sent}");
    let res = app.post(&format!("/api/v1/auth/oidc/{NAME}/backchannel-logout")).form(&[("other", "x")]).send().await;
    expect_problem(res.unwrap(), 400).await;
}

async fn the_providers_own_end_session_logs_out_of_workbench(app: TestApp, idp: Idp) {
    idp.account("alice", alice()).await;
    let session = signed_in(&app, &idp, "alice").await;
    let ended = idp.admin(reqwest::Method::POST, "end-session", json!({"sub": "alice"})).await;
    let deliveries = ended["deliveries"].as_array().unwrap();
    assert!(deliveries.iter().any(|d| d["status"] == 200), "oidc-provider's own logout token was accepted: {ended}");
    assert_eq!(me(&app, session["access_token"].as_str().unwrap()).await.status(), StatusCode::UNAUTHORIZED);
}

mod two_instances {
    use super::*;

    /// Two instances on one database and Redis behind one public URL; the provider delivers its
    /// logout tokens to the second, the person signed in through the first.
    async fn logout_reaches_every_instance(backend: Backend) {
        let Some(idp) = Idp::start() else { return };
        let env = idp.env("workbench");
        let Some(apps) = TestApp::spawn_cluster_with(backend, 2, move |settings| apply_oauth_env(settings, &env)).await
        else {
            return;
        };
        let (a, b) = (&apps[0], &apps[1]);
        idp.client("workbench", "http://workbench.test", &b.base).await;
        idp.account("alice", alice()).await;
        let res = sign_in(a, a, &idp, "alice").await;
        assert_eq!(res.status(), StatusCode::OK);
        let session: Value = res.json().await.unwrap();
        let account = account_of(&session);
        let mut socket = Socket::open(a, &account).await;
        socket.settle().await;
        // Both instances have seen the session live (and cached it so).
        assert_eq!(me(a, &account.access_token).await.status(), StatusCode::OK);
        assert_eq!(me(b, &account.access_token).await.status(), StatusCode::OK);
        let sid = idp.sids("alice", "workbench").await.pop().unwrap();
        let (status, sent) = idp.logout("workbench", "normal", json!({"sub": "alice", "sid": sid})).await;
        assert_eq!(status, 200, "{sent}");
        for app in [a, b] {
            assert_eq!(me(app, &account.access_token).await.status(), StatusCode::UNAUTHORIZED, "on {}", app.base);
        }
        assert_eq!(socket.closed().await.0, SIGN_IN_AGAIN, "the socket on the first instance");
        expect_problem(refresh(a, &account.refresh_token).await, 401).await;
        // The same token replayed to the first instance is refused there too.
        let replay = json!({"url": format!("{}/api/v1/auth/oidc/{NAME}/backchannel-logout", a.base), "logout_token": sent["logout_token"]});
        let replayed = idp.admin(reqwest::Method::POST, "post-logout-token", replay).await;
        assert_eq!(replayed["status"], 400, "{replayed}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        logout_reaches_every_instance(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        logout_reaches_every_instance(Backend::Postgres).await;
    }
}

/// A provider whose ID tokens carry only what OpenID Connect requires (oidc-provider's default,
/// and many providers'): e-mail, its verification and the groups come from the userinfo endpoint,
/// and still link the account and decide its role.
mod claims_from_userinfo {
    use super::*;

    async fn case(backend: Backend) {
        let Some(idp) = Idp::start_with(r#"{"port":0,"quiet":true,"conform_id_token_claims":true}"#) else {
            return;
        };
        let env = idp.env("workbench");
        let Some(app) = TestApp::spawn_with(backend, move |settings| apply_oauth_env(settings, &env)).await else {
            return;
        };
        idp.client("workbench", &app.base, &app.base).await;
        let ann = app.signup("ann").await;
        idp.account("ann-at-corp", json!({"email": ann.email, "email_verified": true, "groups": ["wb-mods"]})).await;
        let session = signed_in(&app, &idp, "ann-at-corp").await;
        assert_eq!(session["user"]["id"], ann.id, "linked by the verified address userinfo gave");
        assert_eq!(session["user"]["role"], "moderator", "the role from userinfo's groups");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        case(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        case(Backend::Postgres).await;
    }
}
