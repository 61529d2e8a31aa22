//! The schedules' run log: a slot fired (its entry, then its job), and the entries as read.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use workbench_core::RepositoryError;
use workbench_jobs::{Enqueued, JobId, JobState, RunOutcome, ScheduleRun, SlotFiring};

use super::enqueue::enqueue_in;
use crate::AnyConnection;
use crate::connection::per_engine;
use crate::error::{corrupt, count, db};
use crate::schema::{jobs, schedule_runs};

#[derive(Debug, Queryable)]
pub(super) struct RunRow {
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
    pub(super) fn into_run(self) -> Result<ScheduleRun, RepositoryError> {
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
pub(super) fn fire_in(conn: &mut AnyConnection, firing: &SlotFiring) -> Result<Option<JobId>, RepositoryError> {
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
