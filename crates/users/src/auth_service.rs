//! Signing in, token rotation and signing out.

use std::sync::Arc;

use chrono::Duration;

use crate::tokens::{AccessToken, NewRefreshToken, RefreshToken, TokenHash};
use crate::{
    AuthError, Email, NewAccount, NewUser, PasswordHasher, RefreshTokenStore, Role, TokenIssuer, User, UserRepository,
    UserStatus, now,
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
    pub access: AccessToken,
    pub refresh_token: RefreshToken,
    pub user: User,
}

/// Registration, sign-in, refresh-token rotation, sign-out, and checking access tokens.
#[derive(Clone)]
pub struct AuthService {
    users: Arc<dyn UserRepository>,
    tokens: Arc<dyn RefreshTokenStore>,
    hasher: Arc<dyn PasswordHasher>,
    issuer: Arc<dyn TokenIssuer>,
    settings: AuthSettings,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl AuthService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        tokens: Arc<dyn RefreshTokenStore>,
        hasher: Arc<dyn PasswordHasher>,
        issuer: Arc<dyn TokenIssuer>,
        settings: AuthSettings,
    ) -> Self {
        Self { users, tokens, hasher, issuer, settings }
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

    /// Checks an email and password and starts a new session (a new refresh-token family).
    ///
    /// An unknown email, a malformed one and a wrong password all spend the same bcrypt work and
    /// give the same error. A disabled account is told so only after its password was right.
    pub async fn login(&self, email: &str, password: &str) -> Result<Session, AuthError> {
        let found = match Email::parse(email) {
            Ok(email) => self.users.find_for_login(&email).await?,
            Err(_) => None,
        };
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), hash),
            None => (None, None),
        };
        let password_ok = self.hasher.verify(password, hash).await?;
        let user = match user {
            Some(user) if password_ok => user,
            _ => return Err(AuthError::InvalidCredentials),
        };
        if user.status == UserStatus::Disabled {
            return Err(AuthError::AccountDisabled);
        }
        self.start_session(user, uuid::Uuid::new_v4().to_string()).await
    }

    /// Exchanges a refresh token for a new pair. The presented token stops working; presenting
    /// it (or any other already-exchanged token of its family) again revokes the whole family,
    /// because only a thief and the rightful client can both hold it.
    pub async fn refresh(&self, presented: &str) -> Result<Session, AuthError> {
        let at = now();
        let record = self.tokens.find(&TokenHash::of(presented)).await?.ok_or(AuthError::InvalidToken)?;
        if record.revoked_at.is_some() {
            return Err(AuthError::InvalidToken);
        }
        if record.used_at.is_some() {
            self.tokens.revoke_family(&record.family_id, at).await?;
            return Err(AuthError::TokenReused { user_id: record.user_id });
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
            created_at: at,
            expires_at: at + self.settings.refresh_ttl,
        };
        if !self.tokens.rotate(record.id, stored, at).await? {
            // Another request exchanged the same token a moment ago: that is reuse too.
            self.tokens.revoke_family(&record.family_id, at).await?;
            return Err(AuthError::TokenReused { user_id: record.user_id });
        }
        let access = self.issuer.issue(&user)?;
        Ok(Session { access, refresh_token: next, user })
    }

    /// Ends the session the refresh token belongs to. An unknown token is not an error: the
    /// client's goal, that the token no longer works, holds either way.
    pub async fn logout(&self, presented: &str) -> Result<(), AuthError> {
        if let Some(record) = self.tokens.find(&TokenHash::of(presented)).await? {
            self.tokens.revoke_family(&record.family_id, now()).await?;
        }
        Ok(())
    }

    /// The active user an access token belongs to. The account is read afresh, so a disabled or
    /// deleted user is refused at their next request, and role changes apply at once.
    pub async fn authenticate(&self, access_token: &str) -> Result<User, AuthError> {
        let claims = self.issuer.verify(access_token).map_err(|_| AuthError::InvalidToken)?;
        self.users
            .find(claims.user_id)
            .await?
            .filter(|user| user.is_active() && user.token_generation == claims.generation)
            .ok_or(AuthError::InvalidToken)
    }

    async fn start_session(&self, user: User, family_id: String) -> Result<Session, AuthError> {
        let at = now();
        let refresh_token = RefreshToken::generate();
        self.tokens
            .insert(NewRefreshToken {
                user_id: user.id,
                family_id,
                hash: refresh_token.hash(),
                created_at: at,
                expires_at: at + self.settings.refresh_ttl,
            })
            .await?;
        let access = self.issuer.issue(&user)?;
        Ok(Session { access, refresh_token, user })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::RefreshTokenRecord;
    use crate::{AccessClaims, MockPasswordHasher, MockRefreshTokenStore, MockTokenIssuer, MockUserRepository, UserId};
    use mockall::predicate::eq;
    use workbench_core::RepositoryError;

    fn user(id: i64, status: UserStatus) -> User {
        let at = now();
        User {
            id: UserId(id),
            username: format!("user{id}"),
            email: format!("user{id}@example.com"),
            role: Role::User,
            status,
            first_name: None,
            last_name: None,
            bio: None,
            avatar_url: None,
            totp_enabled: false,
            created_at: at,
            updated_at: at,
            token_generation: 0,
        }
    }

    fn issuer() -> MockTokenIssuer {
        let mut issuer = MockTokenIssuer::new();
        issuer.expect_issue().returning(|_| Ok(AccessToken { token: "jwt".into(), expires_in: 900 }));
        issuer
    }

    fn service(users: MockUserRepository, tokens: MockRefreshTokenStore, hasher: MockPasswordHasher) -> AuthService {
        AuthService::new(
            Arc::new(users),
            Arc::new(tokens),
            Arc::new(hasher),
            Arc::new(issuer()),
            AuthSettings::default(),
        )
    }

    fn record(used: bool, revoked: bool, expires_in: Duration) -> RefreshTokenRecord {
        RefreshTokenRecord {
            id: 9,
            user_id: UserId(1),
            family_id: "fam".into(),
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
        let err = service(users, MockRefreshTokenStore::new(), hasher).login("who@example.com", "whatever1").await;
        assert!(matches!(err, Err(AuthError::InvalidCredentials)));
    }

    #[tokio::test]
    async fn malformed_email_is_treated_as_unknown() {
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().times(1).returning(|_, _| Ok(false));
        let err = service(MockUserRepository::new(), MockRefreshTokenStore::new(), hasher).login("nope", "x").await;
        assert!(matches!(err, Err(AuthError::InvalidCredentials)));
    }

    #[tokio::test]
    async fn disabled_account_is_told_only_after_a_right_password() {
        let mut users = MockUserRepository::new();
        users.expect_find_for_login().returning(|_| Ok(Some((user(1, UserStatus::Disabled), Some("h".into())))));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|pw, _| Ok(pw == "right-password"));
        let svc = service(users, MockRefreshTokenStore::new(), hasher);
        assert!(matches!(svc.login("user1@example.com", "wrong-password").await, Err(AuthError::InvalidCredentials)));
        assert!(matches!(svc.login("user1@example.com", "right-password").await, Err(AuthError::AccountDisabled)));
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
        tokens.expect_insert().times(1).returning(move |t| {
            *sink.lock().unwrap() = Some(t);
            Ok(())
        });
        let session = service(users, tokens, hasher).login("USER1@example.com", "pw-pw-pw-pw").await.unwrap();
        let stored = stored.lock().unwrap().clone().unwrap();
        assert_eq!(stored.hash, session.refresh_token.hash());
        assert_ne!(stored.hash.as_str(), session.refresh_token.expose());
        assert_eq!(session.access.token, "jwt");
    }

    #[tokio::test]
    async fn reusing_a_rotated_token_revokes_its_family() {
        let mut tokens = MockRefreshTokenStore::new();
        tokens.expect_find().returning(|_| Ok(Some(record(true, false, Duration::days(1)))));
        tokens.expect_revoke_family().with(eq("fam"), mockall::predicate::always()).times(1).returning(|_, _| Ok(()));
        let err = service(MockUserRepository::new(), tokens, MockPasswordHasher::new()).refresh("old").await;
        assert!(matches!(err, Err(AuthError::TokenReused { user_id: UserId(1) })));
    }

    #[tokio::test]
    async fn losing_the_rotation_race_counts_as_reuse() {
        let mut tokens = MockRefreshTokenStore::new();
        tokens.expect_find().returning(|_| Ok(Some(record(false, false, Duration::days(1)))));
        tokens.expect_rotate().returning(|_, _, _| Ok(false));
        tokens.expect_revoke_family().times(1).returning(|_, _| Ok(()));
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|id| Ok(Some(user(id.0, UserStatus::Active))));
        let err = service(users, tokens, MockPasswordHasher::new()).refresh("t").await;
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
            let err = service(MockUserRepository::new(), tokens, MockPasswordHasher::new()).refresh("t").await;
            assert!(matches!(err, Err(AuthError::InvalidToken)));
        }
    }

    #[tokio::test]
    async fn refresh_rotates_within_the_family() {
        let mut tokens = MockRefreshTokenStore::new();
        tokens.expect_find().returning(|_| Ok(Some(record(false, false, Duration::days(1)))));
        tokens
            .expect_rotate()
            .withf(|used, next, _| *used == 9 && next.family_id == "fam" && next.user_id == UserId(1))
            .returning(|_, _, _| Ok(true));
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|id| Ok(Some(user(id.0, UserStatus::Active))));
        let session = service(users, tokens, MockPasswordHasher::new()).refresh("t").await.unwrap();
        assert_eq!(session.user.id, UserId(1));
    }

    #[tokio::test]
    async fn a_disabled_users_access_token_is_refused() {
        let mut issuer = MockTokenIssuer::new();
        issuer.expect_verify().returning(|_| {
            Ok(AccessClaims {
                user_id: UserId(1),
                role: Role::User,
                token_id: "j".into(),
                generation: 0,
                expires_at: now(),
            })
        });
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|id| Ok(Some(user(id.0, UserStatus::Disabled))));
        let svc = AuthService::new(
            Arc::new(users),
            Arc::new(MockRefreshTokenStore::new()),
            Arc::new(MockPasswordHasher::new()),
            Arc::new(issuer),
            AuthSettings::default(),
        );
        assert!(matches!(svc.authenticate("jwt").await, Err(AuthError::InvalidToken)));
    }

    #[tokio::test]
    async fn tokens_of_an_earlier_generation_are_refused_after_re_enabling() {
        let mut issuer = MockTokenIssuer::new();
        issuer.expect_verify().returning(|_| {
            Ok(AccessClaims {
                user_id: UserId(1),
                role: Role::User,
                token_id: "j".into(),
                generation: 0,
                expires_at: now(),
            })
        });
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|id| {
            let mut u = user(id.0, UserStatus::Active);
            u.token_generation = 1;
            Ok(Some(u))
        });
        let svc = AuthService::new(
            Arc::new(users),
            Arc::new(MockRefreshTokenStore::new()),
            Arc::new(MockPasswordHasher::new()),
            Arc::new(issuer),
            AuthSettings::default(),
        );
        assert!(matches!(svc.authenticate("jwt").await, Err(AuthError::InvalidToken)));
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
}
