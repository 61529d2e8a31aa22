//! What the cache tests share: key prefixes of their own and sample values. The test Redis
//! server and its skip rule are `workbench_cache::testing`, as for every crate's tests.

use chrono::{DateTime, TimeZone, Utc};
use workbench_cache::RedisPool;
use workbench_tasks::{Priority, Status, Task, TaskId, TaskStats};
use workbench_users::UserId;

/// A key prefix no other test (or process) uses.
pub fn unique_prefix() -> String {
    format!("wbtest:{}", uuid::Uuid::new_v4().simple())
}

/// Deletes every key under `prefix`.
pub async fn purge(pool: &RedisPool, prefix: &str) {
    let mut conn = pool.get().await.expect("a connection to the test Redis");
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut conn).await.expect("KEYS");
    if !keys.is_empty() {
        let () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.expect("DEL");
    }
}

pub fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 123_456_000).single().expect("a valid instant")
}

/// A task with every optional field set, so that a round trip covers them all.
pub fn full_task(id: i64) -> Task {
    Task {
        id: TaskId(id),
        title: format!("Task {id}: prepare the été review"),
        description: Some("Line one\nline \"two\" — ünïcode ✓".to_owned()),
        status: Status::Completed,
        priority: Priority::High,
        due_date: Some(at(3_600)),
        owner_id: UserId(1),
        assignee_id: Some(UserId(2)),
        tags: vec!["work".to_owned(), "q3".to_owned()],
        completed_at: Some(at(60)),
        version: 3,
        created_at: at(0),
        updated_at: at(60),
        project_id: None,
        recurrence: None,
        previous_id: None,
        parent_id: None,
        blocked: false,
        bucket_id: None,
        position: None,
        fields: Default::default(),
    }
}

/// A task with every optional field empty.
pub fn bare_task(id: i64) -> Task {
    Task {
        id: TaskId(id),
        title: format!("Task {id}"),
        description: None,
        status: Status::Pending,
        priority: Priority::Low,
        due_date: None,
        owner_id: UserId(3),
        assignee_id: None,
        tags: vec![],
        completed_at: None,
        version: 1,
        created_at: at(0),
        updated_at: at(0),
        project_id: None,
        recurrence: None,
        previous_id: None,
        parent_id: None,
        blocked: false,
        bucket_id: None,
        position: None,
        fields: Default::default(),
    }
}

pub fn stats(total: u64) -> TaskStats {
    TaskStats { total, pending: total, low: total, ..TaskStats::default() }
}
