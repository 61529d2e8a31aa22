//! Accounts: users, tokens, passwords, two-factor sign-in, OAuth and the audit trail.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use workbench_auth::{
    BcryptHasher, GitHubProvider, GoogleProvider, JwtIssuer, JwtSettings, OAuthClientSettings, OidcProvider, TotpRs,
    oidc_providers_from,
};
use workbench_cache::{SharedPrincipalCache, SharedSessionCache};
use workbench_core::broadcast::Broadcast;
use workbench_store::{
    Database, DieselAuditLog, DieselMfaTokenStore, DieselOAuthStateStore, DieselPlatformCensus,
    DieselRefreshTokenStore, DieselUserRepository,
};
use workbench_users::{
    AuthParts, AuthService, AuthSettings, Authenticator, DashboardService, OAuthProvider, OAuthService, PasswordHasher,
    PrincipalCache, Reauthentication, TwoFactorService, UserRepository, UserService,
};

use crate::config::{Settings, non_empty};

/// The audience every access token is issued for and checked against.
pub const TOKEN_AUDIENCE: &str = "workbench-api";

/// How many callers' principals each instance keeps, and for how long at most: invalidations
/// remove them at once; the time to live only bounds what a lost invalidation could cost.
const PRINCIPALS_MAX: u64 = 100_000;
const PRINCIPAL_TTL: Duration = Duration::from_secs(60);

/// The accounts domain's services, and what other domains borrow from it.
#[derive(Clone)]
pub struct Accounts {
    pub authenticator: Authenticator,
    pub auth: AuthService,
    pub oauth: OAuthService,
    pub two_factor: TwoFactorService,
    /// What a session proves before making a personal access token.
    pub reauthentication: Reauthentication,
    pub users: UserService,
    pub dashboard: DashboardService,
    /// The accounts themselves, for the background's jobs and the realtime recheck.
    pub repository: Arc<dyn UserRepository>,
    pub principals: Arc<dyn PrincipalCache>,
    /// Password hashing on its own threads, for the other secrets people choose (a share link's).
    pub hasher: Arc<dyn PasswordHasher>,
}

pub async fn wire(settings: &Settings, db: &Database, bus: Arc<dyn Broadcast>) -> anyhow::Result<Accounts> {
    let cost = settings.auth.bcrypt_cost;
    // Making the dummy hash costs one bcrypt round: keep it off the executor.
    let hasher: Arc<dyn PasswordHasher> =
        Arc::new(tokio::task::spawn_blocking(move || BcryptHasher::new(cost)).await??);
    let issuer = Arc::new(JwtIssuer::new(JwtSettings {
        secret: settings.jwt_secret_bytes(),
        issuer: settings.public_url(),
        audience: TOKEN_AUDIENCE.to_owned(),
        ttl: chrono::Duration::from_std(settings.auth.access_token_ttl).context("ACCESS_TOKEN_TTL is too large")?,
    }));
    let users = Arc::new(DieselUserRepository::new(db.clone()));
    let tokens = Arc::new(DieselRefreshTokenStore::new(db.clone()));
    let auth_settings = AuthSettings {
        refresh_ttl: chrono::Duration::from_std(settings.auth.refresh_token_ttl)
            .context("REFRESH_TOKEN_TTL is too large")?,
    };
    let principals = SharedPrincipalCache::start(bus.clone(), PRINCIPALS_MAX, PRINCIPAL_TTL);
    let sessions = SharedSessionCache::start(bus, PRINCIPALS_MAX, PRINCIPAL_TTL);
    let totp = Arc::new(TotpRs::new("Workbench"));
    let audit = Arc::new(DieselAuditLog::new(db.clone()));
    let authenticator =
        Authenticator::new(issuer.clone(), users.clone(), principals.clone(), sessions.clone(), tokens.clone());
    let reauthentication = Reauthentication::new(users.clone(), tokens.clone(), hasher.clone());
    let auth = AuthService::new(AuthParts {
        users: users.clone(),
        tokens,
        hasher: hasher.clone(),
        issuer,
        totp: totp.clone(),
        audit: audit.clone(),
        principals: principals.clone(),
        sessions,
        settings: auth_settings,
    });
    let oauth = OAuthService::new(
        oauth_providers(settings)?,
        Arc::new(DieselOAuthStateStore::new(db.clone())),
        Arc::new(DieselMfaTokenStore::new(db.clone())),
        users.clone(),
        auth.clone(),
    );
    Ok(Accounts {
        authenticator,
        oauth,
        two_factor: TwoFactorService::new(users.clone(), totp, hasher.clone()),
        reauthentication,
        users: UserService::new(users.clone(), hasher.clone(), audit, principals.clone()),
        dashboard: DashboardService::new(Arc::new(DieselPlatformCensus::new(db.clone()))),
        auth,
        repository: users,
        principals,
        hasher,
    })
}

/// The sign-in providers configured: Google and GitHub when their client id and secret are set
/// (on the real endpoints unless the `OAUTH_*_URL` settings point elsewhere), then every OpenID
/// Connect provider `OIDC_PROVIDERS` names.
fn oauth_providers(settings: &Settings) -> anyhow::Result<Vec<Arc<dyn OAuthProvider>>> {
    let oauth = &settings.oauth;
    let or = |value: &Option<String>, default: &str| non_empty(value).unwrap_or(default).to_owned();
    let client =
        |id: &String, secret: &String, auth: &Option<String>, token: &Option<String>, name, urls: (&str, &str)| {
            let (auth_url, token_url) = (or(auth, urls.0), or(token, urls.1));
            let (client_id, client_secret, redirect_url) =
                (id.clone(), secret.clone(), settings.oauth_redirect_url(name));
            OAuthClientSettings { client_id, client_secret, auth_url, token_url, redirect_url }
        };
    let mut providers: Vec<Arc<dyn OAuthProvider>> = Vec::new();
    if let (Some(id), Some(secret)) = (&oauth.google_client_id, &oauth.google_client_secret) {
        let urls = (workbench_auth::GOOGLE_AUTH_URL, workbench_auth::GOOGLE_TOKEN_URL);
        let client = client(id, secret, &oauth.google_auth_url, &oauth.google_token_url, "google", urls);
        let userinfo = or(&oauth.google_userinfo_url, workbench_auth::GOOGLE_USERINFO_URL);
        let google = GoogleProvider::new(client, userinfo, workbench_auth::http_client()?);
        providers.push(Arc::new(google.context("Google OAuth settings")?));
    }
    if let (Some(id), Some(secret)) = (&oauth.github_client_id, &oauth.github_client_secret) {
        let urls = (workbench_auth::GITHUB_AUTH_URL, workbench_auth::GITHUB_TOKEN_URL);
        let client = client(id, secret, &oauth.github_auth_url, &oauth.github_token_url, "github", urls);
        let api = or(&oauth.github_api_url, workbench_auth::GITHUB_API_URL);
        providers.push(Arc::new(
            GitHubProvider::new(client, api, workbench_auth::http_client()?).context("GitHub OAuth settings")?,
        ));
    }
    let names = non_empty(&oauth.oidc_providers).unwrap_or_default();
    for oidc in oidc_providers_from(names, &oauth.oidc_env, |name| settings.oauth_redirect_url(name))? {
        providers.push(Arc::new(OidcProvider::new(oidc, workbench_auth::http_client()?)?));
    }
    let names: Vec<String> = providers.iter().map(|p| p.name().to_string()).collect();
    tracing::info!(?names, "sign-in providers");
    Ok(providers)
}
