//! Signing in, token rotation and signing out.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::audit::{AuditAction, ClientInfo, NewAuditEntry};
use crate::tokens::{AccessToken, NewRefreshToken, RefreshToken, RefreshTokenRecord, TokenHash};
use crate::two_factor::{SecondFactor, SecondFactorCheck, SecondFactorOutcome};
use crate::{
    AuditLog, AuthError, Email, LogoutRequest, NewAccount, NewUser, PasswordHasher, PrincipalCache, ProviderSession,
    RefreshTokenStore, Role, SessionCache, TokenIssuer, TotpVerifier, User, UserId, UserRepository, UserStatus, now,
};

/// Policy knobs of the sign-in rules.
#[derive(Debug, Clone, Copy)]
pub struct AuthSettings {
    /// How long a refresh token may be exchanged for a new pair.
    pub refresh_ttl: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self { refresh_ttl: Duration::days(7) }
    }
}

/// A signed-in session: what a client receives from login and refresh.
#[derive(Debug, Clone)]
pub struct Session {
    /// The short-lived access token.
    pub access: AccessToken,
    /// The single-use refresh token, to exchange for the next pair.
    pub refresh_token: RefreshToken,
    /// The account signed in.
    pub user: User,
}

/// A second factor proven for a sign-in, and what the audit trail records of it besides the
/// sign-in itself.
#[derive(Debug)]
pub(crate) struct ProvenSecondFactor {
    pub(crate) factor: SecondFactor,
    /// A `RecoveryCodeUsed` entry, when a recovery code was spent.
    pub(crate) entries: Vec<NewAuditEntry>,
}

/// What a person types to sign in.
#[derive(Clone, Default)]
pub struct LoginAttempt {
    /// The email address signed in with, as typed.
    pub email: String,
    /// The password, as typed.
    pub password: String,
    /// The current code of their authenticator app, when TOTP is on.
    pub totp_code: Option<String>,
    /// One of their recovery codes, in place of `totp_code`.
    pub recovery_code: Option<String>,
}

impl std::fmt::Debug for LoginAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginAttempt").field("email", &self.email).finish_non_exhaustive()
    }
}

/// Registration, sign-in, refresh-token rotation, sign-out, and checking access tokens.
#[derive(Clone)]
pub struct AuthService {
    users: Arc<dyn UserRepository>,
    tokens: Arc<dyn RefreshTokenStore>,
    hasher: Arc<dyn PasswordHasher>,
    issuer: Arc<dyn TokenIssuer>,
    second_factor: SecondFactorCheck,
    audit: Arc<dyn AuditLog>,
    /// Told when an account's access tokens stop working (a stolen refresh token).
    principals: Arc<dyn PrincipalCache>,
    /// Told when a session ends, so that its access tokens end with it on every instance.
    sessions: Arc<dyn SessionCache>,
    settings: AuthSettings,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// The ports an [`AuthService`] is built from.
#[expect(missing_debug_implementations, reason = "a bag of ports, consumed at once by AuthService::new")]
pub struct AuthParts {
    /// The accounts.
    pub users: Arc<dyn UserRepository>,
    /// Where refresh tokens are kept (as hashes).
    pub tokens: Arc<dyn RefreshTokenStore>,
    /// bcrypt, or whatever the passwords were hashed with.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Signs and verifies access tokens.
    pub issuer: Arc<dyn TokenIssuer>,
    /// Checks TOTP codes.
    pub totp: Arc<dyn TotpVerifier>,
    /// Where sign-ins, refusals and other security-relevant actions are recorded.
    pub audit: Arc<dyn AuditLog>,
    /// Told when an account's access tokens stop working (a stolen refresh token).
    pub principals: Arc<dyn PrincipalCache>,
    /// Told when a session ends (signed out, or ended by its identity provider).
    pub sessions: Arc<dyn SessionCache>,
    /// Lifetimes.
    pub settings: AuthSettings,
}

impl AuthService {
    /// The service, from its ports.
    pub fn new(parts: AuthParts) -> Self {
        let AuthParts { users, tokens, hasher, issuer, totp, audit, principals, sessions, settings } = parts;
        let second_factor = SecondFactorCheck { users: users.clone(), totp };
        Self { users, tokens, hasher, issuer, second_factor, audit, principals, sessions, settings }
    }

