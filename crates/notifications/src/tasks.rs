//! What task activity notifies, and whom: the task side of notifications, heard through the
//! tasks domain's [`TaskActivity`] port.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use workbench_tasks::{Comment, ProjectMembership, Task, TaskActivity};
use workbench_users::{Accounts, UserId};

use crate::error::NotificationError;
use crate::mention::mentions;
use crate::model::{Kind, NewNotifications, Subject, SubjectType};
use crate::service::NotificationService;

/// Who may see a task through its project (or, for a personal task, its owner and assignee):
/// read when first needed, then shared by the notices of one activity.
type Members = tokio::sync::OnceCell<BTreeSet<UserId>>;

/// The longest body a notification quotes of a comment, a description or a message.
const QUOTED_CHARS: usize = 280;

/// Turns task activity into notifications:
/// - `assigned`: the new assignee of a task (made or changed);
/// - `status_changed`: the task's followers;
/// - `commented`: the task's followers;
/// - `mentioned`: each `@username` of a comment, or newly in a task's description.
///
/// A task's followers are its owner and assignee (unless they unfollowed it), and whoever
/// follows the task or its project. Every recipient must see the task at that moment (a
/// member of its project, its owner or assignee for a personal task, or a moderator), so a
/// mention of someone outside the project, or a follower who left it, is told nothing; the
/// actor never is.
pub struct TaskNotices {
    notifications: NotificationService,
    membership: Arc<dyn ProjectMembership>,
    accounts: Arc<dyn Accounts>,
}

impl std::fmt::Debug for TaskNotices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskNotices").finish_non_exhaustive()
    }
}

impl TaskNotices {
    /// Notices through `notifications`, with access decided by `membership` (a project's
    /// members) and `accounts` (who is a moderator).
    pub fn new(
        notifications: NotificationService,
        membership: Arc<dyn ProjectMembership>,
        accounts: Arc<dyn Accounts>,
    ) -> Self {
        Self { notifications, membership, accounts }
    }

    /// The task's followers (see the type's description), before access is checked.
    async fn followers(&self, task: &Task) -> Result<BTreeSet<UserId>, NotificationError> {
        let mut subjects = vec![Subject::task(task.id.0)];
        subjects.extend(task.project_id.map(|p| Subject::project(p.0)));
        let follows = self.notifications.follows_of(subjects).await?;
        let mut followers: BTreeSet<UserId> = std::iter::once(task.owner_id).chain(task.assignee_id).collect();
        for follow in follows.iter().filter(|f| f.following) {
            followers.insert(follow.user_id);
        }
        // Unfollowing a task outweighs following its project.
        for follow in follows.iter().filter(|f| !f.following && f.subject.kind == SubjectType::Task) {
            followers.remove(&follow.user_id);
        }
        Ok(followers)
    }

