//! Buckets in this process, with `governor`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Governor};

use crate::{Decision, Policy, RateLimiter};

type Buckets<C> = Governor<String, DefaultKeyedStateStore<String>, C, StateInformationMiddleware>;

/// GCRA buckets in memory: one keyed limiter per policy. Correct for one instance only.
pub struct LocalLimiter<C: Clock = DefaultClock> {
    limiters: Vec<(Policy, Arc<Buckets<C>>)>,
    clock: C,
}

impl<C: Clock> std::fmt::Debug for LocalLimiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let policies: Vec<_> = self.limiters.iter().map(|(p, _)| p).collect();
        f.debug_struct("LocalLimiter").field("policies", &policies).finish_non_exhaustive()
    }
}

impl LocalLimiter {
    /// Buckets for each of `policies`, on the system clock.
    pub fn new(policies: &[Policy]) -> Self {
        Self::with_clock(policies, DefaultClock::default())
    }
}

impl<C: Clock + Clone> LocalLimiter<C> {
    /// Buckets on `clock` (tests use `governor::clock::FakeRelativeClock`).
    pub fn with_clock(policies: &[Policy], clock: C) -> Self {
        let limiters = policies
            .iter()
            .map(|policy| {
                let quota = Quota::per_minute(policy.per_minute);
                let buckets =
                    Governor::dashmap_with_clock(quota, clock.clone()).with_middleware::<StateInformationMiddleware>();
                (*policy, Arc::new(buckets))
            })
            .collect();
        Self { limiters, clock }
    }

    /// Decides for `key` under `policy`; a policy this limiter was not built with is allowed.
    pub fn decide(&self, policy: &Policy, key: &str) -> Decision {
        let Some((known, buckets)) = self.limiters.iter().find(|(p, _)| p.name == policy.name) else {
            return Decision::allowed(policy, Duration::ZERO);
        };
        match buckets.check_key(&key.to_owned()) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                let used = known.per_minute.get().saturating_sub(remaining);
                let mut decision = Decision::allowed(known, known.interval() * used);
                decision.remaining = remaining;
                decision
            }
            Err(not_until) => Decision::refused(known, not_until.wait_time_from(self.clock.now())),
        }
    }

    /// Forgets buckets that are full again (idle keys), so memory follows the active clients.
    pub fn forget_idle(&self) {
        for (_, buckets) in &self.limiters {
            buckets.retain_recent();
            buckets.shrink_to_fit();
        }
    }
}

#[async_trait]
impl<C> RateLimiter for LocalLimiter<C>
where
    C: Clock + Clone + Send + Sync,
    C::Instant: Reference + Send + Sync,
{
    async fn check(&self, policy: &Policy, key: &str) -> Decision {
        self.decide(policy, key)
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use governor::clock::FakeRelativeClock;

    use super::*;

    fn policy(per_minute: u32) -> Policy {
        Policy::new("auth", NonZeroU32::new(per_minute).unwrap())
    }

    #[test]
    fn a_burst_of_the_limit_passes_then_the_next_waits_one_interval() {
        let clock = FakeRelativeClock::default();
        let limiter = LocalLimiter::with_clock(&[policy(20)], clock.clone());
        for n in (0..20).rev() {
            let d = limiter.decide(&policy(20), "192.0.2.1");
            assert!(d.allowed);
            assert_eq!((d.limit, d.remaining), (20, n));
        }
        let refused = limiter.decide(&policy(20), "192.0.2.1");
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.retry_after, Some(Duration::from_secs(3)), "one every 60/20 s");
        assert!(limiter.decide(&policy(20), "192.0.2.2").allowed, "another key has its own bucket");

        clock.advance(Duration::from_secs(3));
        assert!(limiter.decide(&policy(20), "192.0.2.1").allowed, "the wait it announced was honest");
        assert!(!limiter.decide(&policy(20), "192.0.2.1").allowed);
    }

    #[test]
    fn reset_is_the_time_until_the_bucket_is_full_again() {
        let clock = FakeRelativeClock::default();
        let limiter = LocalLimiter::with_clock(&[policy(60)], clock);
        let first = limiter.decide(&policy(60), "k");
        assert_eq!(first.reset, Duration::from_secs(1));
        for _ in 0..9 {
            limiter.decide(&policy(60), "k");
        }
        assert_eq!(limiter.decide(&policy(60), "k").reset, Duration::from_secs(11));
    }
}
