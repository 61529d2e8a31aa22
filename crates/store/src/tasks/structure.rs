//! Task structure: relations between tasks, project boards and custom fields.
//!
//! Relation writes that can close a cycle are serialised: on PostgreSQL by a transaction-level
//! advisory lock taken before the cycle check, on SQLite by its single writer (`BEGIN
//! IMMEDIATE`). Moves into a bucket are serialised by a lock of the bucket's row (`FOR NO KEY
//! UPDATE`, which task writes' foreign-key checks do not wait for; the bucket left is locked too,
//! in id order, as its counter's trigger takes both), so that two moves never pick one position;
//! `tasks_bucket_position` is the arbiter behind both.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_events::TaskEvent;
use workbench_projects::ProjectId;
use workbench_tasks::{
    Bucket, BucketDeleted, BucketId, FieldDefinition, FieldId, FieldType, Moved, NewField, POSITION_STEP, Placement,
    REBALANCE_WINDOW, Related, Relation, StoredKind, Task, TaskId, next_occurrence, position_between, respread,
};

use super::row::TaskRow;
use super::statements::{EventValues, find_task, insert_follow_up, update_recorded};
use crate::connection::per_engine;
use crate::database::write_transaction;
use crate::error::{corrupt, db, map_db_error};
use crate::paging::counted_page;
use crate::schema::{buckets, project_fields, task_relations, tasks};
use crate::{AnyConnection, Database};

/// The advisory lock that serialises relation writes on PostgreSQL (any number of ours).
const RELATIONS_LOCK: i64 = 0x0054_4153_4B52_454C; // "TASKREL"

/// A task's place in its bucket, as the index `tasks_bucket_position` holds it.
const BOARD_POSITION: &str = "COALESCE(tasks.position, tasks.id * 65536)";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Placed {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    pos: i64,
}

/// Runs a statement written once for both engines (`$1`, `$2`: SQLite numbers them in order of
/// appearance, the order of the binds) on whichever `conn` is.
macro_rules! on_either {
    ($conn:expr, $query:expr, |$q:ident, $c:ident| $run:expr) => {
        match $conn {
            AnyConnection::Postgresql($c) => {
                let $q = $query;
                $run
            }
            AnyConnection::Sqlite($c) => {
                let $q = $query;
                $run
            }
        }
    };
}

/// Relations between tasks in the database.
#[derive(Debug, Clone)]
pub struct DieselRelationRepository {
    db: Database,
}

