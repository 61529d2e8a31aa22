//! Who is calling: the few facts about an account that every authenticated request needs, and
//! the cache that keeps them off the database.

use std::sync::Arc;

use async_trait::async_trait;
use workbench_core::RepositoryError;

use crate::{AccessClaims, AuthError, RefreshTokenStore, Role, TokenIssuer, User, UserId, UserRepository, UserStatus};

/// The caller as a request sees it: enough to decide what they may do, nothing more. Requests
/// that need the profile (name, email) read the account itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// The account's id.
    pub id: UserId,
    /// What the account may do, as stored now (not as its token says).
    pub role: Role,
    /// Whether the account may be used.
    pub status: UserStatus,
    /// The account's token generation: access tokens of an older one are refused.
    pub token_generation: i64,
}

impl Principal {
    /// Whether the account may be used: a disabled one is refused at every request.
    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }
}

impl From<&User> for Principal {
    fn from(user: &User) -> Self {
        Self { id: user.id, role: user.role, status: user.status, token_generation: user.token_generation }
    }
}

/// A point in a [`PrincipalCache`]'s history of invalidations, taken before reading an account
/// from the database so that a value read before an invalidation is never cached after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CacheEpoch(pub u64);

/// The broadcast topic on which a [`PrincipalCache`] tells every instance to forget an account's
/// principal (its role, status, password or token generation changed); the payload is the user
/// id in decimal. Whatever else must react to such a change (open sockets) listens to it too.
pub const PRINCIPAL_CHANGED: &str = "principal.changed";

/// The principals of recent callers, kept in process so that checking a token costs no round
/// trip, and forgotten on every instance as soon as an account's role, status, password or token
/// generation changes.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PrincipalCache: Send + Sync {
    /// The cached principal of `id`. MUST answer `None` whenever the cache cannot vouch that no
    /// invalidation was missed (for instance while its link to the other instances is down).
    fn get(&self, id: UserId) -> Option<Principal>;

    /// Where the invalidation history stands now.
    fn epoch(&self) -> CacheEpoch;

    /// Caches `principal`, read from the database after `read_since` was taken. MUST store
    /// nothing when any invalidation happened since then: the value may predate it.
    fn put(&self, principal: Principal, read_since: CacheEpoch);

    /// Forgets `id` on this instance before returning, and on every other instance as soon as
    /// the broadcast reaches it. MUST NOT fail.
    async fn invalidate(&self, id: UserId);
}

/// The broadcast topic on which a [`SessionCache`] tells every instance that a session ended
/// (signed out, or ended by its identity provider); the payload is the session id (the refresh
/// token family). Open sockets of that session listen to it too.
pub const SESSION_ENDED: &str = "session.ended";

/// Whether recent callers' sessions (refresh-token families, the `sid` of their access tokens)
/// are still live, kept in process so that checking costs no round trip, and forgotten on every
/// instance the moment a session ends: an access token never outlives its session.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SessionCache: Send + Sync {
    /// Whether session `id` is live (`Some(false)`: it ended). MUST answer `None` whenever the
    /// cache cannot vouch that no ending was missed.
    fn get(&self, id: &str) -> Option<bool>;

    /// Where the invalidation history stands now.
    fn epoch(&self) -> CacheEpoch;

    /// Caches whether session `id` is live, as read from the store after `read_since` was
    /// taken. MUST store nothing when any invalidation happened since then.
    fn put(&self, id: &str, live: bool, read_since: CacheEpoch);

    /// Session `id` ended: forgets it on this instance before returning, and on every other
    /// instance as soon as the broadcast ([`SESSION_ENDED`]) reaches it. MUST NOT fail.
    async fn invalidate(&self, id: &str);
}

/// The facts of any account by id, as access checks see them: for a domain that must know
/// whether another user exists and is active (a direct message's recipient) without a round
/// trip per question. [`Authenticator`] answers it from the [`PrincipalCache`].
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Account `id`'s principal, or `None` when there is no such account.
    async fn account(&self, id: UserId) -> Result<Option<Principal>, RepositoryError>;
}

/// Checks access tokens: the question every authenticated request asks first. The account's
/// facts come from the [`PrincipalCache`] when it has them, so a request that carries a valid
/// token costs no database round trip; the cache is invalidated on every instance whenever those
/// facts change, so a disabled account is still refused at its very next request.
#[derive(Clone)]
pub struct Authenticator {
    issuer: Arc<dyn TokenIssuer>,
    users: Arc<dyn UserRepository>,
    principals: Arc<dyn PrincipalCache>,
    sessions: Arc<dyn SessionCache>,
    sign_ins: Arc<dyn RefreshTokenStore>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Checks tokens signed by `issuer`, reading the accounts they name from `principals` first and
    /// from `users` when it does not have them (caching what it read), and their sessions from
    /// `sessions` first and from `sign_ins` (the refresh-token families) when it does not.
    pub fn new(
        issuer: Arc<dyn TokenIssuer>,
        users: Arc<dyn UserRepository>,
        principals: Arc<dyn PrincipalCache>,
        sessions: Arc<dyn SessionCache>,
        sign_ins: Arc<dyn RefreshTokenStore>,
    ) -> Self {
        Self { issuer, users, principals, sessions, sign_ins }
    }

