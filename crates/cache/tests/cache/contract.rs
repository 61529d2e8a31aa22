//! The `TaskCache` contract (`crates/tasks/src/ports.rs`), held against both adapters: the
//! in-process cache always, Redis when it is reachable (and always under `CI=true` or
//! `REQUIRE_SERVICES=1`).
//!
//! Each case is written once, as `async fn case(caches: &dyn MakeCache)`, and [`suite!`]
//! generates a `memory` and a `redis` test for it. A case may make several caches (with
//! different times to live); for Redis they share one key prefix of the test's own, purged
//! afterwards.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{at, bare_task, full_task, stats};
use workbench_cache::{MemoryTaskCache, RedisPool, RedisTaskCache};
use workbench_tasks::{
    CreationKey, CreationOrder, ListLookup, ListPart, ListTicket, ListedPage, OrderLookup, OrderTicket, OrderWindow,
    ShownLookup, ShownPage, Status, TaskCache, TaskId, TaskScope,
};
use workbench_users::UserId;

const LONG: Duration = Duration::from_secs(60);

/// Makes caches of one adapter with the given times to live (tasks, statistics).
trait MakeCache: Sync {
    fn make(&self, task_ttl: Duration, stats_ttl: Duration) -> Arc<dyn TaskCache>;

    fn long_lived(&self) -> Arc<dyn TaskCache> {
        self.make(LONG, LONG)
    }
}

struct Memory;

impl MakeCache for Memory {
    fn make(&self, task_ttl: Duration, stats_ttl: Duration) -> Arc<dyn TaskCache> {
        Arc::new(MemoryTaskCache::new(1_000, task_ttl, stats_ttl))
    }
}

struct Redis {
    pool: RedisPool,
    prefix: String,
}

impl MakeCache for Redis {
    fn make(&self, task_ttl: Duration, stats_ttl: Duration) -> Arc<dyn TaskCache> {
        Arc::new(RedisTaskCache::new(self.pool.clone(), task_ttl, stats_ttl).with_prefix(self.prefix.clone()))
    }
}

macro_rules! suite {
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                super::$case(&super::Memory).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                let Some(pool) = workbench_cache::testing::redis_pool().await else { return };
                let redis = super::Redis { pool, prefix: super::common::unique_prefix() };
                super::$case(&redis).await;
                super::common::purge(&redis.pool, &redis.prefix).await;
            }
        }
    )+};
}

suite!(
    a_task_comes_back_equal_to_what_was_put,
    putting_a_task_again_replaces_it,
    an_older_copy_never_replaces_a_newer_one,
    a_late_copy_does_not_bring_back_a_forgotten_task,
    forget_task_forgets_only_that_task,
    stats_are_kept_per_scope,
    forget_scopes_forgets_each_listed_scope,
    tasks_and_stats_do_not_collide,
    entries_expire_after_their_time_to_live,
    a_list_page_is_served_until_its_scope_is_forgotten,
    a_page_read_before_a_change_is_never_served_after_it,
    list_pages_are_kept_per_scope_and_query,
    forgetting_parts_keeps_the_other_parts_pages,
    many_tasks_are_read_at_once,
    a_scope_whose_generation_expired_never_returns_to_an_old_one,
    a_creation_order_is_served_window_by_window_until_a_task_moves_inside_it,
    creates_leave_the_order_behind_and_an_extension_catches_it_up,
    a_task_committed_late_is_laid_over_the_end_of_the_order,
    an_order_read_before_a_reorder_is_never_served_after_it,
    a_shown_page_is_shown_again_until_anything_in_its_scope_changes,
);

/// Tasks `ids` as an order read from the database: task `n` created at second `n`.
fn order(ids: std::ops::RangeInclusive<i64>, total: u64) -> CreationOrder {
    let last = ids.clone().last().map(|id| CreationKey { created_at: at(id), id: TaskId(id) });
    CreationOrder { ids: ids.map(TaskId).collect(), last, total, ..CreationOrder::default() }
}

