//! What instances share, or its in-process stand-in on a single instance: with `REDIS_URL`, the
//! caches and the broadcast bus live in Redis; otherwise bounded caches and a bus in process.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use workbench_broadcast::{LocalBroadcast, RedisBroadcast};
use workbench_cache::{MemoryCatalogueCache, MemoryTaskCache, RedisCatalogueCache, RedisTaskCache};
use workbench_core::broadcast::Broadcast;
use workbench_products::CatalogueCache;
use workbench_tasks::TaskCache;

use crate::config::Settings;

/// How long a cached task and cached statistics may be served. Writes invalidate both at once;
/// the TTLs bound what a missed invalidation (a crash between write and invalidation) can cost,
/// and how stale `overdue` counts may become as time passes.
const TASK_TTL: Duration = Duration::from_secs(300);
const STATS_TTL: Duration = Duration::from_secs(30);

/// How many tasks the in-process task cache holds (and list pages, counted by the tasks they hold,
/// as many again), taken only as they are read: with 100,000 tasks cached and every page of them
/// listed, the server's memory went from 127 MB to 264 MB. At 10,000, a user with 100,000 tasks
/// had nine in ten of a page's tasks read from the database, and every page listed again read
/// again: `GET /tasks` at 100,000 tasks answered 2,437 pages a second, p99 61 ms, and 18,892, p99
/// 6.6 ms, at 100,000 (`compare.sh`, one core).
const LOCAL_TASK_CACHE_ENTRIES: u64 = 100_000;

/// How long a cached catalogue entry (the category list, a product, a quick search) may be
/// served. Every admin write invalidates the whole catalogue at once; the time to live only bounds
/// what a lost invalidation (Redis unreachable during the write) could cost.
const CATALOGUE_TTL: Duration = Duration::from_secs(300);

/// The shared pieces.
pub struct Shared {
    pub tasks: Arc<dyn TaskCache>,
    pub catalogue: Arc<dyn CatalogueCache>,
    pub redis: Option<deadpool_redis::Pool>,
    pub bus: Arc<dyn Broadcast>,
}

pub async fn connect(settings: &Settings) -> anyhow::Result<Shared> {
    match settings.redis_url() {
        Some(url) => {
            let pool = workbench_cache::connect(url).await.context("REDIS_URL")?;
            let prefix = &settings.redis.prefix;
            let channel = format!("{prefix}:bus");
            let bus = RedisBroadcast::connect(url, pool.clone(), &channel).await.context("REDIS_URL")?;
            tracing::info!(prefix, "caching and broadcasting through Redis");
            Ok(Shared {
                tasks: Arc::new(RedisTaskCache::new(pool.clone(), TASK_TTL, STATS_TTL).with_prefix(prefix.as_str())),
                catalogue: Arc::new(RedisCatalogueCache::new(pool.clone(), CATALOGUE_TTL).with_prefix(prefix.as_str())),
                redis: Some(pool),
                bus: Arc::new(bus),
            })
        }
        None => Ok(Shared {
            tasks: Arc::new(MemoryTaskCache::new(LOCAL_TASK_CACHE_ENTRIES, TASK_TTL, STATS_TTL)),
            catalogue: Arc::new(MemoryCatalogueCache::new(10_000, CATALOGUE_TTL)),
            redis: None,
            bus: Arc::new(LocalBroadcast::new()),
        }),
    }
}
