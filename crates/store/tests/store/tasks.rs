//! The task, comment and idempotency adapters, run against SQLite always and PostgreSQL when it is
//! reachable (and always under `CI=true`).
//!
//! Each case is written once, as `async fn case(db: Database)`, and [`suite!`] generates a
//! `sqlite` and a `postgres` test for it, so that both engines are held to the same port contract
//! (`crates/tasks/src/ports.rs`).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_store::testing::{execute_sql, instant, user};
use workbench_store::{Backend, Database, DieselCommentRepository, DieselTaskRepository, engine_cases};
use workbench_tasks::{
    CommentBody, CommentRepository, NewComment, NewTask, NewTaskRecord, Priority, Refinement, SEARCH_TIME_LIMIT,
    SortKey, Status, TagUsage, Tags, Task, TaskFilter, TaskId, TaskRepository, TaskScope, TaskSort, TaskStats, Title,
    UpdateOutcome,
};
use workbench_users::{User, UserId};

engine_cases!(
    create_then_find,
    create_with_unknown_assignee_is_a_missing_reference,
    the_schema_refuses_an_unknown_priority_or_a_rank_that_disagrees,
    every_filter,
    scope_involved_user_or_all,
    text_search_is_case_insensitive_including_non_ascii,
    text_search_wildcards_are_literal,
    first_matching_is_the_head_of_the_list_without_a_total,
    a_search_of_many_tags_finds_the_tasks_carrying_them_all,
    a_search_statement_past_its_time_limit_is_stopped_on_postgres,
    every_sort_key_both_directions,
    pagination_totals,
    update_with_current_version_stores_everything,
    update_with_stale_version_changes_nothing,
    concurrent_updates_exactly_one_wins,
    a_lost_race_is_rebased_on_the_stored_copy_in_the_same_call,
    racing_rebased_updates_lose_nothing,
    delete_with_and_without_version,
    stats_count_by_status_priority_and_overdue,
    tags_with_counts_and_search,
);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

pub(crate) fn repo(db: &Database) -> DieselTaskRepository {
    DieselTaskRepository::new(db.clone())
}

pub(crate) fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

pub(crate) fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

/// A pending, medium-priority task titled `title`, without anything else.
pub(crate) fn draft(title: &str) -> NewTask {
    NewTask {
        fields: Default::default(),
        bucket_id: None,
        title: Title::parse(title).expect("a valid test title"),
        description: None,
        status: Status::Pending,
        priority: Priority::Medium,
        due_date: None,
        assignee_id: None,
        tags: Tags::default(),
        project_id: None,
        recurrence: None,
    }
}

pub(crate) fn tags(raw: &[&str]) -> Tags {
    Tags::parse(raw.iter().map(|t| (*t).to_owned()).collect()).expect("valid test tags")
}

/// Stores `task` owned by `owner`, created at `at` (completed then if its status says so).
pub(crate) async fn create_at(repo: &DieselTaskRepository, owner: &User, task: NewTask, at: DateTime<Utc>) -> Task {
    let completed_at = (task.status == Status::Completed).then_some(at);
    repo.create(NewTaskRecord { task, owner_id: owner.id, completed_at, created_at: at })
        .await
        .expect("the task is created")
}

pub(crate) async fn find(repo: &DieselTaskRepository, id: TaskId) -> Option<Task> {
    repo.find(id).await.expect("the task loads")
}

pub(crate) fn page(page: u64, per_page: u64) -> PageRequest {
    PageRequest::new(Some(page), Some(per_page)).unwrap()
}

/// Oldest first, so that lists compare in creation order.
pub(crate) fn oldest_first() -> TaskFilter {
    TaskFilter { sort: TaskSort { key: SortKey::CreatedAt, descending: false }, ..TaskFilter::default() }
}

pub(crate) async fn list(
    repo: &DieselTaskRepository,
    scope: TaskScope,
    filter: TaskFilter,
    req: PageRequest,
) -> Page<Task> {
    repo.list(scope, filter, req).await.expect("the list loads")
}

/// The ids a one-page list finds, in order; checks that the total counts exactly those.
pub(crate) async fn found(repo: &DieselTaskRepository, scope: TaskScope, filter: TaskFilter) -> Vec<TaskId> {
    let page = list(repo, scope, filter, page(1, 100)).await;
    assert_eq!(page.total, page.items.len() as u64, "total counts exactly the matching tasks");
    page.items.iter().map(|t| t.id).collect()
}

pub(crate) fn ids(tasks: &[&Task]) -> Vec<TaskId> {
    tasks.iter().map(|t| t.id).collect()
}

pub(crate) fn usage(name: &str, usage_count: u64) -> TagUsage {
    TagUsage { name: name.to_owned(), usage_count }
}

/// `task` as it was at `version`: what an update names as the copy it replaces.
pub(crate) fn at_version(task: &Task, version: i64) -> Task {
    Task { version, ..task.clone() }
}

/// `task` changed as the domain would change it at `at`: version bumped, `updated_at` moved on.
/// `update` without a second attempt: whether `task` was stored over version `expected`.
pub(crate) async fn stored_over(repo: &DieselTaskRepository, task: Task, expected: i64) -> bool {
    // The copy the change was made from, as the port asks (a stale version: any copy at it).
    let before = match find(repo, task.id).await {
        Some(stored) if stored.version == expected => stored,
        _ => at_version(&task, expected),
    };
    let outcome = repo.update(task, before, Arc::new(|_: &Task| None), 1).await.unwrap();
    matches!(outcome, UpdateOutcome::Stored { replaced: None, .. })
}

pub(crate) fn changed(task: &Task, at: DateTime<Utc>, change: impl FnOnce(&mut Task)) -> Task {
    let mut task = task.clone();
    change(&mut task);
    task.version += 1;
    task.updated_at = at;
    task
}

