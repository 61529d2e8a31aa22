//! What the daily runs that work per user share: one job per user and day, enqueued page by page,
//! so that a failure retries one user's work, not everyone's.

use std::future::Future;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use workbench_core::RepositoryError;
use workbench_jobs::{Enqueued, Job, JobFailure, JobQueue, NewJob};
use workbench_users::UserId;

/// Users read per page.
const USERS_PER_PAGE: usize = 500;

/// The arguments of one user's job: whose it is, and the day of the run that enqueued it (the
/// day its work is about, whenever a retry runs).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct UserDay {
    pub(crate) user_id: i64,
    pub(crate) date: NaiveDate,
}

impl UserDay {
    /// The arguments of `job`; arguments that do not parse never will, so the failure is
    /// permanent.
    pub(crate) fn of(job: &Job) -> Result<Self, JobFailure> {
        serde_json::from_value(job.args.clone()).map_err(|e| JobFailure::permanent(format!("bad arguments: {e}")))
    }
}

/// The job a run enqueues for each of its users.
#[derive(Debug)]
pub(crate) struct PerUserJob {
    pub(crate) kind: &'static str,
    /// The unique key is `{key_prefix}:{date}:{user id}`: a retried run enqueues nobody twice.
    pub(crate) key_prefix: &'static str,
    pub(crate) max_attempts: u32,
}

impl PerUserJob {
    /// Enqueues this job for every user `users` lists, for the run of `date`. `users(after,
    /// limit)` answers up to `limit` users with ids above `after`, lowest first; pages are read
    /// until one comes back short. Returns how many jobs were newly enqueued: a user whose job is
    /// already queued (an earlier attempt of this run got that far) is not counted again.
    pub(crate) async fn enqueue_for_each<F, Fut>(
        &self,
        queue: &JobQueue,
        date: NaiveDate,
        mut users: F,
    ) -> Result<u64, JobFailure>
    where
        F: FnMut(Option<UserId>, usize) -> Fut,
        Fut: Future<Output = Result<Vec<UserId>, RepositoryError>>,
    {
        let mut after = None;
        let mut enqueued = 0u64;
        loop {
            let page = users(after, USERS_PER_PAGE).await?;
            let done = page.len() < USERS_PER_PAGE;
            after = page.last().copied();
            let jobs: Vec<NewJob> = page.iter().map(|user| self.job(*user, date)).collect();
            if !jobs.is_empty() {
                let results = queue.enqueue_many(jobs).await.map_err(|e| JobFailure::new(e.to_string()))?;
                enqueued += results.iter().filter(|r| matches!(r, Enqueued::Inserted(_))).count() as u64;
            }
            if done {
                return Ok(enqueued);
            }
        }
    }

    fn job(&self, user: UserId, date: NaiveDate) -> NewJob {
        NewJob::new(self.kind, json!(UserDay { user_id: user.0, date }))
            .unique_key(format!("{}:{date}:{}", self.key_prefix, user.0))
            .max_attempts(self.max_attempts)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use workbench_jobs::{JobId, MockJobStore};

    use super::*;

    const JOB: PerUserJob = PerUserJob { kind: "things.user", key_prefix: "things", max_attempts: 5 };

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).expect("a real day")
    }

    #[tokio::test]
    async fn every_page_is_read_after_the_last_and_only_new_jobs_count() {
        let mut store = MockJobStore::new();
        let stored = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&stored);
        store.expect_enqueue().returning(move |jobs, _| {
            let answers = jobs
                .iter()
                // User 3's job is still queued from an earlier attempt of the run.
                .map(|job| if job.args["user_id"] == 3 { Enqueued::Duplicate } else { Enqueued::Inserted(JobId(1)) })
                .collect();
            seen.lock().expect("not poisoned").extend(jobs);
            Ok(answers)
        });
        let queue = JobQueue::new(Arc::new(store));
        // A full page, then a short one: the short one is the last.
        let mut asked = Vec::new();
        let enqueued = JOB
            .enqueue_for_each(&queue, date(), |after, limit| {
                asked.push(after);
                let first = after.map_or(1, |u| u.0 + 1);
                let count = if after.is_none() { limit } else { 2 };
                let page = (first..first + count as i64).map(UserId).collect();
                async move { Ok(page) }
            })
            .await
            .expect("enqueued");

        assert_eq!(asked, [None, Some(UserId(500))]);
        assert_eq!(enqueued, 501);
        let stored = stored.lock().expect("not poisoned");
        assert_eq!(stored.len(), 502);
        let last = &stored[501];
        assert_eq!(last.kind, "things.user");
        assert_eq!(last.args, json!({"user_id": 502, "date": "2026-11-22"}));
        assert_eq!(last.unique_key.as_deref(), Some("things:2026-11-22:502"));
        assert_eq!(last.max_attempts, 5);
    }

    #[tokio::test]
    async fn no_users_enqueue_nothing() {
        let mut store = MockJobStore::new();
        store.expect_enqueue().never();
        let queue = JobQueue::new(Arc::new(store));
        let enqueued =
            JOB.enqueue_for_each(&queue, date(), |_, _| async { Ok(Vec::new()) }).await.expect("nothing to do");
        assert_eq!(enqueued, 0);
    }
}
