//! A dropped Redis subscription is reported, renewed and reported again. In its own test binary
//! because it cuts every pub/sub connection of the server, which would disturb tests running
//! beside it (cargo runs test binaries one after another).

use std::time::Duration;

use workbench_broadcast::RedisBroadcast;
use workbench_cache::testing::{redis_pool, redis_url};
use workbench_core::broadcast::{Broadcast, Delivery, Subscription};

async fn next(sub: &mut Subscription) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), sub.recv()).await.expect("a delivery in time").expect("bus open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_subscription_is_reported_and_renewed() {
    let Some(pool) = redis_pool().await else { return };
    let channel = format!("wbtest:bus:{}", uuid::Uuid::new_v4().simple());
    let bus = RedisBroadcast::connect(&redis_url(), pool.clone(), &channel).await.expect("subscribes");
    let mut sub = bus.subscribe();

    // Cut every pub/sub connection of this Redis server, as a restart would.
    let mut admin = pool.get().await.expect("an admin connection");
    let killed: i64 =
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut admin).await.expect("CLIENT KILL");
    assert!(killed >= 1);

    assert_eq!(next(&mut sub).await, Delivery::Lost);
    assert_eq!(next(&mut sub).await, Delivery::Restored);
    assert!(bus.is_linked());
    bus.publish("after", b"1".to_vec()).await;
    match next(&mut sub).await {
        Delivery::Message(m) => assert_eq!((m.topic.as_str(), m.payload.as_slice()), ("after", &b"1"[..])),
        other => panic!("expected the message, got {other:?}"),
    }
}
