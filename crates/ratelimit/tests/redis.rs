//! The Redis buckets against the real Redis at `TEST_REDIS_URL`: several instances share one
//! limit, and an unreachable Redis degrades to local buckets without failing a check.

use std::num::NonZeroU32;
use std::time::Duration;

use workbench_cache::testing::{redis_pool, redis_url};
use workbench_ratelimit::{LocalLimiter, Policy, RateLimiter, RedisLimiter};

fn policy() -> Policy {
    Policy::new("auth", NonZeroU32::new(20).unwrap())
}

fn prefix() -> String {
    format!("wbtest:{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_share_one_limit() {
    let Some(pool) = redis_pool().await else { return };
    let other_pool = workbench_cache::connect(&redis_url()).await.expect("a second pool");
    let prefix = prefix();
    let one = RedisLimiter::new(pool, &prefix, LocalLimiter::new(&[policy()]));
    let two = RedisLimiter::new(other_pool, &prefix, LocalLimiter::new(&[policy()]));

    let mut remaining = Vec::new();
    for n in 0..20 {
        let limiter = if n % 2 == 0 { &one } else { &two };
        let d = limiter.check(&policy(), "192.0.2.7").await;
        assert!(d.allowed, "request {n} is within the shared limit");
        remaining.push(d.remaining);
    }
    assert_eq!(remaining.first(), Some(&19));
    assert_eq!(remaining.last(), Some(&0));
    let refused = two.check(&policy(), "192.0.2.7").await;
    assert!(!refused.allowed, "the 21st is refused, whichever instance it reaches");
    let wait = refused.retry_after.expect("a wait");
    assert!(wait > Duration::from_millis(2_900) && wait <= Duration::from_secs(3), "{wait:?}");
    assert!(one.check(&policy(), "192.0.2.8").await.allowed, "another address has its own bucket");

    tokio::time::sleep(wait).await;
    assert!(one.check(&policy(), "192.0.2.7").await.allowed, "the announced wait was honest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_limits_locally_and_never_fails() {
    let unreachable = workbench_cache::build_pool("redis://127.0.0.1:1").expect("a pool can be built");
    let limiter = RedisLimiter::new(unreachable, prefix(), LocalLimiter::new(&[policy()]));
    for _ in 0..20 {
        assert!(limiter.check(&policy(), "192.0.2.9").await.allowed);
    }
    assert!(!limiter.check(&policy(), "192.0.2.9").await.allowed, "the local buckets still limit");
}