fn window(offset: u64, limit: u64, newest_first: bool) -> OrderWindow {
    OrderWindow { offset, limit, newest_first }
}

fn ids(ids: impl IntoIterator<Item = i64>) -> Vec<TaskId> {
    ids.into_iter().map(TaskId).collect()
}

/// The ticket of an order lookup that missed; panics on anything else.
async fn order_miss(cache: &dyn TaskCache, scope: TaskScope) -> OrderTicket {
    match cache.creation_window(scope, window(0, 20, true), None).await {
        OrderLookup::Miss(ticket) => ticket,
        other => panic!("expected the order of {scope:?} to miss, got {other:?}"),
    }
}

/// A page of the given tasks.
fn page(ids: &[i64]) -> ListedPage {
    ListedPage { ids: ids.iter().map(|id| TaskId(*id)).collect(), total: ids.len() as u64 }
}

/// The ticket of a miss of the scope's whole list; panics on anything else.
async fn miss(cache: &dyn TaskCache, scope: TaskScope, query: &str) -> ListTicket {
    miss_in(cache, scope, ListPart::Members, query).await
}

/// The ticket of a miss in `part`; panics on anything else.
async fn miss_in(cache: &dyn TaskCache, scope: TaskScope, part: ListPart, query: &str) -> ListTicket {
    match cache.list_page(scope, part, query).await {
        ListLookup::Miss(ticket) => ticket,
        other => panic!("expected a miss for {query} in {scope:?}, got {other:?}"),
    }
}

async fn a_task_comes_back_equal_to_what_was_put(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    assert_eq!(cache.task(TaskId(1)).await, None, "an empty cache misses");
    let (full, bare) = (full_task(1), bare_task(2));
    cache.put_task(&full).await;
    cache.put_task(&bare).await;
    assert_eq!(cache.task(TaskId(1)).await, Some(full));
    assert_eq!(cache.task(TaskId(2)).await, Some(bare));
    assert_eq!(cache.task(TaskId(3)).await, None);
}

async fn putting_a_task_again_replaces_it(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    let mut task = full_task(1);
    cache.put_task(&task).await;
    task.version += 1;
    task.title = "Renamed".into();
    task.assignee_id = None;
    cache.put_task(&task).await;
    assert_eq!(cache.task(TaskId(1)).await, Some(task));
}

async fn an_older_copy_never_replaces_a_newer_one(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    let old = full_task(1);
    let mut new = old.clone();
    new.version += 1;
    new.title = "Renamed".into();
    // A read that started before the write finishes after it: its copy arrives last.
    cache.put_task(&new).await;
    cache.put_task(&old).await;
    assert_eq!(cache.task(TaskId(1)).await, Some(new));
}

async fn a_late_copy_does_not_bring_back_a_forgotten_task(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    let task = bare_task(1);
    cache.put_task(&task).await;
    cache.forget_task(TaskId(1)).await;
    // A read that started before the deletion finishes after it.
    cache.put_task(&task).await;
    assert_eq!(cache.task(TaskId(1)).await, None);
}

async fn forget_task_forgets_only_that_task(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    cache.put_task(&full_task(1)).await;
    cache.put_task(&bare_task(2)).await;
    cache.forget_task(TaskId(1)).await;
    assert_eq!(cache.task(TaskId(1)).await, None);
    assert_eq!(cache.task(TaskId(2)).await, Some(bare_task(2)));
    cache.forget_task(TaskId(1)).await;
    cache.forget_task(TaskId(99)).await;
    assert_eq!(cache.task(TaskId(2)).await, Some(bare_task(2)), "forgetting what is absent changes nothing");
}

async fn stats_are_kept_per_scope(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    let (all, alice, bob) = (TaskScope::All, TaskScope::InvolvedUser(UserId(1)), TaskScope::InvolvedUser(UserId(2)));
    assert_eq!(cache.stats(all).await, None);
    cache.put_stats(all, &stats(10)).await;
    cache.put_stats(alice, &stats(3)).await;
    assert_eq!(cache.stats(all).await, Some(stats(10)));
    assert_eq!(cache.stats(alice).await, Some(stats(3)));
    assert_eq!(cache.stats(bob).await, None);
    cache.put_stats(alice, &stats(4)).await;
    assert_eq!(cache.stats(alice).await, Some(stats(4)), "a second put replaces");
    assert_eq!(cache.stats(all).await, Some(stats(10)), "other scopes are untouched");
}

