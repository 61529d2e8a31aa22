//! What the caches of access checks share: entries in process on every instance, forgotten on
//! every instance through the broadcast port, and never trusted while the bus may have dropped
//! an invalidation.
//!
//! An invalidation is forgotten here at once and published on the bus under the cache's topic;
//! every instance (this one included, through the echo) forgets the key as the message arrives.
//! Every invalidation moves an epoch, and a value is stored only if no invalidation happened
//! since the caller took the epoch before reading it, so a value read before an invalidation is
//! never cached after it. While the bus reports its link lost, the cache holds nothing and
//! answers nothing, so every check reads the database until the link is restored.
//!
//! A cache may also follow a second topic, whose messages name an *owner* of entries rather than
//! a key ([`Invalidated::start_sweeping`]): each forgets every entry of that owner (a grant is
//! keyed by its token's digest and owned by its user, whose changes are announced by user id).

use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use workbench_core::broadcast::{Broadcast, Delivery};
use workbench_users::CacheEpoch;

/// A key of an [`Invalidated`] cache, as it travels on the bus.
pub(crate) trait BusKey: Hash + Eq + Send + Sync + Copy + std::fmt::Debug + 'static {
    /// The key as a message's payload.
    fn encode(&self) -> Vec<u8>;
    /// A payload read back; `None` for one that names no key (logged and ignored).
    fn decode(payload: &[u8]) -> Option<Self>;
}

/// Which entries a message names: a test of an entry's value.
type Named<V> = Box<dyn Fn(&V) -> bool + Send + Sync>;
/// What a payload names; `None` for a payload that names no owner.
type Reader<V> = Box<dyn Fn(&[u8]) -> Option<Named<V>> + Send + Sync>;

/// The second topic of a sweeping cache, and what each of its messages names.
struct Sweep<V> {
    topic: &'static str,
    names: Reader<V>,
}

/// A bounded in-process cache invalidated on every instance through the bus.
pub(crate) struct Invalidated<K: BusKey, V: Clone + Send + Sync + 'static> {
    entries: moka::sync::Cache<K, V>,
    /// Grows with every invalidation and every change of the link's state.
    epoch: AtomicU64,
    /// Whether the bus vouches that no invalidation was missed.
    trusted: AtomicBool,
    topic: &'static str,
    sweep: Option<Sweep<V>>,
    bus: Arc<dyn Broadcast>,
}

impl<K: BusKey, V: Clone + Send + Sync + 'static> std::fmt::Debug for Invalidated<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invalidated")
            .field("topic", &self.topic)
            .field("entries", &self.entries.entry_count())
            .field("epoch", &self.epoch)
            .field("trusted", &self.trusted)
            .finish_non_exhaustive()
    }
}

