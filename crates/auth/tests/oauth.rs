//! The Google and GitHub providers against the local fake provider: the whole authorization-code
//! flow over real HTTP, and the sorting of failures into refused and unavailable. Nothing here
//! touches the internet.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use url::Url;
use workbench_auth::testing::{
    FakeEmail, FakeGitHubUser, FakeGoogleUser, FakeProvider, GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET, GOOGLE_CLIENT_ID,
    GOOGLE_CLIENT_SECRET,
};
use workbench_auth::{GitHubProvider, GoogleProvider, OAuthClientSettings, http_client};
use workbench_users::{AuthorizationRequest, ExternalProfile, OAuthProvider, OAuthProviderName, ProviderError};

/// Our callback URL. Never contacted: the test reads the redirect instead of following it.
const REDIRECT: &str = "http://127.0.0.1:9/auth/oauth/callback";

fn env(vars: Vec<(&'static str, String)>) -> HashMap<&'static str, String> {
    vars.into_iter().collect()
}

fn google_with(fake: &FakeProvider, http: reqwest::Client, redirect: &str) -> GoogleProvider {
    let env = env(fake.google_env());
    let settings = OAuthClientSettings {
        client_id: env["OAUTH_GOOGLE_CLIENT_ID"].clone(),
        client_secret: env["OAUTH_GOOGLE_CLIENT_SECRET"].clone(),
        auth_url: env["OAUTH_GOOGLE_AUTH_URL"].clone(),
        token_url: env["OAUTH_GOOGLE_TOKEN_URL"].clone(),
        redirect_url: redirect.into(),
    };
    GoogleProvider::new(settings, env["OAUTH_GOOGLE_USERINFO_URL"].clone(), http).unwrap()
}

fn google(fake: &FakeProvider) -> GoogleProvider {
    google_with(fake, http_client().unwrap(), REDIRECT)
}

fn github_with_token_url(fake: &FakeProvider, token_url: Option<String>, http: reqwest::Client) -> GitHubProvider {
    let env = env(fake.github_env());
    let settings = OAuthClientSettings {
        client_id: env["OAUTH_GITHUB_CLIENT_ID"].clone(),
        client_secret: env["OAUTH_GITHUB_CLIENT_SECRET"].clone(),
        auth_url: env["OAUTH_GITHUB_AUTH_URL"].clone(),
        token_url: token_url.unwrap_or_else(|| env["OAUTH_GITHUB_TOKEN_URL"].clone()),
        redirect_url: REDIRECT.into(),
    };
    GitHubProvider::new(settings, env["OAUTH_GITHUB_API_URL"].clone(), http).unwrap()
}

fn github(fake: &FakeProvider) -> GitHubProvider {
    github_with_token_url(fake, None, http_client().unwrap())
}

/// What came back to the callback URL.
#[derive(Debug)]
struct Callback {
    location: Url,
    params: HashMap<String, String>,
}

impl Callback {
    fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    fn code(&self) -> &str {
        self.get("code").expect("the callback carries a code")
    }
}

/// Plays the browser: opens the authorization URL and reads where the provider sends it back.
async fn browse(url: &str) -> Callback {
    let response = http_client().unwrap().get(url).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::FOUND, "{:?}", response.text().await);
    let location = response.headers()["location"].to_str().unwrap();
    let location = Url::parse(location).unwrap();
    let params = location.query_pairs().into_owned().collect();
    Callback { location, params }
}

/// A full sign-in up to the callback; checks the state came back unchanged.
async fn sign_in(provider: &dyn OAuthProvider) -> (AuthorizationRequest, Callback) {
    let request = provider.authorization_request().await.unwrap();
    let callback = browse(&request.url).await;
    assert_eq!(callback.get("state"), Some(request.state.as_str()));
    (request, callback)
}

/// A full sign-in: authorization, callback, code exchange and profile.
async fn full_sign_in(provider: &dyn OAuthProvider) -> Result<ExternalProfile, ProviderError> {
    let (request, callback) = sign_in(provider).await;
    provider.profile(callback.code(), &request.pkce_verifier, None).await
}

/// The message of a refusal; fails on anything else.
#[track_caller]
fn assert_refused(result: Result<ExternalProfile, ProviderError>) -> String {
    match result {
        Err(ProviderError::Refused(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The message of an unavailability; fails on anything else.
#[track_caller]
fn assert_unavailable(result: Result<ExternalProfile, ProviderError>) -> String {
    match result {
        Err(ProviderError::Unavailable(message)) => message,
        other => panic!("expected unavailable, got {other:?}"),
    }
}

// --- The happy paths --------------------------------------------------------------------------

#[tokio::test]
async fn google_sign_in_gives_the_profile() {
    let fake = FakeProvider::start().await;
    fake.set_google_user(FakeGoogleUser {
        sub: "1234".into(),
        email: "ann.lee@example.com".into(),
        email_verified: true,
    });
    let google = google(&fake);
    assert_eq!(google.name(), OAuthProviderName::Google);
    let profile = full_sign_in(&google).await.unwrap();
    assert_eq!(
        profile,
        ExternalProfile {
            subject: "1234".into(),
            email: Some("ann.lee@example.com".into()),
            email_verified: true,
            username_hint: Some("ann.lee".into()),
            ..ExternalProfile::default()
        }
    );
    assert_eq!(fake.token_requests(), 1);
}

#[tokio::test]
async fn google_reports_an_unverified_email_as_such() {
    let fake = FakeProvider::start().await;
    fake.set_google_user(FakeGoogleUser { sub: "9".into(), email: "bob@example.com".into(), email_verified: false });
    let profile = full_sign_in(&google(&fake)).await.unwrap();
    assert_eq!(profile.email.as_deref(), Some("bob@example.com"));
    assert!(!profile.email_verified);
}

#[tokio::test]
async fn github_sign_in_gives_the_profile_with_the_primary_verified_email() {
    let fake = FakeProvider::start().await;
    fake.set_github_user(FakeGitHubUser {
        id: 583231,
        login: "octocat".into(),
        public_email: Some("public@example.com".into()),
        emails: vec![
            FakeEmail { email: "other@example.com".into(), primary: false, verified: true },
            FakeEmail { email: "main@example.com".into(), primary: true, verified: true },
        ],
    });
    let github = github(&fake);
    assert_eq!(github.name(), OAuthProviderName::GitHub);
    let profile = full_sign_in(&github).await.unwrap();
    assert_eq!(
        profile,
        ExternalProfile {
            subject: "583231".into(),
            email: Some("main@example.com".into()),
            email_verified: true,
            username_hint: Some("octocat".into()),
            ..ExternalProfile::default()
        }
    );
}

#[tokio::test]
async fn github_takes_another_verified_email_when_the_primary_is_unverified() {
    let fake = FakeProvider::start().await;
    fake.set_github_user(FakeGitHubUser {
        id: 7,
        login: "seven".into(),
        public_email: None,
        emails: vec![
            FakeEmail { email: "new@example.com".into(), primary: true, verified: false },
            FakeEmail { email: "old@example.com".into(), primary: false, verified: true },
        ],
    });
    let profile = full_sign_in(&github(&fake)).await.unwrap();
    assert_eq!((profile.email.as_deref(), profile.email_verified), (Some("old@example.com"), true));
}

#[tokio::test]
async fn github_falls_back_to_the_public_email_unverified() {
    let fake = FakeProvider::start().await;
    fake.set_github_user(FakeGitHubUser {
        id: 8,
        login: "eight".into(),
        public_email: Some("shown@example.com".into()),
        emails: vec![FakeEmail { email: "hidden@example.com".into(), primary: true, verified: false }],
    });
    let profile = full_sign_in(&github(&fake)).await.unwrap();
    assert_eq!((profile.email.as_deref(), profile.email_verified), (Some("shown@example.com"), false));

    fake.set_github_user(FakeGitHubUser { id: 8, login: "eight".into(), public_email: None, emails: vec![] });
    let profile = full_sign_in(&github(&fake)).await.unwrap();
    assert_eq!((profile.email, profile.email_verified), (None, false));
}

#[tokio::test]
async fn the_person_is_the_one_signed_in_when_the_code_was_issued() {
    let fake = FakeProvider::start().await;
    fake.set_google_user(FakeGoogleUser {
        sub: "first".into(),
        email: "first@example.com".into(),
        email_verified: true,
    });
    let google = google(&fake);
    let (request, callback) = sign_in(&google).await;
    fake.set_google_user(FakeGoogleUser { sub: "second".into(), email: "2@example.com".into(), email_verified: true });
    let profile = google.profile(callback.code(), &request.pkce_verifier, None).await.unwrap();
    assert_eq!(profile.subject, "first");
}

#[actix_web::test]
async fn the_fake_also_runs_under_the_actix_runtime() {
    let fake = FakeProvider::start().await;
    assert_eq!(full_sign_in(&google(&fake)).await.unwrap().subject, FakeGoogleUser::default().sub);
    assert_eq!(full_sign_in(&github(&fake)).await.unwrap().subject, FakeGitHubUser::default().id.to_string());
}

// --- The authorization URL --------------------------------------------------------------------

fn query(url: &str) -> HashMap<String, String> {
    Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

#[track_caller]
fn assert_authorization_url(request: &AuthorizationRequest, base: &str, client_id: &str, scope: &str) {
    assert!(request.url.starts_with(&format!("{base}?")), "{}", request.url);
    let q = query(&request.url);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], client_id);
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(q["scope"], scope);
    assert_eq!(q["state"], request.state);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"], URL_SAFE_NO_PAD.encode(Sha256::digest(request.pkce_verifier.as_bytes())));
    // RFC 7636: 43 to 128 characters; and the verifier never travels in the URL.
    assert!((43..=128).contains(&request.pkce_verifier.len()));
    assert!(!request.url.contains(&request.pkce_verifier));
    assert!(request.state.len() >= 16);
}

#[tokio::test]
async fn the_authorization_urls_carry_state_pkce_client_redirect_and_scopes() {
    let fake = FakeProvider::start().await;
    let google = google(&fake).authorization_request().await.unwrap();
    let google_auth = format!("{}/google/authorize", fake.url());
    assert_authorization_url(&google, &google_auth, GOOGLE_CLIENT_ID, "openid email profile");
    let github = github(&fake).authorization_request().await.unwrap();
    let github_auth = format!("{}/github/login/oauth/authorize", fake.url());
    assert_authorization_url(&github, &github_auth, GITHUB_CLIENT_ID, "read:user user:email");
}

#[tokio::test]
async fn every_authorization_request_is_fresh() {
    let fake = FakeProvider::start().await;
    let google = google(&fake);
    let (a, b) = (google.authorization_request().await.unwrap(), google.authorization_request().await.unwrap());
    assert_ne!(a.state, b.state);
    assert_ne!(a.pkce_verifier, b.pkce_verifier);
}

// --- Refusals ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_wrong_verifier_is_refused() {
    let fake = FakeProvider::start().await;
    let providers: [Box<dyn OAuthProvider>; 2] = [Box::new(google(&fake)), Box::new(github(&fake))];
    for provider in &providers {
        let (_, callback) = sign_in(provider.as_ref()).await;
        let other = provider.authorization_request().await.unwrap().pkce_verifier;
        assert_refused(provider.profile(callback.code(), &other, None).await);
    }
}

#[tokio::test]
async fn a_replayed_code_is_refused() {
    let fake = FakeProvider::start().await;
    let providers: [Box<dyn OAuthProvider>; 2] = [Box::new(google(&fake)), Box::new(github(&fake))];
    for provider in &providers {
        let (request, callback) = sign_in(provider.as_ref()).await;
        provider.profile(callback.code(), &request.pkce_verifier, None).await.unwrap();
        assert_refused(provider.profile(callback.code(), &request.pkce_verifier, None).await);
    }
}

#[tokio::test]
async fn an_unknown_code_and_another_providers_code_are_refused() {
    let fake = FakeProvider::start().await;
    let (google, github) = (google(&fake), github(&fake));
    let request = google.authorization_request().await.unwrap();
    assert_refused(google.profile("made-up", &request.pkce_verifier, None).await);
    let (request, callback) = sign_in(&google).await;
    assert_refused(github.profile(callback.code(), &request.pkce_verifier, None).await);
}

#[tokio::test]
async fn a_changed_redirect_uri_is_refused() {
    let fake = FakeProvider::start().await;
    let request = google_with(&fake, http_client().unwrap(), "http://127.0.0.1:9/elsewhere")
        .authorization_request()
        .await
        .unwrap();
    let callback = browse(&request.url).await;
    assert_refused(google(&fake).profile(callback.code(), &request.pkce_verifier, None).await);
}

#[tokio::test]
async fn a_token_endpoint_refusal_is_refused() {
    let fake = FakeProvider::start().await;
    let providers: [Box<dyn OAuthProvider>; 2] = [Box::new(google(&fake)), Box::new(github(&fake))];
    for status in [400, 401] {
        fake.fail_token_with(status);
        for provider in &providers {
            assert_refused(full_sign_in(provider.as_ref()).await);
        }
    }
    fake.reset_failures();
    for provider in &providers {
        full_sign_in(provider.as_ref()).await.unwrap();
    }
}

#[tokio::test]
async fn githubs_200_with_an_error_is_a_refusal() {
    let fake = FakeProvider::start().await;
    fake.refuse_tokens_with_200();
    let github = github(&fake);
    let (request, callback) = sign_in(&github).await;
    let err = github.profile(callback.code(), "a-wrong-verifier-that-is-long-enough-for-pkce-rules", None).await;
    let message = assert_refused(err);
    assert!(message.contains("bad_verification_code"), "{message}");
    // The code was spent by the failed attempt; a good one still works afterwards.
    assert_refused(github.profile(callback.code(), &request.pkce_verifier, None).await);
    fake.reset_failures();
    full_sign_in(&github).await.unwrap();
}

#[tokio::test]
async fn a_refused_profile_token_is_refused() {
    let fake = FakeProvider::start().await;
    let providers: [Box<dyn OAuthProvider>; 2] = [Box::new(google(&fake)), Box::new(github(&fake))];
    for status in [401, 403] {
        fake.fail_profile_with(status);
        for provider in &providers {
            assert_refused(full_sign_in(provider.as_ref()).await);
        }
    }
}

#[tokio::test]
async fn a_declined_authorization_comes_back_with_access_denied() {
    let fake = FakeProvider::start().await;
    fake.deny_next_authorization();
    let request = github(&fake).authorization_request().await.unwrap();
    let callback = browse(&request.url).await;
    assert_eq!(callback.get("error"), Some("access_denied"));
    assert_eq!(callback.get("state"), Some(request.state.as_str()));
    assert_eq!(callback.get("code"), None);
    // Only the next one.
    sign_in(&github(&fake)).await.1.code();
}

// --- Outages ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_token_endpoint_outage_is_unavailable() {
    let fake = FakeProvider::start().await;
    let providers: [Box<dyn OAuthProvider>; 2] = [Box::new(google(&fake)), Box::new(github(&fake))];
    // The fake answers a JSON OAuth error body with the 5xx: still an outage, not a refusal.
    for status in [500, 502, 503] {
        fake.fail_token_with(status);
        for provider in &providers {
            assert_unavailable(full_sign_in(provider.as_ref()).await);
        }
    }
    assert_eq!(fake.token_requests(), 6);
}

#[tokio::test]
async fn a_profile_outage_is_unavailable() {
    let fake = FakeProvider::start().await;
    let providers: [Box<dyn OAuthProvider>; 2] = [Box::new(google(&fake)), Box::new(github(&fake))];
    for status in [500, 503, 429] {
        fake.fail_profile_with(status);
        for provider in &providers {
            assert_unavailable(full_sign_in(provider.as_ref()).await);
        }
    }
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_unavailable() {
    let fake = FakeProvider::start().await;
    // A port that was free a moment ago: the connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let github = github_with_token_url(&fake, Some(format!("http://{closed}/token")), http_client().unwrap());
    assert_unavailable(full_sign_in(&github).await);
}

#[tokio::test]
async fn a_silent_token_endpoint_times_out_as_unavailable() {
    let fake = FakeProvider::start().await;
    // Accepted by the kernel, never answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let url = format!("http://{}/token", silent.local_addr().unwrap());
    let github = github_with_token_url(&fake, Some(url), http);
    let message = assert_unavailable(full_sign_in(&github).await);
    assert!(message.contains("timed out"), "{message}");
}

#[tokio::test]
async fn errors_carry_no_secrets() {
    let fake = FakeProvider::start().await;
    let github = github(&fake);
    for failure in [Some(400), Some(500), None] {
        fake.reset_failures();
        if let Some(status) = failure {
            fake.fail_token_with(status);
        } else {
            fake.fail_profile_with(401);
        }
        let (request, callback) = sign_in(&github).await;
        let err = github.profile(callback.code(), &request.pkce_verifier, None).await.unwrap_err();
        let text = format!("{err} {err:?}");
        for secret in [callback.code(), request.pkce_verifier.as_str(), GITHUB_CLIENT_SECRET] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}

// --- The fake itself --------------------------------------------------------------------------

#[tokio::test]
async fn the_fake_gives_the_documented_settings() {
    let fake = FakeProvider::start().await;
    let url = fake.url();
    assert!(url.starts_with("http://127.0.0.1:"));
    let google = env(fake.google_env());
    assert_eq!(google.len(), 5);
    assert_eq!(google["OAUTH_GOOGLE_CLIENT_ID"], GOOGLE_CLIENT_ID);
    assert_eq!(google["OAUTH_GOOGLE_CLIENT_SECRET"], GOOGLE_CLIENT_SECRET);
    assert_eq!(google["OAUTH_GOOGLE_AUTH_URL"], format!("{url}/google/authorize"));
    assert_eq!(google["OAUTH_GOOGLE_TOKEN_URL"], format!("{url}/google/token"));
    assert_eq!(google["OAUTH_GOOGLE_USERINFO_URL"], format!("{url}/google/userinfo"));
    let github = env(fake.github_env());
    assert_eq!(github.len(), 5);
    assert_eq!(github["OAUTH_GITHUB_CLIENT_ID"], GITHUB_CLIENT_ID);
    assert_eq!(github["OAUTH_GITHUB_CLIENT_SECRET"], GITHUB_CLIENT_SECRET);
    assert_eq!(github["OAUTH_GITHUB_AUTH_URL"], format!("{url}/github/login/oauth/authorize"));
    assert_eq!(github["OAUTH_GITHUB_TOKEN_URL"], format!("{url}/github/login/oauth/access_token"));
    assert_eq!(github["OAUTH_GITHUB_API_URL"], format!("{url}/github/api"));
}

#[tokio::test]
async fn the_fake_refuses_incomplete_authorization_requests() {
    let fake = FakeProvider::start().await;
    let good = google(&fake).authorization_request().await.unwrap().url;
    let http = http_client().unwrap();
    for drop in ["client_id", "response_type", "code_challenge", "code_challenge_method", "state", "redirect_uri"] {
        let mut url = Url::parse(&good).unwrap();
        let kept: Vec<(String, String)> = url.query_pairs().into_owned().filter(|(k, _)| k != drop).collect();
        url.query_pairs_mut().clear().extend_pairs(kept);
        let status = http.get(url).send().await.unwrap().status();
        assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "without {drop}");
    }
    let plain = good.replace("code_challenge_method=S256", "code_challenge_method=plain");
    assert_eq!(http.get(plain).send().await.unwrap().status(), reqwest::StatusCode::BAD_REQUEST);
    let stranger = good.replace(GOOGLE_CLIENT_ID, "someone-else");
    assert_eq!(http.get(stranger).send().await.unwrap().status(), reqwest::StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_fake_keeps_the_callback_query_and_accepts_basic_client_auth() {
    let fake = FakeProvider::start().await;
    let redirect = "http://127.0.0.1:9/cb?from=test";
    let request = google_with(&fake, http_client().unwrap(), redirect).authorization_request().await.unwrap();
    let callback = browse(&request.url).await;
    assert_eq!(callback.get("from"), Some("test"));
    assert_eq!(callback.location.path(), "/cb");

    // RFC 6749 §2.3.1 client authentication, as other clients send it.
    let http = http_client().unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", callback.code()),
        ("redirect_uri", redirect),
        ("code_verifier", &request.pkce_verifier),
    ];
    let answer = http
        .post(format!("{}/google/token", fake.url()))
        .basic_auth(GOOGLE_CLIENT_ID, Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::BAD_REQUEST);
    assert_eq!(answer.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");

    let request = google_with(&fake, http_client().unwrap(), redirect).authorization_request().await.unwrap();
    let callback = browse(&request.url).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", callback.code()),
        ("redirect_uri", redirect),
        ("code_verifier", &request.pkce_verifier),
    ];
    let answer = http
        .post(format!("{}/google/token", fake.url()))
        .basic_auth(GOOGLE_CLIENT_ID, Some(GOOGLE_CLIENT_SECRET))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    let token: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(token["token_type"], "bearer");
    let access_token = token["access_token"].as_str().unwrap();

    let userinfo = format!("{}/google/userinfo", fake.url());
    let ok = http.get(&userinfo).bearer_auth(access_token).send().await.unwrap();
    assert_eq!(ok.status(), reqwest::StatusCode::OK);
    let unknown = http.get(&userinfo).bearer_auth("not-issued").send().await.unwrap();
    assert_eq!(unknown.status(), reqwest::StatusCode::UNAUTHORIZED);
    let github_api = format!("{}/github/api/user", fake.url());
    let foreign = http.get(&github_api).bearer_auth(access_token).send().await.unwrap();
    assert_eq!(foreign.status(), reqwest::StatusCode::UNAUTHORIZED, "a Google token is no good at GitHub");
}

#[tokio::test]
async fn the_fake_github_api_requires_a_user_agent() {
    let fake = FakeProvider::start().await;
    let github = github(&fake);
    let (request, callback) = sign_in(&github).await;
    // Exchange by hand, to hold a valid token.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", callback.code()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", &request.pkce_verifier),
        ("client_id", GITHUB_CLIENT_ID),
        ("client_secret", GITHUB_CLIENT_SECRET),
    ];
    let bare = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let token: serde_json::Value = bare
        .post(format!("{}/github/login/oauth/access_token", fake.url()))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let user = format!("{}/github/api/user", fake.url());
    // reqwest sends no User-Agent unless told to.
    assert_eq!(bare.get(&user).bearer_auth(token).send().await.unwrap().status(), reqwest::StatusCode::FORBIDDEN);
    let with_agent = bare.get(&user).bearer_auth(token).header("User-Agent", "test").send().await.unwrap();
    assert_eq!(with_agent.status(), reqwest::StatusCode::OK);
}
