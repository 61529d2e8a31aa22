//! Task structure in the store: cycles refused however relation writes race, moves that never
//! share a position however they race, a packed spot respread within a window, and `blocked`
//! kept as blockers change. Run against SQLite always and PostgreSQL when reachable (always
//! under `CI=true`).

use std::sync::Arc;

use workbench_core::PageRequest;
use workbench_projects::ProjectId;
use workbench_store::testing::{execute_sql, user};
use workbench_store::{Database, DieselBoardRepository, DieselRelationRepository, DieselTaskRepository, engine_cases};
use workbench_tasks::{
    BoardRepository, BucketId, Moved, NewTaskRecord, Placement, Related, RelationKind, RelationRepository, Status,
    Task, TaskId, TaskRepository, UpdateOutcome,
};
use workbench_users::{User, now};

use crate::tasks::draft;

engine_cases!(
    opposite_blockers_written_at_once_never_close_a_cycle,
    moves_to_one_spot_at_once_keep_every_task_once_in_order,
    a_packed_spot_is_respread_within_a_window,
    blocked_follows_the_blockers,
);

/// A project of `owner` (its first bucket made by the store) with `n` tasks in that bucket.
async fn board(db: &Database, owner: &User, n: usize) -> (BucketId, Vec<Task>) {
    execute_sql(
        db,
        format!(
            "INSERT INTO projects (id, name, owner_id, created_at, updated_at) \
             VALUES (1, 'P', {}, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            owner.id.0
        ),
    )
    .await
    .unwrap();
    let bucket = DieselBoardRepository::new(db.clone()).buckets(ProjectId(1)).await.unwrap()[0].id;
    let tasks = DieselTaskRepository::new(db.clone());
    let mut made = Vec::new();
    for i in 0..n {
        let mut task = draft(&format!("t{i}"));
        (task.project_id, task.bucket_id) = (Some(ProjectId(1)), Some(bucket));
        let record = NewTaskRecord { task, owner_id: owner.id, completed_at: None, created_at: now() };
        made.push(tasks.create(record).await.unwrap());
    }
    (bucket, made)
}

/// `task` moved (its version bumped) to `placement` in `bucket`.
async fn move_to(boards: &DieselBoardRepository, task: &Task, bucket: BucketId, placement: Placement) -> Moved {
    let mut moved = task.clone();
    (moved.bucket_id, moved.version, moved.updated_at) = (Some(bucket), task.version + 1, now());
    boards.move_task(moved, task.clone(), placement).await.unwrap()
}

async fn order(db: &Database, bucket: BucketId) -> Vec<(TaskId, i64)> {
    let page = PageRequest::new(Some(1), Some(100)).unwrap();
    let page = DieselBoardRepository::new(db.clone()).bucket_page(bucket, page).await.unwrap();
    page.items.iter().map(|t| (t.id, t.board_position())).collect()
}

async fn opposite_blockers_written_at_once_never_close_a_cycle(db: Database) {
    let owner = user(&db, "ann").await;
    let (_, tasks) = board(&db, &owner, 16).await;
    let relations = Arc::new(DieselRelationRepository::new(db.clone()));
    let mut writes = Vec::new();
    for pair in tasks.chunks(2) {
        let (a, b) = (pair[0].id, pair[1].id);
        for (from, to) in [(a, b), (b, a)] {
            let relations = relations.clone();
            writes.push(tokio::spawn(async move {
                relations.relate(RelationKind::Blocks.stored(from, to), now()).await.unwrap().0
            }));
        }
    }
    let mut outcomes = Vec::new();
    for write in writes {
        outcomes.push(write.await.unwrap());
    }
    for pair in outcomes.chunks(2) {
        let mut pair = pair.to_vec();
        pair.sort_by_key(|r| format!("{r:?}"));
        assert_eq!(pair, [Related::Created, Related::Cycle], "one of two opposite blockers is stored");
    }
    // A longer cycle is refused too: a blocks b blocks c, then c blocks a.
    let (a, b, c) = (tasks[0].id, tasks[2].id, tasks[4].id);
    relations.relate(RelationKind::Blocks.stored(a, b), now()).await.unwrap();
    relations.relate(RelationKind::Blocks.stored(b, c), now()).await.unwrap();
    let closing = relations.relate(RelationKind::Blocks.stored(c, a), now()).await.unwrap().0;
    assert_eq!(closing, Related::Cycle);
}

async fn moves_to_one_spot_at_once_keep_every_task_once_in_order(db: Database) {
    let owner = user(&db, "ann").await;
    let (bucket, tasks) = board(&db, &owner, 21).await;
    let boards = Arc::new(DieselBoardRepository::new(db.clone()));
    let first = tasks[0].id;
    let mut moves = Vec::new();
    for task in &tasks[1..] {
        let (boards, task) = (boards.clone(), task.clone());
        moves.push(tokio::spawn(async move { move_to(&boards, &task, bucket, Placement::After(first)).await }));
    }
    for one in moves {
        assert!(matches!(one.await.unwrap(), Moved::Stored { .. }), "every move lands");
    }
    let listed = order(&db, bucket).await;
    assert_eq!(listed.len(), tasks.len(), "no task lost or doubled: {listed:?}");
    assert_eq!(listed[0].0, first);
    assert!(listed.windows(2).all(|w| w[0].1 < w[1].1), "positions strictly increase: {listed:?}");
}