    /// Those of `candidates` who may see `task` now; its project's members are read once per
    /// activity (`members`), however many notices it makes.
    async fn seeing(
        &self,
        task: &Task,
        members: &Members,
        candidates: BTreeSet<UserId>,
    ) -> Result<Vec<UserId>, NotificationError> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let members = members
            .get_or_try_init(|| async {
                Ok::<_, NotificationError>(match task.project_id {
                    Some(project) => self.membership.member_ids(project).await?.into_iter().collect(),
                    None => std::iter::once(task.owner_id).chain(task.assignee_id).collect(),
                })
            })
            .await?;
        let mut seeing = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            if members.contains(&candidate) {
                seeing.push(candidate);
                continue;
            }
            let account = self.accounts.account(candidate).await?;
            if account.is_some_and(|a| a.is_active() && a.role.is_moderator()) {
                seeing.push(candidate);
            }
        }
        Ok(seeing)
    }

    /// The users `text` mentions, by id.
    async fn mentioned_in(&self, text: &str) -> Result<BTreeSet<UserId>, NotificationError> {
        Ok(self.notifications.users_named(mentions(text)).await?.into_iter().collect())
    }

    /// Tells `task`'s owner and assignee (those who see it) of a reminder that has come: no
    /// actor, so its setter hears it too.
    pub async fn remind(&self, task: &Task, kind: Kind, title: String, body: String) -> Result<(), NotificationError> {
        let responsible: BTreeSet<UserId> = std::iter::once(task.owner_id).chain(task.assignee_id).collect();
        self.tell(None, task, &Members::new(), kind, responsible, title, body).await
    }

    /// Delivers `kind` about `task` to those of `candidates` who see it, `actor` aside.
    #[allow(clippy::too_many_arguments, reason = "a notice's parts, each named at the call")]
    async fn tell(
        &self,
        actor: Option<UserId>,
        task: &Task,
        members: &Members,
        kind: Kind,
        candidates: BTreeSet<UserId>,
        title: String,
        body: String,
    ) -> Result<(), NotificationError> {
        let candidates: BTreeSet<UserId> = candidates.into_iter().filter(|c| Some(*c) != actor).collect();
        let recipients = self.seeing(task, members, candidates).await?;
        if recipients.is_empty() {
            return Ok(());
        }
        let notices = NewNotifications {
            recipients,
            kind,
            actor_id: actor,
            subject: Subject::task(task.id.0),
            title,
            body,
            created_at: Utc::now(),
            daily: Vec::new(),
        };
        self.notifications.deliver(notices).await.map(|_| ())
    }

    async fn on_created(&self, actor: UserId, task: &Task) -> Result<(), NotificationError> {
        let members = Members::new();
        if let Some(assignee) = task.assignee_id.filter(|a| *a != actor) {
            let title = format!("You were assigned \u{201c}{}\u{201d}", task.title);
            self.tell(Some(actor), task, &members, Kind::Assigned, [assignee].into(), title, String::new()).await?;
        }
        if let Some(description) = task.description.as_deref().filter(|d| d.contains('@')) {
            let named = self.mentioned_in(description).await?;
            let title = format!("You were mentioned in \u{201c}{}\u{201d}", task.title);
            self.tell(Some(actor), task, &members, Kind::Mentioned, named, title, quoted(description)).await?;
        }
        Ok(())
    }

    async fn on_changed(&self, actor: UserId, before: &Task, after: &Task) -> Result<(), NotificationError> {
        let members = Members::new();
        if let Some(assignee) = after.assignee_id.filter(|a| Some(*a) != before.assignee_id && *a != actor) {
            let title = format!("You were assigned \u{201c}{}\u{201d}", after.title);
            self.tell(Some(actor), after, &members, Kind::Assigned, [assignee].into(), title, String::new()).await?;
        }
        if before.status != after.status {
            let followers = self.followers(after).await?;
            let title = format!("\u{201c}{}\u{201d} is now {}", after.title, after.status.as_str());
            let body = format!("{} \u{2192} {}", before.status.as_str(), after.status.as_str());
            self.tell(Some(actor), after, &members, Kind::StatusChanged, followers, title, body).await?;
        }
        if let Some(description) = after.description.as_deref().filter(|d| d.contains('@'))
            && before.description.as_deref() != Some(description)
        {
            let before_named = self.mentioned_in(before.description.as_deref().unwrap_or_default()).await?;
            let named: BTreeSet<UserId> =
                self.mentioned_in(description).await?.difference(&before_named).copied().collect();
            let title = format!("You were mentioned in \u{201c}{}\u{201d}", after.title);
            self.tell(Some(actor), after, &members, Kind::Mentioned, named, title, quoted(description)).await?;
        }
        Ok(())
    }

    async fn on_commented(&self, actor: UserId, task: &Task, comment: &Comment) -> Result<(), NotificationError> {
        let members = Members::new();
        let named = if comment.body.contains('@') { self.mentioned_in(&comment.body).await? } else { BTreeSet::new() };
        let followers: BTreeSet<UserId> = self.followers(task).await?.difference(&named).copied().collect();
        let title = format!("You were mentioned on \u{201c}{}\u{201d}", task.title);
        self.tell(Some(actor), task, &members, Kind::Mentioned, named, title, quoted(&comment.body)).await?;
        let title = format!("New comment on \u{201c}{}\u{201d}", task.title);
        self.tell(Some(actor), task, &members, Kind::Commented, followers, title, quoted(&comment.body)).await
    }
}

/// `text`, cut to [`QUOTED_CHARS`] with an ellipsis.
pub(crate) fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        Some((at, _)) => format!("{}\u{2026}", &text[..at]),
        None => text.to_owned(),
    }
}

/// A notice that could not be delivered is logged: the change it tells of stands.
fn report(what: &str, task: &Task, result: Result<(), NotificationError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, task = task.id.0, "the notifications of a task's {what} were not delivered");
    }
}

#[async_trait]
impl TaskActivity for TaskNotices {
    async fn created(&self, actor: UserId, task: &Task) {
        report("creation", task, self.on_created(actor, task).await);
    }

    async fn changed(&self, actor: UserId, before: &Task, after: &Task) {
        report("change", after, self.on_changed(actor, before, after).await);
    }

    async fn commented(&self, actor: UserId, task: &Task, comment: &Comment) {
        report("comment", task, self.on_commented(actor, task, comment).await);
    }
}
