//! [`TokenService`]: making, listing and revoking a user's tokens, and checking a presented token
//! on the request path without a database round trip.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use workbench_core::{Page, PageRequest, Validator, now};
use workbench_users::{Accounts, AuditAction, ClientInfo, NewAuditEntry, Principal, Reauthentication, UserId};

use crate::model::TokenTerms;
use crate::{
    GrantCache, IssuedToken, NewToken, PersonalAccessToken, Scopes, TokenDigest, TokenDraft, TokenError, TokenId,
    TokenRepository, TokenSecret,
};

/// How often, at most, a token's use is written down by one instance: `last_used_at` is good to
/// about this, and a token in constant use costs a write this often rather than one per request.
const USE_EVERY: Duration = Duration::minutes(1);
/// How long the writer lets uses gather before writing them together.
const GATHER_FOR: StdDuration = StdDuration::from_secs(1);

/// A request's caller, known by a personal access token.
#[derive(Debug, Clone, Copy)]
pub struct TokenCaller {
    /// The token's user, as the account is now.
    pub principal: Principal,
    /// What the token may do.
    pub scopes: Scopes,
    /// The token, for noting its use.
    pub token_id: TokenId,
}

/// Personal access tokens: a user's scoped credentials for scripts.
#[derive(Clone)]
pub struct TokenService {
    tokens: Arc<dyn TokenRepository>,
    grants: Arc<dyn GrantCache>,
    accounts: Arc<dyn Accounts>,
    /// What a session must prove before it makes a token (the password, or a recent sign-in).
    reauth: Reauthentication,
    uses: Arc<UseLog>,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService").finish_non_exhaustive()
    }
}

impl TokenService {
    /// The service over the tokens stored in `tokens`, their grants kept in `grants` (every
    /// instance's cache), the accounts they act for in `accounts`, and `reauth`, which asks a
    /// session for its password (or a recent sign-in) before it makes a token.
    pub fn new(
        tokens: Arc<dyn TokenRepository>,
        grants: Arc<dyn GrantCache>,
        accounts: Arc<dyn Accounts>,
        reauth: Reauthentication,
    ) -> Self {
        Self { tokens, grants, accounts, reauth, uses: Arc::new(UseLog::default()) }
    }

    /// Makes a token for `caller`, signed in as the session `session_id`. Its secret is in the
    /// answer and nowhere else.
    ///
    /// A token outlives the session by up to a year, so a session alone (a stolen access token)
    /// is not enough: the draft's `password` must be the account's current one (named with the
    /// other failing fields when it is not), and an account without one must have signed in
    /// within `workbench_users::RECENT_SIGN_IN` ([`TokenError::ReauthenticationRequired`]
    /// otherwise, whatever the fields say). The token remembers the session, so that a theft of
    /// it detected later revokes the token too.
    pub async fn create(
        &self,
        caller: &Principal,
        session_id: Option<&str>,
        draft: TokenDraft,
        client: &ClientInfo,
    ) -> Result<IssuedToken, TokenError> {
        let TokenDraft { name, scopes, expires_in_days, password, type_failures } = draft;
        let mut v = Validator::seeded(type_failures);
        let terms = TokenTerms::check(&mut v, name, scopes, expires_in_days);
        self.reauth.confirm(caller.id, session_id, password.as_deref(), &mut v).await?;
        let terms = v.finish_with(terms)?;
        let secret = TokenSecret::generate();
        let created_at = now();
        let expires_at = created_at + terms.lifetime;
        let audit = NewAuditEntry::new(AuditAction::TokenCreated, client)
            .by(caller.id)
            .on(caller.id)
            .with("name", terms.name.as_str())
            .with("scopes", terms.scopes.to_stored())
            .with("expires_at", expires_at.to_rfc3339())
            .at(created_at);
        let token = self
            .tokens
            .insert(
                NewToken {
                    user_id: caller.id,
                    name: terms.name,
                    scopes: terms.scopes,
                    digest: TokenDigest::of(secret.expose()),
                    prefix: secret.shown_prefix().to_owned(),
                    expires_at,
                    created_at,
                    session_id: session_id.map(str::to_owned),
                },
                audit,
            )
            .await?;
        Ok(IssuedToken { token, secret })
    }

    /// `caller`'s tokens, newest first, expired ones included until they are revoked.
    pub async fn list(&self, caller: &Principal, page: PageRequest) -> Result<Page<PersonalAccessToken>, TokenError> {
        Ok(self.tokens.list(caller.id, page).await?)
    }

