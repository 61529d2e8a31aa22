//! The daily task report: one e-mail per user with open tasks.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use workbench_core::RepositoryError;
use workbench_jobs::{Job, JobFailure, JobHandler, JobOutcome, JobQueue};
use workbench_users::UserId;

use crate::per_user::{PerUserJob, UserDay};
use crate::{MailError, MailMessage, Mailer};

pub const DAILY_REPORT_KIND: &str = "reports.daily_tasks";
pub const USER_REPORT_KIND: &str = "reports.daily_tasks.user";

/// Each user's report is a job of its own, so that a failure re-sends one report, not all.
const USER_REPORT: PerUserJob = PerUserJob { kind: USER_REPORT_KIND, key_prefix: "report", max_attempts: 5 };

/// One task in a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLine {
    pub id: i64,
    pub title: String,
    pub due_date: Option<DateTime<Utc>>,
}

/// What one user's report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDigest {
    pub username: String,
    pub email: String,
    /// Tasks owned or assigned, not completed.
    pub open: u64,
    /// Open tasks due before now, soonest first (at most 20).
    pub overdue: Vec<TaskLine>,
    /// Open tasks due within the next 24 hours, soonest first (at most 20).
    pub due_soon: Vec<TaskLine>,
    /// Tasks completed in the last 24 hours.
    pub completed_last_day: u64,
}

/// What the report needs from the store.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TaskDigests: Send + Sync {
    /// Up to `limit` active users who own or are assigned a task that is not completed, with
    /// ids above `after`, lowest first.
    async fn recipients(&self, after: Option<UserId>, limit: usize) -> Result<Vec<UserId>, RepositoryError>;

    /// The report of `user` as of `now`; `None` when the account is gone or disabled.
    async fn digest(&self, user: UserId, now: DateTime<Utc>) -> Result<Option<TaskDigest>, RepositoryError>;
}

/// `reports.daily_tasks`: enqueues one `reports.daily_tasks.user` job per recipient (unique per
/// user and day, so a retried run enqueues nobody twice). Skipped without a mailer.
pub struct DailyTaskReport {
    digests: Arc<dyn TaskDigests>,
    queue: JobQueue,
    mail_configured: bool,
}

impl std::fmt::Debug for DailyTaskReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DailyTaskReport").field("mail_configured", &self.mail_configured).finish_non_exhaustive()
    }
}

impl DailyTaskReport {
    pub fn new(digests: Arc<dyn TaskDigests>, queue: JobQueue, mail_configured: bool) -> Self {
        Self { digests, queue, mail_configured }
    }
}

#[async_trait]
impl JobHandler for DailyTaskReport {
    async fn run(&self, job: &Job) -> Result<JobOutcome, JobFailure> {
        if !self.mail_configured {
            return Ok(JobOutcome::skipped("SMTP_URL is not set: no reports sent"));
        }
        // The report's day is the slot's (the schedule's firing), not whenever a retry runs.
        let date = job.schedule_slot().map_or_else(workbench_jobs::now, |s| s.slot).date_naive();
        let enqueued = USER_REPORT
            .enqueue_for_each(&self.queue, date, |after, limit| self.digests.recipients(after, limit))
            .await?;
        Ok(JobOutcome::affected(enqueued).with_note(format!("{enqueued} reports enqueued for {date}")))
    }
}

/// `reports.daily_tasks.user`: builds and sends one user's report.
pub struct UserTaskReport {
    digests: Arc<dyn TaskDigests>,
    mailer: Option<Arc<dyn Mailer>>,
}

impl std::fmt::Debug for UserTaskReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTaskReport").field("mailer", &self.mailer.is_some()).finish_non_exhaustive()
    }
}

impl UserTaskReport {
    pub fn new(digests: Arc<dyn TaskDigests>, mailer: Option<Arc<dyn Mailer>>) -> Self {
        Self { digests, mailer }
    }
}

