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
//! Each [`Policy`] lets a key spend `limit` cells in a `period`, all at once if they come at once
//! (the burst is the whole period's allowance), then one every `period / limit`. A cell is a
//! request ([`RateLimiter::check`]) or a unit of what a request costs, such as characters of text
//! sent to a paid provider ([`RateLimiter::check_n`]).

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
    /// The cells a key may spend in one `period`, and at once.
    pub limit: NonZeroU32,
    /// How long an empty bucket takes to fill again.
    pub period: Duration,
}

impl Policy {
    /// `per_minute` requests a minute.
    pub fn new(name: &'static str, per_minute: NonZeroU32) -> Self {
        Self { name, limit: per_minute, period: Duration::from_secs(60) }
    }

    /// `limit` cells an hour: a budget rather than a pace, such as characters translated.
    pub fn per_hour(name: &'static str, limit: NonZeroU32) -> Self {
        Self { name, limit, period: Duration::from_secs(3600) }
    }

    /// The time one cell takes to come back.
    pub fn interval(&self) -> Duration {
        self.period / self.limit.get()
    }

    /// Refuses a cost no wait could let through, before any bucket is touched.
    fn fits(&self, cost: NonZeroU32) -> Result<(), OverCapacity> {
        if cost > self.limit { Err(OverCapacity { cost: cost.get(), limit: self.limit.get() }) } else { Ok(()) }
    }
}

/// The answer to one request, with what the `RateLimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The policy's cells per period (for request limits, requests per minute).
    pub limit: u32,
    /// How many more cells the bucket would let through right now.
    pub remaining: u32,
    /// How long until the bucket is full again.
    pub reset: Duration,
    /// When refused: how long until the same cost would be let through.
    pub retry_after: Option<Duration>,
}

impl Decision {
    /// The decision of a GCRA bucket whose theoretical arrival time lies `ahead` of now after
    /// this request (when allowed), for `policy`.
    fn allowed(policy: &Policy, ahead: Duration) -> Self {
        let interval = policy.interval();
        let used = ahead.as_nanos().div_ceil(interval.as_nanos().max(1));
        let remaining = u32::try_from(u128::from(policy.limit.get()).saturating_sub(used)).unwrap_or(0);
        Self { allowed: true, limit: policy.limit.get(), remaining, reset: ahead, retry_after: None }
    }

    /// The decision for a refused request of `cost` cells that could be let through in `wait`.
    fn refused(policy: &Policy, wait: Duration, cost: NonZeroU32) -> Self {
        let interval = policy.interval();
        // The bucket is full again once the wait is over and the cells the request would not
        // have spent have dripped in too.
        let reset = wait + interval * (policy.limit.get() - cost.get());
        // Short of a fraction of one cell, the bucket holds `cost - 1` whole ones.
        let short = u32::try_from(wait.as_nanos().div_ceil(interval.as_nanos().max(1))).unwrap_or(u32::MAX);
        let remaining = cost.get().saturating_sub(short);
        Self { allowed: false, limit: policy.limit.get(), remaining, reset, retry_after: Some(wait) }
    }
}

/// A cost larger than the whole bucket: refused whatever the bucket holds, since no wait would
/// let it through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a cost of {cost} is more than the {limit} cells the bucket holds")]
pub struct OverCapacity {
    pub cost: u32,
    pub limit: u32,
}

/// Checks requests against a policy's bucket for a key. MUST NOT fail: a limiter that cannot
/// reach its store decides locally.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Spends one cell: one request.
    async fn check(&self, policy: &Policy, key: &str) -> Decision;

    /// Spends `cost` cells at once, or none: a request that costs more than others (GCRA with a
    /// cost, governor's `check_n`). The decision's `retry_after` is the wait for the whole cost.
    ///
    /// # Errors
    ///
    /// [`OverCapacity`] when `cost` is more than the policy's limit; nothing is spent.
    async fn check_n(&self, policy: &Policy, key: &str, cost: NonZeroU32) -> Result<Decision, OverCapacity>;
}
