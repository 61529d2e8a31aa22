//! Adapters of the broadcast port ([`workbench_core::broadcast::Broadcast`]).
//!
//! - [`LocalBroadcast`]: an in-process fan-out, correct for a single instance (the default).
//! - [`RedisBroadcast`]: Redis pub/sub, so that every instance sharing the Redis server sees
//!   every message (with `REDIS_URL`).

mod local;
mod redis;

pub use crate::redis::{BroadcastError, RedisBroadcast};
pub use local::LocalBroadcast;