async fn forget_scopes_forgets_each_listed_scope(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    let scopes = [TaskScope::All, TaskScope::InvolvedUser(UserId(1)), TaskScope::InvolvedUser(UserId(2))];
    for (n, scope) in (1..).zip(scopes) {
        cache.put_stats(scope, &stats(n)).await;
    }
    cache.forget_scopes(vec![]).await;
    assert_eq!(cache.stats(scopes[0]).await, Some(stats(1)), "an empty list forgets nothing");
    cache.forget_scopes(vec![scopes[0], scopes[2], TaskScope::InvolvedUser(UserId(9))]).await;
    assert_eq!(cache.stats(scopes[0]).await, None);
    assert_eq!(cache.stats(scopes[1]).await, Some(stats(2)));
    assert_eq!(cache.stats(scopes[2]).await, None);
}

async fn tasks_and_stats_do_not_collide(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    cache.put_task(&bare_task(1)).await;
    cache.put_stats(TaskScope::InvolvedUser(UserId(1)), &stats(1)).await;
    cache.forget_scopes(vec![TaskScope::InvolvedUser(UserId(1))]).await;
    assert_eq!(cache.task(TaskId(1)).await, Some(bare_task(1)), "forgetting statistics keeps tasks");
    cache.put_stats(TaskScope::InvolvedUser(UserId(1)), &stats(1)).await;
    cache.forget_task(TaskId(1)).await;
    assert_eq!(
        cache.stats(TaskScope::InvolvedUser(UserId(1))).await,
        Some(stats(1)),
        "forgetting a task keeps statistics"
    );
}

async fn entries_expire_after_their_time_to_live(caches: &dyn MakeCache) {
    const SHORT: Duration = Duration::from_millis(500);
    let short_tasks = caches.make(SHORT, LONG);
    let short_stats = caches.make(LONG, SHORT);
    // Distinct keys: with Redis both caches share one key space.
    short_tasks.put_task(&bare_task(1)).await;
    short_tasks.put_stats(TaskScope::InvolvedUser(UserId(1)), &stats(1)).await;
    short_stats.put_task(&bare_task(2)).await;
    short_stats.put_stats(TaskScope::InvolvedUser(UserId(2)), &stats(2)).await;

    tokio::time::sleep(SHORT * 3).await;

    assert_eq!(short_tasks.task(TaskId(1)).await, None, "the task outlived its time to live");
    assert_eq!(short_tasks.stats(TaskScope::InvolvedUser(UserId(1))).await, Some(stats(1)));
    assert_eq!(short_stats.task(TaskId(2)).await, Some(bare_task(2)));
    assert_eq!(short_stats.stats(TaskScope::InvolvedUser(UserId(2))).await, None, "the statistics outlived theirs");
}

async fn a_list_page_is_served_until_its_scope_is_forgotten(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    let alice = TaskScope::InvolvedUser(UserId(1));
    let ticket = miss(&*cache, alice, "1x20").await;
    cache.put_list_page(ticket, &page(&[3, 2, 1])).await;
    assert_eq!(cache.list_page(alice, ListPart::Members, "1x20").await, ListLookup::Hit(page(&[3, 2, 1])));
    assert_eq!(
        cache.list_page(alice, ListPart::Members, "1x20").await,
        ListLookup::Hit(page(&[3, 2, 1])),
        "a hit does not spend it"
    );

    cache.forget_scopes(vec![alice]).await;
    let ticket = miss(&*cache, alice, "1x20").await;
    cache.put_list_page(ticket, &page(&[4, 3, 2, 1])).await;
    assert_eq!(
        cache.list_page(alice, ListPart::Members, "1x20").await,
        ListLookup::Hit(page(&[4, 3, 2, 1])),
        "the new page is served"
    );
}