pub(crate) fn new_comment(task: &Task, author: &User, body: &str, at: DateTime<Utc>) -> NewComment {
    NewComment {
        task_id: task.id,
        author_id: author.id,
        body: CommentBody::parse(body).expect("a valid comment"),
        created_at: at,
    }
}

// ---------------------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------------------

async fn create_then_find(db: Database) {
    let repo = repo(&db);
    let ann = user(&db, "ann").await;
    let bob = user(&db, "bob").await;
    let at = instant();
    let due = Utc.with_ymd_and_hms(2026, 4, 1, 12, 0, 0).unwrap() + TimeDelta::microseconds(7);

    let task = NewTask {
        fields: Default::default(),
        bucket_id: None,
        description: Some("Milk, eggs".into()),
        status: Status::Completed,
        priority: Priority::High,
        due_date: Some(due),
        assignee_id: Some(bob.id),
        tags: tags(&["zeta", "alpha", "mid"]),
        ..draft("Shopping")
    };
    let created = create_at(&repo, &ann, task, at).await;
    let expected = Task {
        id: created.id,
        title: "Shopping".into(),
        description: Some("Milk, eggs".into()),
        status: Status::Completed,
        priority: Priority::High,
        due_date: Some(due),
        owner_id: ann.id,
        assignee_id: Some(bob.id),
        tags: vec!["zeta".into(), "alpha".into(), "mid".into()],
        completed_at: Some(at),
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
    };
    assert_eq!(created, expected, "create returns the stored task at version 1, updated_at = created_at");
    assert_eq!(find(&repo, created.id).await, Some(expected), "find reads it back exactly, tags in their order");

    // Nothing optional set; a whole-second instant.
    let whole = Utc.with_ymd_and_hms(2030, 12, 31, 23, 59, 59).unwrap();
    let bare = create_at(&repo, &ann, draft("Bare"), whole).await;
    let found = find(&repo, bare.id).await.expect("the bare task exists");
    assert_eq!(found, bare);
    assert_eq!(
        (found.description, found.due_date, found.assignee_id, found.completed_at, found.tags.len()),
        (None, None, None, None, 0)
    );
    assert_eq!((found.created_at, found.updated_at), (whole, whole));

    assert_eq!(find(&repo, TaskId(created.id.0 + 1000)).await, None, "an unknown id is None");
}

async fn create_with_unknown_assignee_is_a_missing_reference(db: Database) {
    let repo = repo(&db);
    let ann = user(&db, "ann").await;
    let task = NewTask { assignee_id: Some(UserId(9_999)), tags: tags(&["x"]), ..draft("Orphan") };
    let result = repo.create(NewTaskRecord { task, owner_id: ann.id, completed_at: None, created_at: instant() }).await;
    assert!(matches!(result, Err(RepositoryError::MissingReference { .. })), "got {result:?}");
    let all = found(&repo, TaskScope::All, oldest_first()).await;
    assert!(all.is_empty(), "a failed create leaves nothing behind");
}

/// Five tasks between three users, used by the filter, scope, stats and tag cases.
pub(crate) struct Fixture {
    ann: User,
    bob: User,
    cat: User,
    now: DateTime<Utc>,
    /// ann's, assigned to bob: pending, high, [home, urgent], overdue.
    t1: Task,
    /// ann's: in progress, medium, [work], due tomorrow.
    t2: Task,
    /// bob's, assigned to ann: completed, low, [home], due in the past (not overdue: completed).
    t3: Task,
    /// bob's: pending, low, no tags, no due date.
    t4: Task,
    /// cat's, assigned to bob: pending, medium, [work], due in three days.
    t5: Task,
}

/// The schema holds the priority and the rank sorting uses to each other, whatever writes the
/// row: an unknown priority, or a rank that is not the priority's, is refused.
async fn the_schema_refuses_an_unknown_priority_or_a_rank_that_disagrees(db: Database) {
    let repo = repo(&db);
    let ann = user(&db, "ann").await;
    let task = create_at(&repo, &ann, draft("Ranked"), instant()).await;
    let id = task.id.0;
    let run = |sql: String| execute_sql(&db, sql);
    for refused in [
        "priority = 'urgent', priority_rank = 2",
        "priority = 'urgent'",
        "priority_rank = 1",
        "priority = 'high'",
        "priority = 'low', priority_rank = 3",
    ] {
        let outcome = run(format!("UPDATE tasks SET {refused} WHERE id = {id}")).await;
        assert!(outcome.is_err(), "{refused} is refused");
    }
    assert_eq!(run(format!("UPDATE tasks SET priority = 'high', priority_rank = 3 WHERE id = {id}")).await.unwrap(), 1);
    assert_eq!(find(&repo, task.id).await.expect("still there").priority, Priority::High);
}

pub(crate) async fn fixture(db: &Database) -> Fixture {
    let repo = repo(db);
    let (ann, bob, cat) = (user(db, "ann").await, user(db, "bob").await, user(db, "cat").await);
    let now = instant();
    let t1 = NewTask {
        fields: Default::default(),
        bucket_id: None,
        priority: Priority::High,
        due_date: Some(now - days(1)),
        assignee_id: Some(bob.id),
        tags: tags(&["home", "urgent"]),
        ..draft("one")
    };
    let t1 = create_at(&repo, &ann, t1, now - secs(50)).await;
    let t2 =
        NewTask { status: Status::InProgress, due_date: Some(now + days(1)), tags: tags(&["work"]), ..draft("two") };
    let t2 = create_at(&repo, &ann, t2, now - secs(40)).await;
    let t3 = NewTask {
        fields: Default::default(),
        bucket_id: None,
        status: Status::Completed,
        priority: Priority::Low,
        due_date: Some(now - days(2)),
        assignee_id: Some(ann.id),
        tags: tags(&["home"]),
        ..draft("three")
    };
    let t3 = create_at(&repo, &bob, t3, now - secs(30)).await;
    let t4 = create_at(&repo, &bob, NewTask { priority: Priority::Low, ..draft("four") }, now - secs(20)).await;
    let t5 =
        NewTask { due_date: Some(now + days(3)), assignee_id: Some(bob.id), tags: tags(&["Work"]), ..draft("five") };
    let t5 = create_at(&repo, &cat, t5, now - secs(10)).await;
    Fixture { ann, bob, cat, now, t1, t2, t3, t4, t5 }
}