impl DieselRelationRepository {
    /// The repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// Whether `target` is `start` or reached from it by following `step` (a recursive query, each
/// task once).
fn reaches(conn: &mut AnyConnection, start: i64, target: i64, step: &str) -> Result<bool, RepositoryError> {
    let sql = format!(
        "WITH RECURSIVE reach(id) AS (SELECT CAST($1 AS BIGINT) UNION {step}) \
         SELECT COUNT(*) AS n FROM reach WHERE id = $2"
    );
    let found: Count =
        on_either!(conn, diesel::sql_query(sql.as_str()).bind::<BigInt, _>(start).bind::<BigInt, _>(target), |q, c| q
            .get_result(c))
        .map_err(db)?;
    Ok(found.n > 0)
}

/// Up a task's parents.
const TO_PARENT: &str = "SELECT t.parent_id FROM tasks t JOIN reach ON t.id = reach.id WHERE t.parent_id IS NOT NULL";
/// Along the tasks a task blocks.
const TO_BLOCKED: &str =
    "SELECT r.other_id FROM task_relations r JOIN reach ON r.task_id = reach.id WHERE r.kind = 'blocks'";

/// Writes `child`'s new parent (or none) as a change of the child: the child as stored, or
/// `None` when it was not as expected (`expected_parent`).
fn set_parent(
    conn: &mut AnyConnection,
    child: i64,
    expected_parent: Option<i64>,
    parent: Option<i64>,
    at: NaiveDateTime,
) -> Result<Option<Task>, RepositoryError> {
    let target = tasks::table.filter(tasks::id.eq(child));
    let changed = match expected_parent {
        Some(expected) => diesel::update(target.filter(tasks::parent_id.eq(expected)))
            .set((tasks::parent_id.eq(parent), tasks::version.eq(tasks::version + 1), tasks::updated_at.eq(at)))
            .execute(conn),
        None => diesel::update(target.filter(tasks::parent_id.is_null()))
            .set((tasks::parent_id.eq(parent), tasks::version.eq(tasks::version + 1), tasks::updated_at.eq(at)))
            .execute(conn),
    }
    .map_err(db)?;
    if changed == 0 {
        return Ok(None);
    }
    // Its `task.updated` event is the service's to record, with those of the other tasks a
    // relation changes (`TaskRepository::announce`).
    find_task(conn, child)?.ok_or_else(|| corrupt("tasks", "a task changed in this transaction is gone")).map(Some)
}

/// Whether task `id` is blocked now.
fn blocked(conn: &mut AnyConnection, id: i64) -> Result<bool, RepositoryError> {
    Ok(tasks::table.find(id).select(tasks::blocked).first(conn).optional().map_err(db)?.unwrap_or(false))
}

/// Task `id` as stored now if its `blocked` is no longer `was` (the triggers changed it, and its
/// version with it), else nothing.
fn if_reblocked(conn: &mut AnyConnection, id: i64, was: bool) -> Result<Vec<Task>, RepositoryError> {
    Ok(find_task(conn, id)?.into_iter().filter(|task| task.blocked != was).collect())
}

fn relate_in(
    conn: &mut AnyConnection,
    relation: Relation,
    at: NaiveDateTime,
) -> Result<(Related, Vec<Task>), RepositoryError> {
    let (from, to) = (relation.from.0, relation.to.0);
    if relation.kind.is_acyclic() && matches!(conn, AnyConnection::Postgresql(_)) {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({RELATIONS_LOCK})")).execute(conn).map_err(db)?;
    }
    // On PostgreSQL both rows are held against deletion until the relation commits: a parent
    // deleted meanwhile orphans its new subtask after this commits, rather than missing it.
    let both = tasks::table.filter(tasks::id.eq_any([from, to])).select((tasks::id, tasks::parent_id));
    let parents: Vec<(i64, Option<i64>)> = match conn {
        AnyConnection::Postgresql(pg) => both.for_key_share().load(pg),
        AnyConnection::Sqlite(_) => both.load(conn),
    }
    .map_err(db)?;
    if parents.len() < 2 {
        return Ok((Related::Gone, Vec::new()));
    }
    match relation.kind {
        StoredKind::Subtask => {
            let child_parent = parents.iter().find(|(id, _)| *id == to).and_then(|(_, p)| *p);
            if child_parent == Some(from) {
                return Ok((Related::Existed, Vec::new()));
            }
            if child_parent.is_some() {
                return Ok((Related::HasParent, Vec::new()));
            }
            // A cycle: the child is the parent-to-be or one of its ancestors.
            if reaches(conn, from, to, TO_PARENT)? {
                return Ok((Related::Cycle, Vec::new()));
            }
            Ok(match set_parent(conn, to, None, Some(from), at)? {
                Some(child) => (Related::Created, vec![child]),
                None => (Related::HasParent, Vec::new()),
            })
        }
        kind => {
            let existing = task_relations::table
                .find((from, kind.as_str(), to))
                .select(task_relations::task_id)
                .first::<i64>(conn)
                .optional()
                .map_err(db)?;
            if existing.is_some() {
                return Ok((Related::Existed, Vec::new()));
            }
            // A cycle of blockers: the blocked task already waits, through others, on nothing
            // that leads back; if the blocker is reached from it, it would wait on itself.
            if kind == StoredKind::Blocks && reaches(conn, to, from, TO_BLOCKED)? {
                return Ok((Related::Cycle, Vec::new()));
            }
            let was_blocked = blocked(conn, to)?;
            diesel::insert_into(task_relations::table)
                .values((
                    task_relations::task_id.eq(from),
                    task_relations::kind.eq(kind.as_str()),
                    task_relations::other_id.eq(to),
                    task_relations::created_at.eq(at),
                ))
                .execute(conn)
                .map_err(db)?;
            Ok((Related::Created, if_reblocked(conn, to, was_blocked)?))
        }
    }
}

#[async_trait::async_trait]
impl workbench_tasks::RelationRepository for DieselRelationRepository {
    async fn relate(&self, relation: Relation, at: DateTime<Utc>) -> Result<(Related, Vec<Task>), RepositoryError> {
        let at = at.naive_utc();
        self.db.run(move |conn| write_transaction(conn, |c| relate_in(c, relation, at))).await
    }

    async fn unrelate(&self, relation: Relation, at: DateTime<Utc>) -> Result<Option<Vec<Task>>, RepositoryError> {
        let at = at.naive_utc();
        let (from, to) = (relation.from.0, relation.to.0);
        self.db
            .run(move |conn| {
                write_transaction(conn, |c| match relation.kind {
                    StoredKind::Subtask => Ok(set_parent(c, to, Some(from), None, at)?.map(|child| vec![child])),
                    kind => {
                        let was_blocked = blocked(c, to)?;
                        let deleted = diesel::delete(task_relations::table.find((from, kind.as_str(), to)))
                            .execute(c)
                            .map_err(db)?;
                        if deleted == 0 {
                            return Ok(None);
                        }
                        Ok(Some(if_reblocked(c, to, was_blocked)?))
                    }
                })
            })
            .await
    }

