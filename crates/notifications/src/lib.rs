//! The notifications domain of Workbench: people learn what concerns them without polling.
//!
//! A [`Notification`] is stored once per recipient, with its read state; a user reads a page of
//! theirs with their unread count (a counter, kept with each write), marks them read, and says
//! per [`Kind`] how they want them ([`Preferences`]: in the app, and by e-mail at once, daily or
//! never). They follow tasks and projects ([`Follow`]); owners and assignees follow their tasks
//! unless they unfollow them. [`TaskNotices`] turns task activity (an assignment, a status
//! change, a comment, an `@mention`, see [`mentions`]) into notices for those who may see the
//! task at that moment; [`NotificationService::deliver`] writes a notice for all its recipients
//! in one batch and pushes each to its recipient's sockets. [`Reminders`] are set on tasks
//! (at a moment, or before the due date and moving with it) and told once when they come, with
//! `due_soon` a day before every due date. Nothing here does I/O but through
//! the ports.

#![warn(missing_docs)]

mod access;
mod elsewhere;
mod error;
mod mention;
mod model;
mod ports;
mod reminders;
mod service;
mod tasks;
mod unsubscribe;

pub use access::{DomainAccess, SubjectAccess};
pub use elsewhere::{ChatNotices, ProjectNotices, ShareNotices, TradeNotices};
pub use error::NotificationError;
pub use mention::{MAX_MENTIONS, mentions};
pub use model::{
    EmailDelivery, Follow, Inbox, Kind, NewNotifications, Notification, NotificationId, Preference, Preferences,
    ReadMark, Subject, SubjectType,
};
pub use ports::{FOLLOWS_CHANGED, FollowsCache, MailQueue, NotificationPush, NotificationRepository};
pub use reminders::{
    DueKind, DueReminder, MAX_REMINDERS, Moment, NewReminder, Reminder, ReminderDraft, ReminderId, ReminderRepository,
    ReminderWake, Reminders, SWEEP_BATCH,
};
pub use service::{MAX_MARKED_IDS, NotificationService, ReadDraft};
pub use tasks::TaskNotices;
pub use unsubscribe::{Unsubscribe, UnsubscribeKey};

#[cfg(feature = "mock")]
pub use access::MockSubjectAccess;
#[cfg(feature = "mock")]
pub use ports::{MockFollowsCache, MockMailQueue, MockNotificationPush, MockNotificationRepository};
#[cfg(feature = "mock")]
pub use reminders::{MockReminderRepository, MockReminderWake};
