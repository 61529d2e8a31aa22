//! Adapters of [`workbench_chat::Presence`]: who is online.
//!
//! - [`MemoryPresence`]: in process, correct for a single instance (the default).
//! - [`RedisPresence`]: with `REDIS_URL`, per-instance entries that expire unless renewed, so
//!   that every instance agrees and the users of an instance that died go offline on their own.

mod census;
mod memory;
mod redis;

pub use crate::redis::RedisPresence;
pub use census::RedisListenerCensus;
pub use memory::MemoryPresence;
