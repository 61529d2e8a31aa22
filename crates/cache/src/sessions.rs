//! The session cache: whether recent callers' sessions (refresh-token families) are live, in
//! process on every instance, so that checking an access token's session costs no round trip, and
//! forgotten on every instance the moment a session ends (see [`crate::invalidated`]).
//!
//! Session ids are UUIDs (the families' ids); an id that is not one is never cached, and every
//! check of it reads the store.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use workbench_core::broadcast::Broadcast;
use workbench_users::{CacheEpoch, SESSION_ENDED, SessionCache};

use crate::invalidated::{BusKey, Invalidated};

/// A session id as a number: a UUID's 128 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SessionKey(u128);

impl SessionKey {
    /// The key of a session id written as a UUID (hyphens or not, either case).
    fn parse(id: &str) -> Option<Self> {
        // Checked on every authenticated request: no allocation.
        if id.len() > 36 {
            return None;
        }
        let (mut value, mut digits) = (0u128, 0);
        for byte in id.bytes().filter(|b| *b != b'-') {
            value = (value << 4) | u128::from(char::from(byte).to_digit(16)?);
            digits += 1;
        }
        (digits == 32).then_some(SessionKey(value))
    }
}

impl BusKey for SessionKey {
    fn encode(&self) -> Vec<u8> {
        // The id as the families spell it (a lower-case hyphenated UUID), so that whoever else
        // listens on the topic (open sockets) can compare it with what they hold.
        let hex = format!("{:032x}", self.0);
        format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]).into_bytes()
    }

    fn decode(payload: &[u8]) -> Option<Self> {
        Self::parse(std::str::from_utf8(payload).ok()?)
    }
}

/// A [`SessionCache`] in this process, invalidated on every instance through the bus.
#[derive(Debug)]
pub struct SharedSessionCache {
    cache: Arc<Invalidated<SessionKey, bool>>,
}

impl SharedSessionCache {
    /// A cache of at most `max_entries` sessions, each kept at most `ttl`, following `bus` from
    /// now on. Must be called within a Tokio runtime: it spawns the follower.
    pub fn start(bus: Arc<dyn Broadcast>, max_entries: u64, ttl: Duration) -> Arc<Self> {
        Arc::new(Self { cache: Invalidated::start(bus, SESSION_ENDED, max_entries, ttl) })
    }
}

#[async_trait]
impl SessionCache for SharedSessionCache {
    fn get(&self, id: &str) -> Option<bool> {
        self.cache.get(&SessionKey::parse(id)?)
    }

    fn epoch(&self) -> CacheEpoch {
        self.cache.epoch()
    }

    fn put(&self, id: &str, live: bool, read_since: CacheEpoch) {
        if let Some(key) = SessionKey::parse(id) {
            self.cache.put(key, live, read_since);
        }
    }

    async fn invalidate(&self, id: &str) {
        if let Some(key) = SessionKey::parse(id) {
            self.cache.invalidate(key).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invalidated::{TestBus, settle};
    use workbench_core::broadcast::fan_out;

    const ID: &str = "6f1c9a52-08d4-4a7e-9d0b-3c2f51e4a8b7";

    #[test]
    fn ids_travel_as_the_families_spell_them() {
        let key = SessionKey::parse(ID).unwrap();
        assert_eq!(key.encode(), ID.as_bytes());
        assert_eq!(SessionKey::decode(ID.to_uppercase().as_bytes()), Some(key));
        assert_eq!(SessionKey::parse("fam"), None);
    }

    #[tokio::test]
    async fn an_ended_session_is_forgotten_and_a_read_before_it_not_kept() {
        let cache = SharedSessionCache::start(Arc::new(TestBus(fan_out())), 100, Duration::from_secs(60));
        cache.put(ID, true, cache.epoch());
        assert_eq!(cache.get(ID), Some(true));
        let since = cache.epoch();
        cache.invalidate(ID).await;
        settle().await;
        assert_eq!(cache.get(ID), None, "ended: the next check reads the store");
        cache.put(ID, true, since);
        assert_eq!(cache.get(ID), None, "read before the ending: not cached");
        cache.put("not-a-uuid", true, cache.epoch());
        assert_eq!(cache.get("not-a-uuid"), None);
    }
}
