//! The outbox, the webhook stores and the scheduled jobs' queries, run against SQLite always and
//! PostgreSQL when it is reachable (always under `CI=true`). The outbox cases hold the task
//! repository to its promise: every change writes its event in the same transaction, and a change
//! that does not happen writes none.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use workbench_core::{PageRequest, RepositoryError, now};
use workbench_events::{EventId, Outbox};
use workbench_jobs::{JobState, JobStore, NewJob};
use workbench_scheduled::{AccountHousekeeping, DatabaseBackup, TaskDigests, WarrantyReminders};
use workbench_store::testing::user_with_role as user;
use workbench_store::{
    Backend, Database, DieselHousekeeping, DieselJobStore, DieselOutbox, DieselRefreshTokenStore, DieselTaskRepository,
    DieselWebhookStore, engine_cases,
};
use workbench_tasks::{NewTask, NewTaskRecord, Priority, Status, Tags, Task, TaskRepository, Title, UpdateOutcome};
use workbench_users::{NewRefreshToken, RefreshTokenStore, Role, TokenHash, User, UserId};
use workbench_webhooks::{
    DeliveryStatus, DeliveryStore, Finished, InboundStatus, InboundStore, NewAttempt, NewDelivery, NewInboundDelivery,
    NewSubscription, Provider, Recorded, SubscriptionRepository, WebhookSecret,
};

engine_cases!(
    task_changes_write_their_events_in_order,
    a_change_that_does_not_happen_writes_no_event,
    writes_arriving_together_commit_together_and_fail_alone,
    removed_events_are_gone_and_ids_are_never_reused,
    a_churning_outbox_stays_the_size_of_its_backlog,
    relaying_task_changes_merges_the_search_index,
    the_relay_lease_is_held_by_one_instance_at_a_time,
    an_inbound_delivery_is_stored_once_with_one_job,
    fanning_out_twice_delivers_once_and_attempts_are_listed,
    subscriptions_belong_to_their_owner,
    inactive_accounts_are_found_by_last_sign_in_and_admins_never,
    expired_refresh_tokens_are_purged,
    the_daily_digest_counts_a_users_open_tasks,
    the_backup_copies_a_sqlite_database,
    warranties_ending_soon_are_reminded_once_per_end_date,
);

fn draft(title: &str, assignee: Option<UserId>) -> NewTask {
    NewTask {
        fields: Default::default(),
        bucket_id: None,
        title: Title::parse(title).unwrap(),
        description: None,
        status: Status::Pending,
        priority: Priority::Medium,
        due_date: None,
        assignee_id: assignee,
        tags: Tags::default(),
        project_id: None,
        recurrence: None,
    }
}

async fn create(db: &Database, owner: &User, task: NewTask) -> Result<Task, RepositoryError> {
    DieselTaskRepository::new(db.clone())
        .create(NewTaskRecord { task, owner_id: owner.id, completed_at: None, created_at: now() })
        .await
}

async fn task_changes_write_their_events_in_order(db: Database) {
    let (ann, bob) = (user(&db, "ann", Role::User).await, user(&db, "bob", Role::User).await);
    let repo = DieselTaskRepository::new(db.clone());
    let task = create(&db, &ann, draft("Renew the insurance", Some(bob.id))).await.unwrap();
    let mut changed = task.clone();
    changed.title = "Renew the car insurance".into();
    changed.version += 1;
    assert!(matches!(
        repo.update(changed.clone(), task.clone(), std::sync::Arc::new(|_: &Task| None), 1).await.unwrap(),
        UpdateOutcome::Stored { .. }
    ));
    assert!(repo.delete(task.id, Some(changed.version)).await.unwrap());

    let events = DieselOutbox::new(db.clone()).pending(10).await.unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["task.created", "task.updated", "task.deleted"]);
    assert!(events.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    for event in &events {
        assert_eq!(event.subject_id, task.id.0, "the subject names the task");
        assert_eq!(event.audience, [ann.id, bob.id], "owner and assignee of {}", event.name);
    }
    let payload = |i: usize| serde_json::from_str::<serde_json::Value>(events[i].payload.get()).unwrap();
    assert_eq!(payload(0)["title"], "Renew the insurance", "the task as created");
    assert_eq!(payload(1)["title"], "Renew the car insurance", "the task as updated");
    assert_eq!((payload(1)["id"].as_i64(), payload(1)["version"].as_i64()), (Some(task.id.0), Some(2)));
    assert_eq!(payload(2), json!({"id": task.id.0}), "a deletion carries the id only");
    // Written with its row, before the row had an id: the subject id is the authority.
    let created: Task = serde_json::from_str(events[0].payload.get()).expect("the payload is a task");
    assert_eq!(Task { id: task.id, ..created }, task);
}