async fn every_filter(db: Database) {
    let repo = repo(&db);
    let f = fixture(&db).await;
    let all = TaskScope::All;
    let with = |change: fn(&mut TaskFilter, &Fixture)| {
        let mut filter = oldest_first();
        change(&mut filter, &f);
        filter
    };

    assert_eq!(found(&repo, all, oldest_first()).await, ids(&[&f.t1, &f.t2, &f.t3, &f.t4, &f.t5]));

    let pending = with(|q, _| q.statuses = vec![Status::Pending]);
    assert_eq!(found(&repo, all, pending).await, ids(&[&f.t1, &f.t4, &f.t5]));
    let pending_or_done = with(|q, _| q.statuses = vec![Status::Pending, Status::Completed]);
    assert_eq!(found(&repo, all, pending_or_done).await, ids(&[&f.t1, &f.t3, &f.t4, &f.t5]));

    let low = with(|q, _| q.priorities = vec![Priority::Low]);
    assert_eq!(found(&repo, all, low).await, ids(&[&f.t3, &f.t4]));
    let high_or_medium = with(|q, _| q.priorities = vec![Priority::High, Priority::Medium]);
    assert_eq!(found(&repo, all, high_or_medium).await, ids(&[&f.t1, &f.t2, &f.t5]));

    let assigned_to_bob = with(|q, f| q.assignee_id = Some(f.bob.id));
    assert_eq!(found(&repo, all, assigned_to_bob).await, ids(&[&f.t1, &f.t5]));
    let owned_by_bob = with(|q, f| q.owner_id = Some(f.bob.id));
    assert_eq!(found(&repo, all, owned_by_bob).await, ids(&[&f.t3, &f.t4]));

    let home = with(|q, _| q.tag = Some("home".into()));
    assert_eq!(found(&repo, all, home).await, ids(&[&f.t1, &f.t3]));
    let work = with(|q, _| q.tag = Some("work".into()));
    assert_eq!(found(&repo, all, work).await, ids(&[&f.t2, &f.t5]), "tags are stored normalised");
    let partial_tag = with(|q, _| q.tag = Some("hom".into()));
    assert_eq!(found(&repo, all, partial_tag).await, vec![], "a tag matches whole");

    let before_now = with(|q, f| q.due_before = Some(f.now));
    assert_eq!(found(&repo, all, before_now).await, ids(&[&f.t1, &f.t3]), "no due date is never due before");
    let before_t1_due = with(|q, f| q.due_before = f.t1.due_date);
    assert_eq!(found(&repo, all, before_t1_due).await, ids(&[&f.t3]), "due_before is strict");
    let from_t2_due = with(|q, f| q.due_after = f.t2.due_date);
    assert_eq!(found(&repo, all, from_t2_due).await, ids(&[&f.t2, &f.t5]), "due_after includes the instant");
    let between = with(|q, f| {
        q.due_after = Some(f.now - days(1));
        q.due_before = Some(f.now + days(3));
    });
    assert_eq!(found(&repo, all, between).await, ids(&[&f.t1, &f.t2]));

    let overdue = with(|q, f| q.overdue_at = Some(f.now));
    assert_eq!(found(&repo, all, overdue).await, ids(&[&f.t1]), "completed tasks are never overdue");
    let overdue_later = with(|q, f| q.overdue_at = Some(f.now + days(2)));
    assert_eq!(found(&repo, all, overdue_later).await, ids(&[&f.t1, &f.t2]));

    let text = with(|q, _| q.text = Some("thr".into()));
    assert_eq!(found(&repo, all, text).await, ids(&[&f.t3]));

    let combined = with(|q, f| {
        q.owner_id = Some(f.ann.id);
        q.statuses = vec![Status::Pending];
        q.tag = Some("urgent".into());
    });
    assert_eq!(found(&repo, all, combined).await, ids(&[&f.t1]), "filters combine with AND");
}

async fn scope_involved_user_or_all(db: Database) {
    let repo = repo(&db);
    let f = fixture(&db).await;
    let dan = user(&db, "dan").await;
    let of = |u: &User| TaskScope::InvolvedUser(u.id);

    assert_eq!(found(&repo, TaskScope::All, oldest_first()).await.len(), 5);
    assert_eq!(found(&repo, of(&f.ann), oldest_first()).await, ids(&[&f.t1, &f.t2, &f.t3]), "owned or assigned");
    assert_eq!(found(&repo, of(&f.bob), oldest_first()).await, ids(&[&f.t1, &f.t3, &f.t4, &f.t5]));
    assert_eq!(found(&repo, of(&f.cat), oldest_first()).await, ids(&[&f.t5]));
    assert_eq!(found(&repo, of(&dan), oldest_first()).await, vec![]);

    let home = TaskFilter { tag: Some("home".into()), ..oldest_first() };
    assert_eq!(found(&repo, of(&f.bob), home).await, ids(&[&f.t1, &f.t3]), "scope and filters combine");
    let not_mine = TaskFilter { owner_id: Some(f.cat.id), ..oldest_first() };
    assert_eq!(found(&repo, of(&f.ann), not_mine).await, vec![], "a filter cannot widen the scope");
}

