//! What the calendars need stored: what clients wrote beside their tasks, and each calendar's
//! change log.

use async_trait::async_trait;
use workbench_core::RepositoryError;
use workbench_projects::{ProjectId, ProjectRole};
use workbench_tasks::{Task, TaskId};
use workbench_users::UserId;

use crate::{CalendarId, CalendarObject, ChangesSince, ObjectEntry, SyncToken};

/// A calendar's objects and changes, and what clients wrote beside their tasks.
///
/// The change log is the store's to keep: every write to a task, by any path (REST, CalDAV, a
/// recurrence, a project deleted, an account removed), MUST be logged for each calendar it
/// leaves or enters, in the transaction that makes it, and numbered in the order the writes
/// committed, so that a token never passes a change that becomes visible after it.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CalendarStore: Send + Sync {
    /// The projects `user` is a member of, with their role and the project's name.
    async fn projects_of(&self, user: UserId) -> Result<Vec<(ProjectId, ProjectRole, String)>, RepositoryError>;

    /// The objects of `calendar` in task-id order, at most `limit` (then the token carries where
    /// the listing stopped), and the token of the same snapshot.
    async fn listing(
        &self,
        calendar: CalendarId,
        limit: Option<usize>,
    ) -> Result<(Vec<ObjectEntry>, SyncToken), RepositoryError>;

    /// The token of `calendar` now.
    async fn token(&self, calendar: CalendarId) -> Result<SyncToken, RepositoryError>;

    /// What changed in `calendar` since `since` (each task once, as it is now), at most `limit`
    /// tasks; `None` when `since` is no position of this calendar's log (ahead of it). A token that
    /// continues a listing gives the rest of the listing and the changes among what was listed.
    async fn changes(
        &self,
        calendar: CalendarId,
        since: SyncToken,
        limit: usize,
    ) -> Result<Option<ChangesSince>, RepositoryError>;

    /// The task `name` designates in `calendar`.
    async fn named(&self, calendar: CalendarId, name: &str) -> Result<Option<TaskId>, RepositoryError>;

    /// The tasks `names` designate in `calendar`, each with its name (names that designate
    /// nothing left out): a multiget's hrefs, in a few statements rather than one per name.
    async fn named_all(
        &self,
        calendar: CalendarId,
        names: Vec<String>,
    ) -> Result<Vec<(String, TaskId)>, RepositoryError>;

    /// The object in `calendar` whose UID is `uid`.
    async fn with_uid(&self, calendar: CalendarId, uid: &str) -> Result<Option<ObjectEntry>, RepositoryError>;

    /// The tasks of `calendar` among `tasks` (every task of it for `None`), with what clients
    /// wrote for them.
    async fn objects(
        &self,
        calendar: CalendarId,
        tasks: Option<Vec<TaskId>>,
    ) -> Result<Vec<(Task, Option<CalendarObject>)>, RepositoryError>;

    /// The UID each of `tasks` is known by in calendars: the one its client chose, else its
    /// default (`workbench-task-<id>`). Tasks that do not exist are left out.
    async fn uids(&self, tasks: Vec<TaskId>) -> Result<Vec<(TaskId, String)>, RepositoryError>;

    /// The objects of `calendar` whose kept source mentions `uid` (candidates for a
    /// `RELATED-TO` naming it), with their sources.
    async fn mentioning(&self, calendar: CalendarId, uid: String) -> Result<Vec<(TaskId, String)>, RepositoryError>;

    /// Keeps what a client wrote for a task (replacing what was kept), logging the change of name
    /// in every calendar the task is in when it had another one there.
    async fn keep(&self, object: CalendarObject) -> Result<(), RepositoryError>;
}