    /// Revokes `caller`'s token `id`: refused at its next request on every instance, since its
    /// grant is forgotten here before this returns and everywhere else through the bus.
    pub async fn revoke(&self, caller: &Principal, id: TokenId, client: &ClientInfo) -> Result<(), TokenError> {
        let audit =
            NewAuditEntry::new(AuditAction::TokenRevoked, client).by(caller.id).on(caller.id).with("token_id", id.0);
        let digest = self.tokens.revoke(caller.id, id, audit).await?.ok_or(TokenError::NotFound)?;
        self.grants.invalidate(digest).await;
        Ok(())
    }

    /// The user of a presented token whose grant is cached and current, at the cost of a hash:
    /// what the rate limiter asks to choose the user's bucket before the request is authenticated.
    pub fn cached_user(&self, presented: &str) -> Option<UserId> {
        self.grants.get(&TokenDigest::of(presented)).filter(|grant| !grant.is_expired(now())).map(|grant| grant.user_id)
    }

    /// The caller behind a presented token: a token that exists and has not expired, of an
    /// account that exists and is active. Costs no round trip when the token's grant and its
    /// user's principal are cached; a use is noted for the writer, never written here.
    pub async fn authenticate(&self, presented: &str) -> Result<TokenCaller, TokenError> {
        let digest = TokenDigest::of(presented);
        let grant = match self.grants.get(&digest) {
            Some(grant) => grant,
            None => {
                let read_since = self.grants.epoch();
                let grant = Arc::new(self.tokens.grant(digest).await?.ok_or(TokenError::InvalidToken)?);
                self.grants.put(digest, grant.clone(), read_since);
                grant
            }
        };
        let at = now();
        if grant.is_expired(at) {
            return Err(TokenError::InvalidToken);
        }
        let principal =
            self.accounts.account(grant.user_id).await?.filter(Principal::is_active).ok_or(TokenError::InvalidToken)?;
        if grant.claim_use(at, USE_EVERY) {
            self.uses.note(grant.token_id, at);
        }
        Ok(TokenCaller { principal, scopes: grant.scopes, token_id: grant.token_id })
    }

    /// The task that writes noted uses down, gathered over a second into one write. Run it once
    /// per process; it runs until the runtime stops (uses noted and not yet written are lost
    /// then, which costs `last_used_at` at most a minute).
    pub fn use_writer(&self) -> impl Future<Output = ()> + Send + 'static {
        let uses = self.uses.clone();
        let tokens = self.tokens.clone();
        async move {
            loop {
                uses.wake.notified().await;
                tokio::time::sleep(GATHER_FOR).await;
                let batch = uses.drain();
                if batch.is_empty() {
                    continue;
                }
                let count = batch.len();
                if let Err(e) = tokens.record_uses(batch).await {
                    tracing::warn!(error = %e, count, "token uses not written");
                }
            }
        }
    }
}

/// Uses noted on the request path, waiting for the writer.
#[derive(Debug, Default)]
struct UseLog {
    pending: Mutex<HashMap<TokenId, DateTime<Utc>>>,
    wake: tokio::sync::Notify,
}

impl UseLog {
    fn note(&self, token: TokenId, at: DateTime<Utc>) {
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let latest = pending.entry(token).or_insert(at);
        *latest = (*latest).max(at);
        drop(pending);
        self.wake.notify_one();
    }

    fn drain(&self) -> Vec<(TokenId, DateTime<Utc>)> {
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        pending.drain().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Grant, MockGrantCache, MockTokenRepository, Scope};
    use workbench_users::{
        CacheEpoch, MockAccounts, MockPasswordHasher, MockRefreshTokenStore, MockUserRepository, Role, SignIn, UserId,
        UserStatus,
    };

    fn principal(status: UserStatus) -> Principal {
        Principal { id: UserId(7), role: Role::User, status, token_generation: 3 }
    }

    fn client() -> ClientInfo {
        ClientInfo { ip: Some("192.0.2.1".into()), user_agent: None }
    }

    fn accounts(status: UserStatus) -> MockAccounts {
        let mut accounts = MockAccounts::new();
        accounts.expect_account().returning(move |_| Ok(Some(principal(status))));
        accounts
    }

