//! The in-process cache: one bounded moka cache holding tasks, statistics and list pages, each
//! kind with its own time to live.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::future::Cache;
use moka::ops::compute::Op;
use workbench_tasks::{
    FORGOTTEN_FOR, ListLookup, ListTicket, ListedPage, Task, TaskCache, TaskId, TaskScope, TaskStats,
};

/// A [`TaskCache`] in this process's memory: at most `max_entries` tasks, statistics and list
/// pages together (least recently used evicted first), each dropped after its time to live.
///
/// Correct for one instance only: another instance's writes cannot invalidate it, so several
/// instances need [`RedisTaskCache`](crate::RedisTaskCache).
#[derive(Debug, Clone)]
pub struct MemoryTaskCache {
    entries: Cache<Key, Entry>,
    /// The source of list generations: every generation handed out is greater than all before
    /// it, so that a scope whose generation was evicted never returns to an old one.
    generations: Arc<AtomicU64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Task(TaskId),
    Stats(TaskScope),
    /// The current generation of the scope's lists.
    Generation(TaskScope),
    /// A page of a scope's list: generation and query.
    Page(TaskScope, u64, String),
}

#[derive(Debug, Clone)]
enum Entry {
    Task(Task),
    /// A task forgotten less than [`FORGOTTEN_FOR`] ago.
    Forgotten,
    Stats(TaskStats),
    Generation(u64),
    Page(ListedPage),
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
            // Pages are derived from many tasks, as statistics are; a generation only needs to
            // outlive the pages filed under it.
            Entry::Stats(_) | Entry::Page(_) => self.stats,
            Entry::Generation(_) => self.task,
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
        Self { entries, generations: Arc::new(AtomicU64::new(1)) }
    }

    fn next_generation(&self) -> u64 {
        self.generations.fetch_add(1, Ordering::Relaxed)
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

    async fn list_page(&self, scope: TaskScope, query: &str) -> ListLookup {
        let generation = self
            .entries
            .entry(Key::Generation(scope))
            .or_insert_with(std::future::ready(Entry::Generation(self.next_generation())))
            .await
            .into_value();
        let Entry::Generation(generation) = generation else { return ListLookup::Bypass };
        match self.entries.get(&Key::Page(scope, generation, query.to_owned())).await {
            Some(Entry::Page(page)) => ListLookup::Hit(page),
            _ => ListLookup::Miss(ListTicket { scope, generation, query: query.to_owned() }),
        }
    }

    async fn put_list_page(&self, ticket: ListTicket, page: &ListedPage) {
        let key = Key::Page(ticket.scope, ticket.generation, ticket.query);
        self.entries.insert(key, Entry::Page(page.clone())).await;
    }

    async fn forget_scopes(&self, scopes: Vec<TaskScope>) {
        for scope in scopes {
            self.entries.invalidate(&Key::Stats(scope)).await;
            self.entries.insert(Key::Generation(scope), Entry::Generation(self.next_generation())).await;
        }
    }
}
