//! Radio listener counts shared by every instance, in Redis.
//!
//! Per station, a hash `<prefix>:radio:census:<slug>` maps each instance with listeners (or its
//! source) to `<listeners>,<live>,<expires ms>`, written by the instance at most once a second
//! when its counts changed and every [`REFRESH`] when they did not; an instance that dies stops
//! writing, and its entry stops counting when it expires. A count is this instance's own, exact,
//! plus the other instances' live entries. Redis out of reach: this instance's counts alone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use deadpool_redis::Pool;
use redis::AsyncCommands;
use workbench_radio::ListenerCensus;

/// How often an unchanged entry is written again.
const REFRESH: Duration = Duration::from_secs(10);

/// How long an entry counts without being written again.
const EXPIRY: Duration = Duration::from_secs(30);

/// How often changed counts are written.
const FLUSH: Duration = Duration::from_secs(1);

/// This instance's entry for one station: listeners, whether its source is here, and whether
/// it changed since it was last written.
#[derive(Debug, Clone, Copy)]
struct Entry {
    listeners: u64,
    live: bool,
    changed: bool,
}

/// This instance's entries by station.
type Entries = Arc<Mutex<HashMap<String, Entry>>>;

/// Listener counts in Redis; see the module documentation.
#[derive(Clone)]
pub struct RedisListenerCensus {
    pool: Pool,
    prefix: String,
    instance: String,
    /// This instance's counts per station, and whether each changed since it was last written.
    local: Entries,
}

impl std::fmt::Debug for RedisListenerCensus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisListenerCensus").field("instance", &self.instance).finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl RedisListenerCensus {
    /// The census of `instance`, writing under `<prefix>:radio:census:`; starts the task that
    /// writes its counts (on the current runtime), which ends when the last clone goes.
    pub fn start(pool: Pool, prefix: impl Into<String>, instance: impl Into<String>) -> Self {
        let census = Self { pool, prefix: prefix.into(), instance: instance.into(), local: Arc::default() };
        let weak = Arc::downgrade(&census.local);
        let writer = census.clone_without_local();
        tokio::spawn(async move {
            let mut since_refresh = Duration::ZERO;
            loop {
                tokio::time::sleep(FLUSH).await;
                since_refresh += FLUSH;
                let Some(local) = weak.upgrade() else { return };
                let refresh = since_refresh >= REFRESH;
                if refresh {
                    since_refresh = Duration::ZERO;
                }
                let due: Vec<(String, u64, bool)> = {
                    let mut local = local.lock().unwrap_or_else(PoisonError::into_inner);
                    let due = local
                        .iter_mut()
                        .filter(|(_, entry)| entry.changed || refresh)
                        .map(|(slug, entry)| {
                            entry.changed = false;
                            (slug.clone(), entry.listeners, entry.live)
                        })
                        .collect();
                    local.retain(|_, entry| entry.listeners > 0 || entry.live);
                    due
                };
                if let Err(e) = writer.write(&due).await {
                    tracing::debug!(error = %e, "cannot write radio listener counts to Redis");
                }
            }
        });
        census
    }

    fn clone_without_local(&self) -> Writer {
        Writer { pool: self.pool.clone(), prefix: self.prefix.clone(), instance: self.instance.clone() }
    }

    fn key(prefix: &str, slug: &str) -> String {
        format!("{prefix}:radio:census:{slug}")
    }
}

/// What the writing task needs.
struct Writer {
    pool: Pool,
    prefix: String,
    instance: String,
}

impl Writer {
    async fn write(&self, due: &[(String, u64, bool)]) -> anyhow::Result<()> {
        if due.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool.get().await?;
        let expires = now_ms() + u64::try_from(EXPIRY.as_millis()).unwrap_or(u64::MAX);
        let mut pipe = redis::pipe();
        for (slug, listeners, live) in due {
            let key = RedisListenerCensus::key(&self.prefix, slug);
            if *listeners == 0 && !*live {
                pipe.hdel(&key, &self.instance).ignore();
            } else {
                pipe.hset(&key, &self.instance, format!("{listeners},{},{expires}", u8::from(*live))).ignore();
                pipe.pexpire(&key, i64::try_from(EXPIRY.as_millis()).unwrap_or(i64::MAX)).ignore();
            }
        }
        let () = pipe.query_async(&mut conn).await?;
        Ok(())
    }
}

#[async_trait]
impl ListenerCensus for RedisListenerCensus {
    fn report(&self, slug: &str, listeners: u64, live: bool) {
        let mut local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        local.insert(slug.to_owned(), Entry { listeners, live, changed: true });
    }

    async fn count(&self, slug: &str) -> (u64, bool) {
        let (mut listeners, mut live) = {
            let local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
            local.get(slug).map_or((0, false), |entry| (entry.listeners, entry.live))
        };
        let others: HashMap<String, String> = match self.pool.get().await {
            Ok(mut conn) => conn.hgetall(Self::key(&self.prefix, slug)).await.unwrap_or_default(),
            Err(_) => HashMap::new(),
        };
        let now = now_ms();
        for (instance, entry) in others {
            if instance == self.instance {
                continue;
            }
            let mut parts = entry.split(',');
            let (Some(n), Some(l), Some(expires)) = (parts.next(), parts.next(), parts.next()) else { continue };
            if expires.parse::<u64>().is_ok_and(|e| e > now) {
                listeners += n.parse::<u64>().unwrap_or(0);
                live |= l == "1";
            }
        }
        (listeners, live)
    }
}