async fn a_page_read_before_a_change_is_never_served_after_it(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    let alice = TaskScope::InvolvedUser(UserId(1));
    // A reader takes its ticket and goes to the database; a writer changes a task of the scope
    // and forgets it; the reader's page, read before the change, arrives last.
    let before = miss(&*cache, alice, "1x20").await;
    cache.forget_scopes(vec![alice]).await;
    cache.put_list_page(before.clone(), &page(&[1])).await;
    let after = miss(&*cache, alice, "1x20").await;
    assert!(after.generation > before.generation, "{after:?} after {before:?}");
}

async fn list_pages_are_kept_per_scope_and_query(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    let (all, alice, bob) = (TaskScope::All, TaskScope::InvolvedUser(UserId(1)), TaskScope::InvolvedUser(UserId(2)));
    for (n, (scope, query)) in [(all, "1x20"), (alice, "1x20"), (alice, "2x20"), (bob, "1x20")].into_iter().enumerate()
    {
        let ticket = miss(&*cache, scope, query).await;
        cache.put_list_page(ticket, &page(&[n as i64 + 1])).await;
    }
    assert_eq!(cache.list_page(alice, ListPart::Members, "2x20").await, ListLookup::Hit(page(&[3])));
    cache.put_stats(alice, &stats(1)).await;
    cache.forget_scopes(vec![alice, all]).await;
    miss(&*cache, alice, "1x20").await;
    miss(&*cache, alice, "2x20").await;
    miss(&*cache, all, "1x20").await;
    assert_eq!(cache.stats(alice).await, None, "statistics go with the lists");
    assert_eq!(
        cache.list_page(bob, ListPart::Members, "1x20").await,
        ListLookup::Hit(page(&[4])),
        "other scopes keep theirs"
    );
}

async fn forgetting_parts_keeps_the_other_parts_pages(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    let alice = TaskScope::InvolvedUser(UserId(1));
    let (pending, done) = (ListPart::Status(Status::Pending), ListPart::Status(Status::Completed));
    for (n, part) in (1..).zip([ListPart::Members, pending, done, ListPart::Rest]) {
        let ticket = miss_in(&*cache, alice, part, "1x20").await;
        cache.put_list_page(ticket, &page(&[n])).await;
    }
    cache.put_stats(alice, &stats(1)).await;
    // A task of alice's went from pending to in progress.
    let moved = vec![ListPart::Rest, pending, ListPart::Status(Status::InProgress)];
    cache.forget_parts(vec![alice], moved).await;
    assert_eq!(cache.list_page(alice, ListPart::Members, "1x20").await, ListLookup::Hit(page(&[1])));
    assert_eq!(cache.list_page(alice, done, "1x20").await, ListLookup::Hit(page(&[3])));
    miss_in(&*cache, alice, pending, "1x20").await;
    miss_in(&*cache, alice, ListPart::Rest, "1x20").await;
    assert_eq!(cache.stats(alice).await, None, "statistics go with any part");
    cache.forget_scopes(vec![alice]).await;
    miss_in(&*cache, alice, ListPart::Members, "1x20").await;
    miss_in(&*cache, alice, done, "1x20").await;
}

async fn many_tasks_are_read_at_once(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    assert_eq!(cache.tasks(&[]).await, vec![]);
    for id in 1..=3 {
        cache.put_task(&full_task(id)).await;
    }
    cache.forget_task(TaskId(2)).await;
    let found = cache.tasks(&[TaskId(3), TaskId(2), TaskId(1), TaskId(4)]).await;
    let expected = vec![Some(full_task(3)), None, Some(full_task(1)), None];
    assert_eq!(found, expected, "in order; forgotten and absent tasks are misses");
}

