//! The Presence contract, held against both adapters (Redis at `TEST_REDIS_URL`, skipped loudly
//! when unreachable unless `CI=true`).

use std::time::Duration;

use workbench_cache::testing::redis_pool;
use workbench_chat::Presence;
use workbench_presence::{MemoryPresence, RedisPresence};
use workbench_users::UserId;

fn prefix() -> String {
    format!("test-presence-{}", uuid::Uuid::new_v4().simple())
}

async fn counts_instances(presence: &dyn Presence) {
    let (ann, bob) = (UserId(1), UserId(2));
    assert!(presence.connected(ann, "a").await.unwrap(), "first instance: online");
    assert!(!presence.connected(ann, "b").await.unwrap(), "second instance: already online");
    assert_eq!(presence.online(&[ann, bob]).await.unwrap(), vec![ann]);
    assert!(!presence.disconnected(ann, "a").await.unwrap(), "still on b");
    assert!(presence.disconnected(ann, "b").await.unwrap(), "gone from the last instance");
    assert!(!presence.disconnected(ann, "b").await.unwrap(), "said once");
    assert!(presence.online(&[ann, bob]).await.unwrap().is_empty());
    presence.heartbeat("a", &[bob]).await.unwrap();
    assert_eq!(presence.online(&[ann, bob]).await.unwrap(), vec![bob], "a heartbeat restores a lost entry");
}

#[tokio::test]
async fn memory_presence_counts_instances() {
    counts_instances(&MemoryPresence::new()).await;
    assert!(MemoryPresence::new().sweep().await.unwrap().is_empty());
}

#[tokio::test]
async fn redis_presence_counts_instances() {
    let Some(pool) = redis_pool().await else { return };
    counts_instances(&RedisPresence::new(pool, prefix(), Duration::from_secs(30))).await;
}

#[tokio::test]
async fn the_users_of_an_instance_that_stopped_renewing_go_offline_once() {
    let Some(pool) = redis_pool().await else { return };
    let prefix = prefix();
    let short = RedisPresence::new(pool.clone(), prefix.clone(), Duration::from_millis(300));
    let (ann, bob) = (UserId(1), UserId(2));
    assert!(short.connected(ann, "dead").await.unwrap());
    assert!(short.connected(bob, "dead").await.unwrap());
    assert!(!short.connected(bob, "alive").await.unwrap());
    assert!(short.sweep().await.unwrap().is_empty(), "nothing expired yet");

    // "alive" keeps renewing bob; "dead" renews nobody.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        short.heartbeat("alive", &[bob]).await.unwrap();
    }
    // Two instances sweep at once: ann is reported offline exactly once, bob not at all.
    let other = RedisPresence::new(pool, prefix, Duration::from_millis(300));
    let (one, two) = tokio::join!(short.sweep(), other.sweep());
    let mut gone = one.unwrap();
    gone.extend(two.unwrap());
    assert_eq!(gone, vec![ann]);
    assert_eq!(short.online(&[ann, bob]).await.unwrap(), vec![bob]);
    // Coming back after expiring is coming online again.
    assert!(short.connected(ann, "dead").await.unwrap());
}

#[tokio::test]
async fn an_expired_entry_does_not_keep_a_user_online() {
    let Some(pool) = redis_pool().await else { return };
    let presence = RedisPresence::new(pool, prefix(), Duration::from_millis(100));
    let ann = UserId(7);
    assert!(presence.connected(ann, "dead").await.unwrap());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(presence.online(&[ann]).await.unwrap().is_empty());
    // Not yet swept, but expired: another instance's connection brings ann online, and the later
    // sweep does not report a departure that did not happen.
    assert!(presence.connected(ann, "alive").await.unwrap());
    assert!(presence.sweep().await.unwrap().is_empty());
}
