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
//! inserting statement): see [`Signal`](signal::Signal).
//!
//! The store is here; beside it, enqueueing ([`enqueue`]), claiming and recording attempts
//! ([`attempts`]), the schedules' run log ([`runs`]) and the wake-ups ([`signal`]).

mod attempts;
mod enqueue;
mod row;
mod runs;
mod signal;

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{count_star, max, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text, Timestamp};
use tokio::sync::watch;
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_jobs::{
    AttemptReport, Enqueued, Holder, Job, JobCounts, JobId, JobState, JobStore, NewJob, ScheduleRun, SlotFiring,
    Verdict,
};

use attempts::{PG_PRUNE, SQLITE_CLAIM, SQLITE_PRUNE, claim_pg, record_in};
pub(crate) use enqueue::enqueue_in;
use row::{ID_CHUNK, JobRow, find_job, into_jobs};
use runs::{RunRow, fire_in};
pub use signal::JobsWaker;
use signal::{Signal, listen, notify_in};

use crate::connection::per_engine;
use crate::database::write_transaction;
use crate::error::{corrupt, count, db, int, map_db_error};
use crate::paging::counted_page;
use crate::schema::{jobs, schedule_runs};
use crate::{AnyConnection, Backend, Database};

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
                counted_page(page, total, || {
                    let rows: Vec<JobRow> = filtered()
                        .order(jobs::id.desc())
                        .limit(page.limit())
                        .offset(page.offset())
                        .load(conn)
                        .map_err(db)?;
                    into_jobs(rows)
                })
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
                counted_page(page, total, || {
                    let rows: Vec<RunRow> = filtered()
                        .order((schedule_runs::slot.desc(), schedule_runs::id.desc()))
                        .limit(page.limit())
                        .offset(page.offset())
                        .load(conn)
                        .map_err(db)?;
                    rows.into_iter().map(RunRow::into_run).collect()
                })
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
