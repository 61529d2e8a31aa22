//! Signing in through an OAuth2 identity provider (Google, GitHub).
//!
//! The rules: an identity (provider, subject) is linked to exactly one account, so a person whose
//! email changes at the provider still lands in the same account. An identity seen for the first
//! time joins an existing account only when the provider vouches for the email (verified); an
//! unverified email that belongs to an account is refused, because anyone can claim an address
//! they do not own. Otherwise a new account is made, with a unique username derived from the
//! profile. `state` is single-use and expires, and the PKCE verifier never leaves the server.
//!
//! A `state` is also bound to the browser that started the sign-in: [`OAuthService::begin`] hands
//! out a [`BrowserBinding`] for the adapter to keep in that browser (a cookie), and the callback
//! is refused without it. Otherwise anyone could start a sign-in to their own account, stop at the
//! provider's redirect back, and send that URL to a victim, whose browser would then be signed in
//! to the attacker's account (login CSRF).
//!
//! A provider proves a first factor only: an account with TOTP on gets no session from the
//! callback, but an [`MfaChallenge`] to complete with a code ([`OAuthService::complete_second_factor`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use subtle::ConstantTimeEq;
use workbench_core::RepositoryError;

use crate::audit::{AuditAction, ClientInfo, NewAuditEntry};
use crate::provider::{OAuthProviderName, ProviderKind, ProviderSession};
use crate::tokens::TokenHash;
use crate::two_factor::{MFA_TOKEN_TTL, MfaChallenge, MfaToken, PendingSecondFactor, SecondFactorAttempt, random_hex};
use crate::{
    AuthError, AuthService, Email, MfaTokenStore, NewUser, OAuthProvider, OAuthStateStore, Role, Session, User,
    UserRepository, UserStatus, Username, now,
};

/// How long a pending authorization may wait for its callback.
pub const STATE_TTL: Duration = Duration::minutes(10);

/// Where to send the browser, and what to remember until it comes back.
#[derive(Clone)]
pub struct AuthorizationRequest {
    /// The provider's authorization URL to redirect the browser to, carrying `state` and the PKCE
    /// challenge.
    pub url: String,
    /// The single-use value the provider sends back with the callback; stored only as a hash.
    pub state: String,
    /// The PKCE verifier whose challenge the URL carries, presented again when the code is
    /// exchanged.
    pub pkce_verifier: String,
    /// The OpenID Connect `nonce` the URL carries, which the ID token must echo (`None` for a
    /// provider without ID tokens).
    pub nonce: Option<String>,
}

impl fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationRequest").field("url", &self.url).finish_non_exhaustive()
    }
}

/// An authorization waiting for its callback, stored under the hash of its `state`.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    /// Which provider the browser was sent to.
    pub provider: OAuthProviderName,
    /// The PKCE verifier to present when the callback's code is exchanged.
    pub pkce_verifier: String,
    /// When the authorization stops being accepted ([`STATE_TTL`] after it started).
    pub expires_at: DateTime<Utc>,
    /// The hash of the [`BrowserBinding`] given to the browser that started it.
    pub browser: TokenHash,
    /// The `nonce` sent to an OpenID Connect provider, which its ID token must carry back.
    pub nonce: Option<String>,
}

/// A random value kept by the browser that started a sign-in (256 bits, hex), and presented
/// again with the callback: only that browser can finish the sign-in. Stored only as a hash.
#[derive(Clone, PartialEq, Eq)]
pub struct BrowserBinding(String);

impl BrowserBinding {
    /// A fresh binding: 256 random bits, hex.
    pub fn generate() -> Self {
        Self(random_hex())
    }

    /// The SHA-256 under which the binding is stored with its authorization.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// The binding itself, to hand to the browser (a cookie) and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BrowserBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BrowserBinding(***)")
    }
}

/// A started sign-in: where to send the browser, and what it must keep until it comes back.
#[derive(Debug, Clone)]
pub struct OAuthStart {
    /// The provider's URL to send the browser to.
    pub url: String,
    /// The value the browser must keep (a cookie) and present with the callback.
    pub binding: BrowserBinding,
    /// How long the sign-in may wait for its callback (and the browser keep its binding).
    pub ttl: Duration,
}