async fn a_packed_spot_is_respread_within_a_window(db: Database) {
    let owner = user(&db, "ann").await;
    let (bucket, tasks) = board(&db, &owner, 40).await;
    let boards = DieselBoardRepository::new(db.clone());
    let repo = DieselTaskRepository::new(db.clone());
    let first = tasks[0].id;
    let mut respread_seen = 0;
    // Each of the last 30 goes right after the first: the room there halves each time.
    for task in tasks[10..].iter().rev() {
        let stored = repo.find(task.id).await.unwrap().unwrap();
        match move_to(&boards, &stored, bucket, Placement::After(first)).await {
            Moved::Stored { respread, .. } => {
                assert!(respread.len() <= workbench_tasks::REBALANCE_WINDOW, "a bounded window");
                respread_seen += usize::from(!respread.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(respread_seen > 0, "thirty moves to one spot outrun its room at least once");
    let listed = order(&db, bucket).await;
    let ids: Vec<TaskId> = listed.iter().map(|(id, _)| *id).collect();
    let mut expected = vec![first];
    expected.extend(tasks[10..].iter().map(|t| t.id));
    expected.extend(tasks[1..10].iter().map(|t| t.id));
    assert_eq!(ids, expected, "the last moved sits right after the first, and so on back");
    assert!(listed.windows(2).all(|w| w[0].1 < w[1].1));
}

async fn blocked_follows_the_blockers(db: Database) {
    let owner = user(&db, "ann").await;
    let (_, tasks) = board(&db, &owner, 3).await;
    let (relations, repo) = (DieselRelationRepository::new(db.clone()), DieselTaskRepository::new(db.clone()));
    let (a, b, c) = (tasks[0].id, tasks[1].id, tasks[2].id);
    let find = |id| {
        let repo = repo.clone();
        async move { repo.find(id).await.unwrap().unwrap() }
    };
    let (_, changed) = relations.relate(RelationKind::Blocks.stored(a, c), now()).await.unwrap();
    assert_eq!(changed.iter().map(|t| (t.id, t.blocked)).collect::<Vec<_>>(), [(c, true)]);
    relations.relate(RelationKind::BlockedBy.stored(c, b), now()).await.unwrap();
    let before = find(c).await;
    assert!(before.blocked);
    // What a change of `a`'s completion changes with it: the tasks it blocks and its subtasks,
    // read in one statement.
    let sub = {
        let mut task = draft("a's subtask");
        task.project_id = Some(ProjectId(1));
        let record = NewTaskRecord { task, owner_id: owner.id, completed_at: None, created_at: now() };
        repo.create(record).await.unwrap().id
    };
    relations.relate(RelationKind::Subtask.stored(a, sub), now()).await.unwrap();
    let mut dependants = relations.dependants(a).await.unwrap();
    dependants.sort();
    assert_eq!(dependants, [c, sub]);
    assert_eq!(relations.dependants(b).await.unwrap(), [c]);
    assert_eq!(relations.dependants(c).await.unwrap(), []);

    // Completing one blocker leaves the other; completing both frees it, and each change moves
    // its version on (a cached copy of it is stale).
    // The update that completes or reopens a task says which tasks changed with it.
    let set = |task: Task, status: Status| {
        let repo = repo.clone();
        async move {
            let mut changed = task.clone();
            (changed.status, changed.version) = (status, task.version + 1);
            match repo.update(changed, task, Arc::new(|_| None), 1).await.unwrap() {
                UpdateOutcome::Stored { mut dependants, .. } => {
                    dependants.sort();
                    dependants
                }
                stale => panic!("not stored: {stale:?}"),
            }
        }
    };
    assert_eq!(set(find(a).await, Status::Completed).await, [c, sub]);
    assert!(find(c).await.blocked, "b still blocks it");
    assert_eq!(set(find(b).await, Status::Completed).await, [c]);
    let freed = find(c).await;
    assert!(!freed.blocked && freed.version > before.version, "{freed:?}");
    // Neither completed nor reopened: nothing else changed.
    assert!(set(find(b).await, Status::Completed).await.is_empty());
    assert!(set(find(c).await, Status::InProgress).await.is_empty());

    // Reopening a blocker blocks it again, each update told its own dependants when they are
    // written together (one batch on PostgreSQL); deleting that blocker frees it.
    let (a_reopened, b_reopened) =
        tokio::join!(set(find(a).await, Status::Pending), set(find(b).await, Status::Pending));
    assert_eq!((a_reopened, b_reopened), (vec![c, sub], vec![c]));
    assert!(find(c).await.blocked);
    // Both blockers completed together (one statement on PostgreSQL, whose trigger recounts once
    // for the whole statement) free it; reopened together, they block it again.
    let (a_done, b_done) = tokio::join!(set(find(a).await, Status::Completed), set(find(b).await, Status::Completed));
    assert_eq!((a_done, b_done), (vec![c, sub], vec![c]));
    assert!(!find(c).await.blocked, "both blockers are completed");
    tokio::join!(set(find(a).await, Status::Pending), set(find(b).await, Status::Pending));
    assert!(find(c).await.blocked);
    assert_eq!(set(find(a).await, Status::Completed).await, [c, sub]);
    assert!(repo.delete(b, None).await.unwrap());
    assert!(!find(c).await.blocked, "a deleted blocker blocks nothing");
    assert!(relations.relations_of(c).await.unwrap().iter().all(|r| r.from != b));
}