    /// The caller an access token belongs to, if the token is valid, the account exists and is
    /// active, and the token was issued under its current token generation.
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal, AuthError> {
        let claims = self.verify(access_token)?;
        self.principal(&claims).await
    }

    /// What a validly signed, unexpired access token says, without consulting the account: for
    /// deciding which rate-limit bucket a request draws from before the account is read.
    pub fn verify(&self, access_token: &str) -> Result<AccessClaims, AuthError> {
        self.issuer.verify(access_token).map_err(|_| AuthError::InvalidToken)
    }

    /// The caller behind verified `claims` (see [`Self::authenticate`]).
    pub async fn principal(&self, claims: &AccessClaims) -> Result<Principal, AuthError> {
        let principal = self.account(claims.user_id).await?.ok_or(AuthError::InvalidToken)?;
        if !principal.is_active() || principal.token_generation != claims.generation {
            return Err(AuthError::InvalidToken);
        }
        if let Some(session) = &claims.session_id
            && !self.session_is_live(session, principal.id).await?
        {
            return Err(AuthError::InvalidToken);
        }
        Ok(principal)
    }

    /// Whether the session an access token was issued under is still live: signed out, or
    /// ended by the identity provider, it takes its access tokens with it.
    async fn session_is_live(&self, session: &str, user: UserId) -> Result<bool, AuthError> {
        if let Some(live) = self.sessions.get(session) {
            return Ok(live);
        }
        let read_since = self.sessions.epoch();
        // A family whose tokens were all purged is long expired: nothing live is left of it.
        let live = self.sign_ins.sign_in(session).await?.is_some_and(|s| !s.ended && s.user_id == user);
        self.sessions.put(session, live, read_since);
        Ok(live)
    }
}

#[async_trait]
impl Accounts for Authenticator {
    async fn account(&self, id: UserId) -> Result<Option<Principal>, RepositoryError> {
        if let Some(principal) = self.principals.get(id) {
            return Ok(Some(principal));
        }
        let read_since = self.principals.epoch();
        let Some(user) = self.users.find(id).await? else { return Ok(None) };
        let principal = Principal::from(&user);
        self.principals.put(principal, read_since);
        Ok(Some(principal))
    }
}

/// [`Accounts`] read from the [`UserRepository`] itself: one read per question, nothing cached.
///
/// For a program that keeps no [`PrincipalCache`] (a script, or another program reusing the domain
/// crates as a library), and for a check that must see an account as stored right now, when a
/// cache may still hold what it was a moment ago. A server answering requests wants
/// [`Authenticator`], which costs no round trip for a recent caller.
#[derive(Clone)]
pub struct StoredAccounts {
    users: Arc<dyn UserRepository>,
}

impl StoredAccounts {
    /// Accounts as `users` stores them.
    pub fn new(users: Arc<dyn UserRepository>) -> Self {
        Self { users }
    }
}

impl std::fmt::Debug for StoredAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredAccounts").finish_non_exhaustive()
    }
}

