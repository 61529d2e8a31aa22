//! Signing in through an OAuth2 identity provider (Google, GitHub).
//!
//! The rules: an identity (provider, subject) is linked to exactly one account, so a person whose
//! email changes at the provider still lands in the same account. An identity seen for the first
//! time joins an existing account only when the provider vouches for the email (verified); an
//! unverified email that belongs to an account is refused, because anyone can claim an address
//! they do not own. Otherwise a new account is made, with a unique username derived from the
//! profile. `state` is single-use and expires, and the PKCE verifier never leaves the server.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use workbench_core::RepositoryError;

use crate::audit::{AuditAction, ClientInfo, NewAuditEntry};
use crate::tokens::TokenHash;
use crate::{
    AuthError, AuthService, Email, NewUser, OAuthProvider, OAuthStateStore, Role, Session, User, UserRepository,
    UserStatus, Username, now,
};

/// How long a pending authorization may wait for its callback.
pub const STATE_TTL: Duration = Duration::minutes(10);

/// The providers Workbench knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OAuthProviderName {
    Google,
    GitHub,
}

impl OAuthProviderName {
    pub const ALL: [OAuthProviderName; 2] = [OAuthProviderName::Google, OAuthProviderName::GitHub];

    pub fn as_str(self) -> &'static str {
        match self {
            OAuthProviderName::Google => "google",
            OAuthProviderName::GitHub => "github",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for OAuthProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where to send the browser, and what to remember until it comes back.
#[derive(Clone)]
pub struct AuthorizationRequest {
    pub url: String,
    pub state: String,
    pub pkce_verifier: String,
}

impl fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationRequest").field("url", &self.url).finish_non_exhaustive()
    }
}

/// An authorization waiting for its callback, stored under the hash of its `state`.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    pub provider: OAuthProviderName,
    pub pkce_verifier: String,
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("provider", &self.provider)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The signed-in person as the provider describes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalProfile {
    /// The provider's stable id of the person (Google's `sub`, GitHub's numeric id).
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider has verified that the person controls `email`.
    pub email_verified: bool,
    /// A username to start from (GitHub's login, or the local part of the email).
    pub username_hint: Option<String>,
}

/// An identity to link to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    pub provider: OAuthProviderName,
    pub subject: String,
    /// The email the provider gave when the identity was linked, for the record.
    pub email: Option<String>,
    pub linked_at: DateTime<Utc>,
}

/// A provider that said no, or could not be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused: the user denied access, the code was invalid, the client is misconfigured.
    #[error("the provider refused: {0}")]
    Refused(String),
    /// A network failure, a timeout, a 5xx or an answer that cannot be read.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

/// What came back to the callback URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// The provider's `error` parameter, when the person declined or the request was refused.
    pub error: Option<String>,
}

/// Failures of signing in through a provider.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("sign-in with {0} is not configured")]
    NotConfigured(String),
    /// A missing, unknown, expired, replayed or other provider's `state`.
    #[error("the sign-in request is unknown, expired or was already used; start again")]
    InvalidState,
    #[error("the callback carries no authorization code")]
    MissingCode,
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The provider's email belongs to an account but the provider has not verified it.
    #[error(
        "an account with this email exists, but {0} has not verified the address; sign in with your password instead"
    )]
    UnverifiedEmail(OAuthProviderName),
    /// The provider shared no email address, and an account cannot be made without one.
    #[error("{0} shared no email address; add one to your {0} account, then sign in again")]
    NoEmail(OAuthProviderName),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<RepositoryError> for OAuthError {
    fn from(e: RepositoryError) -> Self {
        OAuthError::Auth(e.into())
    }
}

/// The authorization-code flow, from the redirect to the provider to a signed-in session.
#[derive(Clone)]
pub struct OAuthService {
    providers: HashMap<OAuthProviderName, Arc<dyn OAuthProvider>>,
    states: Arc<dyn OAuthStateStore>,
    users: Arc<dyn UserRepository>,
    auth: AuthService,
}

impl fmt::Debug for OAuthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthService").field("providers", &self.providers.keys().collect::<Vec<_>>()).finish()
    }
}

