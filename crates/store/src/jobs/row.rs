//! A job as the store reads it, and the conversions every statement about jobs shares.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use workbench_core::RepositoryError;
use workbench_jobs::{Job, JobId, JobState};

use crate::AnyConnection;
use crate::error::{corrupt, db};
use crate::schema::jobs;

/// Rows per statement when a list of ids becomes bind parameters.
pub(super) const ID_CHUNK: usize = 1_000;

#[derive(Debug, Queryable, QueryableByName)]
#[diesel(table_name = jobs)]
pub(super) struct JobRow {
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
    pub(super) fn into_job(self) -> Result<Job, RepositoryError> {
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

pub(super) fn into_jobs(rows: Vec<JobRow>) -> Result<Vec<Job>, RepositoryError> {
    rows.into_iter().map(JobRow::into_job).collect()
}

pub(super) fn to_json(encoded: serde_json::Result<String>) -> Result<String, RepositoryError> {
    encoded.map_err(|e| RepositoryError::Unavailable(e.into()))
}

pub(super) fn find_job(conn: &mut AnyConnection, id: JobId) -> Result<Option<Job>, RepositoryError> {
    jobs::table.find(id.0).first::<JobRow>(conn).optional().map_err(db)?.map(JobRow::into_job).transpose()
}
