//! The grant cache of personal access tokens: in process on every instance, so that a request
//! made with a token costs no round trip, and kept honest across instances through the broadcast
//! port: a revoked token is forgotten on every instance (see [`crate::invalidated`]), and so is
//! every grant of an account whose principal changed (a stolen session ends the tokens made from
//! it in the transaction that revokes it, and the principal's invalidation follows).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use workbench_core::broadcast::Broadcast;
use workbench_tokens::{Grant, GrantCache, TokenDigest};
use workbench_users::{CacheEpoch, PRINCIPAL_CHANGED};

use crate::invalidated::{BusKey, Invalidated};

/// The broadcast topic on which a revoked token's digest (in hex) is announced.
pub const TOKEN_REVOKED: &str = "token.revoked";

impl BusKey for TokenDigest {
    fn encode(&self) -> Vec<u8> {
        self.to_hex().into_bytes()
    }

    fn decode(payload: &[u8]) -> Option<Self> {
        TokenDigest::from_hex(std::str::from_utf8(payload).ok()?)
    }
}

/// A [`GrantCache`] in this process, invalidated on every instance through the bus.
#[derive(Debug)]
pub struct SharedGrantCache {
    cache: Arc<Invalidated<TokenDigest, Arc<Grant>>>,
}

impl SharedGrantCache {
    /// A cache of at most `max_entries` grants, each kept at most `ttl`, following `bus` from now
    /// on. Must be called within a Tokio runtime: it spawns the follower.
    pub fn start(bus: Arc<dyn Broadcast>, max_entries: u64, ttl: Duration) -> Arc<Self> {
        let owner = |grant: &Arc<Grant>| grant.user_id;
        Arc::new(Self {
            cache: Invalidated::start_sweeping(bus, TOKEN_REVOKED, PRINCIPAL_CHANGED, owner, max_entries, ttl),
        })
    }
}

#[async_trait]
impl GrantCache for SharedGrantCache {
    fn get(&self, digest: &TokenDigest) -> Option<Arc<Grant>> {
        self.cache.get(digest)
    }

    fn epoch(&self) -> CacheEpoch {
        self.cache.epoch()
    }

    fn put(&self, digest: TokenDigest, grant: Arc<Grant>, read_since: CacheEpoch) {
        self.cache.put(digest, grant, read_since);
    }

    async fn invalidate(&self, digest: TokenDigest) {
        self.cache.invalidate(digest).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invalidated::{TestBus, settle};
    use workbench_core::broadcast::{BusMessage, Delivery, fan_out};
    use workbench_tokens::{Scopes, TokenId};
    use workbench_users::UserId;

    fn grant(id: i64) -> Arc<Grant> {
        owned(id, 1)
    }

    fn owned(id: i64, user: i64) -> Arc<Grant> {
        Arc::new(Grant::new(TokenId(id), UserId(user), Scopes::default(), workbench_core::now(), None))
    }

    fn start() -> (Arc<SharedGrantCache>, tokio::sync::broadcast::Sender<Delivery>) {
        let sender = fan_out();
        (SharedGrantCache::start(Arc::new(TestBus(sender.clone())), 100, Duration::from_secs(60)), sender)
    }

    fn cached(cache: &SharedGrantCache, digest: &TokenDigest) -> Option<TokenId> {
        cache.get(digest).map(|g| g.token_id)
    }

    #[tokio::test]
    async fn a_grant_read_before_a_revocation_is_not_cached_after_it() {
        let (cache, _bus) = start();
        let digest = TokenDigest::of("wbp_a");
        let since = cache.epoch();
        cache.invalidate(TokenDigest::of("wbp_other")).await;
        cache.put(digest, grant(1), since);
        assert_eq!(cached(&cache, &digest), None);
        cache.put(digest, grant(1), cache.epoch());
        assert_eq!(cached(&cache, &digest), Some(TokenId(1)));
    }

    #[tokio::test]
    async fn another_instances_revocation_forgets_the_grant() {
        let (cache, bus) = start();
        let digest = TokenDigest::of("wbp_a");
        cache.put(digest, grant(1), cache.epoch());
        let payload = digest.to_hex().into_bytes();
        let _ = bus.send(Delivery::Message(Arc::new(BusMessage { topic: TOKEN_REVOKED.into(), payload })));
        settle().await;
        assert_eq!(cached(&cache, &digest), None);
    }

    #[tokio::test]
    async fn a_principal_change_forgets_every_grant_of_that_user_and_only_theirs() {
        let (cache, bus) = start();
        let (anns, anns_other, bobs) = (TokenDigest::of("wbp_a"), TokenDigest::of("wbp_b"), TokenDigest::of("wbp_c"));
        cache.put(anns, owned(1, 7), cache.epoch());
        cache.put(anns_other, owned(2, 7), cache.epoch());
        cache.put(bobs, owned(3, 8), cache.epoch());
        let since = cache.epoch();
        let changed = BusMessage { topic: PRINCIPAL_CHANGED.into(), payload: b"7".to_vec() };
        let _ = bus.send(Delivery::Message(Arc::new(changed)));
        settle().await;
        assert_eq!((cached(&cache, &anns), cached(&cache, &anns_other)), (None, None));
        assert_eq!(cached(&cache, &bobs), Some(TokenId(3)), "another user's grant stays");
        cache.put(anns, owned(1, 7), since);
        assert_eq!(cached(&cache, &anns), None, "a grant read before the change is not cached after it");
        cache.put(anns, owned(1, 7), cache.epoch());
        assert_eq!(cached(&cache, &anns), Some(TokenId(1)), "one read after it is");

        let unreadable = BusMessage { topic: PRINCIPAL_CHANGED.into(), payload: b"ann".to_vec() };
        let _ = bus.send(Delivery::Message(Arc::new(unreadable)));
        settle().await;
        assert_eq!(cached(&cache, &anns), Some(TokenId(1)), "an unreadable owner names nothing");
    }

    #[tokio::test]
    async fn while_the_link_is_lost_no_grant_is_served_or_kept() {
        let (cache, bus) = start();
        let digest = TokenDigest::of("wbp_a");
        cache.put(digest, grant(1), cache.epoch());
        let _ = bus.send(Delivery::Lost);
        settle().await;
        assert_eq!(cached(&cache, &digest), None);
        cache.put(digest, grant(1), cache.epoch());
        assert_eq!(cached(&cache, &digest), None, "nothing is cached while revocations may be missed");
        let _ = bus.send(Delivery::Restored);
        settle().await;
        cache.put(digest, grant(1), cache.epoch());
        assert_eq!(cached(&cache, &digest), Some(TokenId(1)));
    }
}
