//! Google and GitHub as [`OAuthProvider`]s: the authorization-code flow with PKCE (S256) through
//! the `oauth2` crate, then the person's profile from the provider's API.
//!
//! What the domain needs to hear is whether the provider *refused* (a bad, replayed or expired
//! code, a wrong verifier, a revoked token: the person must start again) or was *unavailable* (a
//! network failure, a timeout, a 5xx, an unreadable answer: trying later may work). `oauth2` does
//! not keep the HTTP status of a failed token request, and GitHub even reports refusals as
//! `200 {"error": ...}`, so token requests go through [`token_call`], which sorts the answer out
//! before `oauth2` parses it.
//!
//! Secrets (client secret, codes, verifiers, access tokens) never appear in errors or `Debug`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AsyncHttpClient, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, HttpRequest, HttpResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, USER_AGENT};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;
use workbench_users::{AuthorizationRequest, ExternalProfile, OAuthProvider, OAuthProviderName, ProviderError};

/// Google's authorization endpoint.
pub const GOOGLE_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's token endpoint.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's OpenID Connect userinfo endpoint.
pub const GOOGLE_USERINFO_URL: &str = "https://openidconnect.googleapis.com/v1/userinfo";
/// GitHub's authorization endpoint.
pub const GITHUB_AUTH_URL: &str = "https://github.com/login/oauth/authorize";
/// GitHub's token endpoint.
pub const GITHUB_TOKEN_URL: &str = "https://github.com/login/oauth/access_token";
/// GitHub's REST API; `/user` and `/user/emails` live under it.
pub const GITHUB_API_URL: &str = "https://api.github.com";

/// Sent with every request: GitHub refuses requests without a `User-Agent`.
const USER_AGENT_VALUE: &str = "workbench";
/// The GitHub REST API version these requests are written against.
const GITHUB_API_VERSION: &str = "2022-11-28";
/// A provider that has not answered by then is treated as unavailable.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most a provider's answer may hold (a token response, a profile, a discovery document, a
/// JWKS: a few kilobytes each). A larger one is refused as it arrives, never held whole.
const MAX_ANSWER_BYTES: usize = 1 << 20;

const GOOGLE_SCOPES: &[&str] = &["openid", "email", "profile"];
const GITHUB_SCOPES: &[&str] = &["read:user", "user:email"];

/// The HTTP client for talking to providers: redirects are not followed (a token or profile
/// endpoint has no reason to redirect, following one would let a misconfigured or hostile URL
/// bounce our requests, with credentials, elsewhere, and `oauth2` requires it), and every request
/// gives up after 10 seconds.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .user_agent(USER_AGENT_VALUE)
        .build()?)
}

/// One OAuth client registration at a provider, and where its endpoints are (the real ones in
/// production, a local fake in tests).
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthClientSettings {
    pub client_id: String,
    pub client_secret: String,
    pub auth_url: String,
    pub token_url: String,
    /// Our callback URL, exactly as registered at the provider.
    pub redirect_url: String,
}

impl fmt::Debug for OAuthClientSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClientSettings")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("redirect_url", &self.redirect_url)
            .finish()
    }
}

/// The token endpoint's answer: OAuth 2.0's, plus OpenID Connect's `id_token` when there is one.
#[derive(Clone, Default, Serialize, Deserialize)]
pub(crate) struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenField").field("id_token", &self.id_token.as_ref().map(|_| "***")).finish()
    }
}

impl ExtraTokenFields for IdTokenField {}

/// An `oauth2` client with its authorization and token endpoints set, whose token answers keep
/// an `id_token`.
type Client = oauth2::Client<
    BasicErrorResponse,
    StandardTokenResponse<IdTokenField, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What a code exchange gave: the access token, and the ID token when the provider sent one.
pub(crate) struct Exchanged {
    pub(crate) access_token: oauth2::AccessToken,
    pub(crate) id_token: Option<String>,
}