impl<K: BusKey, V: Clone + Send + Sync + 'static> Invalidated<K, V> {
    /// A cache of at most `max_entries` values, each kept at most `ttl` (a bound on what a
    /// missed invalidation could cost, not the mechanism), following `topic` on `bus` from now
    /// on. Must be called within a Tokio runtime: it spawns the follower.
    pub(crate) fn start(bus: Arc<dyn Broadcast>, topic: &'static str, max_entries: u64, ttl: Duration) -> Arc<Self> {
        Self::following(bus, topic, None, max_entries, ttl)
    }

    /// [`Self::start`], also forgetting on every instance, as each message on `owners` names an
    /// owner, every entry whose `owner` it is. The owner's own invalidation is published by
    /// whoever changes it; this cache only follows.
    pub(crate) fn start_sweeping<O: BusKey>(
        bus: Arc<dyn Broadcast>,
        topic: &'static str,
        owners: &'static str,
        owner: fn(&V) -> O,
        max_entries: u64,
        ttl: Duration,
    ) -> Arc<Self> {
        let names = move |payload: &[u8]| -> Option<Named<V>> {
            let named = O::decode(payload)?;
            Some(Box::new(move |value: &V| owner(value) == named))
        };
        Self::following(bus, topic, Some(Sweep { topic: owners, names: Box::new(names) }), max_entries, ttl)
    }

    fn following(
        bus: Arc<dyn Broadcast>,
        topic: &'static str,
        sweep: Option<Sweep<V>>,
        max_entries: u64,
        ttl: Duration,
    ) -> Arc<Self> {
        let mut subscription = bus.subscribe();
        let mut entries = moka::sync::Cache::builder().max_capacity(max_entries).time_to_live(ttl);
        if sweep.is_some() {
            entries = entries.support_invalidation_closures();
        }
        let cache = Arc::new(Self {
            entries: entries.build(),
            epoch: AtomicU64::new(0),
            trusted: AtomicBool::new(true),
            topic,
            sweep,
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
            Delivery::Message(message) if message.topic == self.topic => match K::decode(&message.payload) {
                Some(key) => self.forget(key),
                None => {
                    tracing::warn!(topic = self.topic, payload = ?message.payload, "unreadable invalidation ignored")
                }
            },
            Delivery::Message(message) if self.sweep.as_ref().is_some_and(|s| s.topic == message.topic) => {
                let names = self.sweep.as_ref().and_then(|sweep| (sweep.names)(&message.payload));
                match names {
                    Some(names) => self.forget_named(names),
                    None => {
                        tracing::warn!(topic = message.topic, payload = ?message.payload, "unreadable owner ignored")
                    }
                }
            }
            Delivery::Message(_) => {}
            Delivery::Lost => {
                self.trusted.store(false, Ordering::SeqCst);
                self.forget_all();
                tracing::warn!(topic = self.topic, "cache off until the broadcast link is restored");
            }
            Delivery::Restored => {
                self.forget_all();
                self.trusted.store(true, Ordering::SeqCst);
                tracing::info!(topic = self.topic, "cache back on");
            }
        }
    }

    fn forget(&self, key: K) {
        // The epoch moves first: a `put` that read before this point must not store after it.
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate(&key);
    }

    /// Forgets every entry `names` holds true for; gets never answer one of them from now on.
    fn forget_named(&self, names: Named<V>) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = self.entries.invalidate_entries_if(move |_, value| names(value)) {
            // Only a cache built without closures refuses, and a sweeping cache never is.
            tracing::error!(topic = self.topic, error = %e, "could not forget by owner; forgetting everything");
            self.entries.invalidate_all();
        }
    }

    fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate_all();
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        if !self.trusted.load(Ordering::SeqCst) {
            return None;
        }
        self.entries.get(key)
    }

    pub(crate) fn epoch(&self) -> CacheEpoch {
        CacheEpoch(self.epoch.load(Ordering::SeqCst))
    }

    pub(crate) fn put(&self, key: K, value: V, read_since: CacheEpoch) {
        if !self.trusted.load(Ordering::SeqCst) || self.epoch() != read_since {
            return;
        }
        self.entries.insert(key, value);
        // An invalidation between the check and the insert moved the epoch: undo the insert.
        if self.epoch() != read_since {
            self.entries.invalidate(&key);
        }
    }

    pub(crate) async fn invalidate(&self, key: K) {
        self.forget(key);
        self.bus.publish(self.topic, key.encode()).await;
    }
}

/// A bus whose deliveries a test controls.
#[cfg(test)]
pub(crate) struct TestBus(pub tokio::sync::broadcast::Sender<Delivery>);

#[cfg(test)]
#[async_trait::async_trait]
impl Broadcast for TestBus {
    async fn publish(&self, topic: &str, payload: Vec<u8>) {
        let message = workbench_core::broadcast::BusMessage { topic: topic.to_owned(), payload };
        let _ = self.0.send(Delivery::Message(Arc::new(message)));
    }

    fn subscribe(&self) -> workbench_core::broadcast::Subscription {
        workbench_core::broadcast::Subscription::new(self.0.subscribe())
    }
}

/// Lets the follower take what the test bus delivered.
#[cfg(test)]
pub(crate) async fn settle() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}
