//! The scheduled jobs of the contract, as [`JobHandler`](workbench_jobs::JobHandler)s of the
//! queue, and the ports they need. The application registers each under its kind and fires it by
//! a cron [`Schedule`](workbench_jobs::Schedule) (see [`CONTRACT_SCHEDULES`]); the queue logs
//! every run (when, outcome, duration, items affected).
//!
//! | schedule | kind | what it does |
//! |---|---|---|
//! | `purge-refresh-tokens` | `tokens.purge_expired` | deletes refresh tokens past their expiry |
//! | `disable-inactive-users` | `users.disable_inactive` | disables (never deletes) accounts without a sign-in or token refresh for `INACTIVE_USER_DAYS`; admins are never disabled |
//! | `daily-task-report` | `reports.daily_tasks` | enqueues one report per user with open tasks (`reports.daily_tasks.user`), each e-mailed on its own, so a failure re-sends one report, not all |
//! | `warranty-reminders` | `warranty.reminders` | enqueues one reminder per user owning items whose warranty ends within `WARRANTY_REMINDER_DAYS` (`warranty.reminders.user`), each item reminded once per end date |
//! | `sqlite-backup` | `db.backup` | SQLite: an online copy (`VACUUM INTO`) into `DATA_DIR/backups`, the newest `BACKUP_KEEP` kept; skipped on PostgreSQL |
//! | `orphan-blob-sweep` | `blobs.sweep_orphans` | deletes blobs older than a day that no file refers to (wired once the files table exists) |
//! | `expire-trades` | `trades.expire` | marks open trades past their expiry `expired` (reads show them so before) |
//! | `notification-reminders` | `notifications.reminders` | tells the task reminders (and `due_soon`s) that have come, each once; a new reminder also queues this job at its moment |
//! | `notification-digest` | `notifications.digest` | queues one daily digest per user with notifications waiting for it (`notifications.digest.user`), each mailed on its own |
//!
//! Every handler is repeatable (the queue delivers at least once).

mod backup;
mod blobs;
mod mail;
mod notifications;
mod per_user;
mod reminders;
mod report;
mod trades;
mod users;
mod warranty;

pub use backup::{BACKUP_KIND, DatabaseBackup, SqliteBackup};
pub use blobs::{BLOB_SWEEP_KIND, KnownBlobs, OrphanBlobSweep};
pub use mail::{MailError, MailMessage, Mailer};
pub use notifications::{
    DIGEST_LINES, JobMailQueue, NOTIFICATION_DIGEST_KIND, NOTIFICATION_MAIL_KIND, NotificationDigestRun,
    NotificationMail, USER_NOTIFICATION_DIGEST_KIND, UserNotificationDigest,
};
pub use reminders::{JobReminderWake, REMINDER_SWEEP_KIND, ReminderSweep};
pub use report::{
    DAILY_REPORT_KIND, DailyTaskReport, TaskDigest, TaskDigests, TaskLine, USER_REPORT_KIND, UserTaskReport,
};
pub use trades::{EXPIRE_TRADES_KIND, ExpireTrades};
pub use users::{
    AccountHousekeeping, DISABLE_INACTIVE_KIND, DisableInactiveUsers, PURGE_TOKENS_KIND, PurgeExpiredTokens,
};
pub use warranty::{
    ITEMS_PER_REMINDER, USER_WARRANTY_KIND, UserWarrantyReminder, WARRANTY_REMINDERS_KIND, WarrantyDigest,
    WarrantyLine, WarrantyReminderRun, WarrantyReminders,
};

#[cfg(feature = "mock")]
pub use backup::MockDatabaseBackup;
#[cfg(feature = "mock")]
pub use blobs::MockKnownBlobs;
#[cfg(feature = "mock")]
pub use mail::MockMailer;
#[cfg(feature = "mock")]
pub use report::MockTaskDigests;
#[cfg(feature = "mock")]
pub use users::MockAccountHousekeeping;
#[cfg(feature = "mock")]
pub use warranty::MockWarrantyReminders;

/// The contract's schedules: name, default cron expression (UTC) and the kind each fires. Each
/// can be moved or switched off by configuration. `orphan-blob-sweep` needs the files table (its
/// [`KnownBlobs`]); until the application has one, it leaves that schedule out.
pub const CONTRACT_SCHEDULES: &[(&str, &str, &str)] = &[
    ("purge-refresh-tokens", "0 3 * * *", PURGE_TOKENS_KIND),
    ("disable-inactive-users", "30 3 * * *", DISABLE_INACTIVE_KIND),
    ("daily-task-report", "0 7 * * *", DAILY_REPORT_KIND),
    ("warranty-reminders", "0 8 * * *", WARRANTY_REMINDERS_KIND),
    ("sqlite-backup", "0 2 * * *", BACKUP_KIND),
    ("orphan-blob-sweep", "0 4 * * *", BLOB_SWEEP_KIND),
    ("expire-trades", "* * * * *", EXPIRE_TRADES_KIND),
    ("notification-reminders", "* * * * *", REMINDER_SWEEP_KIND),
    ("notification-digest", "0 7 * * *", NOTIFICATION_DIGEST_KIND),
];