    async fn relations_of(&self, task: TaskId) -> Result<Vec<Relation>, RepositoryError> {
        let id = task.0;
        self.db
            .run(move |conn| {
                let rows: Vec<(i64, String, i64)> = task_relations::table
                    .filter(task_relations::task_id.eq(id).or(task_relations::other_id.eq(id)))
                    .select((task_relations::task_id, task_relations::kind, task_relations::other_id))
                    .load(conn)
                    .map_err(db)?;
                let parent: Option<i64> =
                    tasks::table.find(id).select(tasks::parent_id).first(conn).optional().map_err(db)?.flatten();
                let children: Vec<i64> = tasks::table
                    .filter(tasks::parent_id.eq(id))
                    .order(tasks::id.asc())
                    .select(tasks::id)
                    .limit(1_000)
                    .load(conn)
                    .map_err(db)?;
                let mut relations = Vec::with_capacity(rows.len() + children.len() + 1);
                for (from, kind, to) in rows {
                    let kind = match kind.as_str() {
                        "blocks" => StoredKind::Blocks,
                        "relates" => StoredKind::Relates,
                        "duplicates" => StoredKind::Duplicates,
                        other => return Err(corrupt("task_relations.kind", other)),
                    };
                    relations.push(Relation { from: TaskId(from), kind, to: TaskId(to) });
                }
                relations.extend(parent.map(|p| Relation {
                    from: TaskId(p),
                    kind: StoredKind::Subtask,
                    to: TaskId(id),
                }));
                relations.extend(children.into_iter().map(|c| Relation {
                    from: TaskId(id),
                    kind: StoredKind::Subtask,
                    to: TaskId(c),
                }));
                Ok(relations)
            })
            .await
    }