impl OAuthService {
    pub fn new(
        providers: Vec<Arc<dyn OAuthProvider>>,
        states: Arc<dyn OAuthStateStore>,
        users: Arc<dyn UserRepository>,
        auth: AuthService,
    ) -> Self {
        let providers = providers.into_iter().map(|p| (p.name(), p)).collect();
        Self { providers, states, users, auth }
    }

    /// The configured providers.
    pub fn configured(&self) -> Vec<OAuthProviderName> {
        OAuthProviderName::ALL.into_iter().filter(|p| self.providers.contains_key(p)).collect()
    }

    fn provider(&self, name: &str) -> Result<&Arc<dyn OAuthProvider>, OAuthError> {
        OAuthProviderName::parse(name)
            .and_then(|p| self.providers.get(&p))
            .ok_or_else(|| OAuthError::NotConfigured(name.to_owned()))
    }

    /// Starts a sign-in: remembers a fresh `state` and PKCE verifier, and returns the provider
    /// URL to send the browser to.
    pub async fn begin(&self, provider: &str) -> Result<String, OAuthError> {
        let provider = self.provider(provider)?;
        let request = provider.authorization_request();
        let pending = PendingAuthorization {
            provider: provider.name(),
            pkce_verifier: request.pkce_verifier,
            expires_at: now() + STATE_TTL,
        };
        self.states.save(TokenHash::of(&request.state), pending).await?;
        Ok(request.url)
    }

    /// Finishes a sign-in: checks and spends `state`, exchanges the code, then signs the person in
    /// to their linked account, an account with the same verified email, or a new one.
    pub async fn complete(
        &self,
        provider: &str,
        callback: Callback,
        client: &ClientInfo,
    ) -> Result<Session, OAuthError> {
        let provider = self.provider(provider)?;
        let state = callback.state.as_deref().filter(|s| !s.is_empty()).ok_or(OAuthError::InvalidState)?;
        // Taken (deleted) before anything else, so a state is spent even when the rest fails.
        let pending = self.states.take(&TokenHash::of(state)).await?.ok_or(OAuthError::InvalidState)?;
        if pending.provider != provider.name() || pending.expires_at <= now() {
            return Err(OAuthError::InvalidState);
        }
        if let Some(error) = callback.error {
            return Err(ProviderError::Refused(error).into());
        }
        let code = callback.code.filter(|c| !c.is_empty()).ok_or(OAuthError::MissingCode)?;
        let profile = provider.profile(&code, &pending.pkce_verifier).await?;
        let user = self.account_for(provider.name(), profile, client).await?;
        if user.status == UserStatus::Disabled {
            let failed = NewAuditEntry::new(AuditAction::LoginFailed, client)
                .on(user.id)
                .with("method", provider.name().as_str())
                .with("reason", "account_disabled");
            self.auth.record_failure(failed).await;
            return Err(AuthError::AccountDisabled.into());
        }
        let login = NewAuditEntry::new(AuditAction::Login, client)
            .by(user.id)
            .on(user.id)
            .with("method", provider.name().as_str());
        Ok(self.auth.sign_in(user, vec![login]).await?)
    }

    async fn account_for(
        &self,
        provider: OAuthProviderName,
        profile: ExternalProfile,
        client: &ClientInfo,
    ) -> Result<User, OAuthError> {
        if let Some(user) = self.users.find_by_identity(provider, &profile.subject).await? {
            return Ok(user);
        }
        let email = profile.email.as_deref().and_then(|e| Email::parse(e).ok());
        let identity = ExternalIdentity {
            provider,
            subject: profile.subject.clone(),
            email: email.as_ref().map(|e| e.as_str().to_owned()),
            linked_at: now(),
        };
        let linked = |created: bool| {
            NewAuditEntry::new(AuditAction::OauthLinked, client)
                .with("provider", provider.as_str())
                .with("created", created)
        };
        if let Some(email) = &email
            && let Some((user, _)) = self.users.find_for_login(email).await?
        {
            if !profile.email_verified {
                return Err(OAuthError::UnverifiedEmail(provider));
            }
            if user.status == UserStatus::Active {
                self.users.link_identity(user.id, identity, vec![linked(false).by(user.id).on(user.id)]).await?;
            }
            return Ok(user);
        }
        let Some(email) = email else { return Err(OAuthError::NoEmail(provider)) };
        self.create_account(email, &profile, identity, linked(true)).await
    }