/// The part every provider shares: building the authorization URL and exchanging the code.
pub(crate) struct CodeFlow {
    client: Client,
    scopes: Vec<String>,
    /// Whether the flow is OpenID Connect's: a `nonce` goes with each authorization request.
    with_nonce: bool,
    pub(crate) http: reqwest::Client,
    /// For `Debug` only; the `oauth2` client keeps the rest, and only it holds the secret.
    client_id: String,
    token_url: String,
}

impl CodeFlow {
    fn new(settings: OAuthClientSettings, scopes: &[&str], http: reqwest::Client) -> anyhow::Result<Self> {
        // Google and GitHub both document the credentials as form fields of the token request.
        let scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        Self::with(settings, scopes, AuthType::RequestBody, false, http)
    }

    /// A flow with these scopes and client authentication; `with_nonce` for OpenID Connect.
    pub(crate) fn with(
        settings: OAuthClientSettings,
        scopes: Vec<String>,
        auth_type: AuthType,
        with_nonce: bool,
        http: reqwest::Client,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(!settings.client_id.is_empty(), "the OAuth client id is empty");
        anyhow::ensure!(!settings.client_secret.is_empty(), "the OAuth client secret is empty");
        let url = |what: &str, value: &str| anyhow::anyhow!("the OAuth {what} {value:?} is not a valid URL");
        let client = oauth2::Client::<
            BasicErrorResponse,
            StandardTokenResponse<IdTokenField, BasicTokenType>,
            BasicTokenIntrospectionResponse,
            StandardRevocableToken,
            BasicRevocationErrorResponse,
        >::new(ClientId::new(settings.client_id.clone()))
        .set_client_secret(ClientSecret::new(settings.client_secret.clone()))
        .set_auth_uri(
            AuthUrl::new(settings.auth_url.clone()).map_err(|_| url("authorization URL", &settings.auth_url))?,
        )
        .set_token_uri(TokenUrl::new(settings.token_url.clone()).map_err(|_| url("token URL", &settings.token_url))?)
        .set_redirect_uri(
            RedirectUrl::new(settings.redirect_url.clone()).map_err(|_| url("redirect URL", &settings.redirect_url))?,
        )
        .set_auth_type(auth_type);
        let OAuthClientSettings { client_id, token_url, .. } = settings;
        Ok(Self { client, scopes, with_nonce, http, client_id, token_url })
    }

    pub(crate) fn authorization_request(&self) -> AuthorizationRequest {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = self.with_nonce.then(|| CsrfToken::new_random().secret().clone());
        let mut request = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.scopes.iter().map(|s| Scope::new(s.clone())))
            .set_pkce_challenge(challenge);
        if let Some(nonce) = &nonce {
            request = request.add_extra_param("nonce", nonce.clone());
        }
        let (url, state) = request.url();
        AuthorizationRequest {
            url: url.into(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce,
        }
    }

    /// The tokens for `code`.
    pub(crate) async fn exchange(&self, code: &str, pkce_verifier: &str) -> Result<Exchanged, ProviderError> {
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&TokenHttp(&self.http))
            .await
            .map_err(token_error)?;
        Ok(Exchanged { access_token: token.access_token().clone(), id_token: token.extra_fields().id_token.clone() })
    }
}

impl fmt::Debug for CodeFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeFlow")
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// A token request that failed before `oauth2` could read an OAuth answer.
#[derive(Debug, thiserror::Error)]
enum TokenCallError {
    /// Could not send the request or read the answer (connection, TLS, timeout).
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(&'static str),
    /// The endpoint answered with a status that says nothing about the code (5xx, 3xx).
    #[error("the token endpoint answered {0}")]
    Failed(StatusCode),
    /// A 4xx without an OAuth error body: still a refusal of the request.
    #[error("the token endpoint answered {0}")]
    Rejected(StatusCode),
}

/// The HTTP client `oauth2` sends token requests with: [`token_call`] behind a named type, whose
/// boxed future is `Send` for any lifetime (a closure's is not provably so, and `async_trait`
/// needs it).
struct TokenHttp<'h>(&'h reqwest::Client);

