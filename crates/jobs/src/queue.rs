//! The job queue as the rest of the application sees it: enqueueing, and the admin operations.

use std::sync::Arc;

use workbench_core::{Page, PageRequest};

use crate::{Clock, Enqueued, Job, JobCounts, JobId, JobState, JobStore, JobsError, NewJob, ScheduleRun, SystemClock};

/// Enqueues jobs and serves the admin view (`GET /admin/jobs`, retry, cancel) and `/metrics`.
/// Cheap to clone.
#[derive(Clone)]
pub struct JobQueue {
    store: Arc<dyn JobStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobQueue").finish_non_exhaustive()
    }
}

impl JobQueue {
    /// The queue in `store`, on the system clock.
    pub fn new(store: Arc<dyn JobStore>) -> Self {
        Self::with_clock(store, Arc::new(SystemClock))
    }

    /// The queue in `store`, on `clock` (tests).
    pub fn with_clock(store: Arc<dyn JobStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Validates and stores one job.
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued, JobsError> {
        let mut done = self.enqueue_many(vec![job]).await?;
        done.pop().ok_or_else(|| JobsError::Unknown(anyhow::anyhow!("the store answered no result for one job")))
    }

    /// Validates every job, then stores them all in one batch; answers for each, in order. One
    /// invalid job refuses the whole batch, naming its fields as `jobs[i].field`.
    pub async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, JobsError> {
        let mut errors = Vec::new();
        for (i, job) in jobs.iter().enumerate() {
            if let Err(e) = job.validate() {
                let prefix = if jobs.len() == 1 { String::new() } else { format!("jobs[{i}].") };
                errors.extend(
                    e.into_vec()
                        .into_iter()
                        .map(|f| workbench_core::FieldError::new(format!("{prefix}{}", f.field), f.message)),
                );
            }
        }
        if let Some(errors) = workbench_core::FieldErrors::from_vec(errors) {
            return Err(JobsError::Validation(errors));
        }
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let expected = jobs.len();
        let done = self.store.enqueue(jobs, self.clock.now()).await?;
        if done.len() != expected {
            return Err(JobsError::Unknown(anyhow::anyhow!(
                "the store answered {} results for {expected} jobs",
                done.len()
            )));
        }
        Ok(done)
    }

    /// One job, or `NotFound`.
    pub async fn get(&self, id: JobId) -> Result<Job, JobsError> {
        self.store.find(id).await?.ok_or(JobsError::NotFound)
    }

    /// One page of jobs in `state` (all when `None`), newest first.
    pub async fn list(&self, state: Option<JobState>, page: PageRequest) -> Result<Page<Job>, JobsError> {
        Ok(self.store.list(state, page).await?)
    }

    /// Queue depth per state.
    pub async fn counts(&self) -> Result<JobCounts, JobsError> {
        Ok(self.store.counts().await?)
    }

    /// Runs a `discarded` or `cancelled` job again, now. It keeps its history (attempts and
    /// errors); when its attempts are used up it gets one more.
    pub async fn retry(&self, id: JobId) -> Result<Job, JobsError> {
        match self.store.retry(id, self.clock.now()).await? {
            Some(job) => Ok(job),
            None => Err(self.why_not(id, "retry", "discarded or cancelled jobs").await),
        }
    }

    /// Withdraws a job that has not started (`available`, `scheduled` or `retryable`). A running
    /// job cannot be cancelled: its handler is already at work.
    pub async fn cancel(&self, id: JobId) -> Result<Job, JobsError> {
        match self.store.cancel(id, self.clock.now()).await? {
            Some(job) => Ok(job),
            None => Err(self.why_not(id, "cancel", "available, scheduled or retryable jobs").await),
        }
    }

    /// One page of the schedules' run log (of one schedule when given), latest slot first.
    pub async fn runs(&self, schedule: Option<String>, page: PageRequest) -> Result<Page<ScheduleRun>, JobsError> {
        Ok(self.store.runs(schedule, page).await?)
    }

    /// Why a conditional admin change did not apply: the job is missing, or in another state.
    async fn why_not(&self, id: JobId, action: &'static str, allowed: &'static str) -> JobsError {
        match self.store.find(id).await {
            Ok(Some(job)) => JobsError::WrongState { state: job.state, action, allowed },
            Ok(None) => JobsError::NotFound,
            Err(e) => e.into(),
        }
    }
}
