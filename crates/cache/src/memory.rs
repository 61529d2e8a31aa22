//! The in-process cache: one bounded moka cache holding tasks and statistics, each kind with its
//! own time to live.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::future::Cache;
use moka::ops::compute::Op;
use workbench_tasks::{FORGOTTEN_FOR, Task, TaskCache, TaskId, TaskScope, TaskStats};

/// A [`TaskCache`] in this process's memory: at most `max_entries` tasks and statistics together
/// (least recently used evicted first), each dropped after its time to live.
///
/// Correct for one instance only: another instance's writes cannot invalidate it, so several
/// instances need [`RedisTaskCache`](crate::RedisTaskCache).
#[derive(Debug, Clone)]
pub struct MemoryTaskCache {
    entries: Cache<Key, Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Task(TaskId),
    Stats(TaskScope),
}

#[derive(Debug, Clone)]
enum Entry {
    Task(Task),
    /// A task forgotten less than [`FORGOTTEN_FOR`] ago.
    Forgotten,
    Stats(TaskStats),
}

/// Each entry lives for its kind's time to live from when it was last written.
#[derive(Debug)]
struct TimeToLive {
    task: Duration,
    stats: Duration,
}

impl TimeToLive {
    fn of(&self, entry: &Entry) -> Duration {
        match entry {
            Entry::Task(_) => self.task,
            Entry::Forgotten => FORGOTTEN_FOR,
            Entry::Stats(_) => self.stats,
        }
    }
}

impl Expiry<Key, Entry> for TimeToLive {
    fn expire_after_create(&self, _: &Key, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(self.of(entry))
    }

    /// A rewrite starts the time to live again (moka's default would keep the first deadline).
    fn expire_after_update(&self, _: &Key, entry: &Entry, _: Instant, _: Option<Duration>) -> Option<Duration> {
        Some(self.of(entry))
    }
}

impl MemoryTaskCache {
    /// A cache of at most `max_entries` entries; tasks live `task_ttl`, statistics `stats_ttl`.
    pub fn new(max_entries: u64, task_ttl: Duration, stats_ttl: Duration) -> Self {
        let entries = Cache::builder()
            .max_capacity(max_entries)
            .expire_after(TimeToLive { task: task_ttl, stats: stats_ttl })
            .build();
        Self { entries }
    }
}

#[async_trait]
impl TaskCache for MemoryTaskCache {
    async fn task(&self, id: TaskId) -> Option<Task> {
        match self.entries.get(&Key::Task(id)).await {
            Some(Entry::Task(task)) => Some(task),
            _ => None,
        }
    }

    async fn put_task(&self, task: &Task) {
        self.entries
            .entry(Key::Task(task.id))
            .and_compute_with(|cached| {
                let keep = match cached.as_ref().map(moka::Entry::value) {
                    Some(Entry::Task(cached)) => cached.version > task.version,
                    Some(Entry::Forgotten) => true,
                    _ => false,
                };
                std::future::ready(if keep { Op::Nop } else { Op::Put(Entry::Task(task.clone())) })
            })
            .await;
    }

    async fn forget_task(&self, id: TaskId) {
        self.entries.insert(Key::Task(id), Entry::Forgotten).await;
    }

    async fn stats(&self, scope: TaskScope) -> Option<TaskStats> {
        match self.entries.get(&Key::Stats(scope)).await {
            Some(Entry::Stats(stats)) => Some(stats),
            _ => None,
        }
    }

    async fn put_stats(&self, scope: TaskScope, stats: &TaskStats) {
        self.entries.insert(Key::Stats(scope), Entry::Stats(stats.clone())).await;
    }

    async fn forget_stats(&self, scopes: Vec<TaskScope>) {
        for scope in scopes {
            self.entries.invalidate(&Key::Stats(scope)).await;
        }
    }
}
