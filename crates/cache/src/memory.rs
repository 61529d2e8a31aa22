//! The in-process cache: two bounded moka caches, one of tasks, statistics and list generations,
//! one of list pages, each kind with its own time to live.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::future::Cache;
use moka::ops::compute::Op;
use workbench_tasks::{
    CreationKey, CreationOrder, FORGOTTEN_FOR, ListLookup, ListPart, ListTicket, ListedPage, OrderLookup, OrderTicket,
    OrderWindow, Restatus, ShownLookup, ShownPage, Status, Task, TaskCache, TaskId, TaskScope, TaskStats,
};

use crate::statuses::{OrderStates, Records, draw};

/// A [`TaskCache`] in this process's memory: at most `max_entries` tasks, statistics and list
/// generations, and list pages holding at most `max_entries` tasks, each dropped after its time to
/// live.
///
/// Pages are kept apart from tasks because, once full, moka admits a new entry only if it has been
/// asked for more often than the entries it would evict taken together. A page of 20 weighs 21
/// tasks: in a cache full of tasks, each read now and then, a new page had to outweigh 21 of them
/// and was often refused, and its list read again from the database (one `make bench` run served
/// lists at 1,400 answers/s instead of 36,000 for 50 s). Among pages, a page competes with pages.
///
/// Correct for one instance only: another instance's writes cannot invalidate it, so several
/// instances need [`RedisTaskCache`](crate::RedisTaskCache).
#[derive(Debug, Clone)]
pub struct MemoryTaskCache {
    entries: Cache<Key, Entry>,
    pages: Cache<PageKey, Filed<ListedPage>>,
    /// Pages as shown, weighed by the tasks they hold (shared: a hit is cloned out of it).
    shown: Cache<PageKey, Filed<Arc<ShownPage>>>,
    /// Scopes' creation orders, weighed by the ids they hold.
    orders: Cache<TaskScope, Arc<StoredOrder>>,
    /// The source of list generations: every generation handed out is greater than all before
    /// it, so that a scope whose generation was evicted never returns to an old one. Changes of
    /// status take their places in `restatuses` from it too.
    generations: Arc<AtomicU64>,
    /// The changes of status told for each scope, for the orders read while they were made.
    restatuses: Arc<Records>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Task(TaskId),
    Stats(TaskScope),
    /// The current generation of a part of the scope's lists.
    Generation(TaskScope, ListPart),
}

/// A page of a part of a scope's lists: its query. One page is kept per query, the one read under
/// the latest generation: the page a change made stale is replaced by the next one read, where a
/// key with the generation in it kept every stale copy until it expired. Under writes those were
/// nearly all of the cache: after 10 s of the bench's `mixed` scenario (a write in five requests),
/// 60 of the server's 100 MB of heap were pages of whole tasks no lookup could reach.
type PageKey = (TaskScope, ListPart, String);

/// A page and the generation of its part it was read under: shown only while that generation is
/// still the part's.
#[derive(Debug, Clone)]
struct Filed<P> {
    generation: u64,
    page: P,
}

/// A scope's creation order and the generations it was read under.
#[derive(Debug)]
struct StoredOrder {
    members: u64,
    appended: u64,
    ids: Vec<TaskId>,
    last: Option<CreationKey>,
    /// The statuses of `ids`, kept current by [`TaskCache::restatus`]; `None` when the order was
    /// read without them or more changes were made during its read than are recorded.
    states: Option<OrderStates>,
}

/// The ids a cache of creation orders holds by default: 32 MB of them (an id with its status
/// and place in [`OrderStates`] weighs three).
pub const DEFAULT_ORDER_CAPACITY: u64 = 4_000_000;

// Tasks are most of the entries, and moka keeps each value in an allocation of its own: boxing the
// task would add a second allocation to every put to spare the few other entries some bytes.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Entry {
    Task(Task),
    /// A task forgotten less than [`FORGOTTEN_FOR`] ago.
    Forgotten,
    Stats(TaskStats),
    Generation(u64),
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
            // A generation only needs to outlive the pages filed under it (which live as long as
            // statistics: both are derived from many tasks).
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

