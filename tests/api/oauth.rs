//! Signing in with Google and GitHub (OAuth2 authorization code with PKCE), against a fake
//! provider: new accounts, linking by verified email only, `state` checks (and the browser that
//! must bring it back), provider failures, the hand-over to a front end, and accounts with TOTP
//! on, which stop at `totp-required` and complete with `POST /auth/login/totp`.

use reqwest::{Method, Response, StatusCode, Url};
use serde_json::{Value, json};
use workbench_auth::testing::{FakeEmail, FakeGitHubUser, FakeGoogleUser, GITHUB_CLIENT_ID, GOOGLE_CLIENT_ID};
use workbench_e2e::{
    Account, FakeProvider, PASSWORD, TestApp, apply_oauth_env, browser, engines, error_fields, expect_problem,
    location, oauth_engines,
};

use crate::totp::{code_at, unix_now};

oauth_engines!(
    google_new_user_then_same_account,
    google_username_is_the_sanitized_email_local_part,
    github_new_user_uses_login_and_primary_verified_email,
    links_existing_account_by_verified_email,
    refuses_to_link_by_unverified_email,
    github_unverified_listed_email_is_refused_as_unverified,
    state_mismatch_and_replay,
    provider_refusal_and_outage,
    start_redirect_carries_state_and_pkce,
    disabled_account_cannot_sign_in_through_a_provider,
    frontend_url_gets_tokens_in_the_fragment with |settings| settings.oauth.frontend_url = Some(FRONTEND.into()),
    the_callback_needs_the_browser_that_started,
    the_browser_cookie_is_secure_behind_https with |settings| settings.server.public_url = Some("https://workbench.test".into()),
    a_totp_account_completes_with_a_code,
    racing_completions_sign_in_once,
    wrong_codes_lock_and_spend_the_mfa_token,
    a_linked_password_account_with_totp_stops_too,
    frontend_url_gets_the_mfa_token_in_the_fragment with |settings| settings.oauth.frontend_url = Some(FRONTEND.into()),
);

engines!(unconfigured_and_unknown_providers_are_404);

const FRONTEND: &str = "http://localhost:3000/signed-in";

