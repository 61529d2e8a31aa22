//! Notifications by e-mail, at once or in a daily digest, each message with a one-click
//! unsubscribe link (RFC 8058: `List-Unsubscribe` and `List-Unsubscribe-Post`).
//!
//! At once: a notice's recipients who want its kind instantly are one job (whatever their
//! number). Daily: the `notification-digest` schedule takes every user whose digest has
//! something in it and queues one job per user, which mails what they have neither read nor
//! been mailed, of the kinds they want daily. Either passes over what its recipient may no
//! longer see.

use std::sync::Arc;

use async_trait::async_trait;
use workbench_core::RepositoryError;
use workbench_jobs::{Job, JobFailure, JobHandler, JobOutcome, JobQueue, NewJob};
use workbench_notifications::{
    EmailDelivery, MailQueue, Notification, NotificationId, NotificationRepository, Preferences, SubjectAccess,
    Unsubscribe, UnsubscribeKey,
};
use workbench_users::UserId;

use crate::mail::{MailError, MailMessage, Mailer};

/// The job kind of [`NotificationMail`].
pub const NOTIFICATION_MAIL_KIND: &str = "notifications.mail";

/// The job kind of [`NotificationDigestRun`], which the `notification-digest` schedule fires.
pub const NOTIFICATION_DIGEST_KIND: &str = "notifications.digest";

/// The job kind of [`UserNotificationDigest`]: one user's digest.
pub const USER_NOTIFICATION_DIGEST_KIND: &str = "notifications.digest.user";

/// The most notifications one digest lists; the rest wait in the app.
pub const DIGEST_LINES: u32 = 100;

/// Users whose digests one statement takes.
const DIGESTS_PER_PAGE: u32 = 500;

/// The notifications domain's [`MailQueue`] on the jobs queue.
#[derive(Debug, Clone)]
pub struct JobMailQueue(JobQueue);

impl JobMailQueue {
    /// Queues on `queue`.
    pub fn new(queue: JobQueue) -> Self {
        Self(queue)
    }
}

#[async_trait]
impl MailQueue for JobMailQueue {
    async fn instant(&self, ids: Vec<NotificationId>) -> Result<(), RepositoryError> {
        let job = NewJob::new(NOTIFICATION_MAIL_KIND, serde_json::json!({ "ids": ids }));
        self.0.enqueue(job).await.map(|_| ()).map_err(|e| RepositoryError::Unavailable(e.into()))
    }
}

/// Mails the notifications a job names, each once: those already mailed (a retried job), read
/// in the app meanwhile, or whose recipient no longer wants that kind by e-mail at once are
/// passed over.
pub struct NotificationMail {
    store: Arc<dyn NotificationRepository>,
    access: Arc<dyn SubjectAccess>,
    mailer: Option<Arc<dyn Mailer>>,
    key: UnsubscribeKey,
    /// Where links point: the server's public URL.
    base: String,
}

impl std::fmt::Debug for NotificationMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationMail").field("base", &self.base).finish_non_exhaustive()
    }
}

impl NotificationMail {
    /// Mails through `mailer` (none: nothing is sent) what `access` says its recipient still
    /// sees, signing unsubscribe links with `key`, pointing at `base`.
    pub fn new(
        store: Arc<dyn NotificationRepository>,
        access: Arc<dyn SubjectAccess>,
        mailer: Option<Arc<dyn Mailer>>,
        key: UnsubscribeKey,
        base: impl Into<String>,
    ) -> Self {
        Self { store, access, mailer, key, base: base.into().trim_end_matches('/').to_owned() }
    }

    /// The one-click link that turns `what` off for `user`.
    fn unsubscribe_link(&self, user: UserId, what: Unsubscribe) -> String {
        let token = self.key.token(user, what);
        format!("{}/api/v1/notifications/unsubscribe?token={token}", self.base)
    }

    /// The RFC 8058 headers of a message unsubscribed from at `link`.
    fn list_headers(link: &str) -> Vec<(String, String)> {
        vec![
            ("List-Unsubscribe".to_owned(), format!("<{link}>")),
            ("List-Unsubscribe-Post".to_owned(), "List-Unsubscribe=One-Click".to_owned()),
        ]
    }