async fn a_scope_whose_generation_expired_never_returns_to_an_old_one(caches: &dyn MakeCache) {
    // Generations live as long as tasks; pages as long as statistics.
    const SHORT: Duration = Duration::from_millis(500);
    let cache = caches.make(SHORT, LONG);
    let alice = TaskScope::InvolvedUser(UserId(1));
    let before = miss(&*cache, alice, "1x20").await;
    cache.put_list_page(before.clone(), &page(&[1])).await;
    tokio::time::sleep(SHORT * 3).await;
    let after = miss(&*cache, alice, "1x20").await;
    assert!(after.generation > before.generation, "{after:?} after {before:?}");
}

async fn a_creation_order_is_served_window_by_window_until_a_task_moves_inside_it(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    let (alice, bob) = (TaskScope::InvolvedUser(UserId(1)), TaskScope::InvolvedUser(UserId(2)));
    let ticket = order_miss(&*cache, alice).await;
    assert_eq!(ticket.extends, None, "a miss reads the whole order");
    cache.put_creation_order(ticket, &order(1..=50, 50)).await;
    let hit = |ids, total| OrderLookup::Hit { ids, total };
    assert_eq!(cache.creation_window(alice, window(0, 20, true), None).await, hit(ids((31..=50).rev()), 50));
    assert_eq!(cache.creation_window(alice, window(40, 20, true), None).await, hit(ids((1..=10).rev()), 50));
    assert_eq!(cache.creation_window(alice, window(20, 20, false), None).await, hit(ids(21..=40), 50));
    assert_eq!(cache.creation_window(alice, window(60, 20, true), None).await, hit(vec![], 50), "past the end");
    order_miss(&*cache, bob).await;
    // Statuses and the rest change without moving a task in the order.
    cache.forget_parts(vec![alice], vec![ListPart::Rest, ListPart::Status(Status::Pending)]).await;
    assert_eq!(cache.creation_window(alice, window(0, 2, true), None).await, hit(ids([50, 49]), 50));
    // A delete or a reassignment does.
    cache.forget_parts(vec![alice], vec![ListPart::Members]).await;
    order_miss(&*cache, alice).await;
}

async fn creates_leave_the_order_behind_and_an_extension_catches_it_up(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    let alice = TaskScope::InvolvedUser(UserId(1));
    let ticket = order_miss(&*cache, alice).await;
    cache.put_creation_order(ticket, &order(1..=50, 50)).await;
    cache.forget_parts(vec![alice], vec![ListPart::Appended, ListPart::Rest]).await;
    let behind = match cache.creation_window(alice, window(0, 20, true), None).await {
        OrderLookup::Behind(ticket) => ticket,
        other => panic!("expected the order to be behind, got {other:?}"),
    };
    let last = CreationKey { created_at: at(50), id: TaskId(50) };
    assert_eq!(behind.extends, Some((50, Some(last))), "it names where the newer tasks start");
    cache.put_creation_order(behind.clone(), &order(51..=53, 53)).await;
    assert_eq!(
        cache.creation_window(alice, window(0, 4, true), None).await,
        OrderLookup::Hit { ids: ids([53, 52, 51, 50]), total: 53 }
    );
    // The same extension again (another request behind at the same moment) adds nothing.
    cache.put_creation_order(behind.clone(), &order(51..=53, 53)).await;
    assert_eq!(
        cache.creation_window(alice, window(0, 4, true), None).await,
        OrderLookup::Hit { ids: ids([53, 52, 51, 50]), total: 53 }
    );
    // A create while the extension was read: behind for a new request, and for the one whose first
    // look came before that create, served (it holds every create answered before that look).
    cache.forget_parts(vec![alice], vec![ListPart::Appended, ListPart::Rest]).await;
    let after = cache.creation_window(alice, window(0, 4, true), None).await;
    assert!(matches!(after, OrderLookup::Behind(_)), "{after:?}");
    assert_eq!(
        cache.creation_window(alice, window(0, 4, true), Some(behind.appended)).await,
        OrderLookup::Hit { ids: ids([53, 52, 51, 50]), total: 53 }
    );
    // Not one read under an older generation than the first look's.
    let OrderLookup::Behind(later) = after else { unreachable!() };
    assert!(later.appended > behind.appended, "{later:?} after {behind:?}");
    let again = cache.creation_window(alice, window(0, 4, true), Some(later.appended)).await;
    assert!(matches!(again, OrderLookup::Behind(_)), "{again:?}");
}