impl<'c> AsyncHttpClient<'c> for TokenHttp<'_> {
    type Error = TokenCallError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TokenCallError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(token_call(self.0, request))
    }
}

/// Sends a token request for `oauth2` and hands back only answers it can classify correctly:
/// 5xx and redirects become [`TokenCallError::Failed`] (`oauth2` would read a 5xx JSON error body
/// as a refusal), a 4xx that is not an OAuth error becomes [`TokenCallError::Rejected`], and a
/// `200 {"error": ...}` (GitHub's way of refusing) is passed on as the 400 it means.
async fn token_call(http: &reqwest::Client, request: HttpRequest) -> Result<HttpResponse, TokenCallError> {
    let request = reqwest::Request::try_from(request).map_err(|_| TokenCallError::Unreachable("invalid request"))?;
    let response = http.execute(request).await.map_err(|e| TokenCallError::Unreachable(describe(&e)))?;
    let status = response.status();
    if status.is_server_error() || status.is_redirection() || status.is_informational() {
        return Err(TokenCallError::Failed(status));
    }
    let content_type = response.headers().get(reqwest::header::CONTENT_TYPE).cloned();
    let body = read_bounded(response).await.map_err(TokenCallError::Unreachable)?;
    let is_oauth_error = is_oauth_error(&body);
    let status = match status {
        s if s.is_success() && is_oauth_error => StatusCode::BAD_REQUEST,
        s if s.is_client_error() && !is_oauth_error => return Err(TokenCallError::Rejected(s)),
        s => s,
    };
    let mut answer = oauth2::http::Response::builder().status(status);
    if let Some(content_type) = content_type {
        answer = answer.header(reqwest::header::CONTENT_TYPE, content_type);
    }
    answer.body(body).map_err(|_| TokenCallError::Unreachable("invalid response"))
}

/// Whether a token endpoint's body is an RFC 6749 §5.2 error (`{"error": "..."}`).
fn is_oauth_error(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct OAuthErrorBody {
        error: String,
    }
    serde_json::from_slice::<OAuthErrorBody>(body).is_ok_and(|b| !b.error.is_empty())
}

/// Sorts a failed token request into refused or unavailable. Only the OAuth error code is kept:
/// an unreadable body may hold a token, and the request held the code and the client secret.
fn token_error(error: RequestTokenError<TokenCallError, BasicErrorResponse>) -> ProviderError {
    match error {
        RequestTokenError::ServerResponse(answer) => {
            ProviderError::Refused(format!("the token endpoint refused the code: {}", answer.error()))
        }
        RequestTokenError::Request(e @ TokenCallError::Rejected(_)) => ProviderError::Refused(e.to_string()),
        RequestTokenError::Request(e) => ProviderError::Unavailable(e.to_string()),
        RequestTokenError::Parse(..) => ProviderError::Unavailable("the token endpoint's answer cannot be read".into()),
        RequestTokenError::Other(reason) => {
            ProviderError::Unavailable(format!("unexpected answer from the token endpoint: {reason}"))
        }
    }
}

/// A provider's answer, read chunk by chunk up to [`MAX_ANSWER_BYTES`]: a provider (or whatever
/// answers at its address) cannot make us hold more.
async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, &'static str> {
    const TOO_LARGE: &str = "the answer is larger than 1 MiB";
    if response.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
        return Err(TOO_LARGE);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(TOO_LARGE);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What went wrong with a request, without its URL (which may carry parameters) or body.
pub(crate) fn describe(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_decode() || error.is_body() {
        "the answer could not be read"
    } else {
        "the request failed"
    }
}