/// Asserts `res` has `status` and returns its JSON body (the body is shown when it does not).
async fn expect_json(res: Response, status: u16) -> Value {
    let (code, url) = (res.status().as_u16(), res.url().clone());
    let text = res.text().await.unwrap();
    assert_eq!(code, status, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

/// Asserts a problem with `status` whose `type` ends with `kind`; returns it.
async fn expect_kind(res: Response, status: u16, kind: &str) -> Value {
    if res.status().as_u16() != status {
        let url = res.url().clone();
        panic!("{url}: expected {status} {kind}, got {} {}", res.status(), res.text().await.unwrap_or_default());
    }
    let problem = expect_problem(res, status).await;
    assert!(problem["type"].as_str().unwrap_or_default().ends_with(kind), "expected a {kind} problem: {problem}");
    problem
}

/// Signs in through `provider` (redirect by redirect) and returns the token response.
async fn sign_in(app: &TestApp, provider: &str) -> Value {
    let body = expect_json(app.oauth_walk(provider).await.response, 200).await;
    assert_signed_in(&body);
    body
}

/// The callback's answer is shaped like a login's.
fn assert_signed_in(body: &Value) {
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body["expires_in"].as_u64().is_some_and(|s| s > 0), "{body}");
    for token in ["access_token", "refresh_token"] {
        assert!(body[token].as_str().is_some_and(|t| !t.is_empty()), "{token}: {body}");
    }
    assert!(body["user"]["id"].as_i64().is_some(), "{body}");
}

async fn me(app: &TestApp, token: &str) -> Response {
    app.get("/api/v1/auth/me").bearer_auth(token).send().await.unwrap()
}

async fn refresh(app: &TestApp, token: &str) -> Response {
    app.post("/api/v1/auth/refresh").json(&json!({"refresh_token": token})).send().await.unwrap()
}

/// The audit entries of `action` that `admin` reads, newest first.
async fn audit(app: &TestApp, admin: &Account, action: &str) -> Vec<Value> {
    let res = app.get(&format!("/api/v1/admin/audit?action={action}&per_page=100")).bearer_auth(&admin.access_token);
    let body = expect_json(res.send().await.unwrap(), 200).await;
    body["data"].as_array().unwrap_or_else(|| panic!("{body}")).clone()
}

/// How many accounts exist, as `reader` sees in the user list.
async fn user_count(app: &TestApp, reader: &Account) -> u64 {
    let res = app.get("/api/v1/users").bearer_auth(&reader.access_token).send().await.unwrap();
    let list = expect_json(res, 200).await;
    list["pagination"]["total"].as_u64().unwrap_or_else(|| panic!("{list}"))
}

/// The value of query parameter `name` in `url`.
fn param(url: &str, name: &str) -> Option<String> {
    let url = Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The provider's redirect back with a valid `state` but `code` replaced, and the app's answer.
async fn callback_with_code(app: &TestApp, provider: &str, code: &str) -> Response {
    let browser = browser();
    let res = browser.get(app.oauth_start_in(&browser, provider).await).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let mut url = Url::parse(&location(&res)).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "code" { code.to_owned() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    browser.get(url.as_str()).send().await.unwrap()
}

fn github_user(id: u64, login: &str, emails: &[(&str, bool, bool)]) -> FakeGitHubUser {
    FakeGitHubUser {
        id,
        login: login.into(),
        public_email: None,
        emails: emails
            .iter()
            .map(|&(email, primary, verified)| FakeEmail { email: email.into(), primary, verified })
            .collect(),
    }
}

fn google_user(sub: &str, email: &str, email_verified: bool) -> FakeGoogleUser {
    FakeGoogleUser { sub: sub.into(), email: email.into(), email_verified }
}

async fn google_new_user_then_same_account(app: TestApp, fake: FakeProvider) {
    fake.set_google_user(google_user("g-1001", "ann.lee@example.com", true));
    let first = sign_in(&app, "google").await;
    let id = first["user"]["id"].as_i64().unwrap();
    assert_eq!(first["user"]["email"], "ann.lee@example.com", "{first}");
    assert_eq!(first["user"]["username"], "ann.lee", "{first}");

    // The tokens are real: the access token reads the account, the refresh token rotates.
    let own = expect_json(me(&app, first["access_token"].as_str().unwrap()).await, 200).await;
    assert_eq!((&own["id"], &own["email"]), (&json!(id), &json!("ann.lee@example.com")), "{own}");
    let fresh = expect_json(refresh(&app, first["refresh_token"].as_str().unwrap()).await, 200).await;
    let own = expect_json(me(&app, fresh["access_token"].as_str().unwrap()).await, 200).await;
    assert_eq!(own["id"], id, "{own}");

    // Signing in again (this time letting the client follow the redirects) is the same account.
    let again = expect_json(app.oauth_walk_following_redirects("google").await, 200).await;
    assert_signed_in(&again);
    assert_eq!(again["user"]["id"], id, "{again}");
    assert_ne!(again["access_token"], first["access_token"]);

    // The person changes their address at Google: still the same account (found by `sub`).
    fake.set_google_user(google_user("g-1001", "ann.new@example.com", true));
    let moved = sign_in(&app, "google").await;
    assert_eq!(moved["user"]["id"], id, "{moved}");
    assert_eq!(moved["user"]["username"], "ann.lee", "{moved}");
}

async fn google_username_is_the_sanitized_email_local_part(app: TestApp, fake: FakeProvider) {
    fake.set_google_user(google_user("g-2001", "mary+work@example.com", true));
    let mary = sign_in(&app, "google").await;
    assert_eq!(mary["user"]["username"], "marywork", "{mary}");
    assert_eq!(mary["user"]["email"], "mary+work@example.com", "{mary}");

    // A short local part is made long enough to be a valid username.
    fake.set_google_user(google_user("g-2002", "jo@example.com", true));
    let jo = sign_in(&app, "google").await;
    let username = jo["user"]["username"].as_str().unwrap();
    assert!(username.len() >= 3 && username.contains("jo"), "{jo}");

    // Another person whose local part is taken gets a name starting with it, not the same one.
    app.signup("sam").await;
    fake.set_google_user(google_user("g-2003", "sam@elsewhere.example.com", true));
    let other = sign_in(&app, "google").await;
    let username = other["user"]["username"].as_str().unwrap();
    assert!(username.starts_with("sam") && username != "sam", "{other}");
    for (name, user) in [("mary", &mary), ("jo", &jo), ("sam", &other)] {
        let username = user["user"]["username"].as_str().unwrap();
        assert!(
            username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')),
            "{name}: {username}"
        );
    }
}

async fn github_new_user_uses_login_and_primary_verified_email(app: TestApp, fake: FakeProvider) {
    // The primary verified address wins over a secondary verified one and the public profile email.
    fake.set_github_user(FakeGitHubUser {
        id: 583231,
        login: "octocat".into(),
        public_email: Some("octocat@public.example.com".into()),
        emails: vec![
            FakeEmail { email: "octo.work@example.com".into(), primary: false, verified: true },
            FakeEmail { email: "octocat@example.com".into(), primary: true, verified: true },
        ],
    });
    let first = sign_in(&app, "github").await;
    let id = first["user"]["id"].as_i64().unwrap();
    assert_eq!(first["user"]["username"], "octocat", "{first}");
    assert_eq!(first["user"]["email"], "octocat@example.com", "{first}");
    let own = expect_json(me(&app, first["access_token"].as_str().unwrap()).await, 200).await;
    assert_eq!(own["email"], "octocat@example.com", "{own}");

    let again = expect_json(app.oauth_walk_following_redirects("github").await, 200).await;
    assert_signed_in(&again);
    assert_eq!(again["user"]["id"], id, "{again}");

    // A different GitHub person (another id) with the same login gets an account of their own.
    fake.set_github_user(github_user(9_000_001, "octocat", &[("second.octocat@example.com", true, true)]));
    let second = sign_in(&app, "github").await;
    let username = second["user"]["username"].as_str().unwrap();
    assert_ne!(second["user"]["id"], id, "{second}");
    assert!(username.starts_with("octocat") && username != "octocat", "{second}");
    assert_eq!(second["user"]["email"], "second.octocat@example.com", "{second}");

    // Usernames are unique regardless of case, as at registration.
    fake.set_github_user(github_user(9_000_002, "OctoCat", &[("third.octocat@example.com", true, true)]));
    let third = sign_in(&app, "github").await;
    let username = third["user"]["username"].as_str().unwrap().to_lowercase();
    assert!(username.starts_with("octocat") && username != "octocat", "{third}");

    // GitHub logins may be longer than usernames: cut to 32, suffix included.
    let long = "a-very-long-github-login-39-chars-x-y-z";
    for (id, email) in [(9_000_003, "long1@example.com"), (9_000_004, "long2@example.com")] {
        fake.set_github_user(github_user(id, long, &[(email, true, true)]));
        let user = sign_in(&app, "github").await;
        let username = user["user"]["username"].as_str().unwrap();
        assert!(username.len() <= 32 && long.starts_with(&username[..20]), "{user}");
    }
}

async fn links_existing_account_by_verified_email(app: TestApp, fake: FakeProvider) {
    let admin = app.signup_with_role("root", "admin").await;
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let users_before = user_count(&app, &admin).await;

    fake.set_google_user(google_user("g-ann", "ann@example.com", true));
    let body = sign_in(&app, "google").await;
    assert_eq!(body["user"]["id"], ann.id, "{body}");
    assert_eq!(body["user"]["username"], "ann", "{body}");

    // GitHub, with the address in another case and not the first in the list, links bob.
    fake.set_github_user(github_user(
        77,
        "bobby-gh",
        &[("bob.old@example.com", false, false), ("Bob@Example.COM", true, true)],
    ));
    let body = sign_in(&app, "github").await;
    assert_eq!(body["user"]["id"], bob.id, "{body}");
    assert_eq!(body["user"]["username"], "bob", "{body}");
    assert_eq!(user_count(&app, &admin).await, users_before, "no account was created");

    // Both links are in the audit trail, and so are the sign-ins with their method.
    let linked = audit(&app, &admin, "oauth_linked").await;
    for who in [ann.id, bob.id] {
        assert!(
            linked.iter().any(|e| e["action"] == "oauth_linked" && e["target_id"] == who),
            "no oauth_linked entry about {who}: {linked:?}"
        );
    }
    let logins = audit(&app, &admin, "login").await;
    for (who, method) in [(ann.id, "google"), (bob.id, "github")] {
        assert!(
            logins.iter().any(|e| e["target_id"] == who && e["details"]["method"] == method),
            "no {method} login about {who}: {logins:?}"
        );
    }

    // The password still works, and the next Google sign-in is the same account.
    assert_eq!(app.login("ann@example.com", PASSWORD).await.id, ann.id);
    assert_eq!(sign_in(&app, "google").await["user"]["id"], ann.id);
}

async fn refuses_to_link_by_unverified_email(app: TestApp, fake: FakeProvider) {
    let admin = app.signup_with_role("root", "admin").await;
    let ann = app.signup("ann").await;
    let users_before = user_count(&app, &admin).await;

    // GitHub shows ann's address only on the public profile (not verified); Google says it is
    // not verified.
    fake.set_github_user(FakeGitHubUser {
        public_email: Some("ann@example.com".into()),
        ..github_user(4242, "ann-gh", &[("ann-gh@users.noreply.example.com", false, false)])
    });
    let problem = expect_kind(app.oauth_walk("github").await.response, 409, "oauth-email-unverified").await;
    assert!(problem.get("access_token").is_none(), "{problem}");

    fake.set_google_user(google_user("g-ann", "ann@example.com", false));
    let problem = expect_kind(app.oauth_walk("google").await.response, 409, "oauth-email-unverified").await;
    assert!(problem.get("access_token").is_none(), "{problem}");

    // Ann's account is as it was, nothing was created and nothing linked.
    let again = app.login("ann@example.com", PASSWORD).await;
    assert_eq!((again.id, again.username.as_str()), (ann.id, "ann"));
    assert_eq!(user_count(&app, &admin).await, users_before);
    let linked = audit(&app, &admin, "oauth_linked").await;
    assert!(linked.is_empty(), "{linked:?}");

    // Once GitHub has verified the address, the same person links to ann's account.
    fake.set_github_user(github_user(4242, "ann-gh", &[("ann@example.com", true, true)]));
    let body = sign_in(&app, "github").await;
    assert_eq!(body["user"]["id"], ann.id, "{body}");
    let linked = audit(&app, &admin, "oauth_linked").await;
    assert!(linked.iter().any(|e| e["target_id"] == ann.id), "{linked:?}");
}

/// GitHub lists ann's address in `/user/emails`, as the primary one, but unverified (and there is
/// no public email): a matching unverified email, refused like the others.
async fn github_unverified_listed_email_is_refused_as_unverified(app: TestApp, fake: FakeProvider) {
    let admin = app.signup_with_role("root", "admin").await;
    let ann = app.signup("ann").await;
    let users_before = user_count(&app, &admin).await;

    fake.set_github_user(github_user(4343, "ann-gh", &[("ann@example.com", true, false)]));
    let problem = expect_kind(app.oauth_walk("github").await.response, 409, "oauth-email-unverified").await;
    assert!(problem.get("access_token").is_none(), "{problem}");
    assert_eq!(app.login("ann@example.com", PASSWORD).await.id, ann.id);
    assert_eq!(user_count(&app, &admin).await, users_before);
}

async fn state_mismatch_and_replay(app: TestApp, fake: FakeProvider) {
    let callback =
        |provider: &str, query: &str| app.get(&format!("/api/v1/auth/oauth/{provider}/callback?{query}")).send();

    // A state this server never issued, and no state at all.
    app.oauth_start("google").await;
    expect_kind(callback("google", "code=abc&state=made-up").await.unwrap(), 400, "invalid-oauth-state").await;
    expect_kind(callback("google", "code=abc").await.unwrap(), 400, "invalid-oauth-state").await;
    expect_kind(callback("google", "code=abc&state=").await.unwrap(), 400, "invalid-oauth-state").await;

    // A state issued for Google, brought back to the GitHub callback (with a real Google code).
    let authorize_url = app.oauth_start("google").await;
    let res = app.client.get(&authorize_url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let mut crossed = Url::parse(&location(&res)).unwrap();
    crossed.set_path("/api/v1/auth/oauth/github/callback");
    let res = app.client.get(crossed.as_str()).send().await.unwrap();
    expect_kind(res, 400, "invalid-oauth-state").await;
    assert_eq!(fake.token_requests(), 0, "no code is exchanged without a valid state");

    // A real sign-in works once; the same callback URL replayed (by the same browser) does not.
    let walk = app.oauth_walk("google").await;
    assert_signed_in(&expect_json(walk.response, 200).await);
    let res = walk.browser.get(&walk.callback_url).send().await.unwrap();
    expect_kind(res, 400, "invalid-oauth-state").await;
    assert_eq!(fake.token_requests(), 1, "the replay did not reach the provider");
}

async fn provider_refusal_and_outage(app: TestApp, fake: FakeProvider) {
    // The person clicks "Cancel" at the provider.
    fake.deny_next_authorization();
    let walk = app.oauth_walk("google").await;
    assert_eq!(param(&walk.callback_url, "error").as_deref(), Some("access_denied"));
    expect_kind(walk.response, 502, "oauth-provider-refused").await;

    // The token endpoint is down, then refuses the code (400 and, GitHub style, 200 with an error).
    fake.fail_token_with(500);
    expect_kind(app.oauth_walk("google").await.response, 502, "oauth-provider-unavailable").await;
    expect_kind(app.oauth_walk("github").await.response, 502, "oauth-provider-unavailable").await;
    fake.fail_token_with(400);
    expect_kind(app.oauth_walk("google").await.response, 502, "oauth-provider-refused").await;
    expect_kind(app.oauth_walk("github").await.response, 502, "oauth-provider-refused").await;
    fake.reset_failures();
    fake.refuse_tokens_with_200();
    expect_kind(callback_with_code(&app, "github", "not-a-real-code").await, 502, "oauth-provider-refused").await;

    // The profile endpoint is down.
    fake.reset_failures();
    fake.fail_profile_with(503);
    expect_kind(app.oauth_walk("github").await.response, 502, "oauth-provider-unavailable").await;

    // Once the provider is back, signing in works with both.
    fake.reset_failures();
    sign_in(&app, "google").await;
    let body = expect_json(app.oauth_walk_following_redirects("github").await, 200).await;
    assert_signed_in(&body);
}

async fn start_redirect_carries_state_and_pkce(app: TestApp, fake: FakeProvider) {
    for (provider, client_id, authorize_path) in [
        ("google", GOOGLE_CLIENT_ID, "/google/authorize"),
        ("github", GITHUB_CLIENT_ID, "/github/login/oauth/authorize"),
    ] {
        let first = app.oauth_start(provider).await;
        let second = app.oauth_start(provider).await;
        assert!(first.starts_with(&format!("{}{authorize_path}?", fake.url())), "{first}");
        let callback = format!("{}/api/v1/auth/oauth/{provider}/callback", app.base);
        for url in [&first, &second] {
            assert_eq!(param(url, "client_id").as_deref(), Some(client_id), "{url}");
            assert_eq!(param(url, "response_type").as_deref(), Some("code"), "{url}");
            assert_eq!(param(url, "redirect_uri").as_deref(), Some(callback.as_str()), "{url}");
            assert_eq!(param(url, "code_challenge_method").as_deref(), Some("S256"), "{url}");
            let challenge = param(url, "code_challenge").unwrap_or_default();
            assert_eq!(challenge.len(), 43, "a base64url SHA-256: {url}");
            let state = param(url, "state").unwrap_or_default();
            assert!(state.len() >= 16, "an unguessable state: {url}");
        }
        assert_ne!(param(&first, "state"), param(&second, "state"), "each start has its own state");
        assert_ne!(param(&first, "code_challenge"), param(&second, "code_challenge"));
    }
}

async fn disabled_account_cannot_sign_in_through_a_provider(app: TestApp, fake: FakeProvider) {
    let admin = app.signup_with_role("root", "admin").await;
    let disable = |id: i64| {
        app.request(Method::PATCH, &format!("/api/v1/admin/users/{id}"))
            .bearer_auth(&admin.access_token)
            .json(&json!({"status": "disabled"}))
            .send()
    };

    // An account made through Google, then disabled.
    fake.set_google_user(google_user("g-dan", "dan@example.com", true));
    let dan = sign_in(&app, "google").await;
    let dan_id = dan["user"]["id"].as_i64().unwrap();
    expect_json(disable(dan_id).await.unwrap(), 200).await;
    let problem = expect_problem(app.oauth_walk("google").await.response, 403).await;
    assert!(problem.get("access_token").is_none(), "{problem}");

    // A disabled password account is not a way in either, even with a verified address.
    let ann = app.signup("ann").await;
    expect_json(disable(ann.id).await.unwrap(), 200).await;
    fake.set_github_user(github_user(31337, "ann-gh", &[("ann@example.com", true, true)]));
    expect_problem(app.oauth_walk("github").await.response, 403).await;
}

async fn frontend_url_gets_tokens_in_the_fragment(app: TestApp, fake: FakeProvider) {
    fake.set_google_user(google_user("g-fe", "fe@example.com", true));
    let res = app.oauth_walk("google").await.response;
    assert_eq!(res.status(), StatusCode::FOUND, "{}", res.text().await.unwrap_or_default());
    let target = location(&res);
    let (base, fragment) = target.split_once('#').unwrap_or_else(|| panic!("no fragment: {target}"));
    assert_eq!(base, FRONTEND, "{target}");
    assert!(!base.contains("token"), "tokens never go in the query: {target}");
    let pairs = format!("http://fragment.invalid/?{fragment}");
    let get = |name: &str| param(&pairs, name).unwrap_or_else(|| panic!("no {name} in {target}"));
    assert_eq!(get("token_type"), "Bearer");
    assert!(get("expires_in").parse::<u64>().is_ok_and(|s| s > 0), "{target}");
    let user_id: i64 = get("user_id").parse().unwrap();

    let own = expect_json(me(&app, &get("access_token")).await, 200).await;
    assert_eq!((&own["id"], &own["email"]), (&json!(user_id), &json!("fe@example.com")), "{own}");
    expect_json(refresh(&app, &get("refresh_token")).await, 200).await;

    // Errors are still answered by the API itself, as problems.
    fake.deny_next_authorization();
    expect_kind(app.oauth_walk("google").await.response, 502, "oauth-provider-refused").await;
}

async fn unconfigured_and_unknown_providers_are_404(app: TestApp) {
    // No OAuth settings at all.
    for provider in ["google", "github"] {
        expect_problem(app.get(&format!("/api/v1/auth/oauth/{provider}")).send().await.unwrap(), 404).await;
        let res = app.get(&format!("/api/v1/auth/oauth/{provider}/callback?code=abc&state=xyz")).send().await.unwrap();
        expect_problem(res, 404).await;
    }

    // Only Google configured: GitHub and providers Workbench does not know are still 404.
    let fake = FakeProvider::start().await;
    let google = fake.google_env();
    let app = TestApp::spawn_with(app.backend, |settings| apply_oauth_env(settings, &google))
        .await
        .expect("the engine of the first app works");
    app.oauth_start("google").await;
    for provider in ["github", "myspace"] {
        expect_problem(app.get(&format!("/api/v1/auth/oauth/{provider}")).send().await.unwrap(), 404).await;
        let res = app.get(&format!("/api/v1/auth/oauth/{provider}/callback?code=abc&state=xyz")).send().await.unwrap();
        expect_problem(res, 404).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The browser that started the sign-in
// ---------------------------------------------------------------------------------------------

/// The `Set-Cookie` headers of `res`.
fn set_cookies(res: &Response) -> Vec<String> {
    res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect()
}

/// The browser's half of a walk: the start (in `browser`) and the provider; returns the start's
/// `Set-Cookie` and the callback URL the provider sent the browser to.
async fn to_the_callback(app: &TestApp, browser: &reqwest::Client, provider: &str) -> (Vec<String>, String) {
    let start = browser.get(format!("{}/api/v1/auth/oauth/{provider}", app.base)).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let cookies = set_cookies(&start);
    let res = browser.get(location(&start)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    (cookies, location(&res))
}

async fn the_callback_needs_the_browser_that_started(app: TestApp, fake: FakeProvider) {
    fake.set_google_user(google_user("g-eve", "eve@example.com", true));

    // The start sets a short-lived, script-proof cookie, sent back only to the callback.
    let victim = browser();
    let (cookies, _) = to_the_callback(&app, &victim, "google").await;
    let [cookie] = cookies.as_slice() else { panic!("one cookie: {cookies:?}") };
    let attributes: Vec<String> = cookie.split(';').map(|a| a.trim().to_lowercase()).collect();
    for expected in ["httponly", "samesite=lax", "path=/api/v1/auth/oauth/google/callback", "max-age=600"] {
        assert!(attributes.iter().any(|a| a == expected), "{expected} in {cookie}");
    }
    assert!(!attributes.iter().any(|a| a == "secure"), "plain http here: {cookie}");

    // The attacker starts a sign-in to their own account, stops at the provider's redirect back,
    // and has the victim open it: the victim's browser is not the one that started it.
    let attacker = browser();
    let (_, callback_url) = to_the_callback(&app, &attacker, "google").await;
    let res = victim.get(&callback_url).send().await.unwrap();
    assert!(set_cookies(&res).iter().any(|c| c.contains("Max-Age=0")), "the callback clears the cookie");
    expect_kind(res, 400, "invalid-oauth-state").await;
    // Nor does a client without any cookie get in.
    let (_, callback_url) = to_the_callback(&app, &attacker, "google").await;
    expect_kind(app.client.get(&callback_url).send().await.unwrap(), 400, "invalid-oauth-state").await;
    assert_eq!(fake.token_requests(), 0, "no code is exchanged for another browser");

    // The browser that started it signs in, and its cookie is cleared.
    let browser = browser();
    let (_, callback_url) = to_the_callback(&app, &browser, "google").await;
    let res = browser.get(&callback_url).send().await.unwrap();
    let cleared = set_cookies(&res);
    assert!(
        cleared.iter().any(|c| c.starts_with("workbench_oauth_browser=;") && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert_signed_in(&expect_json(res, 200).await);
}

async fn the_browser_cookie_is_secure_behind_https(app: TestApp, _fake: FakeProvider) {
    let (cookies, _) = to_the_callback(&app, &browser(), "github").await;
    let [cookie] = cookies.as_slice() else { panic!("one cookie: {cookies:?}") };
    assert!(cookie.split(';').any(|a| a.trim().eq_ignore_ascii_case("secure")), "{cookie}");
    assert!(cookie.contains("Path=/api/v1/auth/oauth/github/callback"), "{cookie}");
}

// ---------------------------------------------------------------------------------------------
// Accounts with TOTP on
// ---------------------------------------------------------------------------------------------

/// The account's secret and recovery codes, after turning TOTP on with a code of `at` (and
/// `password`, when the account has one).
async fn turn_on_totp(app: &TestApp, token: &str, password: Option<&str>, at: u64) -> (String, Vec<String>) {
    let setup = app.post("/api/v1/auth/totp/setup").bearer_auth(token).send().await.unwrap();
    let secret = expect_json(setup, 200).await["secret"].as_str().unwrap().to_owned();
    let mut body = json!({"code": code_at(&secret, at)});
    if let Some(password) = password {
        body["password"] = json!(password);
    }
    let res = app.post("/api/v1/auth/totp/enable").bearer_auth(token).json(&body).send().await.unwrap();
    let codes = expect_json(res, 200).await["recovery_codes"].as_array().unwrap().clone();
    (secret, codes.iter().map(|c| c.as_str().unwrap().to_owned()).collect())
}

/// A Google account (made through Google, so without a password) with TOTP on: its id, secret,
/// the Unix time of the enabling code and its recovery codes.
async fn google_totp_account(app: &TestApp, fake: &FakeProvider, sub: &str) -> (i64, String, u64, Vec<String>) {
    fake.set_google_user(google_user(sub, &format!("{sub}@example.com"), true));
    let first = sign_in(app, "google").await;
    let token = first["access_token"].as_str().unwrap();
    let at = unix_now();
    // Made through Google alone: no password to send.
    let (secret, codes) = turn_on_totp(app, token, None, at).await;
    (first["user"]["id"].as_i64().unwrap(), secret, at, codes)
}

/// The callback's `401 totp-required`: asserts it carries an `mfa_token` and no tokens.
async fn expect_mfa_token(res: Response) -> String {
    let cache = res.headers().get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let problem = expect_kind(res, 401, "totp-required").await;
    assert_eq!(cache, "no-store", "{problem}");
    assert!(problem.get("access_token").is_none() && problem.get("refresh_token").is_none(), "{problem}");
    assert!(problem["expires_in"].as_i64().is_some_and(|s| (290..=300).contains(&s)), "{problem}");
    let token = problem["mfa_token"].as_str().unwrap_or_else(|| panic!("no mfa_token: {problem}")).to_owned();
    assert!(token.len() >= 32 && token.chars().all(|c| c.is_ascii_hexdigit()), "at least 128 bits: {token}");
    token
}

async fn complete(app: &TestApp, body: Value) -> Response {
    app.post("/api/v1/auth/login/totp").json(&body).send().await.unwrap()
}

async fn a_totp_account_completes_with_a_code(app: TestApp, fake: FakeProvider) {
    let admin = app.signup_with_role("root", "admin").await;
    let (id, secret, at, codes) = google_totp_account(&app, &fake, "g-tina").await;

    let mfa_token = expect_mfa_token(app.oauth_walk("google").await.response).await;

    // Wrong, missing or used codes are refused, and leave the mfa_token usable.
    expect_kind(complete(&app, json!({"mfa_token": mfa_token, "totp_code": "000000"})).await, 401, "totp-required")
        .await;
    expect_kind(complete(&app, json!({"mfa_token": mfa_token})).await, 401, "totp-required").await;
    let problem = expect_problem(complete(&app, json!({"totp_code": code_at(&secret, at)})).await, 422).await;
    assert_eq!(error_fields(&problem), ["mfa_token"]);
    let made_up = json!({"mfa_token": "0".repeat(64), "totp_code": code_at(&secret, at)});
    expect_kind(complete(&app, made_up).await, 401, "invalid-token").await;

    // The right code signs in, with tokens that work.
    let body =
        expect_json(complete(&app, json!({"mfa_token": mfa_token, "totp_code": code_at(&secret, at)})).await, 200)
            .await;
    assert_signed_in(&body);
    assert_eq!(body["user"]["id"], id, "{body}");
    let own = expect_json(me(&app, body["access_token"].as_str().unwrap()).await, 200).await;
    assert_eq!(own["id"], id, "{own}");
    expect_json(refresh(&app, body["refresh_token"].as_str().unwrap()).await, 200).await;

    // The mfa_token is spent: not even a valid recovery code reuses it.
    let again = json!({"mfa_token": mfa_token, "recovery_code": codes[0]});
    expect_kind(complete(&app, again).await, 401, "invalid-token").await;

    // A fresh sign-in completes with a recovery code instead.
    let mfa_token = expect_mfa_token(app.oauth_walk("google").await.response).await;
    let body = expect_json(complete(&app, json!({"mfa_token": mfa_token, "recovery_code": codes[0]})).await, 200).await;
    assert_eq!(body["user"]["id"], id, "{body}");

    // The trail says how: the provider and the second factor.
    let logins = audit(&app, &admin, "login").await;
    for factor in ["totp", "recovery_code"] {
        assert!(
            logins.iter().any(|e| e["target_id"] == id
                && e["details"]["method"] == "google"
                && e["details"]["second_factor"] == factor),
            "no google + {factor} login: {logins:?}"
        );
    }
    let failed = audit(&app, &admin, "login_failed").await;
    assert!(
        failed.iter().any(|e| e["target_id"] == id && e["details"]["reason"] == "invalid_second_factor"),
        "{failed:?}"
    );
}

async fn racing_completions_sign_in_once(app: TestApp, fake: FakeProvider) {
    let (_, secret, at, codes) = google_totp_account(&app, &fake, "g-rae").await;
    let mfa_token = expect_mfa_token(app.oauth_walk("google").await.response).await;
    // Two valid second factors at once, so that only the mfa_token can decide.
    let (a, b) = tokio::join!(
        complete(&app, json!({"mfa_token": mfa_token, "totp_code": code_at(&secret, at + 30)})),
        complete(&app, json!({"mfa_token": mfa_token, "recovery_code": codes[1]})),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "exactly one completion signs in");
}

async fn wrong_codes_lock_and_spend_the_mfa_token(app: TestApp, fake: FakeProvider) {
    let (_, secret, at, _) = google_totp_account(&app, &fake, "g-lou").await;
    let mfa_token = expect_mfa_token(app.oauth_walk("google").await.response).await;
    for _ in 0..4 {
        let wrong = json!({"mfa_token": mfa_token, "totp_code": "000000"});
        expect_kind(complete(&app, wrong).await, 401, "totp-required").await;
    }
    let locked = complete(&app, json!({"mfa_token": mfa_token, "totp_code": "000000"})).await;
    assert!(locked.headers().contains_key("retry-after"));
    expect_kind(locked, 429, "too-many-attempts").await;
    // The lock outlasts the mfa_token, which is spent.
    let right = json!({"mfa_token": mfa_token, "totp_code": code_at(&secret, at + 30)});
    expect_kind(complete(&app, right).await, 401, "invalid-token").await;
}

async fn a_linked_password_account_with_totp_stops_too(app: TestApp, fake: FakeProvider) {
    let ann = app.signup("ann").await;
    let at = unix_now();
    let (secret, _) = turn_on_totp(&app, &ann.access_token, Some(PASSWORD), at).await;

    // GitHub vouches for ann's address: linked, yet no session without her code.
    fake.set_github_user(github_user(5150, "ann-gh", &[("ann@example.com", true, true)]));
    let walk = app.oauth_walk("github").await;
    let mfa_token = expect_mfa_token(walk.response).await;
    let body =
        expect_json(complete(&app, json!({"mfa_token": mfa_token, "totp_code": code_at(&secret, at)})).await, 200)
            .await;
    assert_eq!(body["user"]["id"], ann.id, "{body}");
    // Following the redirects ends at the same 401.
    expect_mfa_token(app.oauth_walk_following_redirects("github").await).await;
}

/// The fragment of a redirect to [`FRONTEND`], as a URL whose query is that fragment.
fn fragment_of(res: &Response) -> String {
    let target = location(res);
    let (base, fragment) = target.split_once('#').unwrap_or_else(|| panic!("no fragment: {target}"));
    assert_eq!(base, FRONTEND, "{target}");
    format!("http://fragment.invalid/?{fragment}")
}

async fn frontend_url_gets_the_mfa_token_in_the_fragment(app: TestApp, fake: FakeProvider) {
    fake.set_google_user(google_user("g-fern", "fern@example.com", true));
    let first = fragment_of(&app.oauth_walk("google").await.response);
    let id: i64 = param(&first, "user_id").unwrap().parse().unwrap();
    let at = unix_now();
    let (secret, _) = turn_on_totp(&app, &param(&first, "access_token").unwrap(), None, at).await;

    let res = app.oauth_walk("google").await.response;
    assert_eq!(res.status(), StatusCode::FOUND, "{}", res.text().await.unwrap_or_default());
    let target = location(&res);
    let (base, fragment) = target.split_once('#').unwrap_or_else(|| panic!("no fragment: {target}"));
    assert_eq!(base, FRONTEND, "{target}");
    let pairs = format!("http://fragment.invalid/?{fragment}");
    assert_eq!(param(&pairs, "error").as_deref(), Some("totp_required"), "{target}");
    assert!(param(&pairs, "access_token").is_none() && param(&pairs, "refresh_token").is_none(), "{target}");
    assert!(param(&pairs, "expires_in").is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s > 0)), "{target}");
    let mfa_token = param(&pairs, "mfa_token").unwrap_or_else(|| panic!("no mfa_token: {target}"));
    let body =
        expect_json(complete(&app, json!({"mfa_token": mfa_token, "totp_code": code_at(&secret, at)})).await, 200)
            .await;
    assert_eq!(body["user"]["id"], id, "{body}");
}