    async fn dependants(&self, task: TaskId) -> Result<Vec<TaskId>, RepositoryError> {
        let id = task.0;
        self.db
            .run(move |conn| Ok(dependants_of(conn, &[id])?.into_iter().map(|(_, dependant)| dependant).collect()))
            .await
    }
}

/// The subtasks a task's completion may change, at most, in one look (per task asked about).
const CHILDREN_RECACHED: i64 = 1_000;

/// The tasks that change in the store when one of `ids` is completed or reopened: those it
/// blocks (their `blocked` flag) and its subtasks, as `(id, dependant)` pairs. One statement
/// for any number of tasks: a batch of writes asks once, on its own connection.
///
/// PostgreSQL plans without statistics on some servers (autovacuum off): a lone task is asked
/// about by `= $1`, which it plans through the indexes whatever it believes of the table, and
/// several by `= ANY($1)` only inside a batch's transaction, where sequential scans are ruled out
/// (`TaskWrite::BEGIN_POSTGRES`); by `= ANY($1)` alone it read every task for a batch's subtasks.
pub(super) fn dependants_of(conn: &mut AnyConnection, ids: &[i64]) -> Result<Vec<(i64, TaskId)>, RepositoryError> {
    // The children's ids through a subquery, so that their limit holds on either engine (SQLite
    // takes no `LIMIT` in a compound's first part).
    let child = diesel::alias!(tasks as child);
    let limit = CHILDREN_RECACHED.saturating_mul(i64::try_from(ids.len()).unwrap_or(i64::MAX));
    let blocks = task_relations::kind.eq(StoredKind::Blocks.as_str());
    let blocked_and_children = (task_relations::task_id, task_relations::other_id);
    let parent_and_child = (tasks::parent_id.assume_not_null(), tasks::id);
    let pairs: Vec<(i64, i64)> = match ids {
        [id] => {
            let children =
                child.filter(child.field(tasks::parent_id).eq(*id)).select(child.field(tasks::id)).limit(limit);
            let both = task_relations::table
                .filter(task_relations::task_id.eq(*id))
                .filter(blocks)
                .select(blocked_and_children)
                .union_all(tasks::table.filter(tasks::id.eq_any(children)).select(parent_and_child));
            per_engine!(conn, c => both.load(c))
        }
        _ => {
            let children =
                child.filter(child.field(tasks::parent_id).eq_any(ids)).select(child.field(tasks::id)).limit(limit);
            let both = task_relations::table
                .filter(task_relations::task_id.eq_any(ids))
                .filter(blocks)
                .select(blocked_and_children)
                .union_all(tasks::table.filter(tasks::id.eq_any(children)).select(parent_and_child));
            per_engine!(conn, c => both.load(c))
        }
    }
    .map_err(db)?;
    Ok(pairs.into_iter().map(|(id, dependant)| (id, TaskId(dependant))).collect())
}

/// Project boards in the database.
#[derive(Debug, Clone)]
pub struct DieselBoardRepository {
    db: Database,
}

impl DieselBoardRepository {
    /// The repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = buckets)]
struct BucketRow {
    id: i64,
    project_id: i64,
    name: String,
    task_limit: Option<i32>,
    done: bool,
    position: i64,
    task_count: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl From<BucketRow> for Bucket {
    fn from(row: BucketRow) -> Self {
        Bucket {
            id: BucketId(row.id),
            project_id: ProjectId(row.project_id),
            name: row.name,
            limit: row.task_limit,
            done: row.done,
            position: row.position,
            task_count: crate::error::count(row.task_count),
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

fn find_bucket(conn: &mut AnyConnection, id: i64) -> Result<Option<Bucket>, RepositoryError> {
    Ok(buckets::table.find(id).select(BucketRow::as_select()).first(conn).optional().map_err(db)?.map(Bucket::from))
}

/// Unmarks the project's done bucket other than `keep`.
fn unmark_done(conn: &mut AnyConnection, project: i64, keep: Option<i64>) -> Result<(), RepositoryError> {
    let others = buckets::table.filter(buckets::project_id.eq(project)).filter(buckets::done.eq(true));
    match keep {
        Some(keep) => diesel::update(others.filter(buckets::id.ne(keep))).set(buckets::done.eq(false)).execute(conn),
        None => diesel::update(others).set(buckets::done.eq(false)).execute(conn),
    }
    .map_err(db)?;
    Ok(())
}

/// The task next to `position` in `bucket` (above it with `above`, else below), the moved task
/// aside: its id and position.
fn neighbour(
    conn: &mut AnyConnection,
    bucket: i64,
    moved: i64,
    position: Option<i64>,
    above: bool,
) -> Result<Option<(i64, i64)>, RepositoryError> {
    let (comparison, order) = if above { (">", "ASC") } else { ("<", "DESC") };
    let bound = match position {
        Some(_) => format!(" AND {BOARD_POSITION} {comparison} $3"),
        None => String::new(),
    };
    let sql = format!(
        "SELECT tasks.id AS id, {BOARD_POSITION} AS pos FROM tasks \
         WHERE tasks.bucket_id = $1 AND tasks.id <> $2{bound} ORDER BY {BOARD_POSITION} {order} LIMIT 1"
    );
    let query = diesel::sql_query(sql.as_str()).bind::<BigInt, _>(bucket).bind::<BigInt, _>(moved);
    let found: Option<Placed> = match position {
        Some(p) => on_either!(conn, query.bind::<BigInt, _>(p), |q, c| q.get_result(c)),
        None => on_either!(conn, query, |q, c| q.get_result(c)),
    }
    .optional()
    .map_err(db)?;
    Ok(found.map(|p| (p.id, p.pos)))
}

/// The place of task `id` in `bucket`, if it is there.
fn place_of(conn: &mut AnyConnection, bucket: i64, id: i64) -> Result<Option<i64>, RepositoryError> {
    let sql = format!(
        "SELECT tasks.id AS id, {BOARD_POSITION} AS pos FROM tasks WHERE tasks.id = $1 AND tasks.bucket_id = $2"
    );
    let found: Option<Placed> =
        on_either!(conn, diesel::sql_query(sql.as_str()).bind::<BigInt, _>(id).bind::<BigInt, _>(bucket), |q, c| q
            .get_result(c))
        .optional()
        .map_err(db)?;
    Ok(found.map(|p| p.pos))
}

/// The tasks after `low` in `bucket` (from its start when `None`), the moved task aside, at most
/// `limit`, in order.
fn following(
    conn: &mut AnyConnection,
    bucket: i64,
    moved: i64,
    low: Option<i64>,
    limit: i64,
) -> Result<Vec<(i64, i64)>, RepositoryError> {
    let sql = format!(
        "SELECT tasks.id AS id, {BOARD_POSITION} AS pos FROM tasks WHERE tasks.bucket_id = $1 AND tasks.id <> $2 \
         AND {BOARD_POSITION} > $3 ORDER BY {BOARD_POSITION} ASC LIMIT $4"
    );
    let query = diesel::sql_query(sql.as_str())
        .bind::<BigInt, _>(bucket)
        .bind::<BigInt, _>(moved)
        .bind::<BigInt, _>(low.unwrap_or(i64::MIN))
        .bind::<BigInt, _>(limit);
    let rows: Vec<Placed> = on_either!(conn, query, |q, c| q.load(c)).map_err(db)?;
    Ok(rows.into_iter().map(|p| (p.id, p.pos)).collect())
}

/// Gives each of `rows` its new position (a change of each: its version moves on): first out of
/// the way (below every position a move or a landing takes), then in place, so that the unique
/// index never sees two rows at one place.
fn reposition(conn: &mut AnyConnection, bucket: i64, rows: &[(i64, i64)]) -> Result<(), RepositoryError> {
    let in_bucket = |id: i64| tasks::table.filter(tasks::id.eq(id)).filter(tasks::bucket_id.eq(bucket));
    for (id, _) in rows {
        diesel::update(in_bucket(*id)).set(tasks::position.eq(i64::MIN / 2 + *id)).execute(conn).map_err(db)?;
    }
    for (id, position) in rows {
        diesel::update(in_bucket(*id))
            .set((tasks::position.eq(*position), tasks::version.eq(tasks::version + 1)))
            .execute(conn)
            .map_err(db)?;
    }
    Ok(())
}

/// The position the moved task takes after `low` and before `high`, making room when there is
/// none: the tasks whose positions a rebalance changed.
fn make_room(
    conn: &mut AnyConnection,
    bucket: i64,
    moved: i64,
    low: Option<i64>,
    high: Option<i64>,
) -> Result<(i64, Vec<TaskId>), RepositoryError> {
    if let Some(position) = position_between(low, high) {
        return Ok((position, Vec::new()));
    }
    let window = i64::try_from(REBALANCE_WINDOW).unwrap_or(1_024) + 1;
    let after = following(conn, bucket, moved, low, window)?;
    let ends = after.len() < REBALANCE_WINDOW + 1;
    let positions: Vec<i64> = after.iter().map(|(_, p)| *p).collect();
    let (mine, respread_rows) = match respread(low, &positions, ends) {
        Some(spread) => {
            let rows: Vec<(i64, i64)> = after.iter().map(|(id, _)| *id).zip(spread[1..].iter().copied()).collect();
            (spread[0], rows)
        }
        None => {
            // The window is packed: renumber the bucket (rows before `low` keep their order).
            let mut all = following(conn, bucket, moved, None, i64::MAX)?;
            let at = all.iter().position(|(_, p)| low.is_none_or(|low| *p > low)).unwrap_or(all.len());
            all.insert(at, (moved, 0));
            let spread: Vec<(i64, i64)> = all
                .iter()
                .enumerate()
                .map(|(i, (id, _))| (*id, (i as i64 + 1) * POSITION_STEP + POSITION_STEP / 2))
                .collect();
            let mine = spread[at].1;
            (mine, spread.into_iter().filter(|(id, _)| *id != moved).collect())
        }
    };
    reposition(conn, bucket, &respread_rows)?;
    Ok((mine, respread_rows.into_iter().map(|(id, _)| TaskId(id)).collect()))
}

/// A page of `bucket` at the cost of a page: its total from the bucket's counter, its ids from
/// the board-order index alone (`INCLUDE (id)` on PostgreSQL; SQLite's indexes hold the rowid),
/// walked from the nearer end (a page past the middle is read backwards), then its rows by id.
fn bucket_page_in(conn: &mut AnyConnection, bucket: i64, page: PageRequest) -> Result<Page<Task>, RepositoryError> {
    let total: i64 =
        buckets::table.find(bucket).select(buckets::task_count).first(conn).optional().map_err(db)?.unwrap_or(0);
    counted_page(page, total, || {
        let (offset, limit) = (page.offset(), page.limit());
        let from_end = offset > total / 2;
        let (order, skip, take) = if from_end {
            let end = (offset + limit).min(total);
            ("DESC", total - end, end - offset)
        } else {
            ("ASC", offset, limit)
        };
        let sql = format!(
            "SELECT tasks.id AS id, {BOARD_POSITION} AS pos FROM tasks WHERE tasks.bucket_id = $1 \
             ORDER BY {BOARD_POSITION} {order} LIMIT $2 OFFSET $3"
        );
        let query =
            diesel::sql_query(sql.as_str()).bind::<BigInt, _>(bucket).bind::<BigInt, _>(take).bind::<BigInt, _>(skip);
        let mut placed: Vec<Placed> = on_either!(conn, query, |q, c| q.load(c)).map_err(db)?;
        if from_end {
            placed.reverse();
        }
        let ids: Vec<i64> = placed.iter().map(|p| p.id).collect();
        let rows: Vec<TaskRow> =
            tasks::table.filter(tasks::id.eq_any(&ids)).select(TaskRow::as_select()).load(conn).map_err(db)?;
        let mut tasks: Vec<Task> = rows.into_iter().map(TaskRow::into_task).collect::<Result<_, _>>()?;
        tasks.sort_by_key(|t| ids.iter().position(|id| *id == t.id.0));
        Ok(tasks)
    })
}

fn move_in(
    conn: &mut AnyConnection,
    mut task: Task,
    before: &Task,
    placement: Placement,
) -> Result<Moved, RepositoryError> {
    let Some(bucket) = task.bucket_id.map(|b| b.0) else { return Ok(Moved::NoBucket) };
    if let AnyConnection::Postgresql(pg) = conn {
        // The bucket it leaves too, in id order: its counter's trigger takes both, and a move the
        // other way between the same two buckets must wait, not deadlock.
        let both: Vec<i64> = before.bucket_id.map(|b| b.0).into_iter().chain([bucket]).collect();
        buckets::table
            .filter(buckets::id.eq_any(both))
            .order(buckets::id.asc())
            .select(buckets::id)
            .for_no_key_update()
            .load::<i64>(pg)
            .map_err(db)?;
    }
    let locked: Option<Option<i32>> =
        buckets::table.find(bucket).select(buckets::task_limit).first(conn).optional().map_err(db)?;
    let Some(limit) = locked.map(|limit| limit.map_or(-1, i64::from)) else { return Ok(Moved::NoBucket) };
    let stored = find_task(conn, task.id.0)?;
    match &stored {
        Some(s) if s.version == before.version => {}
        _ => return Ok(Moved::Stale(stored)),
    }
    if limit > 0 && before.bucket_id != task.bucket_id {
        let held: i64 = tasks::table
            .filter(tasks::bucket_id.eq(bucket))
            .select(tasks::id)
            .limit(limit)
            .load::<i64>(conn)
            .map_err(db)?
            .len() as i64;
        if held >= limit {
            return Ok(Moved::Full);
        }
    }
    let me = task.id.0;
    let (low, high) = match placement {
        Placement::Last => (neighbour(conn, bucket, me, None, false)?.map(|(_, p)| p), None),
        Placement::After(other) => {
            let Some(low) = place_of(conn, bucket, other.0)? else { return Ok(Moved::NoNeighbour("after_id")) };
            (Some(low), neighbour(conn, bucket, me, Some(low), true)?.map(|(_, p)| p))
        }
        Placement::Before(other) => {
            let Some(high) = place_of(conn, bucket, other.0)? else { return Ok(Moved::NoNeighbour("before_id")) };
            (neighbour(conn, bucket, me, Some(high), false)?.map(|(_, p)| p), Some(high))
        }
    };
    let (position, respread) = make_room(conn, bucket, me, low, high)?;
    task.position = Some(position);
    let event = EventValues::of(TaskEvent::Updated, &task, task.updated_at.naive_utc());
    let event = event.for_members(conn, &task)?;
    if !update_recorded(conn, &task, before.version, &event)? {
        return Ok(Moved::Stale(find_task(conn, me)?));
    }
    let follow_up = match next_occurrence(before, &task) {
        Some(next) => insert_follow_up(conn, &next)?.map(Box::new),
        None => None,
    };
    let task = find_task(conn, me)?.unwrap_or(task);
    Ok(Moved::Stored { task, follow_up, respread })
}

#[async_trait::async_trait]
impl workbench_tasks::BoardRepository for DieselBoardRepository {
    async fn buckets(&self, project: ProjectId) -> Result<Vec<Bucket>, RepositoryError> {
        self.db
            .run(move |conn| {
                let rows: Vec<BucketRow> = buckets::table
                    .filter(buckets::project_id.eq(project.0))
                    .order((buckets::position.asc(), buckets::id.asc()))
                    .select(BucketRow::as_select())
                    .load(conn)
                    .map_err(db)?;
                Ok(rows.into_iter().map(Bucket::from).collect())
            })
            .await
    }

    async fn bucket(&self, id: BucketId) -> Result<Option<Bucket>, RepositoryError> {
        self.db.run(move |conn| find_bucket(conn, id.0)).await
    }

    async fn create_bucket(
        &self,
        project: ProjectId,
        name: String,
        limit: Option<i32>,
        done: bool,
        at: DateTime<Utc>,
    ) -> Result<Bucket, RepositoryError> {
        let at = at.naive_utc();
        self.db
            .run(move |conn| {
                write_transaction(conn, |c| {
                    if done {
                        unmark_done(c, project.0, None)?;
                    }
                    let last: Option<i64> = buckets::table
                        .filter(buckets::project_id.eq(project.0))
                        .select(diesel::dsl::max(buckets::position))
                        .first(c)
                        .map_err(db)?;
                    let id: i64 = diesel::insert_into(buckets::table)
                        .values((
                            buckets::project_id.eq(project.0),
                            buckets::name.eq(&name),
                            buckets::task_limit.eq(limit),
                            buckets::done.eq(done),
                            buckets::position.eq(last.map_or(0, |p| p + 1)),
                            buckets::created_at.eq(at),
                            buckets::updated_at.eq(at),
                        ))
                        .returning(buckets::id)
                        .get_result(c)
                        .map_err(db)?;
                    find_bucket(c, id)?.ok_or_else(|| corrupt("buckets", "a bucket made in this transaction is gone"))
                })
            })
            .await
    }

    async fn save_bucket(&self, bucket: Bucket) -> Result<Option<Bucket>, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |c| {
                    if bucket.done {
                        unmark_done(c, bucket.project_id.0, Some(bucket.id.0))?;
                    }
                    let changed = diesel::update(buckets::table.find(bucket.id.0))
                        .set((
                            buckets::name.eq(&bucket.name),
                            buckets::task_limit.eq(bucket.limit),
                            buckets::done.eq(bucket.done),
                            buckets::position.eq(bucket.position),
                            buckets::updated_at.eq(bucket.updated_at.naive_utc()),
                        ))
                        .execute(c)
                        .map_err(db)?;
                    if changed == 0 { Ok(None) } else { find_bucket(c, bucket.id.0) }
                })
            })
            .await
    }