#[async_trait]
impl JobHandler for UserTaskReport {
    async fn run(&self, job: &Job) -> Result<JobOutcome, JobFailure> {
        let args = UserDay::of(job)?;
        let Some(mailer) = &self.mailer else {
            return Ok(JobOutcome::skipped("SMTP_URL is not set: report not sent"));
        };
        let Some(digest) = self.digests.digest(UserId(args.user_id), workbench_jobs::now()).await? else {
            return Ok(JobOutcome::skipped("the account is gone or disabled"));
        };
        if digest.open == 0 && digest.completed_last_day == 0 {
            return Ok(JobOutcome::skipped("nothing to report"));
        }
        let message = compose(&digest, args.date);
        match mailer.send(&message).await {
            Ok(()) => Ok(JobOutcome::affected(1)),
            Err(MailError::Rejected(why)) => Err(JobFailure::permanent(format!("rejected: {why}"))),
            Err(e @ MailError::Unavailable(_)) => Err(JobFailure::new(e.to_string())),
        }
    }
}

/// The report's text.
pub(crate) fn compose(digest: &TaskDigest, date: NaiveDate) -> MailMessage {
    use std::fmt::Write;
    let mut text = format!("Hello {},\n\nYour tasks on {date}:\n", digest.username);
    let _ = writeln!(
        text,
        "  {} open, {} overdue, {} due in the next 24 hours, {} completed in the last 24 hours.",
        digest.open,
        digest.overdue.len(),
        digest.due_soon.len(),
        digest.completed_last_day
    );
    for (heading, lines) in [("Overdue", &digest.overdue), ("Due in the next 24 hours", &digest.due_soon)] {
        if lines.is_empty() {
            continue;
        }
        let _ = write!(text, "\n{heading}:\n");
        for line in lines.iter() {
            let due = line.due_date.map(|d| format!(" (due {})", d.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
            let _ = writeln!(text, "  - #{} {}{due}", line.id, line.title);
        }
    }
    text.push_str("\n-- \nWorkbench\n");
    MailMessage {
        to: digest.email.clone(),
        subject: format!("Your tasks for {date}: {} open, {} overdue", digest.open, digest.overdue.len()),
        text,
        headers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::{MockMailer, MockTaskDigests};

    fn digest() -> TaskDigest {
        TaskDigest {
            username: "ann".into(),
            email: "ann@example.com".into(),
            open: 3,
            overdue: vec![TaskLine {
                id: 12,
                title: "Renew the car insurance".into(),
                due_date: Some(Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()),
            }],
            due_soon: vec![],
            completed_last_day: 2,
        }
    }

    #[test]
    fn the_report_lists_counts_and_overdue_tasks() {
        let mail = compose(&digest(), NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());
        assert_eq!(mail.to, "ann@example.com");
        assert_eq!(mail.subject, "Your tasks for 2026-11-22: 3 open, 1 overdue");
        assert!(mail.text.contains("3 open, 1 overdue, 0 due in the next 24 hours, 2 completed"), "{}", mail.text);
        assert!(mail.text.contains("#12 Renew the car insurance (due 2026-11-20 12:00 UTC)"), "{}", mail.text);
    }

    fn user_job() -> Job {
        let mut job = crate::users::tests::job(USER_REPORT_KIND);
        job.args = json!({"user_id": 4, "date": "2026-11-22"});
        job
    }

    #[tokio::test]
    async fn a_users_report_is_mailed_and_a_refused_address_is_not_retried() {
        let mut digests = MockTaskDigests::new();
        digests.expect_digest().returning(|_, _| Ok(Some(digest())));
        let mut mailer = MockMailer::new();
        let mut answers = vec![Err(MailError::Rejected("no such mailbox".into())), Ok(())];
        mailer.expect_send().withf(|m| m.to == "ann@example.com").times(2).returning(move |_| answers.pop().unwrap());
        let handler = UserTaskReport::new(Arc::new(digests), Some(Arc::new(mailer)));
        assert_eq!(handler.run(&user_job()).await.unwrap().items_affected, Some(1));
        assert!(handler.run(&user_job()).await.unwrap_err().permanent);
    }

    #[tokio::test]
    async fn without_a_mailer_reports_are_skipped() {
        let handler = UserTaskReport::new(Arc::new(MockTaskDigests::new()), None);
        assert!(handler.run(&user_job()).await.unwrap().skipped);
    }
}
