//! A Redis that cannot be reached, or that accepts connections and never answers: start-up
//! reports it with the cause, and the cache behaves as an empty one without failing or stalling.
//! Needs no Redis server.

use crate::common;

use std::time::Duration;

use common::{bare_task, stats};
use tokio::net::TcpListener;
use workbench_cache::{CacheError, RedisTaskCache};
use workbench_tasks::{ListLookup, ListPart, ListTicket, ListedPage, TaskCache, TaskId, TaskScope};

/// Nothing listens on port 1 of the loopback interface: connections are refused at once.
const CLOSED: &str = "redis://127.0.0.1:1";

/// Generous: each call gives up after a quarter of a second; this only guards against hanging.
const GUARD: Duration = Duration::from_secs(5);

/// Every operation of the port, on one cache; the reads must miss, and lists bypass the cache
/// (a page read now could not be invalidated).
async fn exercise(cache: &RedisTaskCache) {
    cache.put_task(&bare_task(1)).await;
    assert_eq!(cache.task(TaskId(1)).await, None);
    cache.forget_task(TaskId(1)).await;
    cache.put_stats(TaskScope::All, &stats(1)).await;
    assert_eq!(cache.stats(TaskScope::All).await, None);
    cache.forget_scopes(vec![TaskScope::All]).await;
    cache.forget_parts(vec![TaskScope::All], vec![ListPart::Rest]).await;
    assert_eq!(cache.tasks(&[TaskId(1)]).await, vec![None]);
    assert_eq!(cache.list_page(TaskScope::All, ListPart::Members, "1x20").await, ListLookup::Bypass);
    let ticket = ListTicket { scope: TaskScope::All, part: ListPart::Members, generation: 1, query: "1x20".into() };
    cache.put_list_page(ticket, &ListedPage { ids: vec![TaskId(1)], total: 1 }).await;
}

/// A server that accepts connections and never says a word.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let url = format!("redis://{}", listener.local_addr().expect("its address"));
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, server)
}

#[tokio::test]
async fn connect_reports_a_refused_connection_with_its_cause() {
    let e = tokio::time::timeout(GUARD, workbench_cache::connect(CLOSED)).await.expect("no hang").unwrap_err();
    let message = e.to_string();
    assert!(matches!(e, CacheError::Unreachable { .. }), "{e:?}");
    assert!(message.contains("127.0.0.1:1"), "names the server: {message}");
    assert!(message.to_lowercase().contains("refused"), "names the cause: {message}");
}

#[tokio::test]
async fn connect_masks_the_password() {
    let e = workbench_cache::connect("redis://:hunter2@127.0.0.1:1/0").await.unwrap_err();
    let (message, debug) = (e.to_string(), format!("{e:?}"));
    assert!(!message.contains("hunter2") && !debug.contains("hunter2"), "{debug}");
    assert!(message.contains("***@127.0.0.1:1"), "{message}");
}

#[tokio::test]
async fn an_unusable_url_is_reported_as_such() {
    for url in ["http://127.0.0.1:6379", "not a url", "redis://127.0.0.1:6379/not-a-db"] {
        let e = workbench_cache::connect(url).await.unwrap_err();
        assert!(matches!(e, CacheError::InvalidUrl { .. }), "{url}: {e:?}");
    }
}

#[tokio::test]
async fn an_unreachable_cache_is_empty_and_never_fails() {
    let pool = workbench_cache::build_pool(CLOSED).expect("a lazy pool");
    let cache = RedisTaskCache::new(pool.clone(), Duration::from_secs(60), Duration::from_secs(60));
    tokio::time::timeout(GUARD, exercise(&cache)).await.expect("every call gives up quickly");
    let e = tokio::time::timeout(GUARD, workbench_cache::ping(&pool)).await.expect("no hang").unwrap_err();
    assert!(matches!(e, CacheError::Unreachable { .. }), "{e:?}");
}

#[tokio::test]
async fn a_silent_server_is_empty_and_never_stalls() {
    let (url, server) = silent_server().await;
    let pool = workbench_cache::build_pool(&url).expect("a lazy pool");
    let cache = RedisTaskCache::new(pool.clone(), Duration::from_secs(60), Duration::from_secs(60));
    tokio::time::timeout(GUARD, exercise(&cache)).await.expect("every call gives up at its timeout");

    let e = tokio::time::timeout(GUARD, workbench_cache::connect(&url)).await.expect("no hang").unwrap_err();
    assert!(matches!(e, CacheError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains(&url["redis://".len()..]), "{e}");
    server.abort();
}