async fn text_search_is_case_insensitive_including_non_ascii(db: Database) {
    let repo = repo(&db);
    let ann = user(&db, "ann").await;
    let at = instant();
    let ete = create_at(&repo, &ann, draft("Été à Paris"), at).await;
    let plain = create_at(&repo, &ann, draft("ete plain"), at + secs(1)).await;
    let described = NewTask { description: Some("Voir la TOUR Eiffel, ÇA VA".into()), ..draft("Trip") };
    let described = create_at(&repo, &ann, described, at + secs(2)).await;
    let search = |text: &str| TaskFilter { text: Some(text.to_owned()), ..oldest_first() };

    // The domain lower-cases `q` (`TaskFilter::parse`); the stored text is folded in Rust.
    assert_eq!(found(&repo, TaskScope::All, search("été")).await, vec![ete.id], "non-ASCII folds on both engines");
    assert_eq!(found(&repo, TaskScope::All, search("été à")).await, vec![ete.id]);
    assert_eq!(found(&repo, TaskScope::All, search("ete")).await, vec![plain.id], "accents are not stripped");
    assert_eq!(found(&repo, TaskScope::All, search("tour eiffel")).await, vec![described.id], "description");
    assert_eq!(found(&repo, TaskScope::All, search("ça va")).await, vec![described.id]);
    assert_eq!(found(&repo, TaskScope::All, search("trip")).await, vec![described.id]);
    assert_eq!(found(&repo, TaskScope::All, search("paris eiffel")).await, vec![]);

    // The search text follows updates.
    let renamed = changed(&ete, at + secs(10), |t| {
        t.title = "Hiver".into();
        t.description = Some("ÉTÉ fini".into());
    });
    assert!(stored_over(&repo, renamed, ete.version).await);
    assert_eq!(found(&repo, TaskScope::All, search("à paris")).await, vec![]);
    assert_eq!(found(&repo, TaskScope::All, search("hiver")).await, vec![ete.id]);
    assert_eq!(found(&repo, TaskScope::All, search("été fini")).await, vec![ete.id]);

    // And deletions (SQLite keeps a trigram index beside the table).
    assert!(repo.delete(described.id, None).await.unwrap());
    assert_eq!(found(&repo, TaskScope::All, search("tour eiffel")).await, vec![]);
    assert_eq!(found(&repo, TaskScope::All, search("ete")).await, vec![plain.id]);
}

async fn first_matching_is_the_head_of_the_list_without_a_total(db: Database) {
    let repo = repo(&db);
    let (ann, bob) = (user(&db, "ann").await, user(&db, "bob").await);
    let at = instant();
    let mut anns = Vec::new();
    for i in 0..4 {
        anns.push(create_at(&repo, &ann, draft(&format!("Kettle {i}")), at + secs(i)).await.id);
    }
    create_at(&repo, &bob, draft("Bob's kettle"), at + secs(10)).await;
    create_at(&repo, &ann, draft("Toaster"), at + secs(11)).await;
    let kettles = TaskFilter { text: Some("kettle".into()), ..TaskFilter::default() };

    let newest =
        repo.first_matching(TaskScope::InvolvedUser(ann.id), kettles.clone(), 3, SEARCH_TIME_LIMIT).await.unwrap();
    assert_eq!(newest.iter().map(|t| t.id).collect::<Vec<_>>(), [anns[3], anns[2], anns[1]], "newest first, hers");
    let all = repo.first_matching(TaskScope::All, kettles.clone(), 10, SEARCH_TIME_LIMIT).await.unwrap();
    assert_eq!(all.len(), 5);
    let listed = list(&repo, TaskScope::All, kettles.clone(), page(1, 2)).await;
    let head = repo.first_matching(TaskScope::All, kettles, 2, SEARCH_TIME_LIMIT).await.unwrap();
    assert_eq!(head, listed.items, "the same order as the list");
}