/// How a callback ended, when it did not fail.
#[derive(Debug, Clone)]
pub enum OAuthSignIn {
    /// The person is signed in: the same token pair as a password sign-in.
    SignedIn(Box<Session>),
    /// The account has TOTP on: no session yet, a challenge to complete with a code.
    SecondFactorRequired(MfaChallenge),
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
    /// The email address the provider shares, if any.
    pub email: Option<String>,
    /// Whether the provider has verified that the person controls `email`.
    pub email_verified: bool,
    /// A username to start from (GitHub's login, or the local part of the email).
    pub username_hint: Option<String>,
    /// The role the provider's claims map to, when the provider is configured to decide roles
    /// (`OIDC_<NAME>_ROLE_CLAIM`): applied at every sign-in, up and down.
    pub role: Option<Role>,
    /// The provider's sign-in session this sign-in belongs to (OpenID Connect), kept with the
    /// Workbench session it starts so that the provider can end it (back-channel logout).
    pub session: Option<ProviderSession>,
}

/// What a provider's back-channel logout token asks to end, once its signature and claims were
/// checked: the sessions of `sid`, or every session of `subject` when no `sid` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    /// The provider that signed the token.
    pub issuer: String,
    /// The person whose sessions end (`sub`), when named.
    pub subject: Option<String>,
    /// The provider session that ends (`sid`), when named.
    pub sid: Option<String>,
    /// The token's id: a token is honoured once.
    pub jti: String,
    /// Until when the token would be accepted, so that its id need be kept no longer.
    pub expires_at: DateTime<Utc>,
}

/// How a configured provider presents itself on a login page (`GET /auth/providers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// The name its routes carry.
    pub name: OAuthProviderName,
    /// What people see on the button.
    pub display_name: String,
}

/// An identity to link to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// Who vouches for the identity: `google`, `github`, or an OpenID Connect provider's issuer
    /// (so that an identity survives its provider being renamed in the configuration).
    pub provider: String,
    /// The provider's stable id of the person (Google's `sub`, GitHub's numeric id).
    pub subject: String,
    /// The email the provider gave when the identity was linked, for the record.
    pub email: Option<String>,
    /// When the identity was linked to the account.
    pub linked_at: DateTime<Utc>,
}

/// A provider that said no, or could not be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused: the user denied access, the code was invalid, the client is misconfigured.
    #[error("the provider refused: {0}")]
    Refused(String),
    /// The provider's ID token (or logout token) failed a check: the message names which.
    #[error("the provider's token was refused: {0}")]
    InvalidToken(String),
    /// A network failure, a timeout, a 5xx or an answer that cannot be read.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

/// What came back to the callback URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Callback {
    /// The authorization code to exchange for the provider's tokens.
    pub code: Option<String>,
    /// The `state` the sign-in started with, echoed by the provider.
    pub state: Option<String>,
    /// The provider's `error` parameter, when the person declined or the request was refused.
    pub error: Option<String>,
}

/// Failures of signing in through a provider.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The provider named is not one with a client id and secret configured (its routes answer
    /// `404`).
    #[error("sign-in with {0} is not configured")]
    NotConfigured(String),
    /// A missing, unknown, expired, replayed or other provider's `state`, or one that another
    /// browser started.
    #[error("the sign-in request is unknown, expired, was already used or was started in another browser; start again")]
    InvalidState,
    /// The callback has a valid `state` but no `code` (and no `error`).
    #[error("the callback carries no authorization code")]
    MissingCode,
    /// The provider refused the code or could not be reached.
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
    /// A back-channel logout token that is invalid, expired or was already used.
    #[error("the logout token was refused: {0}")]
    InvalidLogoutToken(String),
    /// Signing in failed after the provider vouched for the person (a disabled account, a store
    /// failure).
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
    /// The providers' names in the order they were configured, for a login page.
    order: Vec<OAuthProviderName>,
    states: Arc<dyn OAuthStateStore>,
    challenges: Arc<dyn MfaTokenStore>,
    users: Arc<dyn UserRepository>,
    auth: AuthService,
}

impl fmt::Debug for OAuthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthService").field("providers", &self.providers.keys().collect::<Vec<_>>()).finish()
    }
}

impl OAuthService {
    /// The service over the configured `providers` (one per name; the others answer
    /// `NotConfigured`), the pending authorizations in `states`, the second-factor challenges in
    /// `challenges`, the accounts in `users`, and `auth` to open sessions.
    pub fn new(
        providers: Vec<Arc<dyn OAuthProvider>>,
        states: Arc<dyn OAuthStateStore>,
        challenges: Arc<dyn MfaTokenStore>,
        users: Arc<dyn UserRepository>,
        auth: AuthService,
    ) -> Self {
        let order = providers.iter().map(|p| p.name()).collect();
        let providers = providers.into_iter().map(|p| (p.name(), p)).collect();
        Self { providers, order, states, challenges, users, auth }
    }