async fn a_task_committed_late_is_laid_over_the_end_of_the_order(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    let alice = TaskScope::InvolvedUser(UserId(1));
    let ticket = order_miss(&*cache, alice).await;
    // Task 48 took its key before 49 and 50 but had not committed when the order was read.
    let without_48: Vec<i64> = (1..=47).chain([49, 50]).collect();
    let read =
        CreationOrder { ids: ids(without_48), last: order(50..=50, 49).last, total: 49, ..CreationOrder::default() };
    cache.put_creation_order(ticket, &read).await;
    cache.forget_parts(vec![alice], vec![ListPart::Appended, ListPart::Rest]).await;
    let behind = match cache.creation_window(alice, window(0, 20, true), None).await {
        OrderLookup::Behind(ticket) => OrderTicket { overlaps: true, ..ticket },
        other => panic!("expected the order to be behind, got {other:?}"),
    };
    // What reaches back further than the tasks read again is not laid over: 45 is missing too.
    cache.put_creation_order(behind.clone(), &order(46..=51, 52)).await;
    assert!(matches!(cache.creation_window(alice, window(0, 8, true), None).await, OrderLookup::Behind(_)));
    // The tasks created since a moment before the order's end: 46, 47, 49 and 50 it holds.
    cache.put_creation_order(behind.clone(), &order(46..=51, 51)).await;
    assert_eq!(
        cache.creation_window(alice, window(0, 8, true), None).await,
        OrderLookup::Hit { ids: ids((44..=51).rev()), total: 51 }
    );
    assert_eq!(
        cache.creation_window(alice, window(0, 51, false), None).await,
        OrderLookup::Hit { ids: ids(1..=51), total: 51 },
        "every task once, oldest first"
    );
    // The same overlap again (another request behind at the same moment) changes nothing.
    cache.put_creation_order(behind, &order(46..=51, 51)).await;
    assert_eq!(
        cache.creation_window(alice, window(0, 51, false), None).await,
        OrderLookup::Hit { ids: ids(1..=51), total: 51 }
    );
}

async fn an_order_read_before_a_reorder_is_never_served_after_it(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    let alice = TaskScope::InvolvedUser(UserId(1));
    let stale = order_miss(&*cache, alice).await;
    // A task is deleted while the order is read, and forgotten before the read is stored.
    cache.forget_parts(vec![alice], vec![ListPart::Members]).await;
    let fresh = order_miss(&*cache, alice).await;
    assert!(fresh.members > stale.members, "{fresh:?} after {stale:?}");
    cache.put_creation_order(stale.clone(), &order(1..=50, 50)).await;
    order_miss(&*cache, alice).await;
    cache.put_creation_order(fresh, &order(1..=49, 49)).await;
    // The late whole read does not replace the newer one either.
    cache.put_creation_order(stale, &order(1..=50, 50)).await;
    assert_eq!(
        cache.creation_window(alice, window(0, 1, true), None).await,
        OrderLookup::Hit { ids: ids([49]), total: 49 }
    );
}

async fn a_shown_page_is_shown_again_until_anything_in_its_scope_changes(caches: &dyn MakeCache) {
    let cache = caches.long_lived();
    let (alice, bob) = (TaskScope::InvolvedUser(UserId(1)), TaskScope::InvolvedUser(UserId(2)));
    let shown = ShownPage { tasks: vec![full_task(1), bare_task(2)], total: 2 };
    let miss = |lookup: ShownLookup| match lookup {
        ShownLookup::Miss(ticket) => ticket,
        other => panic!("expected a miss, got {other:?}"),
    };
    let ticket = miss(cache.shown_page(alice, "1x20").await);
    assert_eq!(ticket.part, ListPart::Rest, "filed under the generation every change moves");
    cache.put_shown_page(ticket, &shown).await;
    let bobs = miss(cache.shown_page(bob, "1x20").await);
    cache.put_shown_page(bobs, &ShownPage { tasks: vec![], total: 0 }).await;
    assert_eq!(cache.shown_page(alice, "1x20").await, ShownLookup::Hit(shown.clone()));
    miss(cache.shown_page(alice, "2x20").await);
    // A task of alice's changed: whatever it was, the rest moves with it.
    cache.forget_parts(vec![alice], vec![ListPart::Rest, ListPart::Status(Status::Pending)]).await;
    miss(cache.shown_page(alice, "1x20").await);
    assert_eq!(cache.shown_page(bob, "1x20").await, ShownLookup::Hit(ShownPage { tasks: vec![], total: 0 }));
    // A page read before the change is not shown after it.
    let stale = miss(cache.shown_page(bob, "3x20").await);
    cache.forget_scopes(vec![bob]).await;
    cache.put_shown_page(stale, &shown).await;
    miss(cache.shown_page(bob, "3x20").await);
}