/// Sends a profile request and reads its JSON answer. 401 and 403 mean the token was not accepted
/// (refused); 5xx, 429, timeouts and unreadable answers mean the provider is unavailable.
pub(crate) async fn get_json<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<T, ProviderError> {
    let response = request.send().await.map_err(|e| ProviderError::Unavailable(format!("{what}: {}", describe(&e))))?;
    let status = response.status();
    if !status.is_success() {
        let message = format!("{what} answered {status}");
        return Err(if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
            ProviderError::Refused(message)
        } else {
            ProviderError::Unavailable(message)
        });
    }
    let body = read_bounded(response).await.map_err(|why| ProviderError::Unavailable(format!("{what}: {why}")))?;
    serde_json::from_slice(&body).map_err(|_| ProviderError::Unavailable(format!("{what}: the answer cannot be read")))
}

/// Checks, once at start-up, a URL the provider's API is reached at.
pub(crate) fn check_url(what: &str, value: &str) -> anyhow::Result<()> {
    match Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => Ok(()),
        _ => Err(anyhow::anyhow!("the {what} {value:?} is not an http(s) URL")),
    }
}

/// Sign-in with Google: scopes `openid email profile`, the profile from the OpenID Connect
/// userinfo endpoint.
#[derive(Debug)]
pub struct GoogleProvider {
    flow: CodeFlow,
    /// Checked to be a URL by `new`.
    userinfo_url: String,
}

impl GoogleProvider {
    /// A provider for this client registration; `http` should come from [`http_client`].
    pub fn new(client: OAuthClientSettings, userinfo_url: String, http: reqwest::Client) -> anyhow::Result<Self> {
        check_url("Google userinfo URL", &userinfo_url)?;
        Ok(Self { flow: CodeFlow::new(client, GOOGLE_SCOPES, http)?, userinfo_url })
    }
}

/// Google's userinfo answer; the fields Workbench uses.
#[derive(Deserialize)]
struct GoogleUserInfo {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<Flag>,
}

/// OpenID Connect says `email_verified` is a boolean; some Google endpoints have sent `"true"`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    pub(crate) fn is_true(&self) -> bool {
        match self {
            Flag::Bool(b) => *b,
            Flag::Text(s) => s.eq_ignore_ascii_case("true"),
        }
    }
}

impl From<GoogleUserInfo> for ExternalProfile {
    fn from(info: GoogleUserInfo) -> Self {
        let email = info.email.filter(|e| !e.is_empty());
        let username_hint = email.as_deref().and_then(|e| e.split('@').next()).map(str::to_owned);
        ExternalProfile {
            subject: info.sub,
            email_verified: email.is_some() && info.email_verified.is_some_and(|f| f.is_true()),
            email,
            username_hint,
            ..ExternalProfile::default()
        }
    }
}

#[async_trait]
impl OAuthProvider for GoogleProvider {
    fn name(&self) -> OAuthProviderName {
        OAuthProviderName::Google
    }

    fn display_name(&self) -> String {
        "Google".into()
    }

    async fn authorization_request(&self) -> Result<AuthorizationRequest, ProviderError> {
        Ok(self.flow.authorization_request())
    }

    async fn profile(
        &self,
        code: &str,
        pkce_verifier: &str,
        _nonce: Option<String>,
    ) -> Result<ExternalProfile, ProviderError> {
        let token = self.flow.exchange(code, pkce_verifier).await?.access_token;
        let request = self.flow.http.get(&self.userinfo_url).bearer_auth(token.secret());
        let info: GoogleUserInfo = get_json(request, "Google userinfo").await?;
        if info.sub.is_empty() {
            return Err(ProviderError::Unavailable("Google userinfo has no subject".into()));
        }
        Ok(info.into())
    }
}

/// Sign-in with GitHub: scopes `read:user user:email`, the profile from `GET /user` and the
/// email from `GET /user/emails` (a person's public email is optional and says nothing about
/// verification).
#[derive(Debug)]
pub struct GitHubProvider {
    flow: CodeFlow,
    /// Without a trailing slash, so that `{api}/user` is a plain concatenation.
    api_url: String,
}