    /// The message of `notification` for `to`.
    fn compose(&self, notification: &Notification, to: &str) -> MailMessage {
        let unsubscribe = self.unsubscribe_link(notification.recipient_id, Unsubscribe::Kind(notification.kind));
        let mut text = notification.title.clone();
        if !notification.body.is_empty() {
            text.push_str("\n\n");
            text.push_str(&notification.body);
        }
        text.push_str(&format!(
            "\n\n-- \nWorkbench: {}\nNo more of these e-mails ({}): {unsubscribe}\n",
            self.base, notification.kind
        ));
        MailMessage {
            to: to.to_owned(),
            subject: notification.title.clone(),
            text,
            headers: Self::list_headers(&unsubscribe),
        }
    }

    /// The daily digest of `notifications` for `to`.
    fn compose_digest(&self, user: UserId, notifications: &[Notification], to: &str) -> MailMessage {
        let unsubscribe = self.unsubscribe_link(user, Unsubscribe::Digest);
        let count = notifications.len();
        let subject = if count == 1 {
            "Workbench: 1 notification".to_owned()
        } else {
            format!("Workbench: {count} notifications")
        };
        let mut text = String::new();
        for notification in notifications {
            text.push_str(&format!("* {}\n", notification.title));
            if let Some(line) = notification.body.lines().find(|l| !l.trim().is_empty()) {
                text.push_str(&format!("  {line}\n"));
            }
        }
        text.push_str(&format!(
            "\nAll of them: {}/api/v1/notifications\n\n-- \nNo more daily digests: {unsubscribe}\n",
            self.base
        ));
        MailMessage { to: to.to_owned(), subject, text, headers: Self::list_headers(&unsubscribe) }
    }

    /// Those of `notifications` whose recipients still see their subjects.
    async fn still_seen(&self, notifications: Vec<Notification>) -> Result<Vec<Notification>, JobFailure> {
        let mut seen = Vec::with_capacity(notifications.len());
        for notification in notifications {
            let sees = self
                .access
                .sees(notification.recipient_id, notification.subject)
                .await
                .map_err(|e| JobFailure::new(e.to_string()))?;
            if sees {
                seen.push(notification);
            }
        }
        Ok(seen)
    }
}

#[derive(serde::Deserialize)]
struct Args {
    ids: Vec<NotificationId>,
}

#[async_trait]
impl JobHandler for NotificationMail {
    async fn run(&self, job: &Job) -> Result<JobOutcome, JobFailure> {
        let Args { ids } = serde_json::from_value(job.args.clone())
            .map_err(|e| JobFailure::permanent(format!("the job's arguments are not a list of ids: {e}")))?;
        let Some(mailer) = &self.mailer else {
            return Ok(JobOutcome::skipped("SMTP_URL is not set: notifications are not e-mailed"));
        };
        let pending: Vec<Notification> =
            self.store.unmailed(ids).await?.into_iter().filter(|n| n.read_at.is_none()).collect();
        // Access is decided now: someone who lost it since the notice gets no e-mail of it.
        let pending = self.still_seen(pending).await?;
        let recipients: Vec<_> = pending.iter().map(|n| n.recipient_id).collect();
        let set = self.store.preferences(recipients.clone()).await?;
        let addresses = self.store.addresses(recipients).await?;
        let mut sent = 0;
        for notification in &pending {
            let own = set.iter().filter(|(user, ..)| *user == notification.recipient_id);
            let preferences = Preferences::with(own.map(|(_, kind, p)| (*kind, *p)));
            let Some((_, to)) = addresses.iter().find(|(user, _)| *user == notification.recipient_id) else {
                continue;
            };
            if preferences.of(notification.kind).email != EmailDelivery::Instant {
                continue;
            }
            match mailer.send(&self.compose(notification, to)).await {
                Ok(()) => {}
                Err(MailError::Rejected(why)) => {
                    tracing::warn!(notification = notification.id.0, %why, "a notification e-mail was refused");
                }
                Err(e @ MailError::Unavailable(_)) => return Err(JobFailure::new(e.to_string())),
            }
            // Recorded after each message, so that a retry sends only what is left.
            self.store.mark_all_mailed(vec![notification.id], workbench_jobs::now()).await?;
            sent += 1;
        }
        Ok(JobOutcome::affected(sent))
    }
}