async fn a_change_that_does_not_happen_writes_no_event(db: Database) {
    let ann = user(&db, "ann", Role::User).await;
    let repo = DieselTaskRepository::new(db.clone());
    let outbox = DieselOutbox::new(db.clone());
    let err = create(&db, &ann, draft("Assigned to nobody", Some(UserId(999_999)))).await.unwrap_err();
    assert!(matches!(err, RepositoryError::MissingReference { .. }), "{err:?}");
    assert!(outbox.is_empty().await.unwrap(), "a failed insert writes no event");

    let task = create(&db, &ann, draft("Real", None)).await.unwrap();
    let created = outbox.pending(10).await.unwrap();
    assert_eq!(created.len(), 1);
    outbox.remove(vec![created[0].id]).await.unwrap();
    let mut stale = task.clone();
    stale.version = 9;
    let believed = Task { version: 8, ..task.clone() };
    assert!(
        matches!(
            repo.update(stale, believed, std::sync::Arc::new(|_: &Task| None), 1).await.unwrap(),
            UpdateOutcome::Stale(_)
        ),
        "a stale version changes nothing"
    );
    assert!(!repo.delete(task.id, Some(8)).await.unwrap());
    assert!(!repo.delete(workbench_tasks::TaskId(123_456), None).await.unwrap());
    assert!(outbox.is_empty().await.unwrap(), "no event for changes that did not happen");
}

/// Creates and updates that arrive at once share transactions (`group_commit`), which must not
/// show: each create gets its own task and event, each update of its own task applies once with
/// its event, and a create naming an unknown assignee fails alone, leaving no task and no event,
/// whichever batch it fell into.
async fn writes_arriving_together_commit_together_and_fail_alone(db: Database) {
    const AT_ONCE: usize = 48;
    let ann = user(&db, "ann", Role::User).await;
    let repo = std::sync::Arc::new(DieselTaskRepository::new(db.clone()));
    let mut existing = Vec::new();
    for i in 0..AT_ONCE / 4 {
        existing.push(create(&db, &ann, draft(&format!("Existing {i}"), None)).await.unwrap());
    }
    let outbox = DieselOutbox::new(db.clone());
    let backlog = outbox.pending(100).await.unwrap();
    outbox.remove(backlog.iter().map(|e| e.id).collect()).await.unwrap();

    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(AT_ONCE + existing.len()));
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..AT_ONCE {
        let (repo, barrier) = (repo.clone(), barrier.clone());
        let orphan = i % 8 == 3;
        let task = draft(&format!("At once {i}"), orphan.then_some(UserId(999_999)));
        let record = NewTaskRecord { task, owner_id: ann.id, completed_at: None, created_at: now() };
        writers.spawn(async move {
            barrier.wait().await;
            (format!("At once {i}"), orphan, repo.create(record).await.map(|t| (t.id, t.title)))
        });
    }
    for task in &existing {
        let (repo, barrier) = (repo.clone(), barrier.clone());
        let mut changed = task.clone();
        changed.title = format!("{} changed", task.title);
        changed.version += 1;
        let before = task.clone();
        writers.spawn(async move {
            barrier.wait().await;
            let outcome = repo.update(changed.clone(), before, std::sync::Arc::new(|_: &Task| None), 1).await;
            let stored = matches!(outcome, Ok(UpdateOutcome::Stored { replaced: None, .. }));
            assert!(stored, "{}: {outcome:?}", changed.title);
            (changed.title.clone(), false, Ok((changed.id, changed.title)))
        });
    }

    let mut created = std::collections::HashSet::new();
    let (mut updated, mut refused) = (0, 0);
    while let Some(joined) = writers.join_next().await {
        match joined.expect("the writer completes") {
            (title, false, Ok((_, stored))) if title.ends_with("changed") => {
                assert_eq!(stored, title);
                updated += 1;
            }
            (title, false, Ok((id, stored))) => {
                assert_eq!(stored, title);
                assert!(created.insert(id.0), "{title} got an id of its own");
            }
            (_, true, Err(RepositoryError::MissingReference { .. })) => refused += 1,
            (title, orphan, other) => panic!("{title} (orphan: {orphan}) ended {other:?}"),
        }
    }
    assert_eq!((created.len(), updated, refused), (AT_ONCE - AT_ONCE / 8, existing.len(), AT_ONCE / 8));

    let events = outbox.pending(200).await.unwrap();
    let subjects = |name: &str| -> Vec<i64> {
        let mut ids: Vec<i64> = events.iter().filter(|e| e.name == name).map(|e| e.subject_id).collect();
        ids.sort_unstable();
        ids
    };
    let mut expected_created: Vec<i64> = created.into_iter().collect();
    expected_created.sort_unstable();
    assert_eq!(subjects("task.created"), expected_created, "one event per task created, none for the refused");
    assert_eq!(subjects("task.updated"), existing.iter().map(|t| t.id.0).collect::<Vec<_>>(), "one per update");
    assert_eq!(events.len(), expected_created.len() + existing.len());
}