/// A search's tags: the first as the list's `tag`, the rest as its refinement, all to be carried
/// (each condition checked once whatever their number, see `carries_all`); the page and the
/// facets agree.
async fn a_search_of_many_tags_finds_the_tasks_carrying_them_all(db: Database) {
    let repo = repo(&db);
    let (ann, bob) = (user(&db, "ann").await, user(&db, "bob").await);
    let tagged = |title: &str, tags: &[String]| NewTask { tags: Tags::parse(tags.to_vec()).unwrap(), ..draft(title) };
    let twenty: Vec<String> = (1..=Tags::MAX_TAGS).map(|i| format!("t{i}")).collect();
    let at = instant();
    let all = create_at(&repo, &ann, tagged("all twenty", &twenty), at).await;
    let mut reversed = twenty.clone();
    reversed.reverse();
    let reordered = create_at(&repo, &ann, tagged("all twenty, reversed", &reversed), at + secs(1)).await;
    let one_short = create_at(&repo, &ann, tagged("one short", &twenty[1..]), at + secs(2)).await;
    let mut swapped = twenty[..19].to_vec();
    swapped.push("t200".into());
    create_at(&repo, &ann, tagged("one swapped", &swapped), at + secs(3)).await;
    create_at(&repo, &ann, tagged("untagged", &[]), at + secs(4)).await;
    create_at(&repo, &bob, tagged("bob's, all twenty", &twenty), at + secs(5)).await;

    let search = |tags: &[String]| TaskFilter {
        tag: tags.first().cloned(),
        refinement: Refinement { tags: tags.iter().skip(1).cloned().collect(), ..Refinement::default() },
        ..TaskFilter::default()
    };
    let ids = |tasks: Vec<Task>| tasks.into_iter().map(|t| t.id).collect::<Vec<_>>();
    let anns = TaskScope::InvolvedUser(ann.id);
    let found = |filter: TaskFilter| {
        let repo = repo.clone();
        async move {
            let page = repo.first_matching(anns, filter.clone(), 10, SEARCH_TIME_LIMIT).await.unwrap();
            let facets = repo.facets(anns, filter, SEARCH_TIME_LIMIT).await.unwrap();
            assert_eq!(facets.total, page.len() as u64, "the facets count what the page finds");
            ids(page)
        }
    };
    assert_eq!(found(search(&twenty)).await, [reordered.id, all.id], "every tag, in any order");
    assert_eq!(found(search(&twenty[1..])).await, [one_short.id, reordered.id, all.id]);
    let mut repeated = twenty.clone();
    repeated.extend(twenty[..10].iter().cloned());
    assert_eq!(found(search(&repeated)).await, [reordered.id, all.id], "a tag asked twice is one tag");
    let thirty: Vec<String> = (1..=30).map(|i| format!("t{i}")).collect();
    assert_eq!(found(search(&thirty)).await, Vec::<TaskId>::new(), "no task carries thirty tags");
    let facets = repo.facets(anns, search(&twenty[..2]), SEARCH_TIME_LIMIT).await.unwrap();
    assert_eq!((facets.total, facets.tag.get("t1"), facets.tag.get("t200")), (3, Some(&3), Some(&1)));
    let everyone = repo.first_matching(TaskScope::All, search(&twenty), 10, SEARCH_TIME_LIMIT).await.unwrap();
    assert_eq!(everyone.len(), 3, "bob's too, in the scope of all tasks");
}

/// PostgreSQL stops a search's statement at its time limit: here one that waits behind a lock on
/// the table. SQLite has no limit and needs none: its readers never wait on a writer.
async fn a_search_statement_past_its_time_limit_is_stopped_on_postgres(db: Database) {
    let repo = repo(&db);
    let ann = user(&db, "ann").await;
    create_at(&repo, &ann, draft("Kettle"), instant()).await;
    let filter = TaskFilter { text: Some("kettle".into()), ..TaskFilter::default() };
    let scope = TaskScope::InvolvedUser(ann.id);
    let limit = std::time::Duration::from_millis(300);
    let (locked, unlocked) = (Arc::new(tokio::sync::Notify::new()), Arc::new(tokio::sync::Notify::new()));
    let holder = {
        let (db, locked, unlocked) = (db.clone(), locked.clone(), unlocked.clone());
        let lock = match db.backend() {
            Backend::Postgres => "LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE",
            Backend::Sqlite => "UPDATE tasks SET title = 'Kettle!'",
        };
        tokio::spawn(async move {
            let handle = tokio::runtime::Handle::current();
            db.run(move |conn| {
                use diesel::connection::SimpleConnection;
                conn.batch_execute(&format!("BEGIN; {lock}")).map_err(|e| RepositoryError::Unavailable(e.into()))?;
                locked.notify_one();
                // Held until the searches are over, or 5 s at most (a search that waits for it
                // then answers late, and the test says so).
                let _ = handle.block_on(tokio::time::timeout(std::time::Duration::from_secs(5), unlocked.notified()));
                conn.batch_execute("ROLLBACK").map_err(|e| RepositoryError::Unavailable(e.into()))
            })
            .await
        })
    };
    locked.notified().await;
    let started = std::time::Instant::now();
    let page = repo.first_matching(scope, filter.clone(), 10, limit).await;
    let facets = repo.facets(scope, filter, limit).await;
    let waited = started.elapsed();
    unlocked.notify_one();
    holder.await.unwrap().unwrap();
    match db.backend() {
        Backend::Postgres => {
            assert_eq!(page.unwrap_err().time_limit(), Some(limit));
            assert_eq!(facets.unwrap_err().time_limit(), Some(limit));
            assert!(waited < limit * 2 + std::time::Duration::from_secs(1), "stopped at the limit: {waited:?}");
        }
        Backend::Sqlite => {
            assert_eq!(page.unwrap().len(), 1, "a reader reads beside the writer");
            assert_eq!(facets.unwrap().total, 1);
        }
    }
}

