//! The job queue and the schedules' run log in the database (the `JobStore` port).
//!
//! Most of it is Diesel's query builder on either engine. Raw SQL, per engine, where the engines
//! differ or where speed needs it:
//!
//! - **claiming**: on PostgreSQL one `UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED)`, so
//!   concurrent claimers skip each other's rows instead of waiting; on SQLite the same statement
//!   without the lock clause under `BEGIN IMMEDIATE`, which serialises claimers;
//! - **batch enqueue** on PostgreSQL: one `INSERT ... SELECT FROM unnest(arrays)` per batch (a
//!   handful of array parameters instead of thousands of scalar ones); SQLite inserts row by row
//!   in one transaction, which costs it little;
//! - **batch completion** on PostgreSQL: one `UPDATE ... FROM unnest(ids, attempts, times)`;
//! - queries whose state predicate must match a **partial index** spell the states as literals:
//!   neither engine can prove a bound `state = $1` implies the index's predicate (SQLite never,
//!   PostgreSQL not in a generic plan of a cached statement).
//!
//! Workers are woken by `LISTEN workbench_jobs` on PostgreSQL (a trigger notifies on every
//! inserting statement): see [`Signal`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::dsl::{count_star, max, sql};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, SmallInt, Text, Timestamp};
use tokio::sync::watch;
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_jobs::{
    AttemptReport, Enqueued, Holder, Job, JobCounts, JobId, JobState, JobStore, NewJob, RunOutcome, ScheduleRun,
    SlotFiring, Verdict,
};

use crate::connection::per_engine;
use crate::database::write_transaction;
use crate::error::{corrupt, count, db, map_db_error};
use crate::schema::{jobs, schedule_runs};
use crate::{AnyConnection, Backend, Database};

/// The channel the insert trigger notifies.
const CHANNEL: &str = "workbench_jobs";
/// How often the listener looks for notifications. A look is a non-blocking read of the socket
/// (Diesel exposes no way to wait on it), so this costs next to nothing and bounds the wake-up
/// latency.
const LISTEN_POLL: Duration = Duration::from_millis(10);
/// Rows per statement when a list of ids becomes bind parameters.
const ID_CHUNK: usize = 1_000;

#[derive(Debug, Queryable, QueryableByName)]
#[diesel(table_name = jobs)]
struct JobRow {
    id: i64,
    kind: String,
    args: String,
    priority: i16,
    state: String,
    run_at: NaiveDateTime,
    attempt: i32,
    max_attempts: i32,
    errors: String,
    unique_key: Option<String>,
    lease_owner: Option<String>,
    lease_until: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    attempted_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
}

impl JobRow {
    fn into_job(self) -> Result<Job, RepositoryError> {
        Ok(Job {
            id: JobId(self.id),
            state: JobState::parse(&self.state).map_err(|e| corrupt("jobs.state", &e))?,
            args: serde_json::from_str(&self.args).map_err(|e| corrupt("jobs.args", e))?,
            errors: serde_json::from_str(&self.errors).map_err(|e| corrupt("jobs.errors", e))?,
            kind: self.kind,
            priority: self.priority,
            run_at: self.run_at.and_utc(),
            attempt: u32::try_from(self.attempt).unwrap_or(0),
            max_attempts: u32::try_from(self.max_attempts).unwrap_or(1),
            unique_key: self.unique_key,
            lease_owner: self.lease_owner,
            lease_until: self.lease_until.map(|t| t.and_utc()),
            created_at: self.created_at.and_utc(),
            attempted_at: self.attempted_at.map(|t| t.and_utc()),
            finished_at: self.finished_at.map(|t| t.and_utc()),
        })
    }
}

fn into_jobs(rows: Vec<JobRow>) -> Result<Vec<Job>, RepositoryError> {
    rows.into_iter().map(JobRow::into_job).collect()
}

fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn to_json(encoded: serde_json::Result<String>) -> Result<String, RepositoryError> {
    encoded.map_err(|e| RepositoryError::Unavailable(e.into()))
}

#[derive(Insertable)]
#[diesel(table_name = jobs)]
struct NewJobRow<'a> {
    kind: &'a str,
    args: String,
    priority: i16,
    state: &'static str,
    run_at: NaiveDateTime,
    max_attempts: i32,
    unique_key: Option<&'a str>,
    created_at: NaiveDateTime,
}

/// What an inserting statement answers per row it inserted.
#[derive(QueryableByName)]
struct Inserted {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    unique_key: Option<String>,
}

const PG_ENQUEUE: &str = "INSERT INTO jobs (kind, args, priority, state, run_at, max_attempts, unique_key, created_at)
SELECT kind, args, priority, state, run_at, max_attempts, unique_key, $8
FROM unnest($1::text[], $2::text[], $3::smallint[], $4::text[], $5::timestamp[], $6::int[], $7::text[])
    WITH ORDINALITY AS j(kind, args, priority, state, run_at, max_attempts, unique_key, ord)
ORDER BY ord
ON CONFLICT DO NOTHING
RETURNING id, unique_key";

