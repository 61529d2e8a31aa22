//! The idempotency store: a key claimed once, completed and replayed, released, expired, purged.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::TimeDelta;
use workbench_store::testing::instant;
use workbench_store::{Database, DieselIdempotencyStore, IdempotencyClaim, engine_cases};

use crate::tasks::*;

engine_cases!(
    idempotency_claim_complete_replay,
    idempotency_release_allows_a_retry,
    idempotency_expired_keys_are_claimed_again,
    idempotency_concurrent_claims_exactly_one_wins,
    idempotency_purge_expired,
);

// ---------------------------------------------------------------------------------------------
// Idempotency keys
// ---------------------------------------------------------------------------------------------

fn keys(db: &Database) -> DieselIdempotencyStore {
    DieselIdempotencyStore::new(db.clone())
}

fn in_progress(hash: &str) -> IdempotencyClaim {
    IdempotencyClaim::InProgress { request_hash: hash.to_owned() }
}

async fn idempotency_claim_complete_replay(db: Database) {
    let store = keys(&db);
    let now = instant();
    let until = now + TimeDelta::hours(24);
    assert_eq!(store.claim(1, "k1", "h1", now, until).await.unwrap(), IdempotencyClaim::Claimed);
    assert_eq!(store.claim(1, "k1", "h1", now, until).await.unwrap(), in_progress("h1"));
    assert_eq!(store.claim(1, "k1", "h2", now, until).await.unwrap(), in_progress("h1"), "the first hash is kept");
    assert_eq!(store.claim(2, "k1", "h1", now, until).await.unwrap(), IdempotencyClaim::Claimed, "keys are per user");

    store.complete(1, "k1", 201, r#"{"id":7}"#.into(), Some("/api/v1/tasks/7".into())).await.unwrap();
    let replay = IdempotencyClaim::Completed {
        request_hash: "h1".into(),
        status: 201,
        body: r#"{"id":7}"#.into(),
        location: Some("/api/v1/tasks/7".into()),
    };
    assert_eq!(store.claim(1, "k1", "h1", now + secs(5), until).await.unwrap(), replay);
    assert_eq!(store.claim(1, "k1", "other", now + secs(5), until).await.unwrap(), replay);
    assert_eq!(store.claim(2, "k1", "h1", now, until).await.unwrap(), in_progress("h1"));

    store.complete(2, "k1", 422, "problem".into(), None).await.unwrap();
    let failed =
        IdempotencyClaim::Completed { request_hash: "h1".into(), status: 422, body: "problem".into(), location: None };
    assert_eq!(store.claim(2, "k1", "h1", now, until).await.unwrap(), failed);
}

async fn idempotency_release_allows_a_retry(db: Database) {
    let store = keys(&db);
    let now = instant();
    let until = now + TimeDelta::hours(24);
    assert_eq!(store.claim(1, "k", "h1", now, until).await.unwrap(), IdempotencyClaim::Claimed);
    store.release(1, "k").await.unwrap();
    assert_eq!(store.claim(1, "k", "h2", now, until).await.unwrap(), IdempotencyClaim::Claimed, "released");
    assert_eq!(store.claim(1, "k", "h1", now, until).await.unwrap(), in_progress("h2"));

    store.complete(1, "k", 201, "{}".into(), None).await.unwrap();
    store.release(1, "k").await.unwrap();
    assert!(
        matches!(store.claim(1, "k", "h2", now, until).await.unwrap(), IdempotencyClaim::Completed { .. }),
        "release only forgets a claim in progress"
    );
    store.release(1, "never-claimed").await.unwrap();
}

async fn idempotency_expired_keys_are_claimed_again(db: Database) {
    let store = keys(&db);
    let t0 = instant();
    let hour = TimeDelta::hours(1);
    assert_eq!(store.claim(1, "k", "h1", t0, t0 + hour).await.unwrap(), IdempotencyClaim::Claimed);
    assert_eq!(store.claim(1, "k", "h2", t0 + hour - secs(1), t0 + hour * 2).await.unwrap(), in_progress("h1"));
    assert_eq!(
        store.claim(1, "k", "h2", t0 + hour, t0 + hour * 2).await.unwrap(),
        IdempotencyClaim::Claimed,
        "a key expires at expires_at"
    );
    assert_eq!(store.claim(1, "k", "h3", t0 + hour, t0 + hour * 2).await.unwrap(), in_progress("h2"));

    // A completed, expired key: claimed again, and its old response is gone.
    store.complete(1, "k", 201, "old".into(), Some("/old".into())).await.unwrap();
    let t1 = t0 + hour * 3;
    assert_eq!(store.claim(1, "k", "h4", t1, t1 + hour).await.unwrap(), IdempotencyClaim::Claimed);
    assert_eq!(store.claim(1, "k", "h5", t1, t1 + hour).await.unwrap(), in_progress("h4"));
    store.complete(1, "k", 200, "new".into(), None).await.unwrap();
    let replay =
        IdempotencyClaim::Completed { request_hash: "h4".into(), status: 200, body: "new".into(), location: None };
    assert_eq!(store.claim(1, "k", "h4", t1, t1 + hour).await.unwrap(), replay);
}

async fn idempotency_concurrent_claims_exactly_one_wins(db: Database) {
    const RACERS: usize = 8;
    let store = Arc::new(keys(&db));
    let t0 = instant();
    let hour = TimeDelta::hours(1);
    // Rounds 0 and 1 race on new keys; round 2 on the key of round 1, expired by then.
    for (round, key, now) in [(0, "fresh", t0), (1, "reused", t0), (2, "reused", t0 + hour * 2)] {
        let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
        let mut racers = tokio::task::JoinSet::new();
        for racer in 0..RACERS {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            racers.spawn(async move {
                let hash = format!("round {round} racer {racer}");
                barrier.wait().await;
                (store.claim(1, key, &hash, now, now + hour).await, hash)
            });
        }
        let mut winners = Vec::new();
        let mut seen = HashSet::new();
        while let Some(joined) = racers.join_next().await {
            match joined.expect("the task completes") {
                (Ok(IdempotencyClaim::Claimed), hash) => winners.push(hash),
                (Ok(IdempotencyClaim::InProgress { request_hash }), _) => {
                    seen.insert(request_hash);
                }
                (other, _) => panic!("round {round}: unexpected claim result {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one claim wins");
        assert!(
            seen.iter().all(|h| *h == winners[0]),
            "round {round}: the losers see the winner's hash, got {seen:?} vs {winners:?}"
        );
    }
}

async fn idempotency_purge_expired(db: Database) {
    let store = keys(&db);
    let t0 = instant();
    let hour = TimeDelta::hours(1);
    for (i, expires) in [t0 + hour, t0 + hour * 2, t0 + hour * 3].into_iter().enumerate() {
        let key = format!("k{i}");
        assert_eq!(store.claim(1, &key, "h", t0, expires).await.unwrap(), IdempotencyClaim::Claimed);
    }
    store.complete(1, "k0", 201, "{}".into(), None).await.unwrap();
    assert_eq!(store.purge_expired(t0).await.unwrap(), 0);
    assert_eq!(store.purge_expired(t0 + hour * 2).await.unwrap(), 2, "expires_at <= now is expired");
    assert_eq!(store.purge_expired(t0 + hour * 2).await.unwrap(), 0);
    assert_eq!(store.claim(1, "k2", "x", t0 + hour * 2, t0 + hour * 4).await.unwrap(), in_progress("h"), "kept");
    assert_eq!(
        store.claim(1, "k0", "x", t0 + hour * 2, t0 + hour * 4).await.unwrap(),
        IdempotencyClaim::Claimed,
        "purged"
    );
}
