//! What the projects domain needs from the outside world. Each method's doc says what an
//! adapter MUST do.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_users::UserId;

use crate::{
    Acceptance, Admission, Invite, InviteId, Member, MemberChange, NewInvite, NewProject, Project, ProjectFilter,
    ProjectId, ProjectRole, ProjectView,
};

/// Where projects, their members and their invitations live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ProjectRepository: Send + Sync {
    /// Stores a project at version 1 and makes its owner its first admin, in one transaction.
    async fn create(&self, project: NewProject) -> Result<Project, RepositoryError>;

    /// The project `id`, if it exists.
    async fn find(&self, id: ProjectId) -> Result<Option<Project>, RepositoryError>;

    /// `user`'s role in the project, `None` when they are not a member.
    async fn role_of(&self, project: ProjectId, user: UserId) -> Result<Option<ProjectRole>, RepositoryError>;

    /// One page of projects, newest created first, each with `viewer`'s role: those `member`
    /// belongs to, or every project when `member` is `None`. The total counts only the projects
    /// listed (a member's, or all), never more.
    async fn list(
        &self,
        member: Option<UserId>,
        viewer: UserId,
        filter: ProjectFilter,
        page: PageRequest,
    ) -> Result<Page<ProjectView>, RepositoryError>;

    /// Writes `project`'s name, description, archived flag and `updated_at` if it is still at
    /// `expected_version`, one version later. `None` when it moved on or is gone.
    async fn update(&self, project: Project, expected_version: i64) -> Result<Option<Project>, RepositoryError>;

    /// Deletes the project (at `expected_version`, when given), its members and invitations with
    /// it; `false` when nothing was deleted.
    async fn delete(&self, id: ProjectId, expected_version: Option<i64>) -> Result<bool, RepositoryError>;

    /// One page of the project's members, earliest joined first.
    async fn members(&self, project: ProjectId, page: PageRequest) -> Result<Page<Member>, RepositoryError>;

    /// `user`'s membership of the project, `None` when they are not a member.
    async fn member(&self, project: ProjectId, user: UserId) -> Result<Option<Member>, RepositoryError>;

    /// Adds `user` with `role`, unless they are a member already or not an active account.
    async fn add_member(
        &self,
        project: ProjectId,
        user: UserId,
        role: ProjectRole,
        at: DateTime<Utc>,
    ) -> Result<Admission, RepositoryError>;

    /// Changes a member's role, unless that would leave the project without an admin: MUST be
    /// decided so that two admins demoting each other at once cannot both succeed.
    async fn change_role(
        &self,
        project: ProjectId,
        user: UserId,
        role: ProjectRole,
    ) -> Result<MemberChange, RepositoryError>;

    /// Removes a member, unless they are its last admin (decided as for `change_role`). In the
    /// same transaction it MUST revoke every invitation of the project they made (so that nobody
    /// removed rejoins, or lets others in, through a link of their own; an accept racing with the
    /// removal either admitted its user before it or finds the invitation gone) and unassign them
    /// from the project's tasks: the ids of those tasks.
    async fn remove_member(
        &self,
        project: ProjectId,
        user: UserId,
    ) -> Result<(MemberChange, Vec<i64>), RepositoryError>;

    /// The ids of every member of the project.
    async fn member_ids(&self, project: ProjectId) -> Result<Vec<UserId>, RepositoryError>;

    /// Stores an invitation (its token only as the digest) and returns it with its id.
    async fn create_invite(&self, invite: NewInvite) -> Result<Invite, RepositoryError>;

    /// One page of the project's invitations that are not revoked, newest first.
    async fn invites(&self, project: ProjectId, page: PageRequest) -> Result<Page<Invite>, RepositoryError>;

    /// Revokes an invitation of the project; `false` when it has no such invitation.
    async fn revoke_invite(&self, project: ProjectId, invite: InviteId) -> Result<bool, RepositoryError>;

    /// Follows the invitation whose token has `token_digest` for `user`, in one transaction: a
    /// member already is told so and nothing is counted; otherwise one use is counted and the
    /// user joins only if the invitation still admits someone at `now` (not expired, a use left),
    /// decided by the statement that counts the use, so that two people following a one-use
    /// invitation at once cannot both join.
    async fn accept_invite(
        &self,
        token_digest: String,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Acceptance, RepositoryError>;
}

/// Told when who may see a project's tasks changed, after it was stored: what caches and other
/// domains that show the project's tasks must forget, on every instance.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MembershipListener: Send + Sync {
    /// `user` joined `project` (added, or by invitation).
    async fn joined(&self, project: ProjectId, user: UserId);
    /// `by` (an admin of it) added `user` to `project`, named `name`, with `role`: told after
    /// [`Self::joined`]. Nothing by default.
    async fn added(&self, _project: ProjectId, _name: &str, _user: UserId, _role: ProjectRole, _by: UserId) {}
    /// `user` left `project` or was removed, and was unassigned from the tasks `unassigned`.
    async fn left(&self, project: ProjectId, user: UserId, unassigned: Vec<i64>);
    /// `project` was deleted with its tasks; `members` were its members.
    async fn deleted(&self, project: ProjectId, members: Vec<UserId>);
}
