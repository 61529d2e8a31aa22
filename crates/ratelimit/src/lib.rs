//! Rate limiting for Workbench: GCRA buckets (the generic cell rate algorithm, a token bucket
//! without a refill timer) keyed by who is asking.
//!
//! - [`LocalLimiter`]: buckets in this process (`governor`), correct for one instance.
//! - `RedisLimiter` (feature `redis`): buckets in Redis, one atomic script per check, so that any number of
//!   instances share one limit instead of multiplying it; when Redis cannot be reached it falls
//!   back to its local buckets and logs, never failing a request.
//!
//! The port, [`RateLimiter`], and the in-process buckets need no Redis client: a crate that only
//! applies limits (the HTTP adapter) depends on this one without the `redis` feature.
//!
//! Each [`Policy`] allows `per_minute` requests per key in a minute, all at once if they come at
//! once (the burst is the whole minute's allowance), then one every `60 / per_minute` seconds.

mod local;
#[cfg(feature = "redis")]
mod redis;

use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;

#[cfg(feature = "redis")]
pub use crate::redis::RedisLimiter;
pub use local::LocalLimiter;

/// A named limit: its buckets are kept apart from other policies' even for the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A short stable name (`auth`, `user`, `ip`): part of every bucket's key.
    pub name: &'static str,
    pub per_minute: NonZeroU32,
}

impl Policy {
    pub fn new(name: &'static str, per_minute: NonZeroU32) -> Self {
        Self { name, per_minute }
    }

    /// The time between two requests once the burst is spent.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(60) / self.per_minute.get()
    }
}

/// The answer to one request, with what the `RateLimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The policy's requests per minute.
    pub limit: u32,
    /// How many more requests the bucket would allow right now.
    pub remaining: u32,
    /// How long until the bucket is full again.
    pub reset: Duration,
    /// When refused: how long until a request would be allowed.
    pub retry_after: Option<Duration>,
}

impl Decision {
    /// The decision of a GCRA bucket whose theoretical arrival time lies `ahead` of now after
    /// this request (when allowed), for `policy`.
    fn allowed(policy: &Policy, ahead: Duration) -> Self {
        let interval = policy.interval();
        let used = ahead.as_nanos().div_ceil(interval.as_nanos().max(1));
        let remaining = u32::try_from(u128::from(policy.per_minute.get()).saturating_sub(used)).unwrap_or(0);
        Self { allowed: true, limit: policy.per_minute.get(), remaining, reset: ahead, retry_after: None }
    }

    /// The decision for a refused request that could be let through in `wait`.
    fn refused(policy: &Policy, wait: Duration) -> Self {
        // The bucket is full again once the wait is over and the rest of the burst has dripped in.
        let reset = wait + policy.interval() * (policy.per_minute.get() - 1);
        Self { allowed: false, limit: policy.per_minute.get(), remaining: 0, reset, retry_after: Some(wait) }
    }
}

/// Checks a request against a policy's bucket for a key. MUST NOT fail: a limiter that cannot
/// reach its store decides locally.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    async fn check(&self, policy: &Policy, key: &str) -> Decision;
}