async fn removed_events_are_gone_and_ids_are_never_reused(db: Database) {
    let ann = user(&db, "ann", Role::User).await;
    let outbox = DieselOutbox::new(db.clone());
    create(&db, &ann, draft("One", None)).await.unwrap();
    let first = outbox.pending(10).await.unwrap();
    outbox.remove(first.iter().map(|e| e.id).collect()).await.unwrap();
    outbox.remove(vec![EventId(424_242)]).await.expect("unknown ids are ignored");
    create(&db, &ann, draft("Two", None)).await.unwrap();
    let second = outbox.pending(10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert!(second[0].id > first[0].id, "publishers deduplicate by id: a removed id never comes back");
}

/// The one `BIGINT` that `sql` (PostgreSQL) answers, named `n`.
async fn scalar(db: &Database, sql: &'static str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Scalar {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    db.run(move |conn| {
        use diesel::RunQueryDsl;
        diesel::sql_query(sql)
            .get_result::<Scalar>(conn)
            .map(|s| s.n)
            .map_err(|e| RepositoryError::Unavailable(e.into()))
    })
    .await
    .unwrap()
}

/// The outbox's size on disk, in bytes (PostgreSQL).
async fn outbox_bytes(db: &Database) -> i64 {
    scalar(db, "SELECT pg_relation_size('outbox') AS n").await
}

async fn a_churning_outbox_stays_the_size_of_its_backlog(db: Database) {
    // SQLite reuses the pages of deleted rows by itself; PostgreSQL needs a vacuum, which its
    // autovacuum may run once a minute or never.
    if db.backend() != Backend::Postgres {
        return;
    }
    let outbox = DieselOutbox::new(db.clone());
    let mut sizes = Vec::new();
    for _ in 0..4 {
        db.execute_sql(
            r#"INSERT INTO outbox (event, subject_id, audience, payload, occurred_at)
               SELECT 'task.created', g, '[1]', '{"title":"' || repeat('x', 300) || '"}', now()
               FROM generate_series(1, 2000) g"#,
        )
        .await
        .unwrap();
        sizes.push(outbox_bytes(&db).await);
        loop {
            let batch = outbox.pending(100).await.unwrap();
            if batch.is_empty() {
                break;
            }
            outbox.remove(batch.iter().map(|e| e.id).collect()).await.unwrap();
        }
    }
    // Without the vacuum every batch of events would take new pages: four times the first size.
    assert!(sizes[3] <= sizes[0] * 5 / 4, "the outbox grew with each batch of 2,000 events: {sizes:?} bytes");
    // The last vacuum ran on an empty outbox. Giving its pages back would have meant locking out
    // every writer of an event (every task write) while it truncated; they are kept for the next.
    assert!(outbox_bytes(&db).await >= sizes[0] / 2, "the vacuum truncated the outbox (migration 000020)");
}