#[async_trait]
impl Accounts for StoredAccounts {
    async fn account(&self, id: UserId) -> Result<Option<Principal>, RepositoryError> {
        Ok(self.users.find(id).await?.as_ref().map(Principal::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MockTokenIssuer, MockUserRepository, now};

    fn issuer() -> MockTokenIssuer {
        let mut issuer = MockTokenIssuer::new();
        issuer.expect_verify().returning(|_| {
            Ok(AccessClaims {
                user_id: UserId(1),
                role: Role::User,
                token_id: "j".into(),
                generation: 0,
                session_id: Some("fam".into()),
                expires_at: now(),
            })
        });
        issuer
    }

    /// Sessions the cache vouches are live.
    fn live_sessions() -> Arc<dyn SessionCache> {
        let mut sessions = MockSessionCache::new();
        sessions.expect_get().returning(|_| Some(true));
        Arc::new(sessions)
    }

    /// A store no test here should need to read.
    fn no_sign_ins() -> Arc<dyn RefreshTokenStore> {
        Arc::new(crate::MockRefreshTokenStore::new())
    }

    /// A cache that holds nothing, as after an invalidation.
    fn empty_cache() -> MockPrincipalCache {
        let mut cache = MockPrincipalCache::new();
        cache.expect_get().returning(|_| None);
        cache.expect_epoch().returning(|| CacheEpoch(3));
        cache.expect_put().returning(|_, _| ());
        cache
    }

    /// What `authenticate` says of a generation-0 token of user 1, when the account is `stored`.
    async fn authenticate_against(stored: User) -> Result<Principal, AuthError> {
        let mut users = MockUserRepository::new();
        users.expect_find().returning(move |_| Ok(Some(stored.clone())));
        Authenticator::new(Arc::new(issuer()), Arc::new(users), Arc::new(empty_cache()), live_sessions(), no_sign_ins())
            .authenticate("jwt")
            .await
    }

    /// What `authenticate` says of user 1's token when the session cache knows nothing and the
    /// store says the session `ended` (or that it is another user's).
    async fn with_session(ended: bool, owner: i64) -> Result<Principal, AuthError> {
        let mut cached = MockPrincipalCache::new();
        cached.expect_get().returning(|_| Some(Principal::from(&User::sample(1))));
        let mut sessions = MockSessionCache::new();
        sessions.expect_get().returning(|_| None);
        sessions.expect_epoch().returning(|| CacheEpoch(7));
        let put = Arc::new(std::sync::Mutex::new(None));
        let seen = put.clone();
        sessions
            .expect_put()
            .returning(move |id, live, since| *seen.lock().unwrap() = Some((id.to_owned(), live, since)));
        let mut sign_ins = crate::MockRefreshTokenStore::new();
        sign_ins
            .expect_sign_in()
            .returning(move |_| Ok(Some(crate::SignIn { user_id: UserId(owner), signed_in_at: now(), ended })));
        let authenticator = Authenticator::new(
            Arc::new(issuer()),
            Arc::new(MockUserRepository::new()),
            Arc::new(cached),
            Arc::new(sessions),
            Arc::new(sign_ins),
        );
        let outcome = authenticator.authenticate("jwt").await;
        let expected = (outcome.is_ok(), CacheEpoch(7));
        let (id, live, since) = put.lock().unwrap().clone().expect("what was read is cached");
        assert_eq!((id.as_str(), live, since), ("fam", expected.0, expected.1));
        outcome
    }

    #[tokio::test]
    async fn an_access_token_ends_with_its_session() {
        assert!(with_session(false, 1).await.is_ok());
        assert!(matches!(with_session(true, 1).await, Err(AuthError::InvalidToken)), "signed out");
        assert!(matches!(with_session(false, 2).await, Err(AuthError::InvalidToken)), "another's session");
    }

    #[tokio::test]
    async fn a_disabled_users_access_token_is_refused() {
        let err = authenticate_against(User { status: UserStatus::Disabled, ..User::sample(1) }).await;
        assert!(matches!(err, Err(AuthError::InvalidToken)));
    }

    #[tokio::test]
    async fn tokens_of_an_earlier_generation_are_refused_after_re_enabling() {
        let re_enabled = User { token_generation: 1, ..User::sample(1) };
        assert!(matches!(authenticate_against(re_enabled).await, Err(AuthError::InvalidToken)));
    }

    #[tokio::test]
    async fn a_cached_principal_costs_no_database_read_and_a_missed_one_is_cached_with_its_epoch() {
        let mut cached = MockPrincipalCache::new();
        cached.expect_get().returning(|_| Some(Principal::from(&User::sample(1))));
        let no_reads = MockUserRepository::new(); // any call would panic
        let found = Authenticator::new(
            Arc::new(issuer()),
            Arc::new(no_reads),
            Arc::new(cached),
            live_sessions(),
            no_sign_ins(),
        )
        .authenticate("jwt")
        .await
        .expect("valid");
        assert_eq!(found.id, UserId(1));

        let mut cache = MockPrincipalCache::new();
        cache.expect_get().returning(|_| None);
        cache.expect_epoch().returning(|| CacheEpoch(3));
        cache.expect_put().withf(|p, since| p.id == UserId(1) && *since == CacheEpoch(3)).times(1).returning(|_, _| ());
        let mut users = MockUserRepository::new();
        users.expect_find().times(1).returning(|_| Ok(Some(User::sample(1))));
        Authenticator::new(Arc::new(issuer()), Arc::new(users), Arc::new(cache), live_sessions(), no_sign_ins())
            .authenticate("jwt")
            .await
            .expect("valid");
    }

    #[tokio::test]
    async fn stored_accounts_read_every_answer_from_the_repository() {
        let mut users = MockUserRepository::new();
        let disabled = User { status: UserStatus::Disabled, token_generation: 2, ..User::sample(1) };
        users.expect_find().withf(|id| *id == UserId(1)).times(2).returning(move |_| Ok(Some(disabled.clone())));
        users.expect_find().withf(|id| *id == UserId(2)).times(1).returning(|_| Ok(None));
        let accounts = StoredAccounts::new(Arc::new(users));
        for _ in 0..2 {
            let found = accounts.account(UserId(1)).await.expect("read").expect("exists");
            assert_eq!((found.status, found.token_generation), (UserStatus::Disabled, 2));
        }
        assert_eq!(accounts.account(UserId(2)).await.expect("read"), None);
    }
}