async fn text_search_wildcards_are_literal(db: Database) {
    let repo = repo(&db);
    let ann = user(&db, "ann").await;
    let at = instant();
    let mut made = Vec::new();
    for (i, title) in
        ["100% sure", "1000 sure", "snake_case", "snakeXcase", r"back\slash", "backslash"].iter().enumerate()
    {
        made.push(create_at(&repo, &ann, draft(title), at + secs(i as i64)).await.id);
    }
    let search = |text: &str| TaskFilter { text: Some(text.to_owned()), ..oldest_first() };
    assert_eq!(found(&repo, TaskScope::All, search("100%")).await, vec![made[0]]);
    assert_eq!(found(&repo, TaskScope::All, search("%")).await, vec![made[0]]);
    assert_eq!(found(&repo, TaskScope::All, search("e_c")).await, vec![made[2]]);
    assert_eq!(found(&repo, TaskScope::All, search("_")).await, vec![made[2]]);
    assert_eq!(found(&repo, TaskScope::All, search(r"k\s")).await, vec![made[4]]);
    assert_eq!(found(&repo, TaskScope::All, search(r"\")).await, vec![made[4]]);
}

async fn every_sort_key_both_directions(db: Database) {
    let repo = repo(&db);
    let ann = user(&db, "ann").await;
    let base = instant();
    let soon = base + days(1);
    let a = NewTask { priority: Priority::Low, due_date: Some(soon + days(2)), ..draft("delta") };
    let a = create_at(&repo, &ann, a, base).await;
    let b = create_at(&repo, &ann, NewTask { priority: Priority::High, ..draft("alpha") }, base + secs(1)).await;
    let c = NewTask { priority: Priority::Medium, due_date: Some(soon), ..draft("charlie") };
    let c = create_at(&repo, &ann, c, base + secs(2)).await;
    let d = create_at(&repo, &ann, NewTask { priority: Priority::High, ..draft("bravo") }, base + secs(3)).await;
    let e = NewTask { priority: Priority::Low, due_date: Some(soon + days(1)), ..draft("echo") };
    let e = create_at(&repo, &ann, e, base + secs(4)).await;
    // a was changed last.
    assert!(stored_over(&repo, changed(&a, base + secs(10), |_| {}), a.version).await);

    let cases: [(SortKey, Vec<&Task>, Vec<&Task>); 5] = [
        (SortKey::CreatedAt, vec![&a, &b, &c, &d, &e], vec![&e, &d, &c, &b, &a]),
        (SortKey::UpdatedAt, vec![&b, &c, &d, &e, &a], vec![&a, &e, &d, &c, &b]),
        (SortKey::Title, vec![&b, &d, &c, &a, &e], vec![&e, &a, &c, &d, &b]),
        // Equal priorities are ordered by id, in the same direction.
        (SortKey::Priority, vec![&a, &e, &c, &b, &d], vec![&d, &b, &c, &e, &a]),
        // No due date last in both directions; among those, by id in the same direction.
        (SortKey::DueDate, vec![&c, &e, &a, &b, &d], vec![&a, &e, &c, &d, &b]),
    ];
    for (key, ascending, descending) in cases {
        for (descending_flag, expected) in [(false, ascending), (true, descending)] {
            let filter = TaskFilter { sort: TaskSort { key, descending: descending_flag }, ..TaskFilter::default() };
            assert_eq!(
                found(&repo, TaskScope::All, filter).await,
                ids(&expected),
                "sort by {key:?}, descending: {descending_flag}"
            );
        }
    }
    // The default is newest first.
    assert_eq!(found(&repo, TaskScope::All, TaskFilter::default()).await, ids(&[&e, &d, &c, &b, &a]));
}

async fn pagination_totals(db: Database) {
    let repo = repo(&db);
    let ann = user(&db, "ann").await;
    let mut all = Vec::new();
    for i in 0..7 {
        let task = NewTask { tags: tags(&[format!("t{i}").as_str(), "common"]), ..draft(&format!("task {i}")) };
        all.push(create_at(&repo, &ann, task, instant() + secs(i)).await);
    }
    let scope = TaskScope::InvolvedUser(ann.id);
    let mut seen = Vec::new();
    for (n, expected_len) in [(1, 3), (2, 3), (3, 1), (4, 0)] {
        let p = list(&repo, scope, oldest_first(), page(n, 3)).await;
        assert_eq!((p.total, p.items.len(), p.pages()), (7, expected_len, 3), "page {n}");
        seen.extend(p.items);
    }
    assert_eq!(seen, all, "the pages together are the whole list, in order, each with its own tags");

    let filtered = TaskFilter { text: Some("task 1".into()), ..oldest_first() };
    let p = list(&repo, scope, filtered, page(1, 3)).await;
    assert_eq!((p.total, p.items.len()), (1, 1), "the total counts the filtered list");
}

/// How many tasks `scope` holds with one of `statuses` (any when empty), as a list's total says.
async fn update_with_current_version_stores_everything(db: Database) {
    let repo = repo(&db);
    let ann = user(&db, "ann").await;
    let bob = user(&db, "bob").await;
    let at = instant();
    let task = NewTask {
        fields: Default::default(),
        bucket_id: None,
        description: Some("old".into()),
        assignee_id: Some(bob.id),
        due_date: Some(at + days(1)),
        tags: tags(&["a", "b", "c"]),
        ..draft("Before")
    };
    let task = create_at(&repo, &ann, task, at).await;

    let later = at + secs(90) + TimeDelta::microseconds(5);
    let updated = changed(&task, later, |t| {
        t.title = "After".into();
        t.description = None;
        t.status = Status::Completed;
        t.completed_at = Some(later);
        t.priority = Priority::High;
        t.due_date = None;
        t.assignee_id = None;
        t.tags = vec!["c".into(), "new".into(), "a".into()];
    });
    assert!(stored_over(&repo, updated.clone(), 1).await, "the current version wins");
    assert_eq!(find(&repo, task.id).await, Some(updated.clone()), "every field is stored, tags in the new order");

    // And back: nullable fields set again, tags cleared.
    let again = changed(&updated, later + secs(1), |t| {
        t.description = Some("new".into());
        t.status = Status::Pending;
        t.completed_at = None;
        t.priority = Priority::Low;
        t.due_date = Some(later + days(3));
        t.assignee_id = Some(bob.id);
        t.tags = vec![];
    });
    assert!(stored_over(&repo, again.clone(), 2).await);
    assert_eq!(find(&repo, task.id).await, Some(again));

    let priority_first = TaskFilter { sort: TaskSort { key: SortKey::Priority, descending: true }, ..oldest_first() };
    let other = create_at(&repo, &ann, draft("Other"), at).await;
    assert_eq!(
        found(&repo, TaskScope::All, priority_first).await,
        vec![other.id, task.id],
        "the priority rank follows the priority"
    );

    let ghost = Task { id: TaskId(task.id.0 + 1000), ..task.clone() };
    assert!(!stored_over(&repo, ghost, 1).await, "an unknown task is not updated");
}

async fn update_with_stale_version_changes_nothing(db: Database) {
    let repo = repo(&db);
    let ann = user(&db, "ann").await;
    let at = instant();
    let task = create_at(&repo, &ann, NewTask { tags: tags(&["keep"]), ..draft("Original") }, at).await;
    let first = changed(&task, at + secs(1), |t| t.title = "First".into());
    assert!(stored_over(&repo, first.clone(), 1).await);

    let stale = changed(&task, at + secs(2), |t| {
        t.title = "Stale".into();
        t.tags = vec!["lost".into()];
        t.status = Status::Completed;
    });
    assert!(!stored_over(&repo, stale, 1).await, "version 1 is no longer current");
    assert_eq!(find(&repo, task.id).await, Some(first), "a stale update changes nothing, tags included");
}

async fn concurrent_updates_exactly_one_wins(db: Database) {
    const RACERS: usize = 8;
    let repo = Arc::new(repo(&db));
    let ann = user(&db, "ann").await;
    let mut current = create_at(&repo, &ann, NewTask { tags: tags(&["start"]), ..draft("Contested") }, instant()).await;

    for round in 0..3 {
        let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
        let mut racers = tokio::task::JoinSet::new();
        for racer in 0..RACERS {
            let (repo, barrier) = (Arc::clone(&repo), Arc::clone(&barrier));
            let mine = changed(&current, instant() + secs(round * 100 + racer as i64), |t| {
                t.title = format!("round {round} racer {racer}");
                t.tags = vec![format!("r{racer}"), "shared".into()];
            });
            let expected = current.version;
            racers.spawn(async move {
                barrier.wait().await;
                let won = repo.update(mine.clone(), at_version(&mine, expected), Arc::new(|_: &Task| None), 1).await;
                (won, mine)
            });
        }
        let mut winners = Vec::new();
        while let Some(joined) = racers.join_next().await {
            match joined.expect("the task completes") {
                (Ok(UpdateOutcome::Stored { task, replaced: None, follow_up: None, dependants }), mine) => {
                    assert!(dependants.is_empty(), "a title changes no other task");
                    assert_eq!(task, mine);
                    winners.push(task)
                }
                (Ok(UpdateOutcome::Stale(Some(_))), _) => {}
                (Ok(other), _) => panic!("round {round}: a lone attempt ended {other:?}"),
                (Err(e), _) => panic!("round {round}: a racing update failed: {e:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one update wins");
        let stored = find(&repo, current.id).await.expect("the task exists");
        assert_eq!(stored, winners[0], "round {round}: the winner's task is stored whole");
        current = stored;
    }
}

async fn a_lost_race_is_rebased_on_the_stored_copy_in_the_same_call(db: Database) {
    let repo = repo(&db);
    let ann = user(&db, "ann").await;
    let at = instant();
    let first = create_at(&repo, &ann, NewTask { tags: tags(&["a"]), ..draft("First") }, at).await;
    let second = changed(&first, at + secs(1), |t| t.title = "Second".into());
    assert!(stored_over(&repo, second.clone(), 1).await);

    // Made from version 1, which moved on: rebased on the stored version 2.
    let stale = changed(&first, at + secs(2), |t| t.title = "Lost".into());
    let rebase = Arc::new(move |stored: &Task| {
        Some(changed(stored, at + secs(3), |t| t.tags = vec!["a".into(), "rebased".into()]))
    });
    let outcome = repo.update(stale.clone(), at_version(&stale, 1), rebase, 2).await.unwrap();
    let rebased = changed(&second, at + secs(3), |t| t.tags = vec!["a".into(), "rebased".into()]);
    assert_eq!(
        outcome,
        UpdateOutcome::Stored {
            task: rebased.clone(),
            replaced: Some(second.clone()),
            follow_up: None,
            dependants: Vec::new()
        }
    );
    assert_eq!(find(&repo, first.id).await, Some(rebased.clone()), "the rebased copy is stored whole");

    // A rebase that declines, or no attempt left, stores nothing and shows the stored copy.
    let declined = repo.update(stale.clone(), at_version(&stale, 1), Arc::new(|_: &Task| None), 5).await.unwrap();
    assert_eq!(declined, UpdateOutcome::Stale(Some(rebased.clone())));
    let never = Arc::new(|_: &Task| -> Option<Task> { panic!("no attempt is left to rebase for") });
    assert_eq!(
        repo.update(stale.clone(), at_version(&stale, 1), never, 1).await.unwrap(),
        UpdateOutcome::Stale(Some(rebased.clone()))
    );
    assert_eq!(find(&repo, first.id).await, Some(rebased.clone()));

    // Gone: nothing to rebase on.
    assert!(repo.delete(first.id, None).await.unwrap());
    let before = at_version(&stale, 1);
    let gone = repo.update(stale, before, Arc::new(|stored: &Task| Some(stored.clone())), 5).await.unwrap();
    assert_eq!(gone, UpdateOutcome::Stale(None));
}

/// Racers that each add their own tag, all starting from one version, rebasing on every lost
/// race: every tag is stored, and the version grew by one per racer.
async fn racing_rebased_updates_lose_nothing(db: Database) {
    const RACERS: usize = 6;
    let repo = Arc::new(repo(&db));
    let ann = user(&db, "ann").await;
    let start = create_at(&repo, &ann, draft("Shared"), instant()).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut racers = tokio::task::JoinSet::new();
    for racer in 0..RACERS {
        let (repo, barrier, start) = (Arc::clone(&repo), Arc::clone(&barrier), start.clone());
        racers.spawn(async move {
            let add_mine = move |t: &Task| changed(t, instant(), |t| t.tags.push(format!("r{racer}")));
            let first = add_mine(&start);
            barrier.wait().await;
            let before = at_version(&first, start.version);
            repo.update(first, before, Arc::new(move |stored: &Task| Some(add_mine(stored))), RACERS).await
        });
    }
    while let Some(joined) = racers.join_next().await {
        let outcome = joined.expect("the task completes").expect("no store error");
        assert!(matches!(outcome, UpdateOutcome::Stored { .. }), "{outcome:?}");
    }
    let stored = find(&repo, start.id).await.expect("the task exists");
    assert_eq!(stored.version, start.version + RACERS as i64);
    let mut tags = stored.tags;
    tags.sort();
    assert_eq!(tags, (0..RACERS).map(|r| format!("r{r}")).collect::<Vec<_>>(), "no racer's change is lost");
}

async fn delete_with_and_without_version(db: Database) {
    let repo = repo(&db);
    let comments = DieselCommentRepository::new(db.clone());
    let ann = user(&db, "ann").await;
    let at = instant();
    let task = create_at(&repo, &ann, NewTask { tags: tags(&["gone"]), ..draft("Versioned") }, at).await;
    let comment = comments.create(new_comment(&task, &ann, "bye", at)).await.unwrap();
    assert!(stored_over(&repo, changed(&task, at + secs(1), |_| {}), 1).await);

    assert!(!repo.delete(task.id, Some(1)).await.unwrap(), "a stale version deletes nothing");
    assert!(find(&repo, task.id).await.is_some());
    assert!(repo.delete(task.id, Some(2)).await.unwrap(), "the current version deletes");
    assert_eq!(find(&repo, task.id).await, None);
    assert_eq!(comments.find(task.id, comment.id).await.unwrap(), None, "comments go with the task");
    assert_eq!(repo.tags(TaskScope::All, None).await.unwrap(), vec![], "tags go with the task");

    let other = create_at(&repo, &ann, draft("Unversioned"), at).await;
    assert!(repo.delete(other.id, None).await.unwrap(), "without a version any version deletes");
    assert!(!repo.delete(other.id, None).await.unwrap(), "a deleted task is not deleted twice");
    assert!(!repo.delete(TaskId(other.id.0 + 1000), Some(1)).await.unwrap());
}

async fn stats_count_by_status_priority_and_overdue(db: Database) {
    let repo = repo(&db);
    let f = fixture(&db).await;
    let dan = user(&db, "dan").await;
    let stats = |scope| {
        let repo = repo.clone();
        async move { repo.stats(scope, f.now).await.expect("stats load") }
    };
    let all = TaskStats { total: 5, pending: 3, in_progress: 1, completed: 1, low: 2, medium: 2, high: 1, overdue: 1 };
    assert_eq!(stats(TaskScope::All).await, all);
    let ann = TaskStats { total: 3, pending: 1, in_progress: 1, completed: 1, low: 1, medium: 1, high: 1, overdue: 1 };
    assert_eq!(stats(TaskScope::InvolvedUser(f.ann.id)).await, ann);
    let cat = TaskStats { total: 1, pending: 1, medium: 1, ..TaskStats::default() };
    assert_eq!(stats(TaskScope::InvolvedUser(f.cat.id)).await, cat);
    assert_eq!(stats(TaskScope::InvolvedUser(dan.id)).await, TaskStats::default());

    let in_three_days = repo.stats(TaskScope::All, f.now + days(3)).await.unwrap();
    assert_eq!(in_three_days.overdue, 2, "overdue is as of `now`, strictly before it, never completed");
    let t4_done = changed(&f.t4, f.now, |t| {
        t.status = Status::Completed;
        t.completed_at = Some(f.now);
    });
    assert!(stored_over(&repo, t4_done, f.t4.version).await);
    let after = repo.stats(TaskScope::InvolvedUser(f.bob.id), f.now).await.unwrap();
    let bob = TaskStats { total: 4, pending: 2, in_progress: 0, completed: 2, low: 2, medium: 1, high: 1, overdue: 1 };
    assert_eq!(after, bob);
}

async fn tags_with_counts_and_search(db: Database) {
    let repo = repo(&db);
    let f = fixture(&db).await;
    let tags_of = |scope, search: Option<&str>| {
        let (repo, search) = (repo.clone(), search.map(str::to_owned));
        async move { repo.tags(scope, search).await.expect("tags load") }
    };
    assert_eq!(
        tags_of(TaskScope::All, None).await,
        vec![usage("home", 2), usage("work", 2), usage("urgent", 1)],
        "most used first, then by name"
    );
    assert_eq!(
        tags_of(TaskScope::InvolvedUser(f.ann.id), None).await,
        vec![usage("home", 2), usage("urgent", 1), usage("work", 1)]
    );
    assert_eq!(tags_of(TaskScope::InvolvedUser(f.cat.id), None).await, vec![usage("work", 1)]);
    assert_eq!(tags_of(TaskScope::All, Some("o")).await, vec![usage("home", 2), usage("work", 2)]);
    assert_eq!(tags_of(TaskScope::All, Some("urg")).await, vec![usage("urgent", 1)]);
    assert_eq!(tags_of(TaskScope::InvolvedUser(f.cat.id), Some("home")).await, vec![]);
    assert_eq!(tags_of(TaskScope::All, Some("%")).await, vec![], "wildcards are literal");
    assert_eq!(tags_of(TaskScope::All, Some("_")).await, vec![]);

    let t4 = changed(&f.t4, f.now, |t| t.tags = vec!["snake_tag".into(), "home".into()]);
    assert!(stored_over(&repo, t4, f.t4.version).await);
    assert_eq!(tags_of(TaskScope::All, Some("_")).await, vec![usage("snake_tag", 1)]);
    assert_eq!(tags_of(TaskScope::All, None).await[0], usage("home", 3));
}
