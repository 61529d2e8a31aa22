//! Cache adapters for Workbench: the [`TaskCache`](workbench_tasks::TaskCache) port, in process
//! ([`MemoryTaskCache`], moka) or shared by every instance ([`RedisTaskCache`], Redis through a
//! deadpool-redis pool).
//!
//! Both honour the port's rule that a cache MUST NOT fail: the Redis adapter bounds every call by
//! a short timeout, logs any error or timeout with `tracing::warn!` and answers a miss (or does
//! nothing), so that a Redis outage degrades to reading the database. Only start-up
//! ([`connect`]) and the readiness probe ([`ping`]) report errors, as [`CacheError`].

mod error;
mod memory;
pub mod redis;

pub use crate::redis::{RedisPool, RedisTaskCache, build_pool, connect, ping};
pub use error::CacheError;
pub use memory::MemoryTaskCache;
