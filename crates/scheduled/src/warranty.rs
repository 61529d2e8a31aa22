//! Warranty-expiry reminders: one e-mail per user listing what they own whose warranty ends within
//! the next days, each item reminded once per end date.
//!
//! The daily run looks ahead over a window (`WARRANTY_REMINDER_DAYS`, 30 by default) rather than
//! at one exact day, and remembers what it reminded of: a day the scheduler missed (downtime)
//! reminds the next day instead of never, and an item is not mentioned again every morning of
//! its last month. A changed end date is a new reminder.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use workbench_core::RepositoryError;
use workbench_jobs::{Job, JobFailure, JobHandler, JobOutcome, JobQueue};
use workbench_users::UserId;

use crate::per_user::{PerUserJob, UserDay};
use crate::{MailError, MailMessage, Mailer};

pub const WARRANTY_REMINDERS_KIND: &str = "warranty.reminders";
pub const USER_WARRANTY_KIND: &str = "warranty.reminders.user";

/// Each user's reminder is a job of its own, so that a failure re-sends one reminder, not all.
const USER_REMINDER: PerUserJob = PerUserJob { kind: USER_WARRANTY_KIND, key_prefix: "warranty", max_attempts: 5 };
/// Items listed in one reminder; the rest come the next day.
pub const ITEMS_PER_REMINDER: usize = 50;

/// One item whose warranty ends soon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarrantyLine {
    pub user_product_id: i64,
    pub product: String,
    pub brand: String,
    pub serial_number: Option<String>,
    pub warranty_expires: NaiveDate,
}

/// What one user's reminder lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarrantyDigest {
    pub username: String,
    pub email: String,
    /// Soonest end first, at most [`ITEMS_PER_REMINDER`].
    pub items: Vec<WarrantyLine>,
}

/// What the reminders need from the store.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WarrantyReminders: Send + Sync {
    /// Up to `limit` active users with ids above `after`, lowest first, who own an item still
    /// theirs (`active` or `broken`) whose warranty ends between `from` and `until` (both
    /// included) and who were not reminded of that item's current end date yet.
    async fn owners_due(
        &self,
        from: NaiveDate,
        until: NaiveDate,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<UserId>, RepositoryError>;

    /// Those items of `user` (at most [`ITEMS_PER_REMINDER`], soonest end first) with the user's
    /// name and address; `None` when the account is gone or disabled.
    async fn items_due(
        &self,
        user: UserId,
        from: NaiveDate,
        until: NaiveDate,
    ) -> Result<Option<WarrantyDigest>, RepositoryError>;

    /// Records that each `(user product id, end date)` was reminded at `at`; pairs recorded
    /// before are left as they are (insert or nothing).
    async fn mark_reminded(&self, items: Vec<(i64, NaiveDate)>, at: DateTime<Utc>) -> Result<(), RepositoryError>;
}

/// The window a run on `date` looks at.
fn window(date: NaiveDate, days: u32) -> (NaiveDate, NaiveDate) {
    (date, date + TimeDelta::days(i64::from(days)))
}

/// `warranty.reminders`: enqueues one `warranty.reminders.user` job per recipient (unique per user
/// and day). Skipped without a mailer.
pub struct WarrantyReminderRun {
    store: Arc<dyn WarrantyReminders>,
    queue: JobQueue,
    mail_configured: bool,
    days: u32,
}

impl std::fmt::Debug for WarrantyReminderRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarrantyReminderRun")
            .field("mail_configured", &self.mail_configured)
            .field("days", &self.days)
            .finish_non_exhaustive()
    }
}

impl WarrantyReminderRun {
    /// `days`: how far ahead to look (`WARRANTY_REMINDER_DAYS`); 0 switches the reminders off.
    pub fn new(store: Arc<dyn WarrantyReminders>, queue: JobQueue, mail_configured: bool, days: u32) -> Self {
        Self { store, queue, mail_configured, days }
    }
}

#[async_trait]
impl JobHandler for WarrantyReminderRun {
    async fn run(&self, job: &Job) -> Result<JobOutcome, JobFailure> {
        if self.days == 0 {
            return Ok(JobOutcome::skipped("WARRANTY_REMINDER_DAYS is 0: no reminders"));
        }
        if !self.mail_configured {
            return Ok(JobOutcome::skipped("SMTP_URL is not set: no reminders sent"));
        }
        let date = job.schedule_slot().map_or_else(workbench_jobs::now, |s| s.slot).date_naive();
        let (from, until) = window(date, self.days);
        let enqueued = USER_REMINDER
            .enqueue_for_each(&self.queue, date, |after, limit| self.store.owners_due(from, until, after, limit))
            .await?;
        Ok(JobOutcome::affected(enqueued).with_note(format!("{enqueued} reminders enqueued for {date}")))
    }
}

/// `warranty.reminders.user`: sends one user's reminder, then records what it reminded of.
pub struct UserWarrantyReminder {
    store: Arc<dyn WarrantyReminders>,
    mailer: Option<Arc<dyn Mailer>>,
    days: u32,
}

impl std::fmt::Debug for UserWarrantyReminder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserWarrantyReminder").field("mailer", &self.mailer.is_some()).finish_non_exhaustive()
    }
}

impl UserWarrantyReminder {
    pub fn new(store: Arc<dyn WarrantyReminders>, mailer: Option<Arc<dyn Mailer>>, days: u32) -> Self {
        Self { store, mailer, days }
    }
}

