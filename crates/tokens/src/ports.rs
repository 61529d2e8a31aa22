//! The ports of personal access tokens: where they are stored, and the cache that keeps their
//! grants off the database on the request path.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_users::{CacheEpoch, NewAuditEntry, UserId};

use crate::{Grant, NewToken, PersonalAccessToken, TokenDigest, TokenId};

/// Where tokens are kept, known by their digest.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TokenRepository: Send + Sync {
    /// Stores `token` and appends `audit` in one transaction. MUST answer
    /// `MissingReference { field: "user_id" }` when the user is gone.
    async fn insert(&self, token: NewToken, audit: NewAuditEntry) -> Result<PersonalAccessToken, RepositoryError>;

    /// `user`'s tokens, newest first, and how many they hold.
    async fn list(&self, user: UserId, page: PageRequest) -> Result<Page<PersonalAccessToken>, RepositoryError>;

    /// Deletes `user`'s token `id` and appends `audit` in one transaction, answering the deleted
    /// token's digest; `None` (and nothing appended) when `user` has no such token.
    async fn revoke(
        &self,
        user: UserId,
        id: TokenId,
        audit: NewAuditEntry,
    ) -> Result<Option<TokenDigest>, RepositoryError>;

    /// The grant of the token whose digest is `digest`, expired or not; `None` when there is none.
    async fn grant(&self, digest: TokenDigest) -> Result<Option<Grant>, RepositoryError>;

    /// Notes when each token was last used. MUST never move a `last_used_at` back (another
    /// instance may have written a later use), and MUST ignore tokens that are gone.
    async fn record_uses(&self, uses: Vec<(TokenId, DateTime<Utc>)>) -> Result<(), RepositoryError>;
}

/// The grants of recently used tokens, kept in process so that checking a token costs no round
/// trip, and forgotten on every instance as soon as a token is revoked.
///
/// An implementation MUST also forget on every instance every grant of an account whose
/// principal is invalidated (`workbench_users::PRINCIPAL_CHANGED`), with the same guarantee as
/// [`Self::put`] gives for revocations: what changed the account may have ended tokens with it
/// (a detected theft of a session deletes the tokens made from it, in the transaction that
/// revokes the session, and invalidates the principal after).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait GrantCache: Send + Sync {
    /// The cached grant of `digest`. MUST answer `None` whenever the cache cannot vouch that no
    /// revocation was missed (for instance while its link to the other instances is down).
    fn get(&self, digest: &TokenDigest) -> Option<Arc<Grant>>;

    /// Where the revocation history stands now.
    fn epoch(&self) -> CacheEpoch;

    /// Caches `grant`, read from the database after `read_since` was taken. MUST store nothing
    /// when any revocation happened since then: the grant may predate it.
    fn put(&self, digest: TokenDigest, grant: Arc<Grant>, read_since: CacheEpoch);

    /// Forgets `digest` on this instance before returning, and on every other instance as soon as
    /// the broadcast reaches it. MUST NOT fail.
    async fn invalidate(&self, digest: TokenDigest);
}