    /// Proof of ownership for an account whose password is `password` (none when `None`), whose
    /// only session, `fam`, signed in `ago`.
    fn reauth(password: Option<&'static str>, ago: Duration) -> Reauthentication {
        let mut users = MockUserRepository::new();
        users.expect_password_hash().returning(move |_| Ok(password.map(|p| format!("hash of {p}"))));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|typed, hash| Ok(hash == Some(format!("hash of {typed}"))));
        let mut sign_ins = MockRefreshTokenStore::new();
        sign_ins.expect_sign_in().returning(move |family| {
            Ok((family == "fam").then(|| SignIn { user_id: UserId(7), signed_in_at: now() - ago, ended: false }))
        });
        Reauthentication::new(Arc::new(users), Arc::new(sign_ins), Arc::new(hasher))
    }

    /// Proof for the tests that make no token: any use of it would panic.
    fn no_reauth() -> Reauthentication {
        Reauthentication::new(
            Arc::new(MockUserRepository::new()),
            Arc::new(MockRefreshTokenStore::new()),
            Arc::new(MockPasswordHasher::new()),
        )
    }

    fn grant(expires_in: Duration) -> Grant {
        Grant::new(TokenId(5), UserId(7), Scopes::of([Scope::TasksRead]), now() + expires_in, None)
    }

    /// A cache that holds `cached`, and refuses to be written.
    fn holding(cached: Grant) -> MockGrantCache {
        let cached = Arc::new(cached);
        let mut cache = MockGrantCache::new();
        cache.expect_get().returning(move |_| Some(cached.clone()));
        cache
    }

    #[tokio::test]
    async fn a_cached_grant_costs_no_database_read() {
        let no_reads = MockTokenRepository::new(); // any call would panic
        let service = TokenService::new(
            Arc::new(no_reads),
            Arc::new(holding(grant(Duration::days(1)))),
            Arc::new(accounts(UserStatus::Active)),
            no_reauth(),
        );
        let caller = service.authenticate("wbp_secret").await.expect("valid");
        assert_eq!((caller.principal.id, caller.token_id), (UserId(7), TokenId(5)));
        assert!(caller.scopes.grants(Scope::TasksRead));
        assert_eq!(service.uses.drain().len(), 1, "the use is noted, not written");
    }

    #[tokio::test]
    async fn expired_tokens_and_disabled_users_are_refused() {
        let expired = TokenService::new(
            Arc::new(MockTokenRepository::new()),
            Arc::new(holding(grant(Duration::seconds(-1)))),
            Arc::new(accounts(UserStatus::Active)),
            no_reauth(),
        );
        assert!(matches!(expired.authenticate("wbp_x").await, Err(TokenError::InvalidToken)));
        let disabled = TokenService::new(
            Arc::new(MockTokenRepository::new()),
            Arc::new(holding(grant(Duration::days(1)))),
            Arc::new(accounts(UserStatus::Disabled)),
            no_reauth(),
        );
        assert!(matches!(disabled.authenticate("wbp_x").await, Err(TokenError::InvalidToken)));
    }

    #[tokio::test]
    async fn a_missed_grant_is_read_once_and_cached_with_the_epoch_taken_before_the_read() {
        let mut cache = MockGrantCache::new();
        cache.expect_get().returning(|_| None);
        cache.expect_epoch().returning(|| CacheEpoch(4));
        cache
            .expect_put()
            .withf(|digest, grant, since| {
                *digest == TokenDigest::of("wbp_x") && grant.token_id == TokenId(5) && *since == CacheEpoch(4)
            })
            .times(1)
            .returning(|_, _, _| ());
        let mut tokens = MockTokenRepository::new();
        tokens
            .expect_grant()
            .withf(|digest| *digest == TokenDigest::of("wbp_x"))
            .times(1)
            .returning(|_| Ok(Some(grant(Duration::days(1)))));
        let service =
            TokenService::new(Arc::new(tokens), Arc::new(cache), Arc::new(accounts(UserStatus::Active)), no_reauth());
        service.authenticate("wbp_x").await.expect("valid");

        let mut unknown = MockTokenRepository::new();
        unknown.expect_grant().returning(|_| Ok(None));
        let mut empty = MockGrantCache::new();
        empty.expect_get().returning(|_| None);
        empty.expect_epoch().returning(|| CacheEpoch(0));
        let service =
            TokenService::new(Arc::new(unknown), Arc::new(empty), Arc::new(accounts(UserStatus::Active)), no_reauth());
        assert!(matches!(service.authenticate("wbp_nope").await, Err(TokenError::InvalidToken)));
    }

    #[tokio::test]
    async fn the_first_use_in_a_minute_is_noted_for_the_writer_and_later_ones_are_not() {
        let service = TokenService::new(
            Arc::new(MockTokenRepository::new()),
            Arc::new(holding(grant(Duration::days(1)))),
            Arc::new(accounts(UserStatus::Active)),
            no_reauth(),
        );
        service.authenticate("wbp_x").await.expect("valid");
        service.authenticate("wbp_x").await.expect("valid");
        let noted = service.uses.drain();
        assert_eq!(noted.len(), 1);
        assert_eq!(noted[0].0, TokenId(5));
    }

    #[tokio::test]
    async fn revoking_forgets_the_grant_and_an_unknown_token_is_not_found() {
        let digest = TokenDigest::of("wbp_x");
        let mut tokens = MockTokenRepository::new();
        tokens
            .expect_revoke()
            .withf(|user, id, audit| {
                *user == UserId(7) && *id == TokenId(5) && audit.action == AuditAction::TokenRevoked
            })
            .returning(move |_, _, _| Ok(Some(digest)));
        tokens.expect_revoke().returning(|_, _, _| Ok(None));
        let mut cache = MockGrantCache::new();
        cache.expect_invalidate().withf(move |d| *d == digest).times(1).returning(|_| ());
        let service =
            TokenService::new(Arc::new(tokens), Arc::new(cache), Arc::new(accounts(UserStatus::Active)), no_reauth());
        let caller = principal(UserStatus::Active);
        service.revoke(&caller, TokenId(5), &client()).await.expect("revoked");
        assert!(matches!(service.revoke(&caller, TokenId(6), &client()).await, Err(TokenError::NotFound)));
    }

    /// `token` as the store answers it once stored.
    fn stored(token: NewToken) -> Result<PersonalAccessToken, workbench_core::RepositoryError> {
        Ok(PersonalAccessToken {
            id: TokenId(1),
            user_id: token.user_id,
            name: token.name,
            scopes: token.scopes,
            prefix: token.prefix,
            expires_at: token.expires_at,
            last_used_at: None,
            created_at: token.created_at,
        })
    }

    /// A repository that stores whatever it is given.
    fn storing() -> MockTokenRepository {
        let mut tokens = MockTokenRepository::new();
        tokens.expect_insert().returning(|token, _| stored(token));
        tokens
    }

    fn draft(password: Option<&str>) -> TokenDraft {
        TokenDraft {
            name: Some("ci".into()),
            scopes: Some(vec!["tasks:write".into()]),
            expires_in_days: None,
            password: password.map(str::to_owned),
            type_failures: Default::default(),
        }
    }

    fn failing_fields(result: Result<IssuedToken, TokenError>) -> Vec<String> {
        match result {
            Err(TokenError::Invalid(errors)) => errors.into_vec().into_iter().map(|e| e.field).collect(),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_token_is_stored_by_its_digest_with_its_audit_entry_and_its_session() {
        let mut tokens = MockTokenRepository::new();
        tokens
            .expect_insert()
            .withf(|token, audit| {
                token.user_id == UserId(7)
                    && token.prefix.starts_with("wbp_")
                    && token.prefix.len() == 12
                    && token.expires_at - token.created_at == Duration::days(90)
                    && token.session_id.as_deref() == Some("fam")
                    && audit.action == AuditAction::TokenCreated
            })
            .times(1)
            .returning(|token, _| stored(token));
        let service = TokenService::new(
            Arc::new(tokens),
            Arc::new(MockGrantCache::new()),
            Arc::new(accounts(UserStatus::Active)),
            reauth(Some("right password"), Duration::days(3)),
        );
        let caller = principal(UserStatus::Active);
        let issued =
            service.create(&caller, Some("fam"), draft(Some("right password")), &client()).await.expect("made");
        assert_eq!(issued.token.prefix, issued.secret.shown_prefix());
        let invalid = service.create(&caller, Some("fam"), TokenDraft::default(), &client()).await;
        assert_eq!(failing_fields(invalid), ["name", "scopes", "password"], "every field at once, the password last");
    }

    #[tokio::test]
    async fn a_session_alone_makes_no_token_without_the_password() {
        let service = TokenService::new(
            Arc::new(storing()),
            Arc::new(MockGrantCache::new()),
            Arc::new(accounts(UserStatus::Active)),
            reauth(Some("right password"), Duration::seconds(1)),
        );
        let caller = principal(UserStatus::Active);
        for password in [None, Some(""), Some("a guess")] {
            let refused = service.create(&caller, Some("fam"), draft(password), &client()).await;
            assert_eq!(failing_fields(refused), ["password"], "{password:?}, however recent the sign-in");
        }
    }

    #[tokio::test]
    async fn an_account_without_a_password_needs_a_sign_in_of_the_last_ten_minutes() {
        let service = |ago| {
            TokenService::new(
                Arc::new(storing()),
                Arc::new(MockGrantCache::new()),
                Arc::new(accounts(UserStatus::Active)),
                reauth(None, ago),
            )
        };
        let caller = principal(UserStatus::Active);
        let recent = service(Duration::minutes(9));
        assert!(recent.create(&caller, Some("fam"), draft(None), &client()).await.is_ok());
        let refused = recent.create(&caller, None, draft(None), &client()).await;
        assert!(matches!(refused, Err(TokenError::ReauthenticationRequired)), "an access token naming no session");
        let stale = service(Duration::minutes(11));
        let refused = stale.create(&caller, Some("fam"), TokenDraft::default(), &client()).await;
        assert!(matches!(refused, Err(TokenError::ReauthenticationRequired)), "before the fields: {refused:?}");
    }
}