/// Files `page` under its ticket's query and generation, unless a page read under a later
/// generation is already there (a slower read of the same page finishing after it): generations
/// only grow, so the later one is the one a lookup can still match.
async fn file<P: Clone + Send + Sync + 'static>(pages: &Cache<PageKey, Filed<P>>, ticket: ListTicket, page: P) {
    let generation = ticket.generation;
    pages
        .entry((ticket.scope, ticket.part, ticket.query))
        .and_compute_with(|filed| {
            let later = filed.is_some_and(|filed| filed.value().generation > generation);
            std::future::ready(if later { Op::Nop } else { Op::Put(Filed { generation, page }) })
        })
        .await;
}

/// How many of `cached` stay before `recent`, the tasks created after a key at or before its
/// last: those up to the first it shares with `recent` (the ones after it are all in `recent`,
/// each once, in the same order), when that and `recent` make the total; `None` when they do
/// not (a task committed later than `recent` reaches back).
fn kept_before(cached: &[TaskId], recent: &CreationOrder) -> Option<usize> {
    let fresh: std::collections::HashSet<TaskId> = recent.ids.iter().copied().collect();
    let shared = cached.iter().rev().take_while(|id| fresh.contains(id)).count();
    let kept = cached.len() - shared;
    (kept as u64 + recent.ids.len() as u64 == recent.total).then_some(kept)
}

impl MemoryTaskCache {
    /// A cache of at most `max_entries` tasks, statistics and generations, and of list pages
    /// holding at most `max_entries` tasks (a page counting as one entry per task it holds, so that
    /// memory stays bounded by tasks whatever the page size); tasks and list generations live
    /// `task_ttl`, statistics and list pages `stats_ttl`.
    pub fn new(max_entries: u64, task_ttl: Duration, stats_ttl: Duration) -> Self {
        let entries = Cache::builder()
            .max_capacity(max_entries)
            .expire_after(TimeToLive { task: task_ttl, stats: stats_ttl })
            .build();
        let pages = Cache::builder()
            .max_capacity(max_entries)
            .weigher(|_: &PageKey, filed: &Filed<ListedPage>| {
                u32::try_from(filed.page.ids.len()).unwrap_or(u32::MAX).saturating_add(1)
            })
            // moka starts the time to live again on every write, as the expiry above does.
            .time_to_live(stats_ttl)
            .build();
        let shown = Cache::builder()
            .max_capacity(max_entries)
            .weigher(|_: &PageKey, filed: &Filed<Arc<ShownPage>>| {
                u32::try_from(filed.page.tasks.len()).unwrap_or(u32::MAX).saturating_add(1)
            })
            .time_to_live(stats_ttl)
            .build();
        let orders = Self::orders(DEFAULT_ORDER_CAPACITY, stats_ttl);
        Self { entries, pages, shown, orders, generations: Arc::new(AtomicU64::new(1)), restatuses: Arc::default() }
    }

    /// The same cache holding creation orders of at most `ids` task ids in all.
    #[must_use]
    pub fn with_order_capacity(mut self, ids: u64) -> Self {
        let ttl = self.orders.policy().time_to_live().unwrap_or(Duration::from_secs(30));
        self.orders = Self::orders(ids, ttl);
        self
    }

    fn orders(capacity: u64, ttl: Duration) -> Cache<TaskScope, Arc<StoredOrder>> {
        Cache::builder()
            .max_capacity(capacity)
            // An id weighs one (8 bytes); with its status and place, three.
            .weigher(|_: &TaskScope, order: &Arc<StoredOrder>| {
                let each = if order.states.is_some() { 3 } else { 1 };
                u32::try_from(order.ids.len() * each).unwrap_or(u32::MAX).saturating_add(1)
            })
            .time_to_live(ttl)
            .build()
    }

    fn next_generation(&self) -> u64 {
        self.generations.fetch_add(1, Ordering::Relaxed)
    }

    /// The current generation of `part` of `scope`'s lists, drawn anew when it has none.
    async fn generation(&self, scope: TaskScope, part: ListPart) -> Option<u64> {
        let entry = self
            .entries
            .entry(Key::Generation(scope, part))
            .or_insert_with(std::future::ready(Entry::Generation(self.next_generation())))
            .await
            .into_value();
        match entry {
            Entry::Generation(generation) => Some(generation),
            _ => None,
        }
    }