impl GitHubProvider {
    /// A provider for this client registration; `http` should come from [`http_client`].
    pub fn new(client: OAuthClientSettings, mut api_url: String, http: reqwest::Client) -> anyhow::Result<Self> {
        check_url("GitHub API URL", &api_url)?;
        api_url.truncate(api_url.trim_end_matches('/').len());
        Ok(Self { flow: CodeFlow::new(client, GITHUB_SCOPES, http)?, api_url })
    }

    fn get(&self, path: &str, token: &oauth2::AccessToken) -> reqwest::RequestBuilder {
        self.flow
            .http
            .get(format!("{}{path}", self.api_url))
            .bearer_auth(token.secret())
            .header(ACCEPT, "application/vnd.github+json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header("X-GitHub-Api-Version", GITHUB_API_VERSION)
    }
}

/// `GET /user`; the fields Workbench uses.
#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
    login: String,
    #[serde(default)]
    email: Option<String>,
}

/// One entry of `GET /user/emails`.
#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

/// The email to use and whether GitHub verified it: the primary verified address, else any
/// verified one; failing that, unverified, the public profile email, else the primary listed
/// one, else any listed one. An unverified address is still reported so that the domain can
/// refuse to link it to an existing account (rather than treat the person as having no email).
fn github_email(public: Option<String>, emails: &[GitHubEmail]) -> (Option<String>, bool) {
    let verified = || emails.iter().filter(|e| e.verified);
    if let Some(e) = verified().find(|e| e.primary).or_else(|| verified().next()) {
        return (Some(e.email.clone()), true);
    }
    let listed = emails.iter().find(|e| e.primary).or_else(|| emails.first()).map(|e| e.email.clone());
    (public.filter(|e| !e.is_empty()).or(listed), false)
}

#[async_trait]
impl OAuthProvider for GitHubProvider {
    fn name(&self) -> OAuthProviderName {
        OAuthProviderName::GitHub
    }

    fn display_name(&self) -> String {
        "GitHub".into()
    }

    async fn authorization_request(&self) -> Result<AuthorizationRequest, ProviderError> {
        Ok(self.flow.authorization_request())
    }

