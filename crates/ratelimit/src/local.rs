//! Buckets in this process, with `governor`.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Governor};

use crate::{Decision, OverCapacity, Policy, RateLimiter};

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
                let buckets = Governor::dashmap_with_clock(quota(policy), clock.clone())
                    .with_middleware::<StateInformationMiddleware>();
                (*policy, Arc::new(buckets))
            })
            .collect();
        Self { limiters, clock }
    }

    /// Decides one request for `key` under `policy`; a policy this limiter was not built with is
    /// allowed.
    pub fn decide(&self, policy: &Policy, key: &str) -> Decision {
        // One cell always fits: a limit is at least 1.
        self.decide_n(policy, key, NonZeroU32::MIN).unwrap_or_else(|_| Decision::allowed(policy, Duration::ZERO))
    }

    /// Decides `cost` cells for `key` under `policy`, all or none; a policy this limiter was not
    /// built with is allowed.
    ///
    /// # Errors
    ///
    /// [`OverCapacity`] when `cost` is more than the policy's limit.
    pub fn decide_n(&self, policy: &Policy, key: &str, cost: NonZeroU32) -> Result<Decision, OverCapacity> {
        let Some((known, buckets)) = self.limiters.iter().find(|(p, _)| p.name == policy.name) else {
            return Ok(Decision::allowed(policy, Duration::ZERO));
        };
        known.fits(cost)?;
        match buckets.check_key_n(&key.to_owned(), cost) {
            Ok(Ok(state)) => {
                let remaining = state.remaining_burst_capacity();
                let used = known.limit.get().saturating_sub(remaining);
                let mut decision = Decision::allowed(known, known.interval() * used);
                decision.remaining = remaining;
                Ok(decision)
            }
            Ok(Err(not_until)) => Ok(Decision::refused(known, not_until.wait_time_from(self.clock.now()), cost)),
            // Not reached: `fits` refused such a cost already, with the same arithmetic.
            Err(_) => Err(OverCapacity { cost: cost.get(), limit: known.limit.get() }),
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

    async fn check_n(&self, policy: &Policy, key: &str, cost: NonZeroU32) -> Result<Decision, OverCapacity> {
        self.decide_n(policy, key, cost)
    }
}

/// The policy's bucket for governor: `limit` cells at once, one back every `interval`.
fn quota(policy: &Policy) -> Quota {
    // The interval is never zero (a period of minutes over at most u32::MAX cells); should it
    // be, the bucket refills at once rather than never.
    Quota::with_period(policy.interval())
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(policy.limit)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use governor::clock::FakeRelativeClock;

    use super::*;

    fn policy(per_minute: u32) -> Policy {
        Policy::new("auth", NonZeroU32::new(per_minute).unwrap())
    }

    fn cells(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
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

    #[test]
    fn a_cost_is_spent_whole_or_not_at_all() {
        let clock = FakeRelativeClock::default();
        // One cell a second.
        let budget = Policy::per_hour("translate", cells(3600));
        let limiter = LocalLimiter::with_clock(&[budget], clock.clone());
        let spent = limiter.decide_n(&budget, "user:1", cells(3000)).unwrap();
        assert!(spent.allowed);
        assert_eq!((spent.limit, spent.remaining), (3600, 600));
        assert_eq!(spent.reset, Duration::from_secs(3000));

        let refused = limiter.decide_n(&budget, "user:1", cells(1000)).unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Some(Duration::from_secs(400)), "until 1,000 cells are there");
        assert_eq!(refused.remaining, 600, "what the bucket holds, untouched by the refusal");
        assert_eq!(refused.reset, Duration::from_secs(3000));
        assert!(limiter.decide_n(&budget, "user:1", cells(600)).unwrap().allowed, "what is left can be spent");
        assert!(!limiter.decide(&budget, "user:1").allowed, "and then nothing");
        assert!(limiter.decide_n(&budget, "user:2", cells(3600)).unwrap().allowed, "a whole bucket at once");

        clock.advance(Duration::from_secs(400));
        assert!(limiter.decide_n(&budget, "user:1", cells(400)).unwrap().allowed, "cells come back one a second");
        assert!(!limiter.decide_n(&budget, "user:1", cells(1)).unwrap().allowed);
    }

    #[test]
    fn a_cost_over_the_whole_bucket_is_refused_and_spends_nothing() {
        let budget = Policy::per_hour("translate", cells(100));
        let limiter = LocalLimiter::new(&[budget]);
        assert_eq!(
            limiter.decide_n(&budget, "user:1", cells(101)),
            Err(OverCapacity { cost: 101, limit: 100 }),
            "no wait would let it through"
        );
        let whole = limiter.decide_n(&budget, "user:1", cells(100)).unwrap();
        assert!(whole.allowed, "the bucket was left full");
        assert_eq!(whole.remaining, 0);
    }

    #[test]
    fn a_policy_it_was_not_built_with_is_not_limited() {
        let limiter = LocalLimiter::new(&[policy(1)]);
        let other = Policy::per_hour("translate", cells(1));
        for _ in 0..3 {
            assert!(limiter.decide_n(&other, "user:1", cells(1)).unwrap().allowed);
        }
    }
}