    /// `scope`'s cached order if it is current (see [`TaskCache::creation_window`]) with the
    /// ticket to read it again, or what to do instead.
    async fn cached_order(
        &self,
        scope: TaskScope,
        seen: Option<u64>,
    ) -> Result<(Arc<StoredOrder>, OrderTicket), OrderLookup> {
        // Before the generations: a change of status told after this may be missing from a read.
        let since = self.generations.load(Ordering::Acquire);
        let (Some(members), Some(appended)) =
            (self.generation(scope, ListPart::Members).await, self.generation(scope, ListPart::Appended).await)
        else {
            return Err(OrderLookup::Bypass);
        };
        let ticket = OrderTicket { scope, members, appended, extends: None, overlaps: false, since };
        match self.orders.get(&scope).await {
            Some(order)
                if order.members == members
                    && (order.appended == appended || seen.is_some_and(|seen| order.appended >= seen)) =>
            {
                Ok((order, ticket))
            }
            Some(order) if order.members == members => {
                Err(OrderLookup::Behind(OrderTicket { extends: Some((order.ids.len() as u64, order.last)), ..ticket }))
            }
            _ => Err(OrderLookup::Miss(ticket)),
        }
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

    async fn tasks(&self, ids: &[TaskId]) -> Vec<Option<Task>> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            found.push(self.task(*id).await);
        }
        found
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

    async fn list_page(&self, scope: TaskScope, part: ListPart, query: &str) -> ListLookup {
        let Some(generation) = self.generation(scope, part).await else { return ListLookup::Bypass };
        let key = (scope, part, query.to_owned());
        match self.pages.get(&key).await {
            Some(filed) if filed.generation == generation => ListLookup::Hit(filed.page),
            _ => ListLookup::Miss(ListTicket { scope, part, generation, query: key.2 }),
        }
    }

    async fn put_list_page(&self, ticket: ListTicket, page: &ListedPage) {
        file(&self.pages, ticket, page.clone()).await;
    }

    async fn shown_page(&self, scope: TaskScope, query: &str) -> ShownLookup {
        let Some(generation) = self.generation(scope, ListPart::Rest).await else { return ShownLookup::Bypass };
        let key = (scope, ListPart::Rest, query.to_owned());
        match self.shown.get(&key).await {
            Some(filed) if filed.generation == generation => ShownLookup::Hit(ShownPage::clone(&filed.page)),
            _ => ShownLookup::Miss(ListTicket { scope, part: ListPart::Rest, generation, query: key.2 }),
        }
    }

    async fn put_shown_page(&self, ticket: ListTicket, page: &ShownPage) {
        file(&self.shown, ticket, Arc::new(page.clone())).await;
    }

    async fn creation_window(&self, scope: TaskScope, window: OrderWindow, seen: Option<u64>) -> OrderLookup {
        match self.cached_order(scope, seen).await {
            Ok((order, _)) => OrderLookup::Hit { ids: window.of(&order.ids), total: order.ids.len() as u64 },
            Err(lookup) => lookup,
        }
    }

    async fn status_window(
        &self,
        scope: TaskScope,
        status: Status,
        window: OrderWindow,
        seen: Option<u64>,
    ) -> OrderLookup {
        match self.cached_order(scope, seen).await {
            Ok((order, ticket)) => match &order.states {
                Some(states) => {
                    let (ids, total) = states.window(&order.ids, status, window);
                    OrderLookup::Hit { ids, total }
                }
                None => OrderLookup::Miss(ticket),
            },
            Err(lookup) => lookup,
        }
    }