/// Stores `jobs` (validated) as enqueued at `now` and answers for each, in order, whether it was
/// inserted. Insert-or-nothing against the partial unique index decides duplicates.
///
/// Runs in the caller's transaction if there is one, so that another adapter can enqueue in the
/// same transaction as its own write (a webhook delivery and its processing job). Without one,
/// the PostgreSQL batch is one statement (atomic) but SQLite inserts row by row: wrap the call
/// in [`write_transaction`] there.
pub(crate) fn enqueue_in(
    conn: &mut AnyConnection,
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> Result<Vec<Enqueued>, RepositoryError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let created_at = now.naive_utc();
    match conn {
        // One job: the plain insert, a statement PostgreSQL keeps prepared, is the cheaper one.
        AnyConnection::Postgresql(pg) if jobs.len() > 1 => {
            let n = jobs.len();
            let (mut kinds, mut args, mut priorities, mut states, mut run_ats, mut maxes, mut keys) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            for job in jobs {
                let (state, run_at) = job.initial_state(now);
                kinds.push(job.kind.as_str());
                args.push(to_json(serde_json::to_string(&job.args))?);
                priorities.push(job.priority);
                states.push(state.as_str());
                run_ats.push(run_at.naive_utc());
                maxes.push(int(job.max_attempts));
                keys.push(job.unique_key.as_deref());
            }
            let rows: Vec<Inserted> = diesel::sql_query(PG_ENQUEUE)
                .bind::<Array<Text>, _>(&kinds)
                .bind::<Array<Text>, _>(&args)
                .bind::<Array<SmallInt>, _>(&priorities)
                .bind::<Array<Text>, _>(&states)
                .bind::<Array<Timestamp>, _>(&run_ats)
                .bind::<Array<Integer>, _>(&maxes)
                .bind::<Array<Nullable<Text>>, _>(&keys)
                .bind::<Timestamp, _>(created_at)
                .load(pg)
                .map_err(db)?;
            match_inserted(jobs, rows)
        }
        AnyConnection::Sqlite(sqlite) if jobs.len() > 1 => {
            let mut results = Vec::with_capacity(jobs.len());
            for chunk in jobs.chunks(SQLITE_INSERT_CHUNK) {
                let rows: Vec<Inserted> = sqlite_insert(chunk, now)?.load(sqlite).map_err(db)?;
                results.extend(match_inserted(chunk, rows)?);
            }
            Ok(results)
        }
        _ => {
            let mut results = Vec::with_capacity(jobs.len());
            for job in jobs {
                let (state, run_at) = job.initial_state(now);
                let row = NewJobRow {
                    kind: &job.kind,
                    args: to_json(serde_json::to_string(&job.args))?,
                    priority: job.priority,
                    state: state.as_str(),
                    run_at: run_at.naive_utc(),
                    max_attempts: int(job.max_attempts),
                    unique_key: job.unique_key.as_deref(),
                    created_at,
                };
                let insert = diesel::insert_into(jobs::table).values(&row).on_conflict_do_nothing();
                let id: Option<i64> =
                    per_engine!(&mut *conn, c => insert.returning(jobs::id).get_result(c).optional()).map_err(db)?;
                results.push(id.map_or(Enqueued::Duplicate, |id| Enqueued::Inserted(JobId(id))));
            }
            Ok(results)
        }
    }
}

/// Rows per multi-row insert on SQLite: 8 parameters each, well under its 32,766.
const SQLITE_INSERT_CHUNK: usize = 1_000;

