//! A user's task totals: exact through every kind of change, when writes commit together, and
//! in the creation order's list; and the status filter's pages, read from the status keys.

use std::sync::Arc;

use workbench_projects::ProjectId;
use workbench_store::testing::{count_rows, execute_sql, instant, user};
use workbench_store::{Database, DieselBoardRepository, DieselTaskRepository, engine_cases};
use workbench_tasks::{
    BoardRepository, CreationKey, CreationOrder, NewTask, Recurrence, SortKey, Status, Task, TaskFilter, TaskId,
    TaskRepository, TaskScope, TaskSort,
};
use workbench_users::UserId;

use crate::tasks::*;

engine_cases!(
    totals_stay_exact_through_every_kind_of_change,
    totals_stay_exact_when_writes_commit_together,
    the_creation_order_is_every_task_oldest_first_with_the_total,
    status_pages_hold_the_scopes_tasks_of_the_status_through_every_change,
);

async fn total(repo: &DieselTaskRepository, scope: TaskScope, statuses: &[Status]) -> u64 {
    let filter = TaskFilter { statuses: statuses.to_vec(), ..TaskFilter::default() };
    list(repo, scope, filter, page(1, 1)).await.total
}

/// `[all, pending, in progress, completed]` of `scope`, as list totals.
async fn totals(repo: &DieselTaskRepository, scope: TaskScope) -> [u64; 4] {
    [
        total(repo, scope, &[]).await,
        total(repo, scope, &[Status::Pending]).await,
        total(repo, scope, &[Status::InProgress]).await,
        total(repo, scope, &[Status::Completed, Status::InProgress]).await
            - total(repo, scope, &[Status::InProgress]).await,
    ]
}