    /// The configured providers, in the order they were configured.
    pub fn configured(&self) -> Vec<ProviderInfo> {
        self.order
            .iter()
            .filter_map(|name| self.providers.get(name))
            .map(|p| ProviderInfo { name: p.name(), display_name: p.display_name() })
            .collect()
    }

    fn provider(&self, name: &str) -> Result<&Arc<dyn OAuthProvider>, OAuthError> {
        OAuthProviderName::parse(name)
            .and_then(|p| self.providers.get(&p))
            .ok_or_else(|| OAuthError::NotConfigured(name.to_owned()))
    }

    /// Starts a sign-in: remembers a fresh `state`, PKCE verifier and browser binding, and returns
    /// the provider URL to send the browser to with the binding for the browser to keep.
    pub async fn begin(&self, provider: &str) -> Result<OAuthStart, OAuthError> {
        let provider = self.provider(provider)?;
        let request = provider.authorization_request().await?;
        let binding = BrowserBinding::generate();
        let pending = PendingAuthorization {
            provider: provider.name(),
            pkce_verifier: request.pkce_verifier,
            expires_at: now() + STATE_TTL,
            browser: binding.hash(),
            nonce: request.nonce,
        };
        self.states.save(TokenHash::of(&request.state), pending).await?;
        Ok(OAuthStart { url: request.url, binding, ttl: STATE_TTL })
    }

    /// Finishes a sign-in: checks and spends `state`, checks that `browser` is the binding of the
    /// browser that started it, exchanges the code, then signs the person in to their linked
    /// account, an account with the same verified email, or a new one. An account with TOTP on
    /// is not signed in: it gets a challenge for [`Self::complete_second_factor`].
    pub async fn complete(
        &self,
        provider: &str,
        callback: Callback,
        browser: Option<&str>,
        client: &ClientInfo,
    ) -> Result<OAuthSignIn, OAuthError> {
        let provider = self.provider(provider)?;
        let state = callback.state.as_deref().filter(|s| !s.is_empty()).ok_or(OAuthError::InvalidState)?;
        // Taken (deleted) before anything else, so a state is spent even when the rest fails: a
        // callback URL opened in the wrong browser is dead for the right one too.
        let pending = self.states.take(&TokenHash::of(state)).await?.ok_or(OAuthError::InvalidState)?;
        if pending.provider != provider.name() || pending.expires_at <= now() {
            return Err(OAuthError::InvalidState);
        }
        let presented = TokenHash::of(browser.unwrap_or_default());
        if !bool::from(presented.as_str().as_bytes().ct_eq(pending.browser.as_str().as_bytes())) {
            return Err(OAuthError::InvalidState);
        }
        if let Some(error) = callback.error {
            return Err(ProviderError::Refused(error).into());
        }
        let code = callback.code.filter(|c| !c.is_empty()).ok_or(OAuthError::MissingCode)?;
        let profile = provider.profile(&code, &pending.pkce_verifier, pending.nonce.clone()).await?;
        let session = profile.session.clone();
        let role = profile.role;
        let user = self.account_for(provider.as_ref(), profile, client).await?;
        let user = self.apply_role(user, role, provider.name(), client).await?;
        let method = provider.name();
        let method = method.as_str();
        if user.status == UserStatus::Disabled {
            let failed = NewAuditEntry::new(AuditAction::LoginFailed, client)
                .on(user.id)
                .with("method", method)
                .with("reason", "account_disabled");
            self.auth.record_failure(failed).await;
            return Err(AuthError::AccountDisabled.into());
        }
        if user.totp_enabled {
            let token = MfaToken::generate();
            let expires_at = now() + MFA_TOKEN_TTL;
            let pending = PendingSecondFactor { user_id: user.id, provider: provider.name(), expires_at, session };
            self.challenges.save(token.hash(), pending).await?;
            // As a password sign-in without its code is: the first factor was right, the sign-in
            // is not complete.
            let stopped = NewAuditEntry::new(AuditAction::LoginFailed, client)
                .on(user.id)
                .with("method", method)
                .with("reason", "second_factor_required");
            self.auth.record_failure(stopped).await;
            return Ok(OAuthSignIn::SecondFactorRequired(MfaChallenge { token, expires_at }));
        }
        let login = NewAuditEntry::new(AuditAction::Login, client).by(user.id).on(user.id).with("method", method);
        Ok(OAuthSignIn::SignedIn(Box::new(self.auth.sign_in(user, vec![login], session).await?)))
    }

