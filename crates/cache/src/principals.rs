//! The principal cache: in process on every instance, since a request must not pay a round trip
//! to learn who is calling, and kept honest across instances through the broadcast port.
//!
//! A change to an account's role, status, password or token generation is forgotten here at once
//! and published on the bus; every instance (this one included, through the echo) forgets it as
//! the message arrives. While the bus reports its link lost, the cache holds nothing and answers
//! nothing, so every request reads the database until the link is restored.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use workbench_core::broadcast::{Broadcast, Delivery};
use workbench_users::{CacheEpoch, PRINCIPAL_CHANGED, Principal, PrincipalCache, UserId};

/// A [`PrincipalCache`] in this process, invalidated on every instance through the bus.
pub struct SharedPrincipalCache {
    entries: moka::sync::Cache<UserId, Principal>,
    /// Grows with every invalidation and every change of the link's state.
    epoch: AtomicU64,
    /// Whether the bus vouches that no invalidation was missed.
    trusted: AtomicBool,
    bus: Arc<dyn Broadcast>,
}

impl std::fmt::Debug for SharedPrincipalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedPrincipalCache")
            .field("entries", &self.entries.entry_count())
            .field("epoch", &self.epoch)
            .field("trusted", &self.trusted)
            .finish_non_exhaustive()
    }
}

impl SharedPrincipalCache {
    /// A cache of at most `max_entries` principals, each kept at most `ttl` (a bound on what a
    /// missed invalidation could cost, not the mechanism), following `bus` from now on. Must be
    /// called within a Tokio runtime: it spawns the follower.
    pub fn start(bus: Arc<dyn Broadcast>, max_entries: u64, ttl: Duration) -> Arc<Self> {
        let mut subscription = bus.subscribe();
        let cache = Arc::new(Self {
            entries: moka::sync::Cache::builder().max_capacity(max_entries).time_to_live(ttl).build(),
            epoch: AtomicU64::new(0),
            trusted: AtomicBool::new(true),
            bus,
        });
        // The follower holds the cache weakly: it ends when the cache (and with it the bus) goes.
        let follower: Weak<Self> = Arc::downgrade(&cache);
        tokio::spawn(async move {
            while let Some(delivery) = subscription.recv().await {
                let Some(cache) = follower.upgrade() else { return };
                cache.follow(&delivery);
            }
        });
        cache
    }

    fn follow(&self, delivery: &Delivery) {
        match delivery {
            Delivery::Message(message) if message.topic == PRINCIPAL_CHANGED => {
                match std::str::from_utf8(&message.payload).ok().and_then(|id| id.parse().ok()) {
                    Some(id) => self.forget(UserId(id)),
                    None => tracing::warn!(payload = ?message.payload, "unreadable principal invalidation ignored"),
                }
            }
            Delivery::Message(_) => {}
            Delivery::Lost => {
                self.trusted.store(false, Ordering::SeqCst);
                self.forget_all();
                tracing::warn!("principal cache off until the broadcast link is restored");
            }
            Delivery::Restored => {
                self.forget_all();
                self.trusted.store(true, Ordering::SeqCst);
                tracing::info!("principal cache back on");
            }
        }
    }

    fn forget(&self, id: UserId) {
        // The epoch moves first: a `put` that read before this point must not store after it.
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate(&id);
    }

    fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate_all();
    }
}

#[async_trait]
impl PrincipalCache for SharedPrincipalCache {
    fn get(&self, id: UserId) -> Option<Principal> {
        if !self.trusted.load(Ordering::SeqCst) {
            return None;
        }
        self.entries.get(&id)
    }

    fn epoch(&self) -> CacheEpoch {
        CacheEpoch(self.epoch.load(Ordering::SeqCst))
    }

    fn put(&self, principal: Principal, read_since: CacheEpoch) {
        if !self.trusted.load(Ordering::SeqCst) || self.epoch() != read_since {
            return;
        }
        self.entries.insert(principal.id, principal);
        // An invalidation between the check and the insert moved the epoch: undo the insert.
        if self.epoch() != read_since {
            self.entries.invalidate(&principal.id);
        }
    }

    async fn invalidate(&self, id: UserId) {
        self.forget(id);
        self.bus.publish(PRINCIPAL_CHANGED, id.0.to_string().into_bytes()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use workbench_core::broadcast::{BusMessage, Subscription, fan_out};
    use workbench_users::{Role, UserStatus};

    /// A bus whose deliveries the test controls.
    struct TestBus(tokio::sync::broadcast::Sender<Delivery>);

    #[async_trait]
    impl Broadcast for TestBus {
        async fn publish(&self, topic: &str, payload: Vec<u8>) {
            let _ = self.0.send(Delivery::Message(Arc::new(BusMessage { topic: topic.to_owned(), payload })));
        }
        fn subscribe(&self) -> Subscription {
            Subscription::new(self.0.subscribe())
        }
    }

    fn principal(id: i64) -> Principal {
        Principal { id: UserId(id), role: Role::User, status: UserStatus::Active, token_generation: 0 }
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(50)).await;
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
