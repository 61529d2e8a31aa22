//! Caches of third-party answers (the [`AnswerCache`] port of `workbench-integrations`): in
//! process ([`MemoryAnswerCache`], moka) or shared by every instance ([`RedisAnswerCache`]).
//!
//! Both keep an answer for [`KEEP_ANSWERS_FOR`] (a day), however short the freshness TTL: the
//! service decides from `fetched_at` whether an answer is fresh, or only good enough to stand in
//! for a failing provider. Neither fails: the Redis one bounds every call by [`CALL_TIMEOUT`],
//! logs any error and answers a miss (or skips the write).

use std::time::Duration;

use async_trait::async_trait;
use moka::future::Cache;
use workbench_integrations::{AnswerCache, CacheKey, KEEP_ANSWERS_FOR, StoredAnswer};

use crate::redis::{CALL_TIMEOUT, DEFAULT_PREFIX, RedisPool};

/// The memory a [`MemoryAnswerCache::default`] may fill: about 32 MiB of answers.
pub const DEFAULT_ANSWER_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// An [`AnswerCache`] in this process's memory, bounded by the approximate size of its answers
/// (least recently used evicted first), each kept a day after it was stored.
///
/// Correct on one instance; several instances each ask the providers for themselves and keep
/// their own stale answers. [`RedisAnswerCache`] shares them.
#[derive(Debug, Clone)]
pub struct MemoryAnswerCache {
    entries: Cache<CacheKey, StoredAnswer>,
}

impl MemoryAnswerCache {
    /// A cache holding at most about `max_bytes` of answers.
    pub fn new(max_bytes: u64) -> Self {
        let entries = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &CacheKey, answer: &StoredAnswer| {
                u32::try_from(key.as_str().len() + answer.approximate_size()).unwrap_or(u32::MAX)
            })
            .time_to_live(KEEP_ANSWERS_FOR)
            .build();
        Self { entries }
    }
}

impl Default for MemoryAnswerCache {
    fn default() -> Self {
        Self::new(DEFAULT_ANSWER_CACHE_BYTES)
    }
}

#[async_trait]
impl AnswerCache for MemoryAnswerCache {
    async fn get(&self, key: &CacheKey) -> Option<StoredAnswer> {
        self.entries.get(key).await
    }

    async fn put(&self, key: &CacheKey, answer: &StoredAnswer) {
        self.entries.insert(key.clone(), answer.clone()).await;
    }
}

/// An [`AnswerCache`] in Redis: JSON under `{prefix}:answer:{key}` (prefix `wb` by default),
/// written with `SET … PX` for a day, shared by every instance on the same server and prefix.
///
/// Never fails: see the module documentation.
#[derive(Clone)]
pub struct RedisAnswerCache {
    pool: RedisPool,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisAnswerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAnswerCache")
            .field("pool", &self.pool.status())
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisAnswerCache {
    /// A cache in `pool`'s server under the prefix `wb`, each call bounded by [`CALL_TIMEOUT`].
    pub fn new(pool: RedisPool) -> Self {
        Self { pool, prefix: DEFAULT_PREFIX.to_owned(), timeout: CALL_TIMEOUT }
    }

    /// The same cache under another key prefix (`REDIS_PREFIX`; tests use one each).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The same cache with another bound on each call.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn key(&self, key: &CacheKey) -> String {
        format!("{}:answer:{key}", self.prefix)
    }

    /// Takes a connection and runs `cmd`, all within the timeout.
    async fn call<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, String> {
        let run = async {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            cmd.query_async::<T>(&mut conn).await.map_err(|e| e.to_string())
        };
        tokio::time::timeout(self.timeout, run)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {:?}", self.timeout)))
    }
}

#[async_trait]
impl AnswerCache for RedisAnswerCache {
    async fn get(&self, key: &CacheKey) -> Option<StoredAnswer> {
        let key = self.key(key);
        let raw = match self.call::<Option<Vec<u8>>>(&redis::cmd("GET").arg(&key).take()).await {
            Ok(raw) => raw?,
            Err(error) => {
                tracing::warn!(key, error, "Redis answer cache read failed; treating it as a miss");
                return None;
            }
        };
        match serde_json::from_slice(&raw) {
            Ok(answer) => Some(answer),
            Err(e) => {
                // Written by another version, say: the next answer fetched replaces it.
                tracing::warn!(key, error = %e, "Redis answer cache holds an unreadable value; treating it as a miss");
                None
            }
        }
    }

    async fn put(&self, key: &CacheKey, answer: &StoredAnswer) {
        let key = self.key(key);
        let json = match serde_json::to_vec(answer) {
            Ok(json) => json,
            Err(e) => {
                tracing::warn!(key, error = %e, "cannot encode an answer for the Redis cache; not caching it");
                return;
            }
        };
        let kept_for = u64::try_from(KEEP_ANSWERS_FOR.as_millis()).unwrap_or(u64::MAX);
        let cmd = redis::cmd("SET").arg(&key).arg(json).arg("PX").arg(kept_for).take();
        if let Err(error) = self.call::<()>(&cmd).await {
            tracing::warn!(key, error, "Redis answer cache write failed; skipped");
        }
    }
}
