//! A job's attempts: claiming jobs under a lease, recording how their attempts ended (a batch of
//! completions in one statement), and pruning finished jobs.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Text, Timestamp};
use workbench_core::RepositoryError;
use workbench_jobs::{AttemptReport, Holder, JobId, JobState, Verdict};

use super::row::{ID_CHUNK, JobRow, to_json};
use crate::AnyConnection;
use crate::error::{db, int};
use crate::schema::{jobs, schedule_runs};

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

pub(super) const SQLITE_CLAIM: &str =
    "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?, lease_until = ?,
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
pub(super) fn claim_pg(
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

pub(super) const PG_PRUNE: &str = "DELETE FROM jobs WHERE id IN (
    SELECT id FROM jobs WHERE state IN ('completed', 'discarded', 'cancelled') AND finished_at < $1
    ORDER BY finished_at LIMIT $2)";

pub(super) const SQLITE_PRUNE: &str = "DELETE FROM jobs WHERE id IN (
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
pub(super) fn record_in(
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