#[async_trait]
impl JobHandler for UserWarrantyReminder {
    async fn run(&self, job: &Job) -> Result<JobOutcome, JobFailure> {
        let args = UserDay::of(job)?;
        let Some(mailer) = &self.mailer else {
            return Ok(JobOutcome::skipped("SMTP_URL is not set: reminder not sent"));
        };
        let (from, until) = window(args.date, self.days);
        let Some(digest) = self.store.items_due(UserId(args.user_id), from, until).await? else {
            return Ok(JobOutcome::skipped("the account is gone or disabled"));
        };
        if digest.items.is_empty() {
            return Ok(JobOutcome::skipped("nothing left to remind of"));
        }
        let message = compose(&digest, args.date);
        match mailer.send(&message).await {
            Ok(()) => {}
            Err(MailError::Rejected(why)) => return Err(JobFailure::permanent(format!("rejected: {why}"))),
            Err(e @ MailError::Unavailable(_)) => return Err(JobFailure::new(e.to_string())),
        }
        // Sent: a failure to record it now would send it again on the retry, which is the lesser
        // harm than never reminding.
        let items: Vec<(i64, NaiveDate)> =
            digest.items.iter().map(|i| (i.user_product_id, i.warranty_expires)).collect();
        let count = items.len() as u64;
        self.store.mark_reminded(items, workbench_jobs::now()).await?;
        Ok(JobOutcome::affected(count))
    }
}

/// The reminder's text.
pub(crate) fn compose(digest: &WarrantyDigest, date: NaiveDate) -> MailMessage {
    use std::fmt::Write;
    let mut text = format!("Hello {},\n\nThe warranty of what you own ends soon:\n\n", digest.username);
    for item in &digest.items {
        let days = (item.warranty_expires - date).num_days();
        let when = match days {
            0 => "today".to_owned(),
            1 => "tomorrow".to_owned(),
            n => format!("in {n} days"),
        };
        let serial = item.serial_number.as_deref().map(|s| format!(", serial {s}")).unwrap_or_default();
        let _ =
            writeln!(text, "  - {} ({}{serial}): ends {} ({when})", item.product, item.brand, item.warranty_expires);
    }
    text.push_str("\nA claim is easier while the warranty runs: check these items now.\n\n-- \nWorkbench\n");
    let first = digest.items.first().map(|i| i.warranty_expires.to_string()).unwrap_or_default();
    let subject = match digest.items.len() {
        1 => format!("Warranty ending on {first}: {}", digest.items[0].product),
        n => format!("Warranties ending soon: {n} items, the first on {first}"),
    };
    MailMessage { to: digest.email.clone(), subject, text, headers: Vec::new() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{MockMailer, MockWarrantyReminders};

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn digest() -> WarrantyDigest {
        WarrantyDigest {
            username: "ann".into(),
            email: "ann@example.com".into(),
            items: vec![
                WarrantyLine {
                    user_product_id: 4,
                    product: "ThinkPad X1".into(),
                    brand: "Lenovo".into(),
                    serial_number: Some("PF-123".into()),
                    warranty_expires: date(24),
                },
                WarrantyLine {
                    user_product_id: 9,
                    product: "Kettle".into(),
                    brand: "Bosch".into(),
                    serial_number: None,
                    warranty_expires: date(30),
                },
            ],
        }
    }

    #[test]
    fn the_reminder_lists_each_item_and_when_it_ends() {
        let mail = compose(&digest(), date(23));
        assert_eq!(mail.to, "ann@example.com");
        assert_eq!(mail.subject, "Warranties ending soon: 2 items, the first on 2026-11-24");
        assert!(mail.text.contains("ThinkPad X1 (Lenovo, serial PF-123): ends 2026-11-24 (tomorrow)"), "{}", mail.text);
        assert!(mail.text.contains("Kettle (Bosch): ends 2026-11-30 (in 7 days)"), "{}", mail.text);
    }

    fn user_job() -> Job {
        let mut job = crate::users::tests::job(USER_WARRANTY_KIND);
        job.args = json!({"user_id": 4, "date": "2026-11-23"});
        job
    }

    #[tokio::test]
    async fn a_sent_reminder_is_recorded_and_an_unsent_one_is_not() {
        let mut store = MockWarrantyReminders::new();
        store
            .expect_items_due()
            .withf(|user, from, until| {
                *user == UserId(4) && *from == date(23) && *until == date(23) + TimeDelta::days(30)
            })
            .returning(|_, _, _| Ok(Some(digest())));
        store
            .expect_mark_reminded()
            .withf(|items, _| *items == vec![(4, date(24)), (9, date(30))])
            .times(1)
            .returning(|_, _| Ok(()));
        let mut mailer = MockMailer::new();
        let mut answers = vec![Err(MailError::Unavailable("connection refused".into())), Ok(())];
        mailer.expect_send().times(2).returning(move |_| answers.pop().unwrap());
        let handler = UserWarrantyReminder::new(Arc::new(store), Some(Arc::new(mailer)), 30);
        assert_eq!(handler.run(&user_job()).await.unwrap().items_affected, Some(2));
        let failure = handler.run(&user_job()).await.unwrap_err();
        assert!(!failure.permanent, "an unreachable server is retried, and nothing was recorded");
    }

    #[tokio::test]
    async fn without_a_mailer_or_with_zero_days_nothing_is_sent() {
        let handler = UserWarrantyReminder::new(Arc::new(MockWarrantyReminders::new()), None, 30);
        assert!(handler.run(&user_job()).await.unwrap().skipped);
        let queue = JobQueue::new(Arc::new(workbench_jobs::MockJobStore::new()));
        let run = WarrantyReminderRun::new(Arc::new(MockWarrantyReminders::new()), queue.clone(), true, 0);
        assert!(run.run(&user_job()).await.unwrap().skipped);
        let run = WarrantyReminderRun::new(Arc::new(MockWarrantyReminders::new()), queue, false, 30);
        assert!(run.run(&user_job()).await.unwrap().skipped);
    }
}
