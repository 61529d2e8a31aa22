//! What the notifications domain needs from the outside: where notifications, preferences and
//! follows are kept, and how a user's open sockets are reached.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use workbench_core::{PageRequest, RepositoryError};
use workbench_users::{CacheEpoch, UserId};

use crate::model::{
    Follow, Inbox, Kind, NewNotifications, Notification, NotificationId, Preference, ReadMark, Subject,
};

/// Where notifications, preferences and follows are stored.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait NotificationRepository: Send + Sync {
    /// Stores `notices` once per recipient, in one batch (one statement on PostgreSQL, however
    /// many recipients), and each recipient's unread counter with it; the stored rows.
    async fn create(&self, notices: NewNotifications) -> Result<Vec<Notification>, RepositoryError>;

    /// A page of `user`'s notifications (only the unread ones when `unread_only`), newest first,
    /// with their unread count: a counter, not a count.
    async fn inbox(&self, user: UserId, unread_only: bool, page: PageRequest) -> Result<Inbox, RepositoryError>;

    /// Marks `user`'s notifications that `mark` names read at `at` (those already read keep
    /// their time); their unread count afterwards.
    async fn mark_read(&self, user: UserId, mark: ReadMark, at: DateTime<Utc>) -> Result<u64, RepositoryError>;

    /// What each of `users` set, kind by kind (the defaults are not stored).
    async fn preferences(&self, users: Vec<UserId>) -> Result<Vec<(UserId, Kind, Preference)>, RepositoryError>;

    /// Sets `user`'s preference for each kind of `set`, the others left as they were.
    async fn set_preferences(&self, user: UserId, set: Vec<(Kind, Preference)>) -> Result<(), RepositoryError>;

    /// Records `follow` (replacing what its user said of its subject before).
    async fn follow(&self, follow: Follow, at: DateTime<Utc>) -> Result<(), RepositoryError>;

    /// Every follow (and refusal to follow) recorded of any of `subjects`.
    async fn follows_of(&self, subjects: Vec<Subject>) -> Result<Vec<Follow>, RepositoryError>;

    /// The active users whose usernames (any case) are among `names`.
    async fn users_named(&self, names: Vec<String>) -> Result<Vec<UserId>, RepositoryError>;

    /// The notifications of `ids` not yet e-mailed, oldest first.
    async fn unmailed(&self, ids: Vec<NotificationId>) -> Result<Vec<Notification>, RepositoryError>;

    /// Takes up to `limit` users whose daily digest has something in it, each with the first
    /// notification it may hold; taken, so that two digest runs never both mail one user.
    async fn take_digests(&self, limit: u32) -> Result<Vec<(UserId, NotificationId)>, RepositoryError>;

    /// Up to `limit` of `user`'s notifications from `since` on that are neither read nor
    /// e-mailed, oldest first.
    async fn digest_of(
        &self,
        user: UserId,
        since: NotificationId,
        limit: u32,
    ) -> Result<Vec<Notification>, RepositoryError>;

    /// Records the notifications of `ids` as e-mailed at `at`.
    async fn mark_all_mailed(&self, ids: Vec<NotificationId>, at: DateTime<Utc>) -> Result<(), RepositoryError>;

    /// The e-mail addresses of those of `users` who are active.
    async fn addresses(&self, users: Vec<UserId>) -> Result<Vec<(UserId, String)>, RepositoryError>;
}

/// The broadcast topic on which a [`FollowsCache`] tells every instance to forget what it holds
/// of a subject's follows; the payload is the subject as `task:5` or `project:3`.
pub const FOLLOWS_CHANGED: &str = "notifications.follows.changed";

/// The follows of recent subjects, kept in process: a task's status change or comment asks who
/// follows the task and its project, and follows change far more rarely than tasks do (without
/// it, that read was a sixth of a status change's cost). Forgotten on every instance as soon as a
/// follow of the subject is written.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait FollowsCache: Send + Sync {
    /// What is cached of `subject`'s follows (possibly none). MUST answer `None` whenever the
    /// cache cannot vouch that no invalidation was missed.
    fn get(&self, subject: Subject) -> Option<Arc<[Follow]>>;

    /// Where the invalidation history stands now.
    fn epoch(&self) -> CacheEpoch;

    /// Caches `follows` of `subject`, read after `read_since` was taken. MUST store nothing when
    /// any invalidation happened since then.
    fn put(&self, subject: Subject, follows: Arc<[Follow]>, read_since: CacheEpoch);

    /// Forgets `subject` on this instance before returning, and on every other instance as soon
    /// as the broadcast reaches it. MUST NOT fail.
    async fn invalidate(&self, subject: Subject);
}

/// Where notifications to e-mail at once are queued (the jobs queue): one entry per notice,
/// whatever its number of recipients.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MailQueue: Send + Sync {
    /// Queues the e-mailing of `ids`.
    async fn instant(&self, ids: Vec<NotificationId>) -> Result<(), RepositoryError>;
}

/// The open sockets of a user, on every instance.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait NotificationPush: Send + Sync {
    /// Sends `{type: event, data}` to every socket of `to`.
    async fn send(&self, to: UserId, event: &'static str, data: serde_json::Value);

    /// Sends each user of `each` their own `{type: event, data}`; by default one [`Self::send`]
    /// each, an implementation may batch them.
    async fn send_each(&self, event: &'static str, each: Vec<(UserId, serde_json::Value)>) {
        for (to, data) in each {
            self.send(to, event, data).await;
        }
    }
}