async fn relaying_task_changes_merges_the_search_index(db: Database) {
    // SQLite searches without a trigram index.
    if db.backend() != Backend::Postgres {
        return;
    }
    let ann = user(&db, "ann", Role::User).await;
    // 600 new tasks' trigrams wait in the index's pending list (well under the 4 MB at which a
    // writer would merge them), and 500 of their events in the outbox.
    db.execute_sql(&format!(
        r#"INSERT INTO tasks (title, description, status, priority, priority_rank, owner_id, version,
                              search_text, created_at, updated_at)
           SELECT 'Task ' || g, 'Waits to be indexed', 'pending', 'medium', 2, {owner}, 1,
                  'task ' || g || E'\nwaits to be indexed', now(), now()
           FROM generate_series(1, 600) g"#,
        owner = ann.id.0
    ))
    .await
    .unwrap();
    db.execute_sql(&format!(
        r#"INSERT INTO outbox (event, subject_id, audience, payload, occurred_at)
           SELECT 'task.created', id, '[{owner}]', '{{}}', now() FROM tasks ORDER BY id LIMIT 500"#,
        owner = ann.id.0
    ))
    .await
    .unwrap();
    let outbox = DieselOutbox::new(db.clone());
    let published = outbox.pending(500).await.unwrap();
    assert_eq!(published.len(), 500);
    outbox.remove(published.iter().map(|e| e.id).collect()).await.unwrap();
    let left = scalar(&db, "SELECT gin_clean_pending_list('tasks_search_trgm') AS n").await;
    assert_eq!(left, 0, "the relay merged the pending list; a later merge found {left} pages still waiting");
    let found = scalar(&db, "SELECT count(*) AS n FROM tasks WHERE search_text LIKE '%waits to be%'").await;
    assert_eq!(found, 600, "every task is still found");
}

async fn the_relay_lease_is_held_by_one_instance_at_a_time(db: Database) {
    let outbox = DieselOutbox::new(db.clone());
    let t0 = now();
    let lease = TimeDelta::seconds(30);
    assert!(outbox.acquire("one", t0, t0 + lease).await.unwrap());
    assert!(!outbox.acquire("two", t0, t0 + lease).await.unwrap(), "held by one");
    assert!(outbox.acquire("one", t0 + TimeDelta::seconds(10), t0 + lease * 2).await.unwrap(), "renewed");
    assert!(!outbox.acquire("two", t0 + lease, t0 + lease * 2).await.unwrap(), "the renewal runs on");
    assert!(outbox.acquire("two", t0 + lease * 2 + TimeDelta::seconds(1), t0 + lease * 3).await.unwrap(), "lapsed");
    outbox.release("one").await.unwrap();
    assert!(!outbox.acquire("one", t0 + lease * 2, t0 + lease * 3).await.unwrap(), "only the holder releases");
    outbox.release("two").await.unwrap();
    assert!(outbox.acquire("one", t0 + lease * 2, t0 + lease * 3).await.unwrap(), "released, taken at once");
}

async fn active_jobs(db: &Database) -> u64 {
    let counts = DieselJobStore::new(db.clone()).counts().await.unwrap();
    JobState::ACTIVE.iter().map(|s| counts.of(*s)).sum()
}

async fn an_inbound_delivery_is_stored_once_with_one_job(db: Database) {
    let store = DieselWebhookStore::new(db.clone());
    let delivery = NewInboundDelivery {
        provider: Provider::Github,
        event_type: "push".into(),
        delivery_id: "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
        payload: json!({"ref": "refs/heads/main"}),
        received_at: now(),
    };
    let job = || NewJob::new("webhook.inbound", json!({"delivery_id": "72d3162e"}));
    let Recorded::New(id) = store.record(delivery.clone(), job()).await.unwrap() else { panic!("stored") };
    assert_eq!(store.record(delivery.clone(), job()).await.unwrap(), Recorded::Duplicate(id));
    let other = NewInboundDelivery { provider: Provider::Stripe, ..delivery.clone() };
    assert!(matches!(store.record(other, job()).await.unwrap(), Recorded::New(_)), "ids are per provider");
    assert_eq!(active_jobs(&db).await, 2, "one job per stored delivery");

    let stored = InboundStore::find(&store, Provider::Github, &delivery.delivery_id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.attempts, stored.payload.clone()),
        (InboundStatus::Received, 0, delivery.payload)
    );
    let at = now();
    store
        .finish(id, Finished { status: InboundStatus::Received, result: None, error: Some("boom".into()), at })
        .await
        .unwrap();
    store
        .finish(id, Finished { status: InboundStatus::Processed, result: Some(json!({"commits": 2})), error: None, at })
        .await
        .unwrap();
    let stored = InboundStore::find(&store, Provider::Github, &delivery.delivery_id).await.unwrap().unwrap();
    assert_eq!(stored.status, InboundStatus::Processed);
    assert_eq!(stored.attempts, 2);
    assert_eq!(stored.last_error.as_deref(), Some("boom"), "the last error is kept");
    assert_eq!(stored.result, Some(json!({"commits": 2})));
    assert_eq!(stored.processed_at, Some(at));
    let page = InboundStore::list(&store, Some(Provider::Github), PageRequest::first()).await.unwrap();
    assert_eq!((page.total, page.items[0].id), (1, id));
}