    /// Completes a sign-in that stopped at the second factor: the challenge's token and a TOTP
    /// code or a recovery code. The code is checked as a password sign-in checks it (wrong codes
    /// count towards the same lock); a wrong one leaves the token usable until it expires or the
    /// lock trips, a right one spends it. The token is spent after the code, by the database, so
    /// of two completions racing with one token exactly one gets a session.
    pub async fn complete_second_factor(
        &self,
        attempt: SecondFactorAttempt,
        client: &ClientInfo,
    ) -> Result<Session, AuthError> {
        let token = TokenHash::of(&attempt.mfa_token);
        let pending =
            self.challenges.find(&token).await?.filter(|p| p.expires_at > now()).ok_or(AuthError::InvalidToken)?;
        // Deleted accounts take their challenges with them; this is a concurrent deletion.
        let user = self.users.find(pending.user_id).await?.ok_or(AuthError::InvalidToken)?;
        let method = pending.provider.as_str().to_owned();
        let method = method.as_str();
        if user.status == UserStatus::Disabled {
            let failed = NewAuditEntry::new(AuditAction::LoginFailed, client)
                .on(user.id)
                .with("method", method)
                .with("reason", "account_disabled");
            self.auth.record_failure(failed).await;
            return Err(AuthError::AccountDisabled);
        }
        let refused = NewAuditEntry::new(AuditAction::LoginFailed, client).on(user.id).with("method", method);
        let proven = match self
            .auth
            .prove_second_factor(&user, attempt.totp_code.as_deref(), attempt.recovery_code.as_deref(), client, refused)
            .await
        {
            Ok(proven) => proven,
            Err(e @ AuthError::TooManyAttempts { .. }) => {
                // The lock outlasts the token: nothing is left to complete.
                self.challenges.spend(&token, now()).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if !self.challenges.spend(&token, now()).await? {
            // Another completion won (or the token expired meanwhile). A recovery code spent on
            // the way is gone all the same: the trail must say so.
            for entry in proven.entries {
                self.auth.record_failure(entry).await;
            }
            return Err(AuthError::InvalidToken);
        }
        let login = NewAuditEntry::new(AuditAction::Login, client)
            .by(user.id)
            .on(user.id)
            .with("method", method)
            .with("second_factor", proven.factor.as_str());
        let mut audit = vec![login];
        audit.extend(proven.entries);
        self.auth.sign_in(user, audit, pending.session).await
    }

    /// Ends what a provider's back-channel logout token names, on every instance at once: the
    /// Workbench sessions started from provider session `sid`, or, with `sub` alone, every
    /// session of the account linked to that person (and every access token of it). A token is
    /// honoured once: its `jti` is claimed in the store first. Returns how many sessions ended.
    pub async fn backchannel_logout(
        &self,
        provider_name: &str,
        logout_token: &str,
        client: &ClientInfo,
    ) -> Result<usize, OAuthError> {
        let provider = self.provider(provider_name).ok().filter(|p| p.name().kind() == ProviderKind::Oidc);
        let provider = provider.ok_or_else(|| OAuthError::NotConfigured(provider_name.to_owned()))?;
        if logout_token.is_empty() {
            return Err(OAuthError::InvalidLogoutToken(
                "the form carries no `logout_token` (application/x-www-form-urlencoded)".into(),
            ));
        }
        let request = provider.verify_logout_token(logout_token).await.map_err(|e| match e {
            ProviderError::InvalidToken(why) => OAuthError::InvalidLogoutToken(why),
            other => OAuthError::Provider(other),
        })?;
        if !self.auth.claim_logout_token(&request).await? {
            return Err(OAuthError::InvalidLogoutToken("this logout token was already used (jti)".into()));
        }
        let method = provider.name();
        Ok(self.auth.end_provider_sessions(&request, method.as_str(), client).await?)
    }

    /// Sets the role the provider's claims map to, when the provider decides roles. A
    /// `super_admin` keeps that role: no claim grants it, and none takes it away.
    async fn apply_role(
        &self,
        user: User,
        role: Option<Role>,
        provider: OAuthProviderName,
        client: &ClientInfo,
    ) -> Result<User, OAuthError> {
        let Some(role) = role else { return Ok(user) };
        if user.role == role || user.role == Role::SuperAdmin || role == Role::SuperAdmin {
            return Ok(user);
        }
        let changed = NewAuditEntry::new(AuditAction::RoleChanged, client)
            .on(user.id)
            .with("from", user.role.as_str())
            .with("to", role.as_str())
            .with("provider", provider.as_str());
        let id = user.id;
        match self.users.set_role_and_status(id, Some(role), None, now(), None, vec![changed]).await? {
            Some(updated) => {
                // Every instance forgets the old role: access tokens and sockets follow at once.
                self.auth.forget_principal(id).await;
                Ok(updated)
            }
            None => Ok(user),
        }
    }

    async fn account_for(
        &self,
        provider: &dyn OAuthProvider,
        profile: ExternalProfile,
        client: &ClientInfo,
    ) -> Result<User, OAuthError> {
        let name = provider.name();
        let namespace = provider.identity_namespace();
        if let Some(user) = self.users.find_by_identity(&namespace, &profile.subject).await? {
            return Ok(user);
        }
        let email = profile.email.as_deref().and_then(|e| Email::parse(e).ok());
        let mut identity = ExternalIdentity {
            provider: namespace.clone(),
            subject: profile.subject.clone(),
            email: email.as_ref().map(|e| e.as_str().to_owned()),
            linked_at: now(),
        };
        let linked = |created: bool| {
            NewAuditEntry::new(AuditAction::OauthLinked, client)
                .with("provider", name.as_str())
                .with("created", created)
        };
        let oidc = name.kind() == ProviderKind::Oidc;
        if let Some(email) = &email
            && let Some((user, _)) = self.users.find_for_login(email).await?
        {
            if profile.email_verified {
                if user.status == UserStatus::Active {
                    self.users.link_identity(user.id, identity, vec![linked(false).by(user.id).on(user.id)]).await?;
                }
                return Ok(user);
            }
            if !oidc {
                return Err(OAuthError::UnverifiedEmail(name));
            }
            // The contract for OpenID Connect: an address the provider has not verified links
            // nothing, and the person gets an account of their own. The address is somebody
            // else's here, so the new account cannot have it: it gets one that can receive
            // nothing (RFC 2606 `.invalid`) until its owner sets theirs.
            let placeholder = placeholder_email(&name, &namespace, &profile.subject)?;
            identity.email = None;
            return self.create_account(placeholder, &profile, identity, linked(true)).await;
        }
        let email = match email {
            Some(email) => email,
            None if oidc => placeholder_email(&name, &namespace, &profile.subject)?,
            None => return Err(OAuthError::NoEmail(name)),
        };
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

/// An address for an account whose provider vouched for no address of its own: unique per
/// identity, and undeliverable by definition (RFC 2606 reserves `.invalid`).
fn placeholder_email(provider: &OAuthProviderName, namespace: &str, subject: &str) -> Result<Email, OAuthError> {
    let digest = TokenHash::of(&format!("{namespace}\n{subject}"));
    let name = provider.as_str();
    let address = format!("{name}-{}@{name}.invalid", &digest.as_str()[..16]);
    Ok(Email::parse(&address).map_err(|e| anyhow::anyhow!("placeholder address {address:?}: {e}"))?)
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
    use crate::{AccessToken, MockAuditLog, MockMfaTokenStore, TotpState, UserId};
    use crate::{
        AuthParts, AuthSettings, MockOAuthProvider, MockOAuthStateStore, MockPasswordHasher, MockRefreshTokenStore,
        MockTokenIssuer, MockTotpVerifier, MockUserRepository,
    };

    fn user(id: i64, email: &str) -> User {
        User { email: email.into(), ..User::sample(id) }
    }

    fn auth(users: Arc<MockUserRepository>) -> AuthService {
        let mut issuer = MockTokenIssuer::new();
        issuer.expect_issue().returning(|_, _| Ok(AccessToken { token: "jwt".into(), expires_in: 900 }));
        let mut tokens = MockRefreshTokenStore::new();
        tokens.expect_insert().returning(|_, _| Ok(()));
        AuthService::new(AuthParts {
            users,
            tokens: Arc::new(tokens),
            hasher: Arc::new(MockPasswordHasher::new()),
            issuer: Arc::new(issuer),
            totp: Arc::new(MockTotpVerifier::new()),
            audit: Arc::new(MockAuditLog::new()),
            principals: Arc::new(crate::MockPrincipalCache::new()),
            sessions: {
                let mut sessions = crate::MockSessionCache::new();
                sessions.expect_invalidate().returning(|_| ());
                Arc::new(sessions)
            },
            settings: AuthSettings::default(),
        })
    }

    fn provider(profile: ExternalProfile) -> MockOAuthProvider {
        let mut provider = MockOAuthProvider::new();
        provider.expect_name().return_const(OAuthProviderName::GitHub);
        provider.expect_identity_namespace().return_const("github".to_owned());
        provider.expect_profile().returning(move |_, _, _| Ok(profile.clone()));
        provider
    }

    fn states(pending: Option<PendingAuthorization>) -> MockOAuthStateStore {
        let mut states = MockOAuthStateStore::new();
        states.expect_take().times(1).returning(move |_| Ok(pending.clone()));
        states
    }

    /// The binding of the browser that started the flow, in the tests' callbacks.
    const BROWSER: &str = "browser-binding";

    fn pending(provider: OAuthProviderName, expires_in: Duration) -> Option<PendingAuthorization> {
        Some(PendingAuthorization {
            provider,
            pkce_verifier: "v".into(),
            expires_at: now() + expires_in,
            browser: TokenHash::of(BROWSER),
            nonce: None,
        })
    }

    fn service(users: MockUserRepository, profile: ExternalProfile, states: MockOAuthStateStore) -> OAuthService {
        with_challenges(users, profile, states, MockMfaTokenStore::new())
    }

    fn with_challenges(
        users: MockUserRepository,
        profile: ExternalProfile,
        states: MockOAuthStateStore,
        challenges: MockMfaTokenStore,
    ) -> OAuthService {
        let users = Arc::new(users);
        OAuthService::new(
            vec![Arc::new(provider(profile))],
            Arc::new(states),
            Arc::new(challenges),
            users.clone(),
            auth(users),
        )
    }

    /// The session of a callback that signed in.
    fn signed_in(outcome: Result<OAuthSignIn, OAuthError>) -> Session {
        match outcome {
            Ok(OAuthSignIn::SignedIn(session)) => *session,
            other => panic!("expected a session, got {other:?}"),
        }
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
            ..ExternalProfile::default()
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
            let err = svc.complete("github", callback(), Some(BROWSER), &ClientInfo::default()).await;
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
        let err = svc.complete("github", callback(), Some(BROWSER), &ClientInfo::default()).await;
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
        let session = signed_in(svc.complete("github", callback(), Some(BROWSER), &ClientInfo::default()).await);
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
        let session = signed_in(svc.complete("github", callback(), Some(BROWSER), &ClientInfo::default()).await);
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
        let err = svc.complete("github", refused, Some(BROWSER), &ClientInfo::default()).await;
        assert!(matches!(err, Err(OAuthError::Provider(ProviderError::Refused(_)))), "{err:?}");
    }

    // --- The browser binding -------------------------------------------------------------------

    #[tokio::test]
    async fn begin_binds_the_state_to_the_browser() {
        let mut provider = MockOAuthProvider::new();
        provider.expect_name().return_const(OAuthProviderName::GitHub);
        provider.expect_authorization_request().returning(|| {
            Ok(AuthorizationRequest {
                url: "https://github.example/authorize?state=s".into(),
                state: "s".into(),
                pkce_verifier: "v".into(),
                nonce: None,
            })
        });
        let saved = Arc::new(std::sync::Mutex::new(None));
        let sink = saved.clone();
        let mut states = MockOAuthStateStore::new();
        states.expect_save().times(1).returning(move |state, pending| {
            *sink.lock().unwrap() = Some((state, pending));
            Ok(())
        });
        let users = Arc::new(MockUserRepository::new());
        let svc = OAuthService::new(
            vec![Arc::new(provider)],
            Arc::new(states),
            Arc::new(MockMfaTokenStore::new()),
            users.clone(),
            auth(users),
        );
        let start = svc.begin("github").await.unwrap();
        let (state, pending) = saved.lock().unwrap().clone().unwrap();
        assert_eq!(state, TokenHash::of("s"));
        assert_eq!(pending.browser, start.binding.hash(), "the browser's binding is stored as its hash");
        assert_eq!(start.binding.expose().len(), 64, "256 bits");
        assert_eq!(start.ttl, STATE_TTL);
        assert_eq!(format!("{:?}", start.binding), "BrowserBinding(***)");
    }

    #[tokio::test]
    async fn a_callback_without_the_starting_browser_is_refused() {
        for browser in [None, Some(""), Some("another-browser")] {
            let mut provider = MockOAuthProvider::new();
            provider.expect_name().return_const(OAuthProviderName::GitHub);
            provider.expect_profile().never();
            let users = Arc::new(MockUserRepository::new());
            let svc = OAuthService::new(
                vec![Arc::new(provider)],
                Arc::new(states(pending(OAuthProviderName::GitHub, STATE_TTL))),
                Arc::new(MockMfaTokenStore::new()),
                users.clone(),
                auth(users),
            );
            let err = svc.complete("github", callback(), browser, &ClientInfo::default()).await;
            assert!(matches!(err, Err(OAuthError::InvalidState)), "{browser:?}: {err:?}");
        }
    }

    // --- TOTP after a provider --------------------------------------------------------------------

    /// An audit log that keeps what it is given.
    fn audit_sink() -> (MockAuditLog, Arc<std::sync::Mutex<Vec<NewAuditEntry>>>) {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let mut audit = MockAuditLog::new();
        audit.expect_record().returning(move |e| {
            sink.lock().unwrap().push(e);
            Ok(())
        });
        (audit, seen)
    }

    /// The accounts of a TOTP user: only code "123456" is right, and its step is free once
    /// (`step_free`); `lock` is what a wrong code's failure count answers.
    fn totp_users(step_free: bool, lock: Option<DateTime<Utc>>) -> MockUserRepository {
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|id| Ok(Some(User { totp_enabled: true, ..User::sample(id.0) })));
        users.expect_totp_state().returning(|_| {
            Ok(Some(TotpState { secret: Some("S".into()), enabled: true, last_step: None, locked_until: None }))
        });
        users.expect_use_totp_step().returning(move |_, _| Ok(step_free));
        users.expect_use_recovery_code().returning(|_, _, _| Ok(false));
        users.expect_clear_second_factor_failures().returning(|_| Ok(()));
        users.expect_record_second_factor_failure().returning(move |_, _, _| Ok(lock));
        users
    }

    /// An `OAuthService` over these ports, with a TOTP verifier for which "123456" is right.
    fn totp_service(
        users: MockUserRepository,
        profile: Option<ExternalProfile>,
        states: MockOAuthStateStore,
        challenges: MockMfaTokenStore,
        tokens: MockRefreshTokenStore,
    ) -> (OAuthService, Arc<std::sync::Mutex<Vec<NewAuditEntry>>>) {
        let mut issuer = MockTokenIssuer::new();
        issuer.expect_issue().returning(|_, _| Ok(AccessToken { token: "jwt".into(), expires_in: 900 }));
        let mut totp = MockTotpVerifier::new();
        totp.expect_verify().returning(|_, code, _| (code == "123456").then_some(7));
        let (audit, seen) = audit_sink();
        let users = Arc::new(users);
        let auth = AuthService::new(AuthParts {
            users: users.clone(),
            tokens: Arc::new(tokens),
            hasher: Arc::new(MockPasswordHasher::new()),
            issuer: Arc::new(issuer),
            totp: Arc::new(totp),
            audit: Arc::new(audit),
            principals: Arc::new(crate::MockPrincipalCache::new()),
            sessions: {
                let mut sessions = crate::MockSessionCache::new();
                sessions.expect_invalidate().returning(|_| ());
                Arc::new(sessions)
            },
            settings: AuthSettings::default(),
        });
        let providers: Vec<Arc<dyn OAuthProvider>> =
            profile.into_iter().map(|p| Arc::new(provider(p)) as Arc<dyn OAuthProvider>).collect();
        (OAuthService::new(providers, Arc::new(states), Arc::new(challenges), users, auth), seen)
    }

    fn no_tokens() -> MockRefreshTokenStore {
        let mut tokens = MockRefreshTokenStore::new();
        tokens.expect_insert().never();
        tokens
    }

    /// A challenge store holding the token "mfa" of user 5, from GitHub, expiring in `expires_in`.
    fn waiting(expires_in: Duration) -> MockMfaTokenStore {
        let mut challenges = MockMfaTokenStore::new();
        challenges.expect_find().returning(move |token| {
            Ok((*token == TokenHash::of("mfa")).then(|| PendingSecondFactor {
                user_id: UserId(5),
                provider: OAuthProviderName::GitHub,
                expires_at: now() + expires_in,
                session: None,
            }))
        });
        challenges
    }

    fn second_step(code: &str) -> SecondFactorAttempt {
        SecondFactorAttempt { mfa_token: "mfa".into(), totp_code: Some(code.into()), recovery_code: None }
    }

    #[tokio::test]
    async fn an_account_with_totp_gets_a_challenge_and_no_session() {
        let mut users = totp_users(true, None);
        users.expect_find_by_identity().returning(|_, _| Ok(Some(User { totp_enabled: true, ..User::sample(7) })));
        let saved = Arc::new(std::sync::Mutex::new(None));
        let sink = saved.clone();
        let mut challenges = MockMfaTokenStore::new();
        challenges.expect_save().times(1).returning(move |token, pending| {
            *sink.lock().unwrap() = Some((token, pending));
            Ok(())
        });
        let (svc, seen) = totp_service(
            users,
            Some(profile("ann@example.com", true)),
            states(pending(OAuthProviderName::GitHub, STATE_TTL)),
            challenges,
            no_tokens(),
        );
        let outcome = svc.complete("github", callback(), Some(BROWSER), &ClientInfo::default()).await;
        let Ok(OAuthSignIn::SecondFactorRequired(challenge)) = outcome else { panic!("{outcome:?}") };
        let (stored, pending) = saved.lock().unwrap().clone().unwrap();
        assert_eq!(stored, challenge.token.hash(), "stored only as its hash");
        assert_ne!(stored.as_str(), challenge.token.expose());
        assert_eq!(challenge.token.expose().len(), 64, "256 bits");
        assert_eq!((pending.user_id, pending.provider), (UserId(7), OAuthProviderName::GitHub));
        assert_eq!(pending.expires_at, challenge.expires_at);
        let left = challenge.expires_at - now();
        assert!(left > MFA_TOKEN_TTL - Duration::seconds(5) && left <= MFA_TOKEN_TTL, "{left}");
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].details["reason"], "second_factor_required");
        assert_eq!(seen[0].details["method"], "github");
    }

    #[tokio::test]
    async fn a_right_code_completes_the_sign_in_and_spends_the_token() {
        let mut challenges = waiting(MFA_TOKEN_TTL);
        challenges.expect_spend().withf(|token, _| *token == TokenHash::of("mfa")).times(1).returning(|_, _| Ok(true));
        let mut tokens = MockRefreshTokenStore::new();
        tokens
            .expect_insert()
            .withf(|_, audit| {
                audit[0].action == AuditAction::Login
                    && audit[0].details["method"] == "github"
                    && audit[0].details["second_factor"] == "totp"
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let (svc, _) = totp_service(totp_users(true, None), None, MockOAuthStateStore::new(), challenges, tokens);
        let session = svc.complete_second_factor(second_step("123456"), &ClientInfo::default()).await.unwrap();
        assert_eq!(session.user.id, UserId(5));
    }

    #[tokio::test]
    async fn a_wrong_code_leaves_the_token_usable() {
        let mut challenges = waiting(MFA_TOKEN_TTL);
        challenges.expect_spend().never();
        let (svc, seen) =
            totp_service(totp_users(true, None), None, MockOAuthStateStore::new(), challenges, no_tokens());
        let err = svc.complete_second_factor(second_step("000000"), &ClientInfo::default()).await;
        assert!(matches!(err, Err(AuthError::TotpRequired)), "{err:?}");
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].details["reason"], "invalid_second_factor");
        assert_eq!(seen[0].details["method"], "github");
    }

    #[tokio::test]
    async fn unknown_and_expired_tokens_are_refused_before_any_code_is_checked() {
        for (token, expires_in) in [("mfa", Duration::seconds(-1)), ("other", MFA_TOKEN_TTL)] {
            let mut challenges = waiting(expires_in);
            challenges.expect_spend().never();
            // No expectations: checking a code would panic.
            let (svc, _) =
                totp_service(MockUserRepository::new(), None, MockOAuthStateStore::new(), challenges, no_tokens());
            let attempt = SecondFactorAttempt { mfa_token: token.into(), ..second_step("123456") };
            let err = svc.complete_second_factor(attempt, &ClientInfo::default()).await;
            assert!(matches!(err, Err(AuthError::InvalidToken)), "{token}: {err:?}");
        }
    }

    #[tokio::test]
    async fn losing_the_race_for_the_token_signs_in_nobody() {
        let mut challenges = waiting(MFA_TOKEN_TTL);
        challenges.expect_spend().times(1).returning(|_, _| Ok(false));
        let (svc, _) = totp_service(totp_users(true, None), None, MockOAuthStateStore::new(), challenges, no_tokens());
        let err = svc.complete_second_factor(second_step("123456"), &ClientInfo::default()).await;
        assert!(matches!(err, Err(AuthError::InvalidToken)), "{err:?}");
    }

    #[tokio::test]
    async fn the_lock_spends_the_token() {
        let until = now() + crate::two_factor::SECOND_FACTOR_LOCKOUT;
        let mut challenges = waiting(MFA_TOKEN_TTL);
        challenges.expect_spend().times(1).returning(|_, _| Ok(true));
        let (svc, _) =
            totp_service(totp_users(true, Some(until)), None, MockOAuthStateStore::new(), challenges, no_tokens());
        let err = svc.complete_second_factor(second_step("000000"), &ClientInfo::default()).await;
        assert!(matches!(err, Err(AuthError::TooManyAttempts { .. })), "{err:?}");
    }

    #[test]
    fn usernames_are_made_valid() {
        assert_eq!(username_base("octo cat!"), "octocat");
        assert_eq!(username_base("é"), "user");
        assert_eq!(username_base(&"a".repeat(40)).len(), 32);
        assert!(Username::parse(username_base("x")).is_ok());
    }
}