    /// Creates an account with `role`. Self-registration always passes [`Role::User`]; other
    /// roles come from the operator's command line.
    pub async fn register(&self, account: NewAccount, role: Role) -> Result<User, AuthError> {
        let password_hash = self.hasher.hash(account.password.expose()).await?;
        let user = self
            .users
            .create(NewUser {
                username: account.username,
                email: account.email,
                password_hash: Some(password_hash),
                role,
                created_at: now(),
            })
            .await?;
        Ok(user)
    }

    /// Checks an email, a password and, when the account has TOTP on, a second factor, then starts
    /// a new session (a new refresh-token family). Every outcome is recorded in the audit trail.
    ///
    /// An unknown email, a malformed one and a wrong password all spend the same bcrypt work and
    /// give the same error. A disabled account is told so only after its password was right, and
    /// a missing second factor only after that.
    pub async fn login(&self, attempt: LoginAttempt, client: &ClientInfo) -> Result<Session, AuthError> {
        let email = Email::parse(&attempt.email).ok();
        let found = match &email {
            Some(email) => self.users.find_for_login(email).await?,
            None => None,
        };
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), hash),
            None => (None, None),
        };
        let password_ok = self.hasher.verify(&attempt.password, hash).await?;
        let refused = || {
            let typed = email
                .as_ref()
                .map_or_else(|| attempt.email.trim().chars().take(254).collect(), |e| e.as_str().to_owned());
            NewAuditEntry::new(AuditAction::LoginFailed, client).with("email", typed)
        };
        let failed = |reason: &str| refused().with("reason", reason);
        let user = match user {
            Some(user) if password_ok => user,
            Some(user) => {
                self.record_failure(failed("wrong_password").on(user.id)).await;
                return Err(AuthError::InvalidCredentials);
            }
            None => {
                self.record_failure(failed("unknown_email")).await;
                return Err(AuthError::InvalidCredentials);
            }
        };
        if user.status == UserStatus::Disabled {
            self.record_failure(failed("account_disabled").on(user.id)).await;
            return Err(AuthError::AccountDisabled);
        }
        let mut audit =
            vec![NewAuditEntry::new(AuditAction::Login, client).by(user.id).on(user.id).with("method", "password")];
        if user.totp_enabled {
            let proven = self
                .prove_second_factor(
                    &user,
                    attempt.totp_code.as_deref(),
                    attempt.recovery_code.as_deref(),
                    client,
                    refused().on(user.id),
                )
                .await?;
            audit[0].details.insert("second_factor".into(), proven.factor.as_str().into());
            audit.extend(proven.entries);
        }
        self.sign_in(user, audit, None).await
    }

    /// Exchanges a refresh token for a new pair. The presented token stops working; presenting
    /// it (or any other already-exchanged token of its family) again revokes the whole family,
    /// because only a thief and the rightful client can both hold it.
    pub async fn refresh(&self, presented: &str, client: &ClientInfo) -> Result<Session, AuthError> {
        let at = now();
        let record = self.tokens.find(&TokenHash::of(presented)).await?.ok_or(AuthError::InvalidToken)?;
        if record.revoked_at.is_some() {
            return Err(AuthError::InvalidToken);
        }
        let reuse = || {
            vec![
                NewAuditEntry::new(AuditAction::RefreshTokenReuse, client)
                    .on(record.user_id)
                    .with("family", record.family_id.as_str())
                    .at(at),
            ]
        };
        if record.used_at.is_some() {
            return Err(self.stolen(&record, at, reuse()).await);
        }
        if record.expires_at <= at {
            return Err(AuthError::InvalidToken);
        }
        let user = self.users.find(record.user_id).await?.filter(User::is_active).ok_or(AuthError::InvalidToken)?;

        let next = RefreshToken::generate();
        let stored = NewRefreshToken {
            user_id: user.id,
            family_id: record.family_id.clone(),
            hash: next.hash(),
            signed_in_at: record.signed_in_at,
            created_at: at,
            expires_at: at + self.settings.refresh_ttl,
            provider_session: None,
        };
        if !self.tokens.rotate(record.id, stored, at).await? {
            // Another request exchanged the same token a moment ago: that is reuse too.
            return Err(self.stolen(&record, at, reuse()).await);
        }
        let access = self.issuer.issue(&user, &record.family_id)?;
        Ok(Session { access, refresh_token: next, user })
    }

    /// A refresh token of `record`'s family was presented twice: only a thief and the rightful
    /// client can both hold it, and nobody can tell which is which. The family is revoked, the
    /// personal access tokens made from its session are deleted, and every access token of the
    /// user issued before now stops working, on every instance at its next request (the principal
    /// cache, and the caches of those personal access tokens with it, forget the user).
    async fn stolen(&self, record: &RefreshTokenRecord, at: DateTime<Utc>, audit: Vec<NewAuditEntry>) -> AuthError {
        if let Err(e) = self.tokens.revoke_stolen_family(&record.family_id, record.user_id, at, audit).await {
            return e.into();
        }
        self.principals.invalidate(record.user_id).await;
        AuthError::TokenReused { user_id: record.user_id }
    }

    /// Ends the session the refresh token belongs to. An unknown token is not an error: the
    /// client's goal, that the token no longer works, holds either way.
    pub async fn logout(&self, presented: &str, client: &ClientInfo) -> Result<(), AuthError> {
        if let Some(record) = self.tokens.find(&TokenHash::of(presented)).await? {
            let at = now();
            let audit = NewAuditEntry::new(AuditAction::Logout, client).by(record.user_id).on(record.user_id).at(at);
            let audit = if record.revoked_at.is_none() { vec![audit] } else { Vec::new() };
            self.tokens.revoke_family(&record.family_id, at, audit).await?;
            // The session's access tokens end with it, on every instance.
            self.sessions.invalidate(&record.family_id).await;
        }
        Ok(())
    }

    /// Claims a provider's logout token: `false` when it was honoured before (on any instance).
    pub(crate) async fn claim_logout_token(&self, request: &LogoutRequest) -> Result<bool, AuthError> {
        Ok(self.tokens.claim_logout_token(&request.issuer, &request.jti, request.expires_at).await?)
    }

    /// Ends the sessions a provider's verified logout token names (see
    /// [`crate::OAuthService::backchannel_logout`]), with their access tokens and sockets, on
    /// every instance. Returns how many sessions ended.
    pub(crate) async fn end_provider_sessions(
        &self,
        request: &LogoutRequest,
        method: &str,
        client: &ClientInfo,
    ) -> Result<usize, AuthError> {
        let at = now();
        let entry = || {
            NewAuditEntry::new(AuditAction::Logout, client)
                .at(at)
                .with("method", method)
                .with("reason", "provider_logout")
        };
        if let Some(sid) = &request.sid {
            let ended =
                self.tokens.end_provider_session(&request.issuer, sid, request.subject.clone(), at, entry()).await?;
            for (family, _) in &ended {
                self.sessions.invalidate(family).await;
            }
            return Ok(ended.len());
        }
        // `sub` alone: every session of the person's account, and every access token of it.
        let Some(subject) = &request.subject else { return Ok(0) };
        let Some(user) = self.users.find_by_identity(&request.issuer, subject).await? else { return Ok(0) };
        self.tokens.end_every_session(user.id, at, vec![entry().by(user.id).on(user.id)]).await?;
        self.principals.invalidate(user.id).await;
        Ok(1)
    }

    /// Forgets `user`'s principal on every instance (its role changed).
    pub(crate) async fn forget_principal(&self, user: UserId) {
        self.principals.invalidate(user).await;
    }

    /// Starts a new session (a new refresh-token family) for a user whose credentials were
    /// checked, recording `audit` with it.
    pub(crate) async fn sign_in(
        &self,
        user: User,
        audit: Vec<NewAuditEntry>,
        provider_session: Option<ProviderSession>,
    ) -> Result<Session, AuthError> {
        let at = now();
        let refresh_token = RefreshToken::generate();
        let token = NewRefreshToken {
            user_id: user.id,
            family_id: uuid::Uuid::new_v4().to_string(),
            hash: refresh_token.hash(),
            signed_in_at: at,
            created_at: at,
            expires_at: at + self.settings.refresh_ttl,
            provider_session,
        };
        let access = self.issuer.issue(&user, &token.family_id)?;
        self.tokens.insert(token, audit).await?;
        Ok(Session { access, refresh_token, user })
    }

    /// Checks and spends the second factor of `user`, whose first factor was just proven (a
    /// password, a provider). A refusal is recorded as `refused` with its reason; wrong codes count
    /// towards the lock, and a locked second factor checks nothing.
    pub(crate) async fn prove_second_factor(
        &self,
        user: &User,
        totp_code: Option<&str>,
        recovery_code: Option<&str>,
        client: &ClientInfo,
        refused: NewAuditEntry,
    ) -> Result<ProvenSecondFactor, AuthError> {
        let factor = match self.second_factor.spend(user, totp_code, recovery_code).await? {
            SecondFactorOutcome::Proven(factor) => factor,
            SecondFactorOutcome::Refused => {
                let reason = if totp_code.is_some() || recovery_code.is_some() {
                    "invalid_second_factor"
                } else {
                    "second_factor_required"
                };
                self.record_failure(refused.with("reason", reason)).await;
                return Err(AuthError::TotpRequired);
            }
            SecondFactorOutcome::Locked { until } => {
                self.record_failure(refused.with("reason", "second_factor_locked")).await;
                return Err(AuthError::TooManyAttempts { until });
            }
        };
        let mut entries = Vec::new();
        if factor == SecondFactor::RecoveryCode {
            let left = self.users.recovery_codes_left(user.id).await?;
            entries.push(
                NewAuditEntry::new(AuditAction::RecoveryCodeUsed, client)
                    .by(user.id)
                    .on(user.id)
                    .with("recovery_codes_left", left),
            );
        }
        Ok(ProvenSecondFactor { factor, entries })
    }

    /// Records a refused sign-in. A failure to write the entry is logged, not returned: the
    /// person was refused either way, and a broken audit write must not change their answer.
    pub(crate) async fn record_failure(&self, entry: NewAuditEntry) {
        if let Err(e) = self.audit.record(entry).await {
            tracing::error!(error = %e, "could not record a failed sign-in in the audit trail");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        MockAuditLog, MockPasswordHasher, MockPrincipalCache, MockRefreshTokenStore, MockTokenIssuer, MockTotpVerifier,
        MockUserRepository, TotpState, UserId,
    };
    use workbench_core::RepositoryError;

    fn user(id: i64, status: UserStatus) -> User {
        User { status, ..User::sample(id) }
    }

    fn issuer() -> MockTokenIssuer {
        let mut issuer = MockTokenIssuer::new();
        issuer.expect_issue().returning(|_, _| Ok(AccessToken { token: "jwt".into(), expires_in: 900 }));
        issuer
    }

    /// A principal cache whose invalidations are accepted and forgotten.
    fn forgetting_cache() -> MockPrincipalCache {
        let mut cache = MockPrincipalCache::new();
        cache.expect_invalidate().returning(|_| ());
        cache
    }

    /// An audit log that keeps what it is given, for assertions.
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

    fn service(users: MockUserRepository, tokens: MockRefreshTokenStore, hasher: MockPasswordHasher) -> AuthService {
        with_totp(users, tokens, hasher, MockTotpVerifier::new())
    }

    fn with_totp(
        users: MockUserRepository,
        tokens: MockRefreshTokenStore,
        hasher: MockPasswordHasher,
        totp: MockTotpVerifier,
    ) -> AuthService {
        AuthService::new(AuthParts {
            users: Arc::new(users),
            tokens: Arc::new(tokens),
            hasher: Arc::new(hasher),
            issuer: Arc::new(issuer()),
            totp: Arc::new(totp),
            audit: Arc::new(audit_sink().0),
            principals: Arc::new(forgetting_cache()),
            sessions: {
                let mut sessions = crate::MockSessionCache::new();
                sessions.expect_invalidate().returning(|_| ());
                Arc::new(sessions)
            },
            settings: AuthSettings::default(),
        })
    }

    fn attempt(email: &str, password: &str) -> LoginAttempt {
        LoginAttempt { email: email.into(), password: password.into(), ..LoginAttempt::default() }
    }

    fn client() -> ClientInfo {
        ClientInfo { ip: Some("192.0.2.7".into()), user_agent: Some("curl/8".into()) }
    }

    fn record(used: bool, revoked: bool, expires_in: Duration) -> RefreshTokenRecord {
        RefreshTokenRecord {
            id: 9,
            user_id: UserId(1),
            family_id: "fam".into(),
            // A fixed instant: every record of the test's family began with the same sign-in.
            signed_in_at: DateTime::from_timestamp(1_790_000_000, 0).expect("in range"),
            expires_at: now() + expires_in,
            used_at: used.then(now),
            revoked_at: revoked.then(now),
        }
    }

    #[tokio::test]
    async fn unknown_email_spends_the_same_hashing_work_and_gets_the_same_error() {
        let mut users = MockUserRepository::new();
        users.expect_find_for_login().returning(|_| Ok(None));
        let mut hasher = MockPasswordHasher::new();
        // The dummy verification must happen even though there is no account.
        hasher.expect_verify().withf(|_, hash| hash.is_none()).times(1).returning(|_, _| Ok(false));
        let err = service(users, MockRefreshTokenStore::new(), hasher)
            .login(attempt("who@example.com", "whatever1"), &client())
            .await;
        assert!(matches!(err, Err(AuthError::InvalidCredentials)));
    }

    #[tokio::test]
    async fn malformed_email_is_treated_as_unknown() {
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().times(1).returning(|_, _| Ok(false));
        let err = service(MockUserRepository::new(), MockRefreshTokenStore::new(), hasher)
            .login(attempt("nope", "x"), &client())
            .await;
        assert!(matches!(err, Err(AuthError::InvalidCredentials)));
    }

    #[tokio::test]
    async fn disabled_account_is_told_only_after_a_right_password() {
        let mut users = MockUserRepository::new();
        users.expect_find_for_login().returning(|_| Ok(Some((user(1, UserStatus::Disabled), Some("h".into())))));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|pw, _| Ok(pw == "right-password"));
        let svc = service(users, MockRefreshTokenStore::new(), hasher);
        assert!(matches!(
            svc.login(attempt("user1@example.com", "wrong-password"), &client()).await,
            Err(AuthError::InvalidCredentials)
        ));
        assert!(matches!(
            svc.login(attempt("user1@example.com", "right-password"), &client()).await,
            Err(AuthError::AccountDisabled)
        ));
    }

    #[tokio::test]
    async fn login_stores_only_the_hash_of_a_new_family_token() {
        let mut users = MockUserRepository::new();
        users.expect_find_for_login().returning(|_| Ok(Some((user(1, UserStatus::Active), Some("h".into())))));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|_, _| Ok(true));
        let mut tokens = MockRefreshTokenStore::new();
        let stored = Arc::new(std::sync::Mutex::new(None));
        let sink = stored.clone();
        tokens.expect_insert().times(1).returning(move |t, audit| {
            assert_eq!(audit[0].action, AuditAction::Login);
            assert_eq!(audit[0].ip.as_deref(), Some("192.0.2.7"));
            *sink.lock().unwrap() = Some(t);
            Ok(())
        });
        let session =
            service(users, tokens, hasher).login(attempt("USER1@example.com", "pw-pw-pw-pw"), &client()).await.unwrap();
        let stored = stored.lock().unwrap().clone().unwrap();
        assert_eq!(stored.hash, session.refresh_token.hash());
        assert_ne!(stored.hash.as_str(), session.refresh_token.expose());
        assert_eq!(stored.signed_in_at, stored.created_at, "a new family begins with its sign-in");
        assert_eq!(session.access.token, "jwt");
    }

    #[tokio::test]
    async fn reusing_a_rotated_token_revokes_its_family_and_ends_the_user_s_access_tokens() {
        let mut tokens = MockRefreshTokenStore::new();
        tokens.expect_find().returning(|_| Ok(Some(record(true, false, Duration::days(1)))));
        tokens
            .expect_revoke_stolen_family()
            .withf(|family, user, _, audit| {
                family == "fam" && *user == UserId(1) && audit[0].action == AuditAction::RefreshTokenReuse
            })
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let mut cache = MockPrincipalCache::new();
        cache.expect_invalidate().withf(|id| *id == UserId(1)).times(1).returning(|_| ());
        let svc = AuthService::new(AuthParts {
            users: Arc::new(MockUserRepository::new()),
            tokens: Arc::new(tokens),
            hasher: Arc::new(MockPasswordHasher::new()),
            issuer: Arc::new(issuer()),
            totp: Arc::new(MockTotpVerifier::new()),
            audit: Arc::new(audit_sink().0),
            principals: Arc::new(cache),
            sessions: {
                let mut sessions = crate::MockSessionCache::new();
                sessions.expect_invalidate().returning(|_| ());
                Arc::new(sessions)
            },
            settings: AuthSettings::default(),
        });
        let err = svc.refresh("old", &client()).await;
        assert!(matches!(err, Err(AuthError::TokenReused { user_id: UserId(1) })));
    }

    #[tokio::test]
    async fn losing_the_rotation_race_counts_as_reuse() {
        let mut tokens = MockRefreshTokenStore::new();
        tokens.expect_find().returning(|_| Ok(Some(record(false, false, Duration::days(1)))));
        tokens.expect_rotate().returning(|_, _, _| Ok(false));
        tokens.expect_revoke_stolen_family().times(1).returning(|_, _, _, _| Ok(()));
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|id| Ok(Some(user(id.0, UserStatus::Active))));
        let err = service(users, tokens, MockPasswordHasher::new()).refresh("t", &client()).await;
        assert!(matches!(err, Err(AuthError::TokenReused { .. })));
    }

    #[tokio::test]
    async fn expired_revoked_and_unknown_tokens_are_refused_without_revoking() {
        for rec in
            [Some(record(false, false, Duration::seconds(-1))), Some(record(false, true, Duration::days(1))), None]
        {
            let mut tokens = MockRefreshTokenStore::new();
            tokens.expect_find().returning(move |_| Ok(rec.clone()));
            tokens.expect_revoke_family().never();
            tokens.expect_revoke_stolen_family().never();
            let err =
                service(MockUserRepository::new(), tokens, MockPasswordHasher::new()).refresh("t", &client()).await;
            assert!(matches!(err, Err(AuthError::InvalidToken)));
        }
    }

    #[tokio::test]
    async fn refresh_rotates_within_the_family() {
        let mut tokens = MockRefreshTokenStore::new();
        tokens.expect_find().returning(|_| Ok(Some(record(false, false, Duration::days(1)))));
        let signed_in_at = record(false, false, Duration::days(1)).signed_in_at;
        tokens
            .expect_rotate()
            .withf(move |used, next, _| {
                *used == 9
                    && next.family_id == "fam"
                    && next.user_id == UserId(1)
                    && next.signed_in_at == signed_in_at
                    && next.created_at > signed_in_at
            })
            .returning(|_, _, _| Ok(true));
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|id| Ok(Some(user(id.0, UserStatus::Active))));
        let mut issuer = MockTokenIssuer::new();
        issuer
            .expect_issue()
            .withf(|_, session| session == "fam")
            .times(1)
            .returning(|_, _| Ok(AccessToken { token: "jwt".into(), expires_in: 900 }));
        let svc = AuthService::new(AuthParts {
            users: Arc::new(users),
            tokens: Arc::new(tokens),
            hasher: Arc::new(MockPasswordHasher::new()),
            issuer: Arc::new(issuer),
            totp: Arc::new(MockTotpVerifier::new()),
            audit: Arc::new(audit_sink().0),
            principals: Arc::new(forgetting_cache()),
            sessions: {
                let mut sessions = crate::MockSessionCache::new();
                sessions.expect_invalidate().returning(|_| ());
                Arc::new(sessions)
            },
            settings: AuthSettings::default(),
        });
        let session = svc.refresh("t", &client()).await.unwrap();
        assert_eq!(session.user.id, UserId(1), "the same session, signed in when it was");
    }

    #[tokio::test]
    async fn taken_email_is_a_conflict() {
        let mut users = MockUserRepository::new();
        users.expect_create().returning(|_| Err(RepositoryError::Conflict { field: "email" }));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_hash().returning(|_| Ok("h".into()));
        let account = NewAccount::parse(Some("ann".into()), Some("a@b.io".into()), Some("password1".into())).unwrap();
        let err = service(users, MockRefreshTokenStore::new(), hasher).register(account, Role::User).await;
        assert!(matches!(err, Err(AuthError::Conflict { field: "email" })));
    }

    fn totp_user_repo(code_step_free: bool, recovery_ok: bool) -> MockUserRepository {
        let mut users = MockUserRepository::new();
        users.expect_find_for_login().returning(|_| {
            let mut u = user(1, UserStatus::Active);
            u.totp_enabled = true;
            Ok(Some((u, Some("h".into()))))
        });
        users.expect_totp_state().returning(|_| {
            Ok(Some(TotpState { secret: Some("S".into()), enabled: true, last_step: None, locked_until: None }))
        });
        users.expect_use_totp_step().returning(move |_, _| Ok(code_step_free));
        users.expect_use_recovery_code().returning(move |_, _, _| Ok(recovery_ok));
        users.expect_recovery_codes_left().returning(|_| Ok(9));
        users.expect_clear_second_factor_failures().returning(|_| Ok(()));
        users.expect_record_second_factor_failure().returning(|_, _, _| Ok(None));
        users
    }

    fn right_password() -> MockPasswordHasher {
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|_, _| Ok(true));
        hasher
    }

    fn code_123456() -> MockTotpVerifier {
        let mut totp = MockTotpVerifier::new();
        totp.expect_verify().returning(|_, code, _| (code == "123456").then_some(7));
        totp
    }

    fn accepting_tokens() -> MockRefreshTokenStore {
        let mut tokens = MockRefreshTokenStore::new();
        tokens.expect_insert().returning(|_, _| Ok(()));
        tokens
    }

    #[tokio::test]
    async fn a_totp_user_needs_a_valid_unused_code() {
        let svc = with_totp(totp_user_repo(true, false), accepting_tokens(), right_password(), code_123456());
        let mut login = attempt("user1@example.com", "right-password");
        assert!(matches!(svc.login(login.clone(), &client()).await, Err(AuthError::TotpRequired)));
        login.totp_code = Some("999999".into());
        assert!(matches!(svc.login(login.clone(), &client()).await, Err(AuthError::TotpRequired)));
        login.totp_code = Some("123456".into());
        assert!(svc.login(login, &client()).await.is_ok());

        // The same code again: its step is already used.
        let svc = with_totp(totp_user_repo(false, false), accepting_tokens(), right_password(), code_123456());
        let mut login = attempt("user1@example.com", "right-password");
        login.totp_code = Some("123456".into());
        assert!(matches!(svc.login(login, &client()).await, Err(AuthError::TotpRequired)));
    }

    #[tokio::test]
    async fn a_recovery_code_signs_in_and_is_recorded() {
        let mut tokens = MockRefreshTokenStore::new();
        tokens
            .expect_insert()
            .withf(|_, audit| {
                audit.len() == 2
                    && audit[0].details["second_factor"] == "recovery_code"
                    && audit[1].action == AuditAction::RecoveryCodeUsed
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let svc = with_totp(totp_user_repo(false, true), tokens, right_password(), code_123456());
        let mut login = attempt("user1@example.com", "right-password");
        login.recovery_code = Some("abcd-efgh-jkmn-pqrs".into());
        assert!(svc.login(login, &client()).await.is_ok());
    }

    #[tokio::test]
    async fn failed_sign_ins_are_recorded_with_the_reason() {
        let mut users = MockUserRepository::new();
        users.expect_find_for_login().returning(|_| Ok(None));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|_, _| Ok(false));
        let (audit, seen) = audit_sink();
        let svc = AuthService::new(AuthParts {
            users: Arc::new(users),
            tokens: Arc::new(MockRefreshTokenStore::new()),
            hasher: Arc::new(hasher),
            issuer: Arc::new(issuer()),
            totp: Arc::new(MockTotpVerifier::new()),
            audit: Arc::new(audit),
            principals: Arc::new(forgetting_cache()),
            sessions: {
                let mut sessions = crate::MockSessionCache::new();
                sessions.expect_invalidate().returning(|_| ());
                Arc::new(sessions)
            },
            settings: AuthSettings::default(),
        });
        let _ = svc.login(attempt("Who@Example.com", "whatever1"), &client()).await;
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].action, AuditAction::LoginFailed);
        assert_eq!(seen[0].details["reason"], "unknown_email");
        assert_eq!(seen[0].details["email"], "who@example.com");
        assert_eq!(seen[0].user_agent.as_deref(), Some("curl/8"));
    }
}