    async fn delete_bucket(&self, id: BucketId) -> Result<BucketDeleted, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |c| {
                    let Some(bucket) = find_bucket(c, id.0)? else { return Ok(BucketDeleted::Gone) };
                    let heir: Option<i64> = buckets::table
                        .filter(buckets::project_id.eq(bucket.project_id.0))
                        .filter(buckets::id.ne(id.0))
                        .order((buckets::position.asc(), buckets::id.asc()))
                        .select(buckets::id)
                        .first(c)
                        .optional()
                        .map_err(db)?;
                    let Some(heir) = heir else { return Ok(BucketDeleted::Last) };
                    // They land in the heir as new tasks do (`position` null): never on a place a
                    // move took, nor on one another's.
                    let moved: Vec<i64> = diesel::update(tasks::table.filter(tasks::bucket_id.eq(id.0)))
                        .set((
                            tasks::bucket_id.eq(heir),
                            tasks::position.eq(None::<i64>),
                            tasks::version.eq(tasks::version + 1),
                        ))
                        .returning(tasks::id)
                        .get_results(c)
                        .map_err(db)?;
                    diesel::delete(buckets::table.find(id.0)).execute(c).map_err(db)?;
                    Ok(BucketDeleted::Deleted(moved.into_iter().map(TaskId).collect()))
                })
            })
            .await
    }

    async fn bucket_page(&self, bucket: BucketId, page: PageRequest) -> Result<Page<Task>, RepositoryError> {
        // One snapshot (the counter and the rows agree), walking the index as written.
        self.db.run(move |conn| crate::database::read_in_index_order(conn, |c| bucket_page_in(c, bucket.0, page))).await
    }

    async fn move_task(&self, task: Task, before: Task, placement: Placement) -> Result<Moved, RepositoryError> {
        self.db.run(move |conn| write_transaction(conn, |c| move_in(c, task.clone(), &before, placement))).await
    }
}

