//! Cache adapters for Workbench: the [`TaskCache`](workbench_tasks::TaskCache) port, in process
//! ([`MemoryTaskCache`], moka) or shared by every instance ([`RedisTaskCache`], Redis through a
//! deadpool-redis pool); and the [`PrincipalCache`](workbench_users::PrincipalCache) port, in
//! process on every instance and invalidated through the broadcast port ([`SharedPrincipalCache`]),
//! and the personal access tokens' [`GrantCache`](workbench_tokens::GrantCache) likewise
//! ([`SharedGrantCache`]), and the notifications domain's
//! [`FollowsCache`](workbench_notifications::FollowsCache) ([`SharedFollowsCache`]);
//! and the third-party answers' [`AnswerCache`](workbench_integrations::AnswerCache), in process
//! ([`MemoryAnswerCache`]) or in Redis ([`RedisAnswerCache`]); and the products domain's
//! [`CatalogueCache`](workbench_products::CatalogueCache), in process ([`MemoryCatalogueCache`])
//! or in Redis ([`RedisCatalogueCache`]), both following an epoch of invalidations.
//!
//! Both honour the port's rule that a cache MUST NOT fail: the Redis adapter bounds every call by
//! a short timeout, logs any error or timeout with `tracing::warn!` and answers a miss (or does
//! nothing), so that a Redis outage degrades to reading the database. Only start-up
//! ([`connect`]) and the readiness probe ([`ping`]) report errors, as [`CacheError`].

mod answers;
mod catalogue;
mod error;
mod follows;
mod grants;
mod invalidated;
mod memory;
mod principals;
pub mod redis;
mod sessions;
mod statuses;
#[cfg(feature = "testing")]
pub mod testing;

pub use crate::redis::{RedisPool, RedisTaskCache, build_pool, connect, ping};
pub use answers::{DEFAULT_ANSWER_CACHE_BYTES, MemoryAnswerCache, RedisAnswerCache};
pub use catalogue::{MemoryCatalogueCache, RedisCatalogueCache};
pub use error::CacheError;
pub use follows::SharedFollowsCache;
pub use grants::{SharedGrantCache, TOKEN_REVOKED};
pub use memory::MemoryTaskCache;
pub use principals::SharedPrincipalCache;
pub use sessions::SharedSessionCache;