/// What only the shared cache promises: several instances see each other's writes and
/// invalidations, under namespaced keys holding JSON with a time to live.
mod redis_only {
    use workbench_cache::testing::{redis_pool, redis_url};

    use super::common::{bare_task, full_task, purge, unique_prefix};
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instances_share_entries_and_invalidations() {
        let Some(pool) = redis_pool().await else { return };
        let prefix = unique_prefix();
        // Two instances: each its own pool, as two processes would have.
        let other_pool = workbench_cache::connect(&redis_url()).await.expect("a second pool");
        let one = RedisTaskCache::new(pool.clone(), LONG, LONG).with_prefix(&prefix);
        let two = RedisTaskCache::new(other_pool, LONG, LONG).with_prefix(&prefix);

        one.put_task(&full_task(1)).await;
        one.put_stats(TaskScope::All, &stats(5)).await;
        assert_eq!(two.task(TaskId(1)).await, Some(full_task(1)));
        assert_eq!(two.stats(TaskScope::All).await, Some(stats(5)));
        two.forget_task(TaskId(1)).await;
        two.forget_scopes(vec![TaskScope::All]).await;
        assert_eq!(one.task(TaskId(1)).await, None);
        assert_eq!(one.stats(TaskScope::All).await, None);
        purge(&pool, &prefix).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_on_one_instance_moves_every_instances_lists_on() {
        let Some(pool) = redis_pool().await else { return };
        let prefix = unique_prefix();
        let other_pool = workbench_cache::connect(&redis_url()).await.expect("a second pool");
        let one = RedisTaskCache::new(pool.clone(), LONG, LONG).with_prefix(&prefix);
        let two = RedisTaskCache::new(other_pool, LONG, LONG).with_prefix(&prefix);
        let alice = TaskScope::InvolvedUser(UserId(1));

        let ticket = miss(&one, alice, "1x20").await;
        one.put_list_page(ticket, &page(&[1])).await;
        assert_eq!(
            two.list_page(alice, ListPart::Members, "1x20").await,
            ListLookup::Hit(page(&[1])),
            "pages are shared"
        );
        two.forget_scopes(vec![alice]).await;
        miss(&one, alice, "1x20").await;
        purge(&pool, &prefix).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_creation_order_stored_by_one_instance_is_served_and_extended_by_another() {
        let Some(pool) = redis_pool().await else { return };
        let prefix = unique_prefix();
        let other_pool = workbench_cache::connect(&redis_url()).await.expect("a second pool");
        let one = RedisTaskCache::new(pool.clone(), LONG, LONG).with_prefix(&prefix);
        let two = RedisTaskCache::new(other_pool, LONG, LONG).with_prefix(&prefix);
        let alice = TaskScope::InvolvedUser(UserId(1));

        let ticket = order_miss(&one, alice).await;
        one.put_creation_order(ticket, &order(1..=30, 30)).await;
        let deep = window(25, 20, true);
        assert_eq!(
            two.creation_window(alice, deep, None).await,
            OrderLookup::Hit { ids: ids((1..=5).rev()), total: 30 }
        );
        one.forget_parts(vec![alice], vec![ListPart::Appended]).await;
        let OrderLookup::Behind(behind) = two.creation_window(alice, deep, None).await else { panic!("behind") };
        two.put_creation_order(behind, &order(31..=31, 31)).await;
        assert_eq!(
            one.creation_window(alice, deep, None).await,
            OrderLookup::Hit { ids: ids((1..=6).rev()), total: 31 }
        );
        two.forget_parts(vec![alice], vec![ListPart::Members]).await;
        order_miss(&one, alice).await;
        purge(&pool, &prefix).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn prefixes_keep_caches_apart() {
        let Some(pool) = redis_pool().await else { return };
        let (a, b) = (unique_prefix(), unique_prefix());
        let one = RedisTaskCache::new(pool.clone(), LONG, LONG).with_prefix(&a);
        let two = RedisTaskCache::new(pool.clone(), LONG, LONG).with_prefix(&b);
        one.put_task(&bare_task(1)).await;
        assert_eq!(two.task(TaskId(1)).await, None);
        two.forget_task(TaskId(1)).await;
        assert_eq!(one.task(TaskId(1)).await, Some(bare_task(1)));
        purge(&pool, &a).await;
    }

    /// The JSON under `key` and its remaining time to live in milliseconds.
    async fn stored(pool: &RedisPool, key: String) -> (serde_json::Value, i64) {
        let mut conn = pool.get().await.expect("a connection");
        let json: String = redis::cmd("GET").arg(&key).query_async(&mut conn).await.expect("GET");
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.expect("PTTL");
        (serde_json::from_str(&json).expect("JSON"), ttl)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn entries_are_json_under_namespaced_keys_with_a_time_to_live() {
        let Some(pool) = redis_pool().await else { return };
        let prefix = unique_prefix();
        let cache =
            RedisTaskCache::new(pool.clone(), Duration::from_secs(300), Duration::from_secs(30)).with_prefix(&prefix);
        cache.put_task(&full_task(7)).await;
        cache.put_stats(TaskScope::InvolvedUser(UserId(4)), &stats(2)).await;

        let (task, task_ttl) = stored(&pool, format!("{prefix}:task:7")).await;
        assert_eq!(task["title"], "Task 7: prepare the été review");
        assert!((290_000..=300_000).contains(&task_ttl), "task TTL {task_ttl} ms");
        let (counts, stats_ttl) = stored(&pool, format!("{prefix}:stats:user:4")).await;
        assert_eq!(counts["total"], 2);
        assert!((20_000..=30_000).contains(&stats_ttl), "stats TTL {stats_ttl} ms");
        purge(&pool, &prefix).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_default_prefix_is_wb() {
        let Some(pool) = redis_pool().await else { return };
        // An id no real data uses, forgotten straight away.
        let id = TaskId(-7_000_000_000 - i64::from(std::process::id()));
        let cache = RedisTaskCache::new(pool.clone(), LONG, LONG);
        let mut task = bare_task(1);
        task.id = id;
        cache.put_task(&task).await;
        let mut conn = pool.get().await.expect("a connection");
        let exists: bool =
            redis::cmd("EXISTS").arg(format!("wb:task:{id}")).query_async(&mut conn).await.expect("EXISTS");
        cache.forget_task(id).await;
        assert!(exists);
        assert_eq!(cache.task(id).await, None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreadable_value_is_a_miss() {
        let Some(pool) = redis_pool().await else { return };
        let prefix = unique_prefix();
        let mut conn = pool.get().await.expect("a connection");
        let () = redis::cmd("SET")
            .arg(format!("{prefix}:task:1"))
            .arg("{\"not\": \"a task\"}")
            .arg("EX")
            .arg(60)
            .query_async(&mut conn)
            .await
            .expect("SET");
        let cache = RedisTaskCache::new(pool.clone(), LONG, LONG).with_prefix(&prefix);
        assert_eq!(cache.task(TaskId(1)).await, None);
        cache.put_task(&bare_task(1)).await;
        assert_eq!(cache.task(TaskId(1)).await, Some(bare_task(1)), "the next write replaces it");
        purge(&pool, &prefix).await;
    }
}
