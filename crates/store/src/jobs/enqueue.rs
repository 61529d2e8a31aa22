//! Enqueueing jobs: one at a time, or a batch in one statement on PostgreSQL (`unnest`) and in
//! multi-row inserts on SQLite.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, SmallInt, Text, Timestamp};
use workbench_core::RepositoryError;
use workbench_jobs::{Enqueued, JobId, NewJob};

use super::row::to_json;
use crate::AnyConnection;
use crate::connection::per_engine;
use crate::error::{db, int};
use crate::schema::jobs;

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
/// in [`write_transaction`](crate::database::write_transaction) there.
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