async fn subscription(db: &Database, owner: &User) -> workbench_webhooks::Subscription {
    DieselWebhookStore::new(db.clone())
        .create(NewSubscription {
            owner_id: owner.id,
            url: "https://hooks.example.com/in".into(),
            events: vec!["task.updated".into()],
            secret: WebhookSecret::generate(),
            created_at: now(),
        })
        .await
        .unwrap()
}

async fn fanning_out_twice_delivers_once_and_attempts_are_listed(db: Database) {
    let ann = user(&db, "ann", Role::User).await;
    let sub = subscription(&db, &ann).await;
    let store = DieselWebhookStore::new(db.clone());
    let delivery = NewDelivery {
        subscription_id: sub.id,
        event_id: 7,
        event: "task.updated".into(),
        message_id: "evt_7".into(),
        body: r#"{"type":"task.updated"}"#.into(),
        job: NewJob::new("webhook.deliver", json!({"subscription_id": sub.id.0, "event_id": 7})),
    };
    assert_eq!(store.fan_out(vec![delivery.clone()], now()).await.unwrap(), 1);
    assert_eq!(store.fan_out(vec![delivery.clone()], now()).await.unwrap(), 0, "the same event again");
    assert_eq!(active_jobs(&db).await, 1);

    let (stored, with) = store.delivery(sub.id, 7).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, with.id, stored.body.as_str()),
        (DeliveryStatus::Pending, sub.id, delivery.body.as_str())
    );
    for (attempt, code, status) in [(1, 500, DeliveryStatus::Pending), (2, 200, DeliveryStatus::Delivered)] {
        store
            .record_attempt(NewAttempt {
                delivery_id: stored.id,
                attempt,
                attempted_at: now(),
                response_status: Some(code),
                error: (code != 200).then(|| format!("the receiver answered {code}")),
                duration_ms: 3,
                succeeded: code == 200,
                status,
            })
            .await
            .unwrap();
    }
    let attempts = store.attempts(sub.id, PageRequest::first()).await.unwrap();
    assert_eq!(attempts.total, 2);
    let codes: Vec<_> = attempts.items.iter().map(|a| (a.attempt, a.response_status, a.succeeded)).collect();
    assert_eq!(codes, [(2, Some(200), true), (1, Some(500), false)], "newest first");
    assert_eq!(attempts.items[0].message_id, "evt_7");
    assert_eq!(store.delivery(sub.id, 7).await.unwrap().unwrap().0.status, DeliveryStatus::Delivered);
}

async fn subscriptions_belong_to_their_owner(db: Database) {
    let (ann, bob) = (user(&db, "ann", Role::User).await, user(&db, "bob", Role::User).await);
    let store = DieselWebhookStore::new(db.clone());
    let sub = subscription(&db, &ann).await;
    assert_eq!(
        SubscriptionRepository::find(&store, sub.id).await.unwrap().unwrap().secret,
        sub.secret,
        "the secret is kept to sign"
    );
    assert_eq!(SubscriptionRepository::list(&store, ann.id).await.unwrap().len(), 1);
    assert!(SubscriptionRepository::list(&store, bob.id).await.unwrap().is_empty());
    assert_eq!(store.for_owners(vec![bob.id, ann.id]).await.unwrap()[0].id, sub.id);
    assert!(!store.delete(sub.id, bob.id).await.unwrap(), "not Bob's to delete");
    assert!(store.delete(sub.id, ann.id).await.unwrap());
    assert!(SubscriptionRepository::find(&store, sub.id).await.unwrap().is_none());
}

async fn sign_in(db: &Database, user: &User, at: DateTime<Utc>, expires: DateTime<Utc>) {
    let token = NewRefreshToken {
        user_id: user.id,
        family_id: uuid_like(user.id.0, at),
        hash: TokenHash::of(&format!("token-{}-{at}", user.id)),
        signed_in_at: at,
        created_at: at,
        expires_at: expires,
        provider_session: None,
    };
    DieselRefreshTokenStore::new(db.clone()).insert(token, vec![]).await.unwrap();
}