/// Custom field definitions in the database.
#[derive(Debug, Clone)]
pub struct DieselFieldRepository {
    db: Database,
}

impl DieselFieldRepository {
    /// The repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = project_fields)]
struct FieldRow {
    id: i64,
    project_id: i64,
    name: String,
    kind: String,
    options: Option<String>,
    required: bool,
    created_at: NaiveDateTime,
}

impl FieldRow {
    fn into_field(self) -> Result<FieldDefinition, RepositoryError> {
        let field_type = FieldType::parse(&self.kind).map_err(|e| corrupt("project_fields.kind", e))?;
        let options = self
            .options
            .map(|o| serde_json::from_str(&o).map_err(|e| corrupt("project_fields.options", e)))
            .transpose()?;
        Ok(FieldDefinition {
            id: FieldId(self.id),
            project_id: ProjectId(self.project_id),
            name: self.name,
            field_type,
            options,
            required: self.required,
            created_at: self.created_at.and_utc(),
        })
    }
}

fn fields_of(rows: Vec<FieldRow>) -> Result<Vec<FieldDefinition>, RepositoryError> {
    rows.into_iter().map(FieldRow::into_field).collect()
}

#[async_trait::async_trait]
impl workbench_tasks::FieldRepository for DieselFieldRepository {
    async fn fields(&self, project: ProjectId) -> Result<Vec<FieldDefinition>, RepositoryError> {
        self.db
            .run(move |conn| {
                fields_of(
                    project_fields::table
                        .filter(project_fields::project_id.eq(project.0))
                        .order(project_fields::id.asc())
                        .select(FieldRow::as_select())
                        .load(conn)
                        .map_err(db)?,
                )
            })
            .await
    }