/// The daily run: takes every user whose digest has something in it, and queues one
/// [`UserNotificationDigest`] job each (a failure retries one user's digest, not everyone's).
pub struct NotificationDigestRun {
    store: Arc<dyn NotificationRepository>,
    queue: JobQueue,
    mailing: bool,
}

impl std::fmt::Debug for NotificationDigestRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationDigestRun").field("mailing", &self.mailing).finish_non_exhaustive()
    }
}

impl NotificationDigestRun {
    /// Takes digests from `store` and queues them on `queue`; without a mailer (`mailing`
    /// false), digests are left waiting.
    pub fn new(store: Arc<dyn NotificationRepository>, queue: JobQueue, mailing: bool) -> Self {
        Self { store, queue, mailing }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct DigestArgs {
    user_id: i64,
    since_id: i64,
}

#[async_trait]
impl JobHandler for NotificationDigestRun {
    async fn run(&self, _job: &Job) -> Result<JobOutcome, JobFailure> {
        if !self.mailing {
            return Ok(JobOutcome::skipped("SMTP_URL is not set: no digest is mailed"));
        }
        let mut queued = 0;
        loop {
            let taken = self.store.take_digests(DIGESTS_PER_PAGE).await?;
            let jobs: Vec<NewJob> = taken
                .iter()
                .map(|(user, since)| {
                    NewJob::new(
                        USER_NOTIFICATION_DIGEST_KIND,
                        serde_json::json!(DigestArgs { user_id: user.0, since_id: since.0 }),
                    )
                    .unique_key(format!("digest:{}:{}", user.0, since.0))
                })
                .collect();
            queued += jobs.len() as u64;
            if !jobs.is_empty() {
                self.queue.enqueue_many(jobs).await.map_err(|e| JobFailure::new(e.to_string()))?;
            }
            if taken.len() < DIGESTS_PER_PAGE as usize {
                return Ok(JobOutcome::affected(queued));
            }
        }
    }
}

/// One user's daily digest: one message listing what they have neither read nor been mailed
/// since the digest began, of the kinds they want daily and about what they still see; each
/// listed notification is then recorded as mailed.
#[derive(Debug)]
pub struct UserNotificationDigest(Arc<NotificationMail>);

impl UserNotificationDigest {
    /// Mails as `mail` does.
    pub fn new(mail: Arc<NotificationMail>) -> Self {
        Self(mail)
    }
}

#[async_trait]
impl JobHandler for UserNotificationDigest {
    async fn run(&self, job: &Job) -> Result<JobOutcome, JobFailure> {
        let DigestArgs { user_id, since_id } = serde_json::from_value(job.args.clone())
            .map_err(|e| JobFailure::permanent(format!("bad arguments: {e}")))?;
        let mail = &self.0;
        let Some(mailer) = &mail.mailer else {
            return Ok(JobOutcome::skipped("SMTP_URL is not set: no digest is mailed"));
        };
        let user = UserId(user_id);
        let set = mail.store.preferences(vec![user]).await?;
        let preferences = Preferences::with(set.into_iter().map(|(_, kind, p)| (kind, p)));
        let waiting = mail.store.digest_of(user, NotificationId(since_id), DIGEST_LINES).await?;
        let daily = waiting.into_iter().filter(|n| preferences.of(n.kind).email == EmailDelivery::Daily).collect();
        let listed = mail.still_seen(daily).await?;
        if listed.is_empty() {
            return Ok(JobOutcome::affected(0));
        }
        let Some((_, to)) = mail.store.addresses(vec![user]).await?.into_iter().next() else {
            return Ok(JobOutcome::skipped("the user is not active"));
        };
        match mailer.send(&mail.compose_digest(user, &listed, &to)).await {
            Ok(()) => {}
            Err(MailError::Rejected(why)) => tracing::warn!(user = user_id, %why, "a notification digest was refused"),
            Err(e @ MailError::Unavailable(_)) => return Err(JobFailure::new(e.to_string())),
        }
        let ids: Vec<NotificationId> = listed.iter().map(|n| n.id).collect();
        mail.store.mark_all_mailed(ids, workbench_jobs::now()).await?;
        Ok(JobOutcome::affected(listed.len() as u64))
    }
}