/// One multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING` for SQLite: a row at a time
/// costs SQLite a statement execution and an `AUTOINCREMENT` bookkeeping write per job.
fn sqlite_insert(
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> Result<
    diesel::query_builder::BoxedSqlQuery<'static, diesel::sqlite::Sqlite, diesel::query_builder::SqlQuery>,
    RepositoryError,
> {
    let mut sql = String::from(
        "INSERT INTO jobs (kind, args, priority, state, run_at, max_attempts, unique_key, created_at) VALUES ",
    );
    for i in 0..jobs.len() {
        sql.push_str(if i == 0 { "(?, ?, ?, ?, ?, ?, ?, ?)" } else { ", (?, ?, ?, ?, ?, ?, ?, ?)" });
    }
    sql.push_str(" ON CONFLICT DO NOTHING RETURNING id, unique_key");
    let mut query = diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>();
    for job in jobs {
        let (state, run_at) = job.initial_state(now);
        query = query
            .bind::<Text, _>(job.kind.clone())
            .bind::<Text, _>(to_json(serde_json::to_string(&job.args))?)
            .bind::<SmallInt, _>(job.priority)
            .bind::<Text, _>(state.as_str())
            .bind::<Timestamp, _>(run_at.naive_utc())
            .bind::<Integer, _>(int(job.max_attempts))
            .bind::<Nullable<Text>, _>(job.unique_key.clone())
            .bind::<Timestamp, _>(now.naive_utc());
    }
    Ok(query)
}

/// Pairs the rows one batch insert returned with the jobs sent, in order. A keyed job is
/// inserted iff a returned row carries its key (the first job with a key in a batch wins it).
/// Unkeyed jobs are always inserted; their rows, taken in id order, are theirs in input order,
/// since the insert consumes its rows in order (`unnest ... ORDER BY ord` on PostgreSQL, the
/// `VALUES` list on SQLite) and draws ids as it goes.
fn match_inserted(jobs: &[NewJob], mut rows: Vec<Inserted>) -> Result<Vec<Enqueued>, RepositoryError> {
    rows.sort_unstable_by_key(|r| r.id);
    let mut keyed = HashMap::new();
    let mut unkeyed = Vec::new();
    for row in rows {
        match row.unique_key {
            Some(key) => {
                keyed.insert(key, row.id);
            }
            None => unkeyed.push(row.id),
        }
    }
    let mut unkeyed = unkeyed.into_iter();
    jobs.iter()
        .map(|job| match &job.unique_key {
            Some(key) => Ok(keyed.remove(key).map_or(Enqueued::Duplicate, |id| Enqueued::Inserted(JobId(id)))),
            None => unkeyed
                .next()
                .map(|id| Enqueued::Inserted(JobId(id)))
                .ok_or_else(|| RepositoryError::Unavailable(anyhow::anyhow!("a job without a key was not inserted"))),
        })
        .collect()
}

const PG_CLAIM: &str = "WITH next AS (
    SELECT id FROM jobs
    WHERE state IN ('available', 'scheduled', 'retryable') AND run_at <= $3
    ORDER BY priority, run_at, id
    LIMIT $4
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs SET state = 'running', attempt = jobs.attempt + 1, lease_owner = $1, lease_until = $2, attempted_at = $3
FROM next WHERE jobs.id = next.id
RETURNING jobs.*";

const SQLITE_CLAIM: &str = "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?, lease_until = ?,
    attempted_at = ?
WHERE id IN (
    SELECT id FROM jobs
    WHERE state IN ('available', 'scheduled', 'retryable') AND run_at <= ?
    ORDER BY priority, run_at, id
    LIMIT ?)
RETURNING *";

/// Claims on PostgreSQL, making the planner walk `jobs_claim` in order.
///
/// Left to itself, the planner picks its plan from statistics, and a queue's statistics are
/// wrong exactly when it matters: a table that just grew by a burst of jobs has none yet (or
/// says "almost everything is completed"), so the planner expects a few dozen claimable rows,
/// bitmap-scans every claimable job and sorts them all: 80 ms per claim at 100,000 jobs, against
/// 0.2 ms for the ordered index scan that stops at the limit. Sorting (and bitmap scans) are
/// therefore ruled out for this one statement, by settings local to its transaction; `BEGIN`
/// and the settings travel in one round trip.
fn claim_pg(
    pg: &mut PgConnection,
    owner: &str,
    until: NaiveDateTime,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<JobRow>> {
    AnsiTransactionManager::begin_transaction_sql(
        pg,
        "BEGIN; SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off",
    )?;
    let claimed = diesel::sql_query(PG_CLAIM)
        .bind::<Text, _>(owner)
        .bind::<Timestamp, _>(until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(pg);
    match claimed {
        Ok(rows) => {
            <AnsiTransactionManager as TransactionManager<PgConnection>>::commit_transaction(pg)?;
            Ok(rows)
        }
        Err(e) => {
            // The claim's error is the one worth reporting; a failed rollback leaves the
            // connection broken, which the pool notices.
            let _ = <AnsiTransactionManager as TransactionManager<PgConnection>>::rollback_transaction(pg);
            Err(e)
        }
    }
}

/// Completes a batch in one statement; `{holder}` is the lease condition.
const PG_COMPLETE: &str = "UPDATE jobs SET state = 'completed', finished_at = done.finished_at, lease_owner = NULL,
    lease_until = NULL
FROM unnest($1::bigint[], $2::int[], $3::timestamp[]) AS done(id, attempt, finished_at)
WHERE jobs.id = done.id AND jobs.attempt = done.attempt AND jobs.state = 'running' AND {holder}
RETURNING jobs.id";

const PG_PRUNE: &str = "DELETE FROM jobs WHERE id IN (
    SELECT id FROM jobs WHERE state IN ('completed', 'discarded', 'cancelled') AND finished_at < $1
    ORDER BY finished_at LIMIT $2)";

const SQLITE_PRUNE: &str = "DELETE FROM jobs WHERE id IN (
    SELECT id FROM jobs WHERE state IN ('completed', 'discarded', 'cancelled') AND finished_at < ?
    ORDER BY finished_at LIMIT ?)";

/// The row changes that end an attempt. `None` leaves a column alone; `Some(None)` clears it.
#[derive(AsChangeset)]
#[diesel(table_name = jobs)]
struct FinishChanges<'a> {
    state: &'static str,
    run_at: Option<NaiveDateTime>,
    errors: Option<String>,
    finished_at: Option<NaiveDateTime>,
    lease_owner: Option<Option<&'a str>>,
    lease_until: Option<Option<NaiveDateTime>>,
}

#[derive(AsChangeset)]
#[diesel(table_name = schedule_runs, treat_none_as_null = true)]
struct RunChanges<'a> {
    started_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
    outcome: Option<&'static str>,
    duration_ms: Option<i64>,
    items_affected: Option<i64>,
    error: Option<&'a str>,
    note: Option<&'a str>,
}

/// Applies one report if its job is still running at its attempt under `holder`'s lease.
fn finish_one(conn: &mut AnyConnection, holder: &Holder, report: &AttemptReport) -> Result<bool, RepositoryError> {
    let (run_at, finished_at) = match &report.verdict {
        Verdict::Completed | Verdict::Discard => (None, Some(report.finished_at.naive_utc())),
        Verdict::Retry { at } => (Some(at.naive_utc()), None),
    };
    let errors = match report.verdict {
        Verdict::Completed => None,
        _ => Some(to_json(serde_json::to_string(&report.errors))?),
    };
    let changes = FinishChanges {
        state: report.verdict.state().as_str(),
        run_at,
        errors,
        finished_at,
        lease_owner: Some(None),
        lease_until: Some(None),
    };
    let target = jobs::table
        .filter(jobs::id.eq(report.id.0))
        .filter(jobs::attempt.eq(int(report.attempt)))
        .filter(jobs::state.eq(JobState::Running.as_str()));
    let updated = match holder {
        Holder::Owner(owner) => diesel::update(target.filter(jobs::lease_owner.eq(owner))).set(&changes).execute(conn),
        Holder::LapsedBefore(at) => {
            diesel::update(target.filter(jobs::lease_until.lt(at.naive_utc()))).set(&changes).execute(conn)
        }
    }
    .map_err(db)?;
    Ok(updated > 0)
}