    async fn field(&self, id: FieldId) -> Result<Option<FieldDefinition>, RepositoryError> {
        self.db
            .run(move |conn| {
                project_fields::table
                    .find(id.0)
                    .select(FieldRow::as_select())
                    .first(conn)
                    .optional()
                    .map_err(db)?
                    .map(FieldRow::into_field)
                    .transpose()
            })
            .await
    }

    async fn fields_named(
        &self,
        projects: Vec<ProjectId>,
        name: String,
    ) -> Result<Vec<FieldDefinition>, RepositoryError> {
        self.db
            .run(move |conn| {
                let mut q = project_fields::table
                    .filter(
                        diesel::dsl::sql::<diesel::sql_types::Bool>("lower(project_fields.name) = lower(")
                            .bind::<Text, _>(name.clone())
                            .sql(")"),
                    )
                    .order(project_fields::id.asc())
                    .select(FieldRow::as_select())
                    .into_boxed();
                if !projects.is_empty() {
                    q = q.filter(project_fields::project_id.eq_any(projects.iter().map(|p| p.0).collect::<Vec<_>>()));
                }
                fields_of(q.load(conn).map_err(db)?)
            })
            .await
    }

    async fn create_field(&self, field: NewField, at: DateTime<Utc>) -> Result<FieldDefinition, RepositoryError> {
        let at = at.naive_utc();
        self.db
            .run(move |conn| {
                let options = field.options.as_ref().map(|o| serde_json::to_string(o).unwrap_or_else(|_| "[]".into()));
                let id: i64 = diesel::insert_into(project_fields::table)
                    .values((
                        project_fields::project_id.eq(field.project_id.0),
                        project_fields::name.eq(&field.name),
                        project_fields::kind.eq(field.field_type.as_str()),
                        project_fields::options.eq(options),
                        project_fields::required.eq(field.required),
                        project_fields::created_at.eq(at),
                    ))
                    .returning(project_fields::id)
                    .get_result(conn)
                    .map_err(|e| map_db_error(e, &[("project_fields_name", "name")]))?;
                project_fields::table.find(id).select(FieldRow::as_select()).first(conn).map_err(db)?.into_field()
            })
            .await
    }