    /// A new account for a first-time identity. The username comes from the profile; when it is
    /// taken, a short random suffix is tried a few times.
    async fn create_account(
        &self,
        email: Email,
        profile: &ExternalProfile,
        identity: ExternalIdentity,
        audit: NewAuditEntry,
    ) -> Result<User, OAuthError> {
        let hint = profile.username_hint.as_deref().or_else(|| email.as_str().split('@').next()).unwrap_or("user");
        let base = username_base(hint);
        let mut candidate = base.clone();
        for _ in 0..8 {
            let username = Username::parse(&candidate).map_err(|e| anyhow::anyhow!("derived username: {e}"))?;
            let user = NewUser {
                username,
                email: email.clone(),
                password_hash: None,
                role: Role::User,
                created_at: identity.linked_at,
            };
            // The new account's id is not known yet: the repository fills in actor and target.
            match self.users.create_with_identity(user, identity.clone(), vec![audit.clone()]).await {
                Ok(user) => return Ok(user),
                Err(RepositoryError::Conflict { field: "username" }) => {
                    let suffix: u32 = rand::rng().random_range(1000..10000);
                    let keep = base.len().min(32 - 5);
                    candidate = format!("{}-{suffix}", &base[..keep]);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(anyhow::anyhow!("no free username derived from {base:?}").into())
    }
}

impl From<anyhow::Error> for OAuthError {
    fn from(e: anyhow::Error) -> Self {
        OAuthError::Auth(AuthError::Unknown(e))
    }
}

/// A valid username made from what a provider offers: allowed characters only, 3 to 32 of them.
fn username_base(hint: &str) -> String {
    let mut base: String =
        hint.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')).take(32).collect();
    if base.len() < 3 {
        base = format!("user{base}");
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccessToken, MockAuditLog, UserId};
    use crate::{
        AuthSettings, MockOAuthProvider, MockOAuthStateStore, MockPasswordHasher, MockRefreshTokenStore,
        MockTokenIssuer, MockTotpVerifier, MockUserRepository,
    };

    fn user(id: i64, email: &str) -> User {
        User { email: email.into(), ..User::sample(id) }
    }

    fn auth(users: Arc<MockUserRepository>) -> AuthService {
        let mut issuer = MockTokenIssuer::new();
        issuer.expect_issue().returning(|_| Ok(AccessToken { token: "jwt".into(), expires_in: 900 }));
        let mut tokens = MockRefreshTokenStore::new();
        tokens.expect_insert().returning(|_, _| Ok(()));
        AuthService::new(
            users,
            Arc::new(tokens),
            Arc::new(MockPasswordHasher::new()),
            Arc::new(issuer),
            Arc::new(MockTotpVerifier::new()),
            Arc::new(MockAuditLog::new()),
            AuthSettings::default(),
        )
    }

    fn provider(profile: ExternalProfile) -> MockOAuthProvider {
        let mut provider = MockOAuthProvider::new();
        provider.expect_name().return_const(OAuthProviderName::GitHub);
        provider.expect_profile().returning(move |_, _| Ok(profile.clone()));
        provider
    }

    fn states(pending: Option<PendingAuthorization>) -> MockOAuthStateStore {
        let mut states = MockOAuthStateStore::new();
        states.expect_take().times(1).returning(move |_| Ok(pending.clone()));
        states
    }

    fn pending(provider: OAuthProviderName, expires_in: Duration) -> Option<PendingAuthorization> {
        Some(PendingAuthorization { provider, pkce_verifier: "v".into(), expires_at: now() + expires_in })
    }

    fn service(users: MockUserRepository, profile: ExternalProfile, states: MockOAuthStateStore) -> OAuthService {
        let users = Arc::new(users);
        OAuthService::new(vec![Arc::new(provider(profile))], Arc::new(states), users.clone(), auth(users))
    }

    fn callback() -> Callback {
        Callback { code: Some("c".into()), state: Some("s".into()), error: None }
    }

    fn profile(email: &str, verified: bool) -> ExternalProfile {
        ExternalProfile {
            subject: "42".into(),
            email: Some(email.into()),
            email_verified: verified,
            username_hint: Some("octo cat!".into()),
        }
    }

    #[tokio::test]
    async fn unknown_expired_and_foreign_states_are_refused() {
        for pending in [
            None,
            pending(OAuthProviderName::GitHub, Duration::seconds(-1)),
            pending(OAuthProviderName::Google, STATE_TTL),
        ] {
            let svc = service(MockUserRepository::new(), profile("a@b.io", true), states(pending));
            let err = svc.complete("github", callback(), &ClientInfo::default()).await;
            assert!(matches!(err, Err(OAuthError::InvalidState)), "{err:?}");
        }
    }

    #[tokio::test]
    async fn an_unconfigured_provider_is_not_found() {
        let svc = service(MockUserRepository::new(), profile("a@b.io", true), MockOAuthStateStore::new());
        assert!(matches!(svc.begin("google").await, Err(OAuthError::NotConfigured(_))));
        assert!(matches!(svc.begin("myspace").await, Err(OAuthError::NotConfigured(_))));
    }

    #[tokio::test]
    async fn an_unverified_email_of_an_existing_account_is_not_linked() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_identity().returning(|_, _| Ok(None));
        users.expect_find_for_login().returning(|e| Ok(Some((user(7, e.as_str()), None))));
        users.expect_link_identity().never();
        users.expect_create_with_identity().never();
        let svc =
            service(users, profile("ann@example.com", false), states(pending(OAuthProviderName::GitHub, STATE_TTL)));
        let err = svc.complete("github", callback(), &ClientInfo::default()).await;
        assert!(matches!(err, Err(OAuthError::UnverifiedEmail(OAuthProviderName::GitHub))), "{err:?}");
    }

    #[tokio::test]
    async fn a_verified_email_links_the_existing_account() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_identity().returning(|_, _| Ok(None));
        users.expect_find_for_login().returning(|e| Ok(Some((user(7, e.as_str()), None))));
        users
            .expect_link_identity()
            .withf(|id, identity, audit| {
                *id == UserId(7) && identity.subject == "42" && audit[0].action == AuditAction::OauthLinked
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let svc =
            service(users, profile("Ann@Example.com", true), states(pending(OAuthProviderName::GitHub, STATE_TTL)));
        let session = svc.complete("github", callback(), &ClientInfo::default()).await.unwrap();
        assert_eq!(session.user.id, UserId(7));
    }

    #[tokio::test]
    async fn a_new_person_gets_an_account_with_a_free_username() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_identity().returning(|_, _| Ok(None));
        users.expect_find_for_login().returning(|_| Ok(None));
        let tried = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = tried.clone();
        users.expect_create_with_identity().returning(move |new, _, _| {
            seen.lock().unwrap().push(new.username.as_str().to_owned());
            if new.username.as_str() == "octocat" {
                Err(RepositoryError::Conflict { field: "username" })
            } else {
                Ok(user(9, new.email.as_str()))
            }
        });
        let svc =
            service(users, profile("new@example.com", false), states(pending(OAuthProviderName::GitHub, STATE_TTL)));
        let session = svc.complete("github", callback(), &ClientInfo::default()).await.unwrap();
        assert_eq!(session.user.id, UserId(9));
        let tried = tried.lock().unwrap();
        assert_eq!(tried[0], "octocat");
        assert!(tried[1].starts_with("octocat-") && tried[1].len() == 12, "{tried:?}");
    }

    #[tokio::test]
    async fn a_provider_refusal_is_reported_after_spending_the_state() {
        let svc = service(
            MockUserRepository::new(),
            profile("a@b.io", true),
            states(pending(OAuthProviderName::GitHub, STATE_TTL)),
        );
        let refused = Callback { code: None, state: Some("s".into()), error: Some("access_denied".into()) };
        let err = svc.complete("github", refused, &ClientInfo::default()).await;
        assert!(matches!(err, Err(OAuthError::Provider(ProviderError::Refused(_)))), "{err:?}");
    }

    #[test]
    fn usernames_are_made_valid() {
        assert_eq!(username_base("octo cat!"), "octocat");
        assert_eq!(username_base("é"), "user");
        assert_eq!(username_base(&"a".repeat(40)).len(), 32);
        assert!(Username::parse(username_base("x")).is_ok());
    }
}