    async fn put_creation_order(&self, ticket: OrderTicket, order: &CreationOrder) {
        // Held while the order is stored, as a change of status holds it while it is recorded and
        // applied: a change is either in the record when the order takes it, or finds the order.
        let record = self.restatuses.of(ticket.scope, self.generations.load(Ordering::Acquire));
        let record = record.lock().await;
        self.orders
            .entry(ticket.scope)
            .and_compute_with(|cached| {
                let cached = cached.map(moka::Entry::into_value);
                let stored = match (ticket.extends, cached) {
                    // An order read under a later generation is never replaced by an older one.
                    (None, Some(cached)) if cached.members > ticket.members => None,
                    (None, _) => Some(StoredOrder {
                        members: ticket.members,
                        appended: ticket.appended,
                        ids: order.ids.clone(),
                        last: order.last,
                        states: OrderStates::read(order),
                    }),
                    (Some((len, _)), Some(cached))
                        if cached.members == ticket.members && cached.ids.len() as u64 == len =>
                    {
                        let kept =
                            if ticket.overlaps { kept_before(&cached.ids, order) } else { Some(cached.ids.len()) };
                        kept.map(|kept| {
                            let mut ids = Vec::with_capacity(kept + order.ids.len());
                            ids.extend_from_slice(&cached.ids[..kept]);
                            ids.extend_from_slice(&order.ids);
                            StoredOrder {
                                members: cached.members,
                                appended: ticket.appended,
                                ids,
                                last: order.last.or(cached.last),
                                states: OrderStates::extended(cached.states.as_ref(), kept, order),
                            }
                        })
                    }
                    (Some(_), _) => None,
                };
                let stored = stored.map(|mut stored| {
                    // The changes told since the read began, which it may not have seen.
                    match record.since(ticket.since) {
                        Some(changes) => {
                            if let Some(states) = &stored.states {
                                changes.for_each(|change| states.apply(&stored.ids, change));
                            }
                        }
                        None => stored.states = None,
                    }
                    stored
                });
                std::future::ready(match stored {
                    Some(stored) => Op::Put(Arc::new(stored)),
                    None => Op::Nop,
                })
            })
            .await;
    }

    async fn restatus(&self, scopes: Vec<TaskScope>, changes: Vec<Restatus>) {
        for scope in scopes {
            let record = self.restatuses.of(scope, self.generations.load(Ordering::Acquire));
            let mut record = record.lock().await;
            for change in &changes {
                record.record(draw(&self.generations), *change);
            }
            if let Some(order) = self.orders.get(&scope).await
                && let Some(states) = &order.states
            {
                changes.iter().for_each(|change| states.apply(&order.ids, change));
            }
        }
    }

    async fn forget_scopes(&self, scopes: Vec<TaskScope>) {
        self.forget_parts(scopes, ListPart::ALL.to_vec()).await;
    }