    async fn delete_field(&self, project: ProjectId, id: FieldId) -> Result<Option<Vec<TaskId>>, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |c| {
                    let found = project_fields::table
                        .filter(project_fields::id.eq(id.0))
                        .filter(project_fields::project_id.eq(project.0))
                        .select(project_fields::id)
                        .first::<i64>(c)
                        .optional()
                        .map_err(db)?;
                    if found.is_none() {
                        return Ok(None);
                    }
                    // The value leaves each task's own object (a change: its version moves on); the
                    // triggers and the cascade take it out of the index.
                    let carriers = "SELECT task_id FROM task_field_values WHERE field_id = $2";
                    let changed: Vec<Placed> = match c {
                        AnyConnection::Postgresql(pg) => diesel::sql_query(format!(
                            "UPDATE tasks SET fields = (fields::jsonb - $1)::text, version = version + 1 \
                             WHERE id IN ({carriers}) RETURNING id, 0::bigint AS pos"
                        ))
                        .bind::<Text, _>(id.0.to_string())
                        .bind::<BigInt, _>(id.0)
                        .load(pg),
                        AnyConnection::Sqlite(lite) => diesel::sql_query(format!(
                            "UPDATE tasks SET fields = json_remove(fields, $1), version = version + 1 \
                             WHERE id IN ({carriers}) RETURNING id, 0 AS pos"
                        ))
                        .bind::<Text, _>(format!("$.\"{}\"", id.0))
                        .bind::<BigInt, _>(id.0)
                        .load(lite),
                    }
                    .map_err(db)?;
                    diesel::delete(project_fields::table.find(id.0)).execute(c).map_err(db)?;
                    Ok(Some(changed.into_iter().map(|p| TaskId(p.id)).collect()))
                })
            })
            .await
    }
}
