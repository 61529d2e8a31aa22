//! The principal cache: in process on every instance, since a request must not pay a round trip
//! to learn who is calling, and kept honest across instances through the broadcast port.
//!
//! A change to an account's role, status, password or token generation is forgotten on every
//! instance (see [`crate::invalidated`] for how, and why a stale value is never kept).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use workbench_core::broadcast::Broadcast;
use workbench_users::{CacheEpoch, PRINCIPAL_CHANGED, Principal, PrincipalCache, UserId};

use crate::invalidated::{BusKey, Invalidated};

impl BusKey for UserId {
    fn encode(&self) -> Vec<u8> {
        self.0.to_string().into_bytes()
    }

    fn decode(payload: &[u8]) -> Option<Self> {
        std::str::from_utf8(payload).ok()?.parse().ok().map(UserId)
    }
}

/// A [`PrincipalCache`] in this process, invalidated on every instance through the bus.
#[derive(Debug)]
pub struct SharedPrincipalCache {
    cache: Arc<Invalidated<UserId, Principal>>,
}

impl SharedPrincipalCache {
    /// A cache of at most `max_entries` principals, each kept at most `ttl` (a bound on what a
    /// missed invalidation could cost, not the mechanism), following `bus` from now on. Must be
    /// called within a Tokio runtime: it spawns the follower.
    pub fn start(bus: Arc<dyn Broadcast>, max_entries: u64, ttl: Duration) -> Arc<Self> {
        Arc::new(Self { cache: Invalidated::start(bus, PRINCIPAL_CHANGED, max_entries, ttl) })
    }
}

#[async_trait]
impl PrincipalCache for SharedPrincipalCache {
    fn get(&self, id: UserId) -> Option<Principal> {
        self.cache.get(&id)
    }

    fn epoch(&self) -> CacheEpoch {
        self.cache.epoch()
    }

    fn put(&self, principal: Principal, read_since: CacheEpoch) {
        self.cache.put(principal.id, principal, read_since);
    }

    async fn invalidate(&self, id: UserId) {
        self.cache.invalidate(id).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invalidated::{TestBus, settle};
    use workbench_core::broadcast::{BusMessage, Delivery, fan_out};
    use workbench_users::{Role, UserStatus};

    fn principal(id: i64) -> Principal {
        Principal { id: UserId(id), role: Role::User, status: UserStatus::Active, token_generation: 0 }
    }

    fn start() -> (Arc<SharedPrincipalCache>, tokio::sync::broadcast::Sender<Delivery>) {
        let sender = fan_out();
        (SharedPrincipalCache::start(Arc::new(TestBus(sender.clone())), 100, Duration::from_secs(60)), sender)
    }

    #[tokio::test]
    async fn a_value_read_before_an_invalidation_is_not_cached_after_it() {
        let (cache, _bus) = start();
        let since = cache.epoch();
        cache.invalidate(UserId(1)).await;
        cache.put(principal(1), since);
        assert_eq!(cache.get(UserId(1)), None);
        cache.put(principal(1), cache.epoch());
        assert_eq!(cache.get(UserId(1)), Some(principal(1)));
    }

    #[tokio::test]
    async fn another_instances_invalidation_forgets_the_entry() {
        let (cache, bus) = start();
        cache.put(principal(7), cache.epoch());
        let _ = bus
            .send(Delivery::Message(Arc::new(BusMessage { topic: PRINCIPAL_CHANGED.into(), payload: b"7".to_vec() })));
        settle().await;
        assert_eq!(cache.get(UserId(7)), None);
    }

    #[tokio::test]
    async fn while_the_link_is_lost_nothing_is_served_or_kept() {
        let (cache, bus) = start();
        cache.put(principal(1), cache.epoch());
        let _ = bus.send(Delivery::Lost);
        settle().await;
        assert_eq!(cache.get(UserId(1)), None);
        cache.put(principal(2), cache.epoch());
        assert_eq!(cache.get(UserId(2)), None, "nothing is cached while invalidations may be missed");
        let _ = bus.send(Delivery::Restored);
        settle().await;
        cache.put(principal(2), cache.epoch());
        assert_eq!(cache.get(UserId(2)), Some(principal(2)));
    }
}
