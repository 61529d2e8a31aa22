//! The Redis buckets against the real Redis at `TEST_REDIS_URL`: several instances share one
//! limit, costs (several cells at once) are spent from that one bucket too, and an unreachable
//! Redis degrades to local buckets without failing a check.

use std::num::NonZeroU32;
use std::time::Duration;

use workbench_cache::testing::{redis_pool, redis_url};
use workbench_ratelimit::{LocalLimiter, OverCapacity, Policy, RateLimiter, RedisLimiter};

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

/// One cell every 100 ms, 600 at once.
fn costly() -> Policy {
    Policy::new("costly", NonZeroU32::new(600).unwrap())
}

fn cells(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cost_is_spent_from_one_bucket_whichever_instance_spends_it() {
    let Some(pool) = redis_pool().await else { return };
    let other_pool = workbench_cache::connect(&redis_url()).await.expect("a second pool");
    let prefix = prefix();
    let one = RedisLimiter::new(pool, &prefix, LocalLimiter::new(&[costly()]));
    let two = RedisLimiter::new(other_pool, &prefix, LocalLimiter::new(&[costly()]));

    let first = one.check_n(&costly(), "user:1", cells(400)).await.expect("within the bucket");
    assert!(first.allowed);
    assert_eq!(first.remaining, 200);
    let refused = two.check_n(&costly(), "user:1", cells(300)).await.expect("within the bucket");
    assert!(!refused.allowed, "400 were spent on the other instance");
    assert!((200..=201).contains(&refused.remaining), "what is left, and what dripped back: {}", refused.remaining);
    let wait = refused.retry_after.expect("a wait");
    assert!(wait > Duration::from_millis(9_000) && wait <= Duration::from_secs(10), "100 cells short: {wait:?}");
    assert!(two.check_n(&costly(), "user:1", cells(200)).await.expect("fits").allowed, "the rest can be spent");
    assert!(!one.check(&costly(), "user:1").await.allowed, "and then nothing, on either instance");
    assert_eq!(
        one.check_n(&costly(), "user:1", cells(601)).await,
        Err(OverCapacity { cost: 601, limit: 600 }),
        "more than the bucket holds is refused outright"
    );

    let wait = one.check_n(&costly(), "user:1", cells(5)).await.expect("fits").retry_after.expect("a wait");
    assert!(wait <= Duration::from_millis(500), "{wait:?}");
    tokio::time::sleep(wait).await;
    assert!(two.check_n(&costly(), "user:1", cells(5)).await.expect("fits").allowed, "the announced wait was honest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hourly_budget_can_be_spent_whole_at_once() {
    let Some(pool) = redis_pool().await else { return };
    let budget = Policy::per_hour("translate", cells(100_000));
    let limiter = RedisLimiter::new(pool, prefix(), LocalLimiter::new(&[budget]));
    let whole = limiter.check_n(&budget, "user:7", cells(100_000)).await.expect("the whole budget fits");
    assert!(whole.allowed, "the whole budget on a full bucket, not a rounding error past it");
    assert_eq!((whole.limit, whole.remaining), (100_000, 0));
    assert!(whole.reset > Duration::from_secs(3_599) && whole.reset <= Duration::from_secs(3_600), "{:?}", whole.reset);
    let refused = limiter.check_n(&budget, "user:7", cells(5_000)).await.expect("fits");
    assert!(!refused.allowed);
    let wait = refused.retry_after.expect("a wait");
    // 5,000 characters at 36 ms each.
    assert!(wait > Duration::from_secs(179) && wait <= Duration::from_secs(180), "{wait:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_spends_costs_locally() {
    let unreachable = workbench_cache::build_pool("redis://127.0.0.1:1").expect("a pool can be built");
    let limiter = RedisLimiter::new(unreachable, prefix(), LocalLimiter::new(&[costly()]));
    assert!(limiter.check_n(&costly(), "user:1", cells(600)).await.expect("fits").allowed);
    assert!(!limiter.check_n(&costly(), "user:1", cells(10)).await.expect("fits").allowed, "the local bucket limits");
}