/// An id a statement returned.
#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Reports per batch completion on SQLite: 3 parameters each.
const SQLITE_COMPLETE_CHUNK: usize = 1_000;

/// Completes `done` in one `UPDATE ... FROM (VALUES ...)` on SQLite, returning the ids completed.
fn sqlite_complete(
    holder: &Holder,
    done: &[&AttemptReport],
) -> diesel::query_builder::BoxedSqlQuery<'static, diesel::sqlite::Sqlite, diesel::query_builder::SqlQuery> {
    let mut sql = String::from(
        "UPDATE jobs SET state = 'completed', finished_at = done.column3, lease_owner = NULL, lease_until = NULL \
         FROM (VALUES ",
    );
    for i in 0..done.len() {
        sql.push_str(if i == 0 { "(?, ?, ?)" } else { ", (?, ?, ?)" });
    }
    sql.push_str(
        ") AS done WHERE jobs.id = done.column1 AND jobs.attempt = done.column2 AND jobs.state = 'running' AND ",
    );
    sql.push_str(match holder {
        Holder::Owner(_) => "jobs.lease_owner = ?",
        Holder::LapsedBefore(_) => "jobs.lease_until < ?",
    });
    sql.push_str(" RETURNING jobs.id");
    let mut query = diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>();
    for report in done {
        query = query
            .bind::<BigInt, _>(report.id.0)
            .bind::<Integer, _>(int(report.attempt))
            .bind::<Timestamp, _>(report.finished_at.naive_utc());
    }
    match holder {
        Holder::Owner(owner) => query.bind::<Text, _>(owner.clone()),
        Holder::LapsedBefore(at) => query.bind::<Timestamp, _>(at.naive_utc()),
    }
}