fn uuid_like(id: i64, at: DateTime<Utc>) -> String {
    format!("family-{id}-{}", at.timestamp_micros())
}

async fn inactive_accounts_are_found_by_last_sign_in_and_admins_never(db: Database) {
    let never = user(&db, "never", Role::User).await;
    let recent = user(&db, "recent", Role::Moderator).await;
    let long_ago = user(&db, "longago", Role::User).await;
    let admin = user(&db, "admin", Role::Admin).await;
    let t = now();
    sign_in(&db, &recent, t - TimeDelta::days(2), t + TimeDelta::days(5)).await;
    sign_in(&db, &long_ago, t - TimeDelta::days(200), t - TimeDelta::days(193)).await;
    let store = DieselHousekeeping::new(db.clone());
    let found = store.inactive_users(t - TimeDelta::days(90), 100).await.unwrap();
    assert_eq!(found, [never.id, long_ago.id], "created long ago and never seen, or last seen 200 days ago");
    assert!(!found.contains(&admin.id), "admins are never disabled");
    assert_eq!(store.inactive_users(t - TimeDelta::days(90), 1).await.unwrap(), [never.id], "bounded");
    assert!(store.inactive_users(t - TimeDelta::days(365 * 10), 100).await.unwrap().is_empty());
}

async fn expired_refresh_tokens_are_purged(db: Database) {
    let ann = user(&db, "ann", Role::User).await;
    let t = now();
    sign_in(&db, &ann, t - TimeDelta::days(10), t - TimeDelta::days(3)).await;
    sign_in(&db, &ann, t - TimeDelta::days(9), t - TimeDelta::days(2)).await;
    sign_in(&db, &ann, t, t + TimeDelta::days(7)).await;
    let store = DieselHousekeeping::new(db.clone());
    assert_eq!(store.purge_expired_refresh_tokens(t).await.unwrap(), 2);
    assert_eq!(store.purge_expired_refresh_tokens(t).await.unwrap(), 0);
    let live = DieselRefreshTokenStore::new(db.clone()).find(&TokenHash::of(&format!("token-{}-{t}", ann.id))).await;
    assert!(live.unwrap().is_some(), "the live token stays");
}

async fn the_daily_digest_counts_a_users_open_tasks(db: Database) {
    let (ann, bob) = (user(&db, "ann", Role::User).await, user(&db, "bob", Role::User).await);
    let t = now();
    let due = |title: &str, at: DateTime<Utc>| NewTask { due_date: Some(at), ..draft(title, None) };
    create(&db, &ann, due("Late", t - TimeDelta::days(1))).await.unwrap();
    create(&db, &ann, due("Tomorrow morning", t + TimeDelta::hours(12))).await.unwrap();
    create(&db, &ann, due("Next week", t + TimeDelta::days(7))).await.unwrap();
    create(&db, &bob, draft("Bob's, assigned to Ann", Some(ann.id))).await.unwrap();
    create(&db, &ann, NewTask { status: Status::Completed, ..draft("Done", None) }).await.unwrap();
    let store = DieselHousekeeping::new(db.clone());
    assert_eq!(store.recipients(None, 10).await.unwrap(), [ann.id, bob.id]);
    assert_eq!(store.recipients(Some(ann.id), 10).await.unwrap(), [bob.id]);
    let digest = store.digest(ann.id, t).await.unwrap().expect("Ann is active");
    assert_eq!(digest.email, "ann@example.com");
    assert_eq!(digest.open, 4);
    assert_eq!(digest.overdue.iter().map(|l| l.title.as_str()).collect::<Vec<_>>(), ["Late"]);
    assert_eq!(digest.due_soon.iter().map(|l| l.title.as_str()).collect::<Vec<_>>(), ["Tomorrow morning"]);
    assert!(store.digest(UserId(999_999), t).await.unwrap().is_none());
}

