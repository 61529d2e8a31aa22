//! Whether a notification's recipient may still see its subject: asked again when it is
//! e-mailed, so that someone who lost access (left the project, lost a role, the task deleted)
//! gets no e-mail about it, whichever instance mails it.

use std::sync::Arc;

use async_trait::async_trait;
use workbench_chat::{ChatService, MessageId};
use workbench_core::RepositoryError;
use workbench_projects::ProjectId;
use workbench_tasks::{Access, ProjectMembership, Standing, TaskId, TaskService};
use workbench_users::{Accounts, UserId};

use crate::model::{Subject, SubjectType};

/// Whether a user may see a subject now.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SubjectAccess: Send + Sync {
    /// Whether `user` (an active account) may see `subject` now.
    async fn sees(&self, user: UserId, subject: Subject) -> Result<bool, RepositoryError>;
}

/// [`SubjectAccess`] by the domains' own rules: a task as its service decides (a member of its
/// project, its owner or assignee, a moderator), a project to its members and moderators, a chat
/// message to who may read its room (or its two parties).
#[derive(Clone)]
pub struct DomainAccess {
    tasks: TaskService,
    membership: Arc<dyn ProjectMembership>,
    accounts: Arc<dyn Accounts>,
    chat: ChatService,
}

impl std::fmt::Debug for DomainAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainAccess").finish_non_exhaustive()
    }
}

impl DomainAccess {
    /// Access decided by `tasks`, `membership` (a project's members), `accounts` and `chat`.
    pub fn new(
        tasks: TaskService,
        membership: Arc<dyn ProjectMembership>,
        accounts: Arc<dyn Accounts>,
        chat: ChatService,
    ) -> Self {
        Self { tasks, membership, accounts, chat }
    }
}

#[async_trait]
impl SubjectAccess for DomainAccess {
    async fn sees(&self, user: UserId, subject: Subject) -> Result<bool, RepositoryError> {
        let Some(principal) = self.accounts.account(user).await?.filter(|p| p.is_active()) else {
            return Ok(false);
        };
        match subject.kind {
            SubjectType::Task => {
                let access = self
                    .tasks
                    .access_to(&principal, TaskId(subject.id))
                    .await
                    .map_err(|e| RepositoryError::Unavailable(anyhow::anyhow!(e.to_string())))?;
                Ok(access >= Access::Read)
            }
            SubjectType::Project => Ok(principal.role.is_moderator()
                || matches!(self.membership.standing(ProjectId(subject.id), user).await?, Standing::Member(_))),
            SubjectType::Message => self
                .chat
                .may_read_message(&principal, MessageId(subject.id))
                .await
                .map_err(|e| RepositoryError::Unavailable(anyhow::anyhow!(e.to_string()))),
            // Trades and files are told to their own parties, who keep them; a comment's notices
            // name its task.
            _ => Ok(true),
        }
    }
}