    async fn forget_parts(&self, scopes: Vec<TaskScope>, parts: Vec<ListPart>) {
        for scope in scopes {
            // Without its generation, every page filed under it is unreachable: the next lookup
            // starts a newer one. Checking first (a plain read) spares a burst of writes to a
            // scope that nobody lists a cache write each.
            let generations = parts.iter().map(|part| Key::Generation(scope, *part));
            for key in std::iter::once(Key::Stats(scope)).chain(generations) {
                if self.entries.contains_key(&key) {
                    self.entries.invalidate(&key).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use workbench_tasks::{Priority, Status};
    use workbench_users::UserId;

    use super::*;

    fn task(id: i64) -> Task {
        let at = Utc::now();
        Task {
            id: TaskId(id),
            title: format!("Task {id}"),
            description: None,
            status: Status::Pending,
            priority: Priority::Low,
            due_date: None,
            owner_id: UserId(1),
            assignee_id: None,
            tags: vec![],
            completed_at: None,
            version: 1,
            created_at: at,
            updated_at: at,
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

    #[tokio::test]
    async fn a_list_page_weighs_as_much_as_the_tasks_it_holds() {
        let cache = MemoryTaskCache::new(100, Duration::from_secs(60), Duration::from_secs(60));
        let page = ListedPage { ids: (1..=40).map(TaskId).collect(), total: 1_000 };
        for n in 1..=5 {
            let ListLookup::Miss(ticket) = cache.list_page(TaskScope::All, ListPart::Members, &format!("{n}x40")).await
            else {
                panic!("an empty cache misses");
            };
            cache.put_list_page(ticket, &page).await;
        }
        cache.pages.run_pending_tasks().await;
        assert!(cache.pages.weighted_size() <= 100, "{} tasks' worth kept", cache.pages.weighted_size());
        assert!(cache.pages.entry_count() <= 2, "at most two pages of 40 fit in 100");
    }

    #[tokio::test]
    async fn list_pages_are_kept_when_the_cache_is_full_of_tasks() {
        // The cache full of tasks, a thousand of them read often: the others are read once.
        let cache = MemoryTaskCache::new(10_000, Duration::from_secs(60), Duration::from_secs(60));
        for id in 1..=10_100 {
            cache.put_task(&task(id)).await;
        }
        for _ in 0..20 {
            for id in 9_001..=10_000 {
                cache.task(TaskId(id)).await;
            }
        }
        cache.entries.run_pending_tasks().await;
        // Then 50 pages of 20, each listed eight times: each misses once.
        let page = ListedPage { ids: (1..=20).map(TaskId).collect(), total: 10_000 };
        let mut misses = 0;
        for round in 0..400 {
            if let ListLookup::Miss(ticket) =
                cache.list_page(TaskScope::All, ListPart::Members, &format!("page={}", round % 50)).await
            {
                misses += 1;
                cache.put_list_page(ticket, &page).await;
            }
            cache.pages.run_pending_tasks().await;
        }
        assert_eq!(misses, 50, "a page read again was refused or evicted");
    }

    /// A page a change made stale is replaced by the next one read of the same query, not kept
    /// beside it; and a slower read under the older generation, filed last, does not replace the
    /// newer page.
    #[tokio::test]
    async fn a_stale_page_is_replaced_not_kept() {
        let cache = MemoryTaskCache::new(10_000, Duration::from_secs(60), Duration::from_secs(60));
        let scope = TaskScope::InvolvedUser(UserId(1));
        let shown = |n: i64| ShownPage { tasks: vec![task(n)], total: 1 };
        let miss = |lookup| match lookup {
            ShownLookup::Miss(ticket) => ticket,
            other => panic!("expected a miss, got {other:?}"),
        };
        let old = miss(cache.shown_page(scope, "1x20").await);
        cache.put_shown_page(old.clone(), &shown(1)).await;
        for round in 2..=50 {
            cache.forget_scopes(vec![scope]).await;
            let ticket = miss(cache.shown_page(scope, "1x20").await);
            cache.put_shown_page(ticket, &shown(round)).await;
        }
        cache.put_shown_page(old, &shown(1)).await;
        cache.shown.run_pending_tasks().await;
        assert_eq!(cache.shown.entry_count(), 1, "one page per query, whatever the writes between");
        let ShownLookup::Hit(page) = cache.shown_page(scope, "1x20").await else { panic!("the latest read is kept") };
        assert_eq!(page.tasks[0].id, TaskId(50), "the latest read is shown");
        cache.forget_scopes(vec![scope]).await;
        assert!(matches!(cache.shown_page(scope, "1x20").await, ShownLookup::Miss(_)), "stale after a change");
    }

    /// An order of tasks 1..=n read from the database, task `id` pending unless in `completed`,
    /// each at version 1.
    fn order_with_statuses(ids: std::ops::RangeInclusive<i64>, completed: &[i64]) -> CreationOrder {
        let start = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let key = |id: i64| CreationKey { created_at: start + chrono::Duration::seconds(id), id: TaskId(id) };
        let ids: Vec<TaskId> = ids.map(TaskId).collect();
        let states = ids
            .iter()
            .map(|id| workbench_tasks::OrderedState {
                created_at: key(id.0).created_at,
                status: if completed.contains(&id.0) { Status::Completed } else { Status::Pending },
                version: 1,
            })
            .collect();
        CreationOrder { last: ids.last().map(|id| key(id.0)), total: ids.len() as u64, ids, states }
    }

    fn change(order: &CreationOrder, id: i64, status: Status, version: i64) -> Restatus {
        let at = order.ids.iter().position(|t| t.0 == id).unwrap();
        Restatus { key: CreationKey { created_at: order.states[at].created_at, id: TaskId(id) }, status, version }
    }

    const FIRST_TEN: OrderWindow = OrderWindow { offset: 0, limit: 10, newest_first: false };

    async fn completed(cache: &MemoryTaskCache, scope: TaskScope) -> (Vec<i64>, u64) {
        match cache.status_window(scope, Status::Completed, FIRST_TEN, None).await {
            OrderLookup::Hit { ids, total } => (ids.iter().map(|id| id.0).collect(), total),
            other => panic!("a current order serves the status: {other:?}"),
        }
    }

    async fn miss(cache: &MemoryTaskCache, scope: TaskScope) -> OrderTicket {
        match cache.status_window(scope, Status::Completed, FIRST_TEN, None).await {
            OrderLookup::Miss(ticket) => ticket,
            other => panic!("an empty cache misses: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_status_window_comes_out_of_the_order_and_takes_each_newer_change() {
        let cache = MemoryTaskCache::new(1_000, Duration::from_secs(60), Duration::from_secs(60));
        let scope = TaskScope::InvolvedUser(UserId(1));
        let read = order_with_statuses(1..=30, &[3, 6, 9]);
        cache.put_creation_order(miss(&cache, scope).await, &read).await;
        assert_eq!(completed(&cache, scope).await, (vec![3, 6, 9], 3));
        let newest = OrderWindow { offset: 1, limit: 2, newest_first: true };
        let OrderLookup::Hit { ids, total } = cache.status_window(scope, Status::Pending, newest, None).await else {
            panic!("pending out of the same order")
        };
        assert_eq!((ids, total), (vec![TaskId(29), TaskId(28)], 27), "second and third newest pending");

        cache.restatus(vec![scope], vec![change(&read, 12, Status::Completed, 2)]).await;
        cache.restatus(vec![scope], vec![change(&read, 3, Status::Pending, 2)]).await;
        assert_eq!(completed(&cache, scope).await, (vec![6, 9, 12], 3));
        // A change told late, older than what the order holds, changes nothing.
        cache.restatus(vec![scope], vec![change(&read, 12, Status::InProgress, 1)]).await;
        assert_eq!(completed(&cache, scope).await, (vec![6, 9, 12], 3));
        // Another scope's order is not touched.
        cache.restatus(vec![TaskScope::All], vec![change(&read, 6, Status::Pending, 9)]).await;
        assert_eq!(completed(&cache, scope).await, (vec![6, 9, 12], 3));
    }

    #[tokio::test]
    async fn a_change_told_while_the_order_was_read_is_in_the_order_stored() {
        let cache = MemoryTaskCache::new(1_000, Duration::from_secs(60), Duration::from_secs(60));
        let scope = TaskScope::InvolvedUser(UserId(1));
        let ticket = miss(&cache, scope).await;
        // Read before task 4 was completed, stored after the completion was told.
        let read = order_with_statuses(1..=10, &[]);
        cache.restatus(vec![scope], vec![change(&read, 4, Status::Completed, 2)]).await;
        cache.put_creation_order(ticket, &read).await;
        assert_eq!(completed(&cache, scope).await, (vec![4], 1));

        // Extended with tasks created since: the statuses it held stay, the new ones join.
        cache.forget_parts(vec![scope], vec![ListPart::Appended]).await;
        let OrderLookup::Behind(behind) = cache.status_window(scope, Status::Completed, FIRST_TEN, None).await else {
            panic!("the order lacks the new tasks")
        };
        let newer = order_with_statuses(11..=12, &[12]);
        cache.restatus(vec![scope], vec![change(&read, 5, Status::Completed, 2)]).await;
        cache.put_creation_order(behind, &CreationOrder { total: 12, ..newer }).await;
        assert_eq!(completed(&cache, scope).await, (vec![4, 5, 12], 3));
    }

    #[tokio::test]
    async fn an_order_read_during_more_changes_than_are_kept_serves_no_status() {
        let cache = MemoryTaskCache::new(1_000, Duration::from_secs(60), Duration::from_secs(60));
        let scope = TaskScope::InvolvedUser(UserId(1));
        let ticket = miss(&cache, scope).await;
        let read = order_with_statuses(1..=10, &[]);
        for version in 2..4_200 {
            let status = if version % 2 == 0 { Status::Completed } else { Status::Pending };
            cache.restatus(vec![scope], vec![change(&read, 1, status, version)]).await;
        }
        cache.put_creation_order(ticket, &read).await;
        // The order itself serves; its statuses are read again.
        let all = OrderWindow { offset: 0, limit: 20, newest_first: false };
        assert!(matches!(cache.creation_window(scope, all, None).await, OrderLookup::Hit { total: 10, .. }));
        let again = miss(&cache, scope).await;
        let reread = order_with_statuses(1..=10, &[1]);
        cache.put_creation_order(again, &reread).await;
        assert_eq!(completed(&cache, scope).await, (vec![1], 1));
    }
}