    async fn profile(
        &self,
        code: &str,
        pkce_verifier: &str,
        _nonce: Option<String>,
    ) -> Result<ExternalProfile, ProviderError> {
        let token = self.flow.exchange(code, pkce_verifier).await?.access_token;
        let user: GitHubUser = get_json(self.get("/user", &token), "GitHub /user").await?;
        let emails: Vec<GitHubEmail> = get_json(self.get("/user/emails", &token), "GitHub /user/emails").await?;
        let (email, email_verified) = github_email(user.email, &emails);
        Ok(ExternalProfile {
            subject: user.id.to_string(),
            email,
            email_verified,
            username_hint: Some(user.login).filter(|l| !l.is_empty()),
            ..ExternalProfile::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(email: &str, primary: bool, verified: bool) -> GitHubEmail {
        GitHubEmail { email: email.into(), primary, verified }
    }

    #[test]
    fn github_prefers_the_primary_verified_email() {
        let emails = vec![email("a@x.io", false, true), email("b@x.io", true, true), email("c@x.io", true, false)];
        assert_eq!(github_email(Some("pub@x.io".into()), &emails), (Some("b@x.io".into()), true));
    }

    #[test]
    fn github_falls_back_to_any_verified_then_the_public_email_unverified() {
        let emails = vec![email("p@x.io", true, false), email("v@x.io", false, true)];
        assert_eq!(github_email(None, &emails), (Some("v@x.io".into()), true));
        let emails = vec![email("p@x.io", true, false)];
        assert_eq!(github_email(Some("pub@x.io".into()), &emails), (Some("pub@x.io".into()), false));
        assert_eq!(github_email(None, &emails), (Some("p@x.io".into()), false), "listed, even unverified");
        assert_eq!(github_email(Some(String::new()), &[]), (None, false));
    }

    #[test]
    fn google_userinfo_maps_to_a_profile() {
        let info: GoogleUserInfo = serde_json::from_str(
            r#"{"sub":"10769","email":"Ann.Lee@example.com","email_verified":true,"name":"Ann","picture":"x"}"#,
        )
        .unwrap();
        let profile = ExternalProfile::from(info);
        assert_eq!(profile.subject, "10769");
        assert_eq!(profile.email.as_deref(), Some("Ann.Lee@example.com"));
        assert!(profile.email_verified);
        assert_eq!(profile.username_hint.as_deref(), Some("Ann.Lee"));
        let text: GoogleUserInfo =
            serde_json::from_str(r#"{"sub":"1","email":"a@b.io","email_verified":"false"}"#).unwrap();
        assert!(!ExternalProfile::from(text).email_verified);
        let bare: GoogleUserInfo = serde_json::from_str(r#"{"sub":"1"}"#).unwrap();
        assert_eq!(ExternalProfile::from(bare), ExternalProfile { subject: "1".into(), ..Default::default() });
    }

    /// A server that answers every connection with `head` and then `body_bytes` bytes of `x`.
    async fn answering(head: &'static str, body_bytes: usize) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(head.as_bytes()).await;
                for _ in 0..body_bytes / 8192 {
                    if socket.write_all(&[b'x'; 8192]).await.is_err() {
                        break;
                    }
                }
            }
        });
        url
    }

    #[tokio::test]
    async fn an_answer_larger_than_the_bound_is_refused_as_it_arrives() {
        let http = http_client().unwrap();
        let declared = answering("HTTP/1.1 200 OK\r\ncontent-length: 4194304\r\n\r\n", 0).await;
        let err = get_json::<serde_json::Value>(http.get(&declared), "profile").await.unwrap_err();
        assert_eq!(err, ProviderError::Unavailable("profile: the answer is larger than 1 MiB".into()));
        let streamed = answering("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n", 4 << 20).await;
        let err = get_json::<serde_json::Value>(http.get(&streamed), "profile").await.unwrap_err();
        assert_eq!(err, ProviderError::Unavailable("profile: the answer is larger than 1 MiB".into()));
    }

    #[test]
    fn oauth_error_bodies_are_recognised() {
        assert!(is_oauth_error(br#"{"error":"bad_verification_code","error_description":"x"}"#));
        assert!(!is_oauth_error(br#"{"access_token":"t","token_type":"bearer"}"#));
        assert!(!is_oauth_error(b"<html>"));
    }

    #[test]
    fn settings_and_providers_hide_the_client_secret() {
        let settings = OAuthClientSettings {
            client_id: "id".into(),
            client_secret: "s3cr3t".into(),
            auth_url: GOOGLE_AUTH_URL.into(),
            token_url: GOOGLE_TOKEN_URL.into(),
            redirect_url: "https://wb.example/auth/oauth/google/callback".into(),
        };
        let provider = GoogleProvider::new(settings, GOOGLE_USERINFO_URL.into(), http_client().unwrap()).unwrap();
        assert!(!format!("{provider:?}").contains("s3cr3t"));
    }

    #[test]
    fn invalid_urls_and_empty_credentials_are_refused_at_start_up() {
        let good = OAuthClientSettings {
            client_id: "id".into(),
            client_secret: "secret".into(),
            auth_url: GITHUB_AUTH_URL.into(),
            token_url: GITHUB_TOKEN_URL.into(),
            redirect_url: "https://wb.example/cb".into(),
        };
        let http = http_client().unwrap();
        assert!(GitHubProvider::new(good.clone(), GITHUB_API_URL.into(), http.clone()).is_ok());
        assert!(GitHubProvider::new(good.clone(), "not a url".into(), http.clone()).is_err());
        let bad_token = OAuthClientSettings { token_url: "::".into(), ..good.clone() };
        assert!(GitHubProvider::new(bad_token, GITHUB_API_URL.into(), http.clone()).is_err());
        let no_secret = OAuthClientSettings { client_secret: String::new(), ..good };
        let err = GitHubProvider::new(no_secret, GITHUB_API_URL.into(), http).unwrap_err();
        assert!(err.to_string().contains("secret"));
    }
}