async fn the_backup_copies_a_sqlite_database(db: Database) {
    let ann = user(&db, "ann", Role::User).await;
    create(&db, &ann, draft("Kept", None)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.db");
    let copied = DieselHousekeeping::new(db.clone()).backup_into(path.clone()).await.unwrap();
    match db.backend() {
        Backend::Sqlite => {
            assert!(copied);
            let copy = Database::connect(
                &path.display().to_string(),
                workbench_store::PoolOptions::default_for(Backend::Sqlite),
            )
            .expect("the copy opens");
            let tasks = DieselTaskRepository::new(copy).find(workbench_tasks::TaskId(1)).await.unwrap();
            assert_eq!(tasks.map(|t| t.title).as_deref(), Some("Kept"), "the copy holds the data");
        }
        Backend::Postgres => assert!(!copied && !path.exists(), "PostgreSQL is backed up by its own tools"),
    }
}

/// Inserts an item of `owner` with a warranty ending on `expires` (`YYYY-MM-DD`) in `status`.
async fn owned_item(db: &Database, id: i64, owner: &User, expires: &str, status: &str) {
    let at = "'2026-01-01 00:00:00'";
    if id == 1 {
        db.execute_sql(&format!(
            "INSERT INTO categories (id, name, name_key, slug, version, created_at, updated_at) \
             VALUES (1, 'Laptops', 'laptops', 'laptops', 1, {at}, {at})"
        ))
        .await
        .unwrap();
        db.execute_sql(&format!(
            "INSERT INTO products (id, name, name_key, category_id, brand, brand_key, warranty_months, status, \
             search_text, version, created_at, updated_at) \
             VALUES (1, 'ThinkPad X1', 'thinkpad x1', 1, 'Lenovo', 'lenovo', 24, 'active', 'thinkpad x1 lenovo', 1, {at}, {at})"
        ))
        .await
        .unwrap();
    }
    db.execute_sql(&format!(
        "INSERT INTO user_products (id, user_id, product_id, serial_number, warranty_expires, status, version, \
         created_at, updated_at) VALUES ({id}, {}, 1, 'SN-{id}', '{expires}', '{status}', 1, {at}, {at})",
        owner.id.0
    ))
    .await
    .unwrap();
}

async fn warranties_ending_soon_are_reminded_once_per_end_date(db: Database) {
    let (ann, bob, cid) =
        (user(&db, "ann", Role::User).await, user(&db, "bob", Role::User).await, user(&db, "cid", Role::User).await);
    owned_item(&db, 1, &ann, "2026-11-25", "active").await;
    owned_item(&db, 2, &ann, "2026-12-20", "broken").await;
    owned_item(&db, 3, &ann, "2027-06-01", "active").await; // beyond the window
    owned_item(&db, 4, &bob, "2026-11-23", "sold").await; // no longer his
    owned_item(&db, 5, &bob, "2026-11-22", "active").await; // already over
    owned_item(&db, 6, &cid, "2026-11-30", "active").await;
    let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
    let (from, until) = (day("2026-11-23"), day("2026-12-23"));
    let store = DieselHousekeeping::new(db.clone());

    assert_eq!(store.owners_due(from, until, None, 10).await.unwrap(), [ann.id, cid.id]);
    assert_eq!(store.owners_due(from, until, Some(ann.id), 10).await.unwrap(), [cid.id]);
    assert_eq!(store.owners_due(from, until, None, 1).await.unwrap(), [ann.id]);
    let digest = store.items_due(ann.id, from, until).await.unwrap().expect("Ann is active");
    assert_eq!(digest.email, "ann@example.com");
    let items: Vec<(i64, &str, Option<&str>)> =
        digest.items.iter().map(|i| (i.user_product_id, i.product.as_str(), i.serial_number.as_deref())).collect();
    assert_eq!(items, [(1, "ThinkPad X1", Some("SN-1")), (2, "ThinkPad X1", Some("SN-2"))]);
    assert_eq!(digest.items[0].brand, "Lenovo");
    assert_eq!(digest.items[0].warranty_expires, day("2026-11-25"));

    store.mark_reminded(vec![(1, day("2026-11-25")), (2, day("2026-12-20"))], now()).await.unwrap();
    store.mark_reminded(vec![(1, day("2026-11-25"))], now()).await.expect("marking twice is harmless");
    assert_eq!(store.owners_due(from, until, None, 10).await.unwrap(), [cid.id], "Ann was reminded");
    assert!(store.items_due(ann.id, from, until).await.unwrap().unwrap().items.is_empty());

    // A new end date is a new reminder.
    db.execute_sql("UPDATE user_products SET warranty_expires = '2026-12-01' WHERE id = 1").await.unwrap();
    assert_eq!(store.owners_due(from, until, None, 10).await.unwrap(), [ann.id, cid.id]);
    assert!(store.items_due(UserId(999_999), from, until).await.unwrap().is_none());
}