/// A total by scope and status is read from counters, not counted (issue 35): creates, status
/// changes, reassignments, deletions and the cascade of a deleted user all keep it exact, on
/// PostgreSQL before and after the changes are folded into the counters.
async fn totals_stay_exact_through_every_kind_of_change(db: Database) {
    let repo = repo(&db);
    let (ann, bob, cat) = (user(&db, "ann").await, user(&db, "bob").await, user(&db, "cat").await);
    let at = instant();
    let mine = create_at(&repo, &ann, draft("mine"), at).await;
    let shared = create_at(&repo, &ann, NewTask { assignee_id: Some(bob.id), ..draft("shared") }, at).await;
    let bobs = NewTask { status: Status::InProgress, assignee_id: Some(ann.id), ..draft("bob's") };
    create_at(&repo, &bob, bobs, at).await;
    let own = NewTask { status: Status::Completed, assignee_id: Some(ann.id), ..draft("to myself") };
    create_at(&repo, &ann, own, at).await;
    let (anns, bobs, cats) =
        (TaskScope::InvolvedUser(ann.id), TaskScope::InvolvedUser(bob.id), TaskScope::InvolvedUser(cat.id));
    assert_eq!(totals(&repo, anns).await, [4, 2, 1, 1], "a task assigned to its owner counts once");
    assert_eq!(totals(&repo, bobs).await, [2, 1, 1, 0]);
    assert_eq!(totals(&repo, TaskScope::All).await, [4, 2, 1, 1]);

    let moved = changed(&shared, at + secs(1), |t| {
        t.status = Status::Completed;
        t.assignee_id = Some(cat.id);
    });
    assert!(stored_over(&repo, moved, shared.version).await);
    assert_eq!(totals(&repo, anns).await, [4, 1, 1, 2]);
    assert_eq!(totals(&repo, bobs).await, [1, 0, 1, 0]);
    assert_eq!(totals(&repo, cats).await, [1, 0, 0, 1]);

    assert!(repo.delete(mine.id, None).await.unwrap());
    assert_eq!(totals(&repo, anns).await, [3, 0, 1, 2]);
    assert_eq!(totals(&repo, TaskScope::All).await, [3, 0, 1, 2]);

    // Behind the repository's back: the schema cascades bob's tasks away with him.
    execute_sql(&db, format!("DELETE FROM users WHERE id = {}", bob.id.0)).await.unwrap();
    assert_eq!(totals(&repo, anns).await, [2, 0, 0, 2]);
    assert_eq!(totals(&repo, cats).await, [1, 0, 0, 1]);
    assert_eq!(totals(&repo, TaskScope::All).await, [2, 0, 0, 2]);

    // A write folds the changes into the counters (PostgreSQL); the totals stay.
    create_at(&repo, &cat, draft("cat's"), at).await;
    let mut waited = 0;
    while count_rows(&db, "task_count_changes").await > 0 {
        assert!(waited < 100, "the changes are folded into the counters");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(totals(&repo, cats).await, [2, 1, 0, 1]);
    assert_eq!(totals(&repo, TaskScope::All).await, [3, 1, 0, 2]);
}

/// What `SELECT COUNT(*)` says: `[all, pending, in progress, completed]` of the tasks ann owns or
/// is assigned, to hold the counters to.
async fn counted_by_hand(db: &Database, user: UserId) -> [u64; 4] {
    let mut counts = [0; 4];
    for (i, status) in ["", "pending", "in_progress", "completed"].into_iter().enumerate() {
        let status = if status.is_empty() { String::new() } else { format!(" AND status = '{status}'") };
        let table = format!("tasks WHERE (owner_id = {0} OR assignee_id = {0}){status}", user.0);
        let n = count_rows(db, &table).await;
        counts[i] = u64::try_from(n).unwrap();
    }
    counts
}

/// Writes that arrive together commit in one transaction, which counts them itself on
/// PostgreSQL (one change per counter and status for the batch): the totals stay exact.
async fn totals_stay_exact_when_writes_commit_together(db: Database) {
    let repo = Arc::new(repo(&db));
    let (ann, bob) = (user(&db, "ann").await, user(&db, "bob").await);
    let mut creates = tokio::task::JoinSet::new();
    for n in 0..60_i64 {
        let (repo, owner) = (Arc::clone(&repo), if n % 3 == 0 { bob.clone() } else { ann.clone() });
        let assignee = match n % 4 {
            0 => Some(ann.id),
            1 => Some(bob.id),
            _ => None,
        };
        let status = [Status::Pending, Status::InProgress, Status::Completed][(n % 3) as usize];
        // Every sixth is pending and recurs: completing it below makes its next occurrence.
        let recurrence = (n % 6 == 0).then(|| Recurrence::parse("FREQ=DAILY").unwrap());
        let due_date = recurrence.as_ref().map(|_| instant() + days(1));
        let task = NewTask { status, assignee_id: assignee, recurrence, due_date, ..draft(&format!("together {n}")) };
        creates.spawn(async move { (n, owner.id, create_at(&repo, &owner, task, instant() + secs(n)).await) });
    }
    let created: Vec<Task> = creates
        .join_all()
        .await
        .into_iter()
        .map(|(n, owner, task)| {
            // Written together (one statement on PostgreSQL), each answered with its own task.
            assert_eq!((task.title.as_str(), task.owner_id), (format!("together {n}").as_str(), owner));
            task
        })
        .collect();
    for task in &created {
        assert_eq!(find(&repo, task.id).await.as_ref(), Some(task), "stored as answered");
        let its_event = format!(
            "outbox WHERE event = 'task.created' AND subject_id = {} AND payload LIKE '%\"{}\"%'",
            task.id.0, task.title
        );
        assert_eq!(count_rows(&db, &its_event).await, 1, "its own event, once");
    }
    for who in [ann.id, bob.id] {
        assert_eq!(totals(&repo, TaskScope::InvolvedUser(who)).await, counted_by_hand(&db, who).await);
    }
    // Then every one changes status, and some change hands, all at once.
    let mut updates = tokio::task::JoinSet::new();
    for task in created {
        let repo = Arc::clone(&repo);
        let moved = changed(&task, instant() + secs(100), |t| {
            t.status = if t.status == Status::Completed { Status::Pending } else { Status::Completed };
            if t.id.0 % 5 == 0 {
                t.assignee_id = if t.assignee_id == Some(bob.id) { Some(ann.id) } else { Some(bob.id) };
            }
        });
        updates.spawn(async move { (stored_over(&repo, moved.clone(), task.version).await, moved) });
    }
    let moved: Vec<Task> = updates
        .join_all()
        .await
        .into_iter()
        .map(|(stored, moved)| {
            assert!(stored);
            moved
        })
        .collect();
    for task in &moved {
        assert_eq!(find(&repo, task.id).await.as_ref(), Some(task), "each update stored whole");
        let its_event = format!(
            "outbox WHERE event = 'task.updated' AND subject_id = {} AND payload LIKE '%\"{}\"%'",
            task.id.0,
            task.status.as_str()
        );
        assert_eq!(count_rows(&db, &its_event).await, 1, "its own event, once");
        let next = format!("tasks WHERE previous_id = {}", task.id.0);
        let recurring_completed = task.recurrence.is_some() && task.status == Status::Completed;
        assert_eq!(
            count_rows(&db, &next).await,
            i64::from(recurring_completed),
            "a recurring task completed in a batch: one next occurrence"
        );
    }
    for who in [ann.id, bob.id] {
        assert_eq!(totals(&repo, TaskScope::InvolvedUser(who)).await, counted_by_hand(&db, who).await);
    }
    let all = count_rows(&db, "tasks").await;
    assert_eq!(totals(&repo, TaskScope::All).await[0], u64::try_from(all).unwrap());
}

async fn the_creation_order_is_every_task_oldest_first_with_the_total(db: Database) {
    let repo = repo(&db);
    let (ann, bob) = (user(&db, "ann").await, user(&db, "bob").await);
    let anns = TaskScope::InvolvedUser(ann.id);
    assert_eq!(repo.creation_order(anns, None, 100).await.unwrap(), CreationOrder::default());
    // Created out of id order: the order is by creation time, then id.
    let second = create_at(&repo, &ann, draft("second"), instant() + secs(2)).await;
    let first = create_at(&repo, &ann, draft("first"), instant() + secs(1)).await;
    let tied =
        create_at(&repo, &bob, NewTask { assignee_id: Some(ann.id), ..draft("tied") }, instant() + secs(2)).await;
    create_at(&repo, &bob, draft("bob's own"), instant()).await;
    let whole = repo.creation_order(anns, None, 100).await.unwrap();
    assert_eq!(whole.ids, [first.id, second.id, tied.id]);
    assert_eq!((whole.last, whole.total), (Some(CreationKey::of(&tied)), 3));
    let cut = repo.creation_order(anns, None, 2).await.unwrap();
    assert_eq!((cut.ids.len(), cut.total), (2, 3), "at most the limit, and the whole total");
    let after = repo.creation_order(anns, Some(CreationKey::of(&second)), 100).await.unwrap();
    assert_eq!((after.ids, after.total), (vec![tied.id], 3));
    let none_after = repo.creation_order(anns, Some(CreationKey::of(&tied)), 100).await.unwrap();
    assert_eq!((none_after.ids, none_after.last, none_after.total), (vec![], None, 3));
}

/// Every page of `scope` filtered by each status (and by two), in both orders and so from both
/// ends, holds exactly the tasks of the unfiltered list with that status, in its order.
async fn status_pages_agree_with_the_whole_list(repo: &DieselTaskRepository, scope: TaskScope) {
    let everything = list(repo, scope, oldest_first(), page(1, 100)).await.items;
    let sets: [&[Status]; 4] =
        [&[Status::Pending], &[Status::InProgress], &[Status::Completed], &[Status::Pending, Status::Completed]];
    for statuses in sets {
        let oldest: Vec<TaskId> = everything.iter().filter(|t| statuses.contains(&t.status)).map(|t| t.id).collect();
        for descending in [false, true] {
            let filter = TaskFilter {
                statuses: statuses.to_vec(),
                sort: TaskSort { key: SortKey::CreatedAt, descending },
                ..TaskFilter::default()
            };
            let mut read = Vec::new();
            for n in 1..=oldest.len().div_ceil(2).max(1) as u64 {
                let one = list(repo, scope, filter.clone(), page(n, 2)).await;
                assert_eq!(one.total, oldest.len() as u64, "{scope:?} {statuses:?}: the total");
                read.extend(one.items.iter().map(|t| t.id));
            }
            let expected: Vec<TaskId> =
                if descending { oldest.iter().rev().copied().collect() } else { oldest.clone() };
            assert_eq!(read, expected, "{scope:?} {statuses:?}, newest first: {descending}");
        }
    }
}

/// A change made to one task, given bob's id.
type Change = fn(&mut Task, UserId);

/// A status filter's page in creation order is read from the status keys that triggers keep
/// beside the tasks (the `task_status_keys` migration), side by side: a user's own personal
/// tasks, those assigned to them, their projects'. Through creates (some at the same instant),
/// status changes, reassignments, moves into and out of a project and deletions, its pages hold
/// what the whole list holds.
async fn status_pages_hold_the_scopes_tasks_of_the_status_through_every_change(db: Database) {
    let repo = repo(&db);
    let (ann, bob) = (user(&db, "ann").await, user(&db, "bob").await);
    for sql in [
        format!(
            "INSERT INTO projects (id, name, owner_id, created_at, updated_at) \
             VALUES (1, 'P', {}, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            ann.id.0
        ),
        format!(
            "INSERT INTO project_members (project_id, user_id, role, joined_at) \
             VALUES (1, {}, 'admin', '2026-01-01 00:00:00')",
            ann.id.0
        ),
    ] {
        execute_sql(&db, sql).await.unwrap();
    }
    let bucket = DieselBoardRepository::new(db.clone()).buckets(ProjectId(1)).await.unwrap()[0].id;
    let at = instant();
    let mut made = Vec::new();
    for i in 0..14 {
        let status = Status::ALL[i % 3];
        let mut task = NewTask { status, ..draft(&format!("t{i}")) };
        match i % 4 {
            0 => {}
            1 => task.assignee_id = Some(bob.id),
            2 => task.assignee_id = Some(ann.id),
            _ => (task.project_id, task.bucket_id) = (Some(ProjectId(1)), Some(bucket)),
        }
        let owner = if i % 5 == 4 { &bob } else { &ann };
        if i % 5 == 4 {
            task.assignee_id = Some(ann.id);
        }
        made.push(create_at(&repo, owner, task, at + secs(i as i64 / 3)).await);
    }
    let scopes = [TaskScope::InvolvedUser(ann.id), TaskScope::InvolvedUser(bob.id), TaskScope::Project(ProjectId(1))];
    for scope in scopes {
        status_pages_agree_with_the_whole_list(&repo, scope).await;
    }

    let later = at + secs(60);
    let changes: [(usize, Change); 5] = [
        (0, |t, _| t.status = Status::Completed),
        (1, |t, _| t.assignee_id = None),
        (2, |t, bob| (t.assignee_id, t.status) = (Some(bob), Status::InProgress)),
        (3, |t, _| (t.project_id, t.bucket_id, t.status) = (None, None, Status::Pending)),
        (4, |t, _| t.status = Status::Completed),
    ];
    for (i, change) in changes {
        let task = &made[i];
        assert!(stored_over(&repo, changed(task, later, |t| change(t, bob.id)), task.version).await, "change {i}");
    }
    let mut moved = find(&repo, made[5].id).await.unwrap();
    let version = moved.version;
    (moved.project_id, moved.bucket_id, moved.assignee_id) = (Some(ProjectId(1)), Some(bucket), None);
    assert!(stored_over(&repo, changed(&moved, later, |_| {}), version).await, "a move into the project");
    assert!(repo.delete(made[6].id, None).await.unwrap());
    assert!(repo.delete(made[7].id, None).await.unwrap());
    for scope in scopes {
        status_pages_agree_with_the_whole_list(&repo, scope).await;
    }
}
