//! The Redis bus against the real Redis at `TEST_REDIS_URL`: what one instance publishes every
//! instance receives, and a dropped subscription is reported, renewed and reported again.

use std::time::Duration;

use workbench_broadcast::RedisBroadcast;
use workbench_cache::testing::{redis_pool, redis_url};
use workbench_core::broadcast::{Broadcast, Delivery, Subscription};

/// A channel no other test or process uses.
fn channel() -> String {
    format!("wbtest:bus:{}", uuid::Uuid::new_v4().simple())
}

async fn next(sub: &mut Subscription) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), sub.recv()).await.expect("a delivery in time").expect("bus open")
}

async fn next_message(sub: &mut Subscription) -> (String, Vec<u8>) {
    match next(sub).await {
        Delivery::Message(m) => (m.topic.clone(), m.payload.clone()),
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_instance_publishes_every_instance_receives_once() {
    let Some(pool) = redis_pool().await else { return };
    let channel = channel();
    let a = RedisBroadcast::connect(&redis_url(), pool.clone(), &channel).await.expect("a subscribes");
    let b = RedisBroadcast::connect(&redis_url(), pool, &channel).await.expect("b subscribes");
    let (mut on_a, mut on_b) = (a.subscribe(), b.subscribe());

    a.publish("principal", b"42".to_vec()).await;
    b.publish("task.updated", b"{}".to_vec()).await;

    for sub in [&mut on_a, &mut on_b] {
        assert_eq!(next_message(sub).await, ("principal".to_owned(), b"42".to_vec()));
        assert_eq!(next_message(sub).await, ("task.updated".to_owned(), b"{}".to_vec()));
        assert!(
            tokio::time::timeout(Duration::from_millis(200), sub.recv()).await.is_err(),
            "nothing is delivered twice"
        );
    }
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_at_start_up() {
    let Some(pool) = redis_pool().await else { return };
    let err = RedisBroadcast::connect("redis://127.0.0.1:1", pool, &channel()).await.expect_err("refused");
    assert!(err.to_string().contains("cannot subscribe"), "{err}");
}

/// A subscribed connection answers `PING` with `["pong", ""]`, not a string: the watchdog must
/// take that as the live answer it is, or the link would drop and renew itself every interval
/// (and every instance's principal cache would be off most of the time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_subscription_stays_linked_across_pings() {
    let Some(pool) = redis_pool().await else { return };
    let bus = RedisBroadcast::connect(&redis_url(), pool, &channel()).await.expect("subscribes");
    let mut sub = bus.subscribe();
    // Longer than two ping intervals, without a message.
    let quiet = tokio::time::timeout(Duration::from_secs(11), sub.recv()).await;
    assert!(quiet.is_err(), "nothing is delivered to an idle subscription, Lost included: {quiet:?}");
    assert!(bus.is_linked());
    bus.publish("still", b"here".to_vec()).await;
    assert_eq!(next_message(&mut sub).await, ("still".to_owned(), b"here".to_vec()));
}