/// Completes `done` in one statement on PostgreSQL; returns the ids completed.
fn complete_batch_pg(
    pg: &mut PgConnection,
    holder: &Holder,
    done: &[&AttemptReport],
) -> Result<Vec<i64>, RepositoryError> {
    let ids: Vec<i64> = done.iter().map(|r| r.id.0).collect();
    let attempts: Vec<i32> = done.iter().map(|r| int(r.attempt)).collect();
    let times: Vec<NaiveDateTime> = done.iter().map(|r| r.finished_at.naive_utc()).collect();
    let query = |condition: &str| PG_COMPLETE.replace("{holder}", condition);
    let rows: Vec<Id> = match holder {
        Holder::Owner(owner) => diesel::sql_query(query("jobs.lease_owner = $4"))
            .bind::<Array<BigInt>, _>(&ids)
            .bind::<Array<Integer>, _>(&attempts)
            .bind::<Array<Timestamp>, _>(&times)
            .bind::<Text, _>(owner)
            .load(pg),
        Holder::LapsedBefore(at) => diesel::sql_query(query("jobs.lease_until < $4"))
            .bind::<Array<BigInt>, _>(&ids)
            .bind::<Array<Integer>, _>(&attempts)
            .bind::<Array<Timestamp>, _>(&times)
            .bind::<Timestamp, _>(at.naive_utc())
            .load(pg),
    }
    .map_err(db)?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Applies `reports` under `holder`; returns the ids applied.
fn record_in(
    conn: &mut AnyConnection,
    holder: &Holder,
    reports: &[AttemptReport],
) -> Result<Vec<JobId>, RepositoryError> {
    let mut applied = Vec::with_capacity(reports.len());
    let (completed, failed): (Vec<&AttemptReport>, Vec<&AttemptReport>) =
        reports.iter().partition(|r| r.verdict == Verdict::Completed);
    match conn {
        AnyConnection::Postgresql(pg) if !completed.is_empty() => {
            for chunk in completed.chunks(ID_CHUNK) {
                applied.extend(complete_batch_pg(pg, holder, chunk)?.into_iter().map(JobId));
            }
        }
        AnyConnection::Sqlite(sqlite) if completed.len() > 1 => {
            for chunk in completed.chunks(SQLITE_COMPLETE_CHUNK) {
                let ids: Vec<Id> = sqlite_complete(holder, chunk).load(sqlite).map_err(db)?;
                applied.extend(ids.into_iter().map(|r| JobId(r.id)));
            }
        }
        _ => {
            for report in &completed {
                if finish_one(conn, holder, report)? {
                    applied.push(report.id);
                }
            }
        }
    }
    for report in &failed {
        if finish_one(conn, holder, report)? {
            applied.push(report.id);
        }
    }
    let runs: HashMap<JobId, &workbench_jobs::RunReport> =
        reports.iter().filter_map(|r| r.run.as_ref().map(|run| (r.id, run))).collect();
    if !runs.is_empty() {
        for id in &applied {
            let Some(run) = runs.get(id) else { continue };
            let changes = RunChanges {
                started_at: Some(run.started_at.naive_utc()),
                finished_at: Some(run.finished_at.naive_utc()),
                outcome: Some(run.outcome.as_str()),
                duration_ms: Some(i64::try_from(run.duration_ms).unwrap_or(i64::MAX)),
                items_affected: run.items_affected.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
                error: run.error.as_deref(),
                note: run.note.as_deref(),
            };
            diesel::update(schedule_runs::table.filter(schedule_runs::job_id.eq(id.0)))
                .set(&changes)
                .execute(conn)
                .map_err(db)?;
        }
    }
    Ok(applied)
}

#[derive(Debug, Queryable)]
struct RunRow {
    id: i64,
    schedule: String,
    slot: NaiveDateTime,
    job_id: Option<i64>,
    enqueued_at: NaiveDateTime,
    started_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
    outcome: Option<String>,
    duration_ms: Option<i64>,
    items_affected: Option<i64>,
    error: Option<String>,
    note: Option<String>,
}

impl RunRow {
    fn into_run(self) -> Result<ScheduleRun, RepositoryError> {
        let outcome = match self.outcome.as_deref() {
            Some(o) => Some(RunOutcome::parse(o).map_err(|e| corrupt("schedule_runs.outcome", &e))?),
            None => None,
        };
        Ok(ScheduleRun {
            id: self.id,
            schedule: self.schedule,
            slot: self.slot.and_utc(),
            job_id: self.job_id.map(JobId),
            enqueued_at: self.enqueued_at.and_utc(),
            started_at: self.started_at.map(|t| t.and_utc()),
            finished_at: self.finished_at.map(|t| t.and_utc()),
            outcome,
            duration_ms: self.duration_ms.map(count),
            items_affected: self.items_affected.map(count),
            error: self.error,
            note: self.note,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = schedule_runs)]
struct NewRunRow<'a> {
    schedule: &'a str,
    slot: NaiveDateTime,
    enqueued_at: NaiveDateTime,
}

/// Fires a slot: the run log entry (or nothing), then the job, in the caller's transaction.
fn fire_in(conn: &mut AnyConnection, firing: &SlotFiring) -> Result<Option<JobId>, RepositoryError> {
    let row =
        NewRunRow { schedule: &firing.schedule, slot: firing.slot.naive_utc(), enqueued_at: firing.at.naive_utc() };
    let insert = diesel::insert_into(schedule_runs::table).values(&row).on_conflict_do_nothing();
    let run_id: Option<i64> =
        per_engine!(conn, c => insert.returning(schedule_runs::id).get_result(c).optional()).map_err(db)?;
    let Some(run_id) = run_id else { return Ok(None) };
    let enqueued = enqueue_in(conn, std::slice::from_ref(&firing.job), firing.at)?;
    let (job_id, fired) = match enqueued.first() {
        Some(Enqueued::Inserted(id)) => (Some(id.0), true),
        // An active job already holds the slot's key (its run entry was pruned meanwhile): link
        // that one rather than enqueue a second.
        _ => {
            let key = firing.job.unique_key.clone().unwrap_or_default();
            let existing = jobs::table
                .filter(jobs::unique_key.eq(key))
                .filter(jobs::state.eq_any(JobState::ACTIVE.map(JobState::as_str)))
                .select(jobs::id)
                .first::<i64>(conn)
                .optional()
                .map_err(db)?;
            (existing, false)
        }
    };
    diesel::update(schedule_runs::table.find(run_id))
        .set(schedule_runs::job_id.eq(job_id))
        .execute(conn)
        .map_err(db)?;
    Ok(job_id.filter(|_| fired).map(JobId))
}

/// Tells idle workers that jobs may be claimable: this process's at once, and on PostgreSQL
/// every instance's, through a notification delivered when the caller's transaction commits.
fn notify_in(conn: &mut AnyConnection) -> Result<(), RepositoryError> {
    if let AnyConnection::Postgresql(pg) = conn {
        diesel::sql_query(format!("NOTIFY {CHANNEL}")).execute(pg).map_err(db)?;
    }
    Ok(())
}

/// The wake-up signal for this process's runtimes, and on PostgreSQL the listener that feeds it
/// from `NOTIFY`.
///
/// The listener holds one pooled connection (`LISTEN workbench_jobs`) on a blocking thread while
/// anyone is subscribed, and looks for notifications every [`LISTEN_POLL`]. When the last
/// subscriber goes, it unlistens and returns the connection.
#[derive(Debug)]
struct Signal {
    tx: watch::Sender<()>,
    /// Whether a listener runs. Subscribing and the listener's decision to stop both happen
    /// under this lock, so a new subscriber never finds a listener that is about to stop.
    listening: Mutex<bool>,
}

impl Signal {
    fn listening(&self) -> std::sync::MutexGuard<'_, bool> {
        self.listening.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake(&self) {
        self.tx.send_replace(());
    }

    /// Listens on `conn` until nobody is subscribed; `Ok(true)` when it stopped for that reason.
    fn listen_on(&self, conn: &mut AnyConnection) -> Result<bool, RepositoryError> {
        let AnyConnection::Postgresql(pg) = conn else { return Ok(true) };
        diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(pg).map_err(db)?;
        let outcome = loop {
            if self.tx.receiver_count() == 0 {
                let mut listening = self.listening();
                if self.tx.receiver_count() == 0 {
                    *listening = false;
                    break Ok(true);
                }
            }
            let mut woke = false;
            let mut failure = None;
            for note in pg.notifications_iter() {
                match note {
                    Ok(_) => woke = true,
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            if woke {
                self.wake();
            }
            if let Some(e) = failure {
                break Err(db(e));
            }
            std::thread::sleep(LISTEN_POLL);
        };
        // The connection goes back to the pool: it must not keep collecting notifications.
        let _ = diesel::sql_query("UNLISTEN *").execute(pg);
        outcome
    }
}

async fn listen(db: Database, signal: Arc<Signal>) {
    loop {
        let on = signal.clone();
        match db.run(move |conn| on.listen_on(conn)).await {
            Ok(true) => return,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "job notifications interrupted; workers poll meanwhile");
                // Wake the workers: they may have missed a notification while the listener was
                // down.
                signal.wake();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        if signal.tx.receiver_count() == 0 {
            let mut listening = signal.listening();
            if signal.tx.receiver_count() == 0 {
                *listening = false;
                return;
            }
        }
    }
}

/// Wakes this process's job runtimes: for adapters that enqueue jobs inside transactions of
/// their own (`jobs::enqueue_in`), to call once those committed. Other instances hear of the
/// insert from PostgreSQL's `NOTIFY`, or by polling.
#[derive(Debug, Clone)]
pub struct JobsWaker(Arc<Signal>);

impl JobsWaker {
    pub fn wake(&self) {
        self.0.wake();
    }
}

/// Jobs and schedule runs on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselJobStore {
    db: Database,
    signal: Arc<Signal>,
    /// On SQLite, this store's writes take turns here before they take the database's write
    /// lock. SQLite has one writer at a time, and a writer that finds the lock taken sleeps in
    /// its busy handler for 1 to 100 ms, however soon the lock frees: a runtime's claims and
    /// recordings, which alternate constantly, would spend most of their time asleep. A mutex
    /// hands over in microseconds. (Writers outside this store still meet at the busy handler.)
    sqlite_writes: Option<Arc<Mutex<()>>>,
}

impl DieselJobStore {
    /// The job store in `db`. On PostgreSQL, the first runtime to subscribe starts the
    /// `LISTEN` connection (one pooled connection, held while any runtime runs).
    pub fn new(db: Database) -> Self {
        let (tx, _) = watch::channel(());
        let sqlite_writes = (db.backend() == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Self { db, signal: Arc::new(Signal { tx, listening: Mutex::new(false) }), sqlite_writes }
    }

    /// What wakes the runtimes subscribed to this store.
    pub fn waker(&self) -> JobsWaker {
        JobsWaker(self.signal.clone())
    }

    /// Runs `work`, which writes, in turn with this store's other writes on SQLite.
    async fn write<T, F>(&self, work: F) -> Result<T, RepositoryError>
    where
        F: Fn(&mut AnyConnection) -> Result<T, RepositoryError> + Send + 'static,
        T: Send + 'static,
    {
        let turn = self.sqlite_writes.clone();
        self.db
            .run(move |conn| {
                // The guard protects no data, so a panic while holding it leaves nothing broken.
                let _turn = turn.as_ref().map(|m| m.lock().unwrap_or_else(PoisonError::into_inner));
                work(conn)
            })
            .await
    }
}

#[async_trait]
impl JobStore for DieselJobStore {
    async fn enqueue(&self, jobs: Vec<NewJob>, now: DateTime<Utc>) -> Result<Vec<Enqueued>, RepositoryError> {
        let done = self
            .write(move |conn| match conn {
                AnyConnection::Sqlite(_) if jobs.len() > 1 => write_transaction(conn, |c| enqueue_in(c, &jobs, now)),
                _ => enqueue_in(conn, &jobs, now),
            })
            .await?;
        if done.iter().any(|e| matches!(e, Enqueued::Inserted(_))) {
            self.signal.wake();
        }
        Ok(done)
    }

    async fn claim(
        &self,
        owner: &str,
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Job>, RepositoryError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let owner = owner.to_owned();
        let (now, until) = (now.naive_utc(), lease_until.naive_utc());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut jobs = self
            .write(move |conn| {
                let rows: Vec<JobRow> = match conn {
                    AnyConnection::Postgresql(pg) => claim_pg(pg, &owner, until, now, limit).map_err(db)?,
                    // `BEGIN IMMEDIATE`, like `write_transaction`: the claim reads, then writes.
                    AnyConnection::Sqlite(sqlite) => sqlite
                        .immediate_transaction(|c| {
                            diesel::sql_query(SQLITE_CLAIM)
                                .bind::<Text, _>(&owner)
                                .bind::<Timestamp, _>(until)
                                .bind::<Timestamp, _>(now)
                                .bind::<Timestamp, _>(now)
                                .bind::<BigInt, _>(limit)
                                .load(c)
                        })
                        .map_err(db)?,
                };
                into_jobs(rows)
            })
            .await?;
        // RETURNING has no order: hand the jobs out in the order they were picked.
        jobs.sort_unstable_by_key(|j| (j.priority, j.run_at, j.id));
        Ok(jobs)
    }

    async fn renew(&self, owner: &str, ids: Vec<JobId>, until: DateTime<Utc>) -> Result<Vec<JobId>, RepositoryError> {
        let owner = owner.to_owned();
        let until = until.naive_utc();
        self.write(move |conn| {
            let mut renewed = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(ID_CHUNK) {
                let chunk: Vec<i64> = chunk.iter().map(|id| id.0).collect();
                let update = diesel::update(
                    jobs::table
                        .filter(jobs::id.eq_any(chunk))
                        .filter(jobs::lease_owner.eq(&owner))
                        .filter(jobs::state.eq(JobState::Running.as_str())),
                )
                .set(jobs::lease_until.eq(until));
                let ids: Vec<i64> = per_engine!(conn, c => update.returning(jobs::id).get_results(c)).map_err(db)?;
                renewed.extend(ids.into_iter().map(JobId));
            }
            Ok(renewed)
        })
        .await
    }

    async fn record(&self, holder: Holder, reports: Vec<AttemptReport>) -> Result<Vec<JobId>, RepositoryError> {
        if reports.is_empty() {
            return Ok(Vec::new());
        }
        self.write(move |conn| {
            // One statement needs no transaction: a batch of completions on PostgreSQL,
            // without schedule runs to write, is the common case and the hot path.
            let single_statement = matches!(conn, AnyConnection::Postgresql(_))
                && reports.len() <= ID_CHUNK
                && reports.iter().all(|r| r.verdict == Verdict::Completed && r.run.is_none());
            if single_statement || reports.len() == 1 && reports[0].run.is_none() {
                record_in(conn, &holder, &reports)
            } else {
                write_transaction(conn, |c| record_in(c, &holder, &reports))
            }
        })
        .await
    }

    async fn release(&self, owner: &str, ids: Vec<JobId>) -> Result<u64, RepositoryError> {
        let owner = owner.to_owned();
        let released = self
            .write(move |conn| {
                write_transaction(conn, |c| {
                    let mut released = 0;
                    for chunk in ids.chunks(ID_CHUNK) {
                        let chunk: Vec<i64> = chunk.iter().map(|id| id.0).collect();
                        released += diesel::update(
                            jobs::table
                                .filter(jobs::id.eq_any(chunk))
                                .filter(jobs::lease_owner.eq(&owner))
                                .filter(jobs::state.eq(JobState::Running.as_str())),
                        )
                        .set((
                            jobs::state.eq(JobState::Available.as_str()),
                            jobs::attempt.eq(jobs::attempt - 1),
                            jobs::lease_owner.eq(None::<String>),
                            jobs::lease_until.eq(None::<NaiveDateTime>),
                        ))
                        .execute(c)
                        .map_err(db)?;
                    }
                    if released > 0 {
                        notify_in(c)?;
                    }
                    Ok(released as u64)
                })
            })
            .await?;
        if released > 0 {
            self.signal.wake();
        }
        Ok(released)
    }

    async fn lapsed(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Job>, RepositoryError> {
        let now = now.naive_utc();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .run(move |conn| {
                let rows = jobs::table
                    .filter(sql::<Bool>("state = 'running'"))
                    .filter(jobs::lease_until.lt(now))
                    .order(jobs::lease_until.asc())
                    .limit(limit)
                    .load::<JobRow>(conn)
                    .map_err(db)?;
                into_jobs(rows)
            })
            .await
    }

    async fn prune(&self, before: DateTime<Utc>, limit: usize) -> Result<u64, RepositoryError> {
        let before = before.naive_utc();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(move |conn| {
            let deleted = match conn {
                AnyConnection::Postgresql(pg) => {
                    diesel::sql_query(PG_PRUNE).bind::<Timestamp, _>(before).bind::<BigInt, _>(limit).execute(pg)
                }
                AnyConnection::Sqlite(sqlite) => diesel::sql_query(SQLITE_PRUNE)
                    .bind::<Timestamp, _>(before)
                    .bind::<BigInt, _>(limit)
                    .execute(sqlite),
            }
            .map_err(db)?;
            diesel::delete(schedule_runs::table.filter(schedule_runs::slot.lt(before))).execute(conn).map_err(db)?;
            Ok(deleted as u64)
        })
        .await
    }

    async fn find(&self, id: JobId) -> Result<Option<Job>, RepositoryError> {
        self.db.run(move |conn| find_job(conn, id)).await
    }

    async fn list(&self, state: Option<JobState>, page: PageRequest) -> Result<Page<Job>, RepositoryError> {
        self.db
            .run(move |conn| {
                let filtered = || {
                    let q = jobs::table.into_boxed();
                    match state {
                        Some(state) => q.filter(jobs::state.eq(state.as_str())),
                        None => q,
                    }
                };
                let total: i64 = filtered().count().get_result(conn).map_err(db)?;
                let rows: Vec<JobRow> = filtered()
                    .order(jobs::id.desc())
                    .limit(page.limit())
                    .offset(page.offset())
                    .load(conn)
                    .map_err(db)?;
                Ok(Page::new(into_jobs(rows)?, count(total), page))
            })
            .await
    }

    async fn counts(&self) -> Result<JobCounts, RepositoryError> {
        self.db
            .run(|conn| {
                let rows: Vec<(String, i64)> =
                    jobs::table.group_by(jobs::state).select((jobs::state, count_star())).load(conn).map_err(db)?;
                let mut counts = JobCounts::default();
                for (state, n) in rows {
                    counts.set(JobState::parse(&state).map_err(|e| corrupt("jobs.state", &e))?, count(n));
                }
                Ok(counts)
            })
            .await
    }

    async fn retry(&self, id: JobId, now: DateTime<Utc>) -> Result<Option<Job>, RepositoryError> {
        let retried = self
            .write(move |conn| {
                write_transaction(conn, |c| {
                    let Some(job) = find_job(c, id)? else { return Ok(None) };
                    if !JobState::RETRYABLE_BY_ADMIN.contains(&job.state) {
                        return Ok(None);
                    }
                    let max_attempts = job.max_attempts.max(job.attempt + 1);
                    let updated = diesel::update(
                        jobs::table
                            .find(id.0)
                            .filter(jobs::state.eq_any(JobState::RETRYABLE_BY_ADMIN.map(JobState::as_str))),
                    )
                    .set((
                        jobs::state.eq(JobState::Available.as_str()),
                        jobs::run_at.eq(now.naive_utc()),
                        jobs::max_attempts.eq(int(max_attempts)),
                        jobs::finished_at.eq(None::<NaiveDateTime>),
                    ))
                    .execute(c)
                    .map_err(|e| map_db_error(e, &[("unique_key", "unique_key")]))?;
                    if updated == 0 {
                        return Ok(None);
                    }
                    notify_in(c)?;
                    find_job(c, id)
                })
            })
            .await?;
        if retried.is_some() {
            self.signal.wake();
        }
        Ok(retried)
    }

    async fn cancel(&self, id: JobId, now: DateTime<Utc>) -> Result<Option<Job>, RepositoryError> {
        self.write(move |conn| {
            write_transaction(conn, |c| {
                let updated = diesel::update(
                    jobs::table.find(id.0).filter(jobs::state.eq_any(JobState::CANCELLABLE.map(JobState::as_str))),
                )
                .set((jobs::state.eq(JobState::Cancelled.as_str()), jobs::finished_at.eq(Some(now.naive_utc()))))
                .execute(c)
                .map_err(db)?;
                if updated == 0 { Ok(None) } else { find_job(c, id) }
            })
        })
        .await
    }

    async fn fire(&self, firing: SlotFiring) -> Result<Option<JobId>, RepositoryError> {
        let fired = self.write(move |conn| write_transaction(conn, |c| fire_in(c, &firing))).await?;
        if fired.is_some() {
            self.signal.wake();
        }
        Ok(fired)
    }

    async fn last_slots(&self) -> Result<Vec<(String, DateTime<Utc>)>, RepositoryError> {
        self.db
            .run(|conn| {
                let rows: Vec<(String, Option<NaiveDateTime>)> = schedule_runs::table
                    .group_by(schedule_runs::schedule)
                    .select((schedule_runs::schedule, max(schedule_runs::slot)))
                    .load(conn)
                    .map_err(db)?;
                Ok(rows.into_iter().filter_map(|(name, slot)| slot.map(|s| (name, s.and_utc()))).collect())
            })
            .await
    }

    async fn runs(&self, schedule: Option<String>, page: PageRequest) -> Result<Page<ScheduleRun>, RepositoryError> {
        self.db
            .run(move |conn| {
                let filtered = || {
                    let q = schedule_runs::table.into_boxed();
                    match &schedule {
                        Some(name) => q.filter(schedule_runs::schedule.eq(name.clone())),
                        None => q,
                    }
                };
                let total: i64 = filtered().count().get_result(conn).map_err(db)?;
                let rows: Vec<RunRow> = filtered()
                    .order((schedule_runs::slot.desc(), schedule_runs::id.desc()))
                    .limit(page.limit())
                    .offset(page.offset())
                    .load(conn)
                    .map_err(db)?;
                let runs = rows.into_iter().map(RunRow::into_run).collect::<Result<Vec<_>, _>>()?;
                Ok(Page::new(runs, count(total), page))
            })
            .await
    }

    fn subscribe(&self) -> watch::Receiver<()> {
        let mut listening = self.signal.listening();
        let rx = self.signal.tx.subscribe();
        if self.db.backend() == Backend::Postgres
            && !*listening
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            *listening = true;
            runtime.spawn(listen(self.db.clone(), self.signal.clone()));
        }
        rx
    }
}

fn find_job(conn: &mut AnyConnection, id: JobId) -> Result<Option<Job>, RepositoryError> {
    jobs::table.find(id.0).first::<JobRow>(conn).optional().map_err(db)?.map(JobRow::into_job).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inserted(id: i64, key: Option<&str>) -> Inserted {
        Inserted { id, unique_key: key.map(str::to_owned) }
    }

    #[test]
    fn batch_results_follow_the_input_order() {
        let jobs = vec![
            NewJob::new("a", serde_json::json!(1)),
            NewJob::new("a", serde_json::json!(2)).unique_key("k1"),
            NewJob::new("a", serde_json::json!(3)),
            NewJob::new("a", serde_json::json!(4)).unique_key("k1"),
            NewJob::new("a", serde_json::json!(5)).unique_key("taken"),
        ];
        // Rows come back in any order; ids were drawn in input order.
        let rows = vec![inserted(12, None), inserted(11, Some("k1")), inserted(10, None)];
        let done = match_inserted(&jobs, rows).unwrap();
        assert_eq!(
            done,
            [
                Enqueued::Inserted(JobId(10)),
                Enqueued::Inserted(JobId(11)),
                Enqueued::Inserted(JobId(12)),
                Enqueued::Duplicate,
                Enqueued::Duplicate,
            ]
        );
    }
}
