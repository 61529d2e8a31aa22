//! `ProjectService`: projects, members and invitations, with the rules on who may do what.
//!
//! Who sees a project: its members, and platform moderators and admins (with no role of their
//! own unless they are members); anyone else is told it does not exist. Who changes it: its
//! admins, and platform admins anywhere. A member may always leave; a project always keeps an
//! admin.

use std::sync::Arc;

use workbench_core::{Page, PageRequest, TypeFailures, Validator, now};
use workbench_users::{Principal, UserId};

use crate::error::Missing;
use crate::model::{InviteTerms, ProjectChanges};
use crate::{
    Acceptance, Admission, Invite, InviteDraft, InviteId, InviteToken, IssuedInvite, Member, MemberChange,
    MembershipListener, NewInvite, ProjectDraft, ProjectError, ProjectFilter, ProjectId, ProjectPatch,
    ProjectRepository, ProjectRole, ProjectView,
};

/// How many times a change is re-applied to a fresh copy when concurrent writers win.
const UPDATE_ATTEMPTS: usize = 3;

const ADMINS_ONLY: &str = "Only the project's admins may do this.";

/// What a client sent to add a member.
#[derive(Debug, Clone, Default)]
pub struct MemberDraft {
    /// The account to add; required.
    pub user_id: Option<i64>,
    /// The role to give; required.
    pub role: Option<String>,
    /// Fields whose JSON type was wrong, reported with the rest.
    pub type_failures: TypeFailures,
}

/// Projects: see the module documentation.
#[derive(Clone)]
pub struct ProjectService {
    projects: Arc<dyn ProjectRepository>,
    /// Told of every change to who sees the project's tasks.
    listeners: Vec<Arc<dyn MembershipListener>>,
}

impl std::fmt::Debug for ProjectService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectService").finish_non_exhaustive()
    }
}

impl ProjectService {
    /// The service over the projects stored in `projects`; [`Self::notifying`] adds who is told of
    /// membership changes.
    pub fn new(projects: Arc<dyn ProjectRepository>) -> Self {
        Self { projects, listeners: Vec::new() }
    }

    /// The service, telling `listener` of every change to who sees a project's tasks.
    pub fn notifying(mut self, listener: Arc<dyn MembershipListener>) -> Self {
        self.listeners.push(listener);
        self
    }

    /// Creates a project; the caller is its owner and first admin.
    pub async fn create(&self, caller: &Principal, draft: ProjectDraft) -> Result<ProjectView, ProjectError> {
        let project = self.projects.create(draft.parse(caller, now())?).await?;
        Ok(ProjectView { project, my_role: Some(ProjectRole::Admin) })
    }

    /// One page of the caller's projects, newest first; with `all`, platform moderators and
    /// admins list every project (anyone else's `all` is ignored).
    pub async fn list(
        &self,
        caller: &Principal,
        all: bool,
        filter: ProjectFilter,
        page: PageRequest,
    ) -> Result<Page<ProjectView>, ProjectError> {
        let member = if all && caller.role.is_moderator() { None } else { Some(caller.id) };
        Ok(self.projects.list(member, caller.id, filter, page).await?)
    }

    /// The project, as the caller sees it: members and platform moderators and admins; anyone else
    /// is told it does not exist.
    pub async fn get(&self, caller: &Principal, id: ProjectId) -> Result<ProjectView, ProjectError> {
        self.visible(caller, id).await
    }

    /// Changes the project's name, description or archived flag: its admins. With `if_match`,
    /// the project must still be at that version; without it, a concurrent change is re-read and
    /// the changes re-applied.
    pub async fn update(
        &self,
        caller: &Principal,
        id: ProjectId,
        patch: ProjectPatch,
        if_match: Option<i64>,
    ) -> Result<ProjectView, ProjectError> {
        let view = self.managed(caller, id).await?;
        let changes = ProjectChanges::parse(patch)?;
        let mut current = view.project;
        for _ in 0..UPDATE_ATTEMPTS {
            check_version(if_match, current.version)?;
            let mut updated = current.clone();
            changes.apply(&mut updated, now());
            if let Some(stored) = self.projects.update(updated, current.version).await? {
                return Ok(ProjectView { project: stored, my_role: view.my_role });
            }
            current = self.projects.find(id).await?.ok_or(ProjectError::NotFound(Missing::Project))?;
        }
        Err(ProjectError::Contention)
    }

    /// Deletes the project with its members and invitations: its admins.
    pub async fn delete(&self, caller: &Principal, id: ProjectId, if_match: Option<i64>) -> Result<(), ProjectError> {
        let view = self.managed(caller, id).await?;
        check_version(if_match, view.project.version)?;
        let members = self.projects.member_ids(id).await?;
        if self.projects.delete(id, if_match).await? {
            for listener in &self.listeners {
                listener.deleted(id, members.clone()).await;
            }
            return Ok(());
        }
        match (self.projects.find(id).await?, if_match) {
            (Some(current), Some(expected)) => {
                Err(ProjectError::VersionMismatch { expected, current: current.version })
            }
            _ => Err(ProjectError::NotFound(Missing::Project)),
        }
    }

    /// One page of the project's members: anyone who sees the project.
    pub async fn members(
        &self,
        caller: &Principal,
        id: ProjectId,
        page: PageRequest,
    ) -> Result<Page<Member>, ProjectError> {
        self.visible(caller, id).await?;
        Ok(self.projects.members(id, page).await?)
    }

    /// Adds a member: its admins. Every failing field is reported at once, an unknown or
    /// disabled account on `user_id`.
    pub async fn add_member(
        &self,
        caller: &Principal,
        id: ProjectId,
        draft: MemberDraft,
    ) -> Result<Member, ProjectError> {
        let view = self.managed(caller, id).await?;
        let mut v = Validator::seeded(draft.type_failures);
        let user = v.required("user_id", draft.user_id, |id| {
            if id > 0 { Ok(UserId(id)) } else { Err("must be a positive integer") }
        });
        let role = v.required("role", draft.role, |r| ProjectRole::parse(&r));
        let (user, role) = v.finish_with(user.zip(role))?;
        match self.projects.add_member(id, user, role, now()).await? {
            Admission::Added => {
                for listener in &self.listeners {
                    listener.joined(id, user).await;
                    listener.added(id, &view.project.name, user, role, caller.id).await;
                }
                self.projects.member(id, user).await?.ok_or(ProjectError::NotFound(Missing::Member))
            }
            Admission::AlreadyMember => Err(ProjectError::AlreadyMember),
            Admission::NoSuchUser => {
                Err(workbench_core::FieldErrors::single("user_id", "must be an active user").into())
            }
            Admission::NoSuchProject => Err(ProjectError::NotFound(Missing::Project)),
        }
    }

    /// Changes a member's role: its admins. The last admin cannot be demoted.
    pub async fn change_role(
        &self,
        caller: &Principal,
        id: ProjectId,
        user: UserId,
        role: Option<String>,
        type_failures: TypeFailures,
    ) -> Result<Member, ProjectError> {
        self.managed(caller, id).await?;
        let mut v = Validator::seeded(type_failures);
        let role = v.required("role", role, |r| ProjectRole::parse(&r));
        let role = v.finish_with(role)?;
        match self.projects.change_role(id, user, role).await? {
            MemberChange::Done => self.projects.member(id, user).await?.ok_or(ProjectError::NotFound(Missing::Member)),
            MemberChange::NotAMember => Err(ProjectError::NotFound(Missing::Member)),
            MemberChange::LastAdmin => Err(ProjectError::LastAdmin),
        }
    }

    /// Removes a member: its admins, or the member themself (leaving). The last admin can
    /// neither be removed nor leave. The invitations the member made are revoked with them.
    pub async fn remove_member(&self, caller: &Principal, id: ProjectId, user: UserId) -> Result<(), ProjectError> {
        if user == caller.id {
            self.visible(caller, id).await?;
        } else {
            self.managed(caller, id).await?;
        }
        match self.projects.remove_member(id, user).await? {
            (MemberChange::Done, unassigned) => {
                for listener in &self.listeners {
                    listener.left(id, user, unassigned.clone()).await;
                }
                Ok(())
            }
            (MemberChange::NotAMember, _) => Err(ProjectError::NotFound(Missing::Member)),
            (MemberChange::LastAdmin, _) => Err(ProjectError::LastAdmin),
        }
    }

    /// Makes an invitation: its admins. Its token is in the answer and nowhere else.
    pub async fn invite(
        &self,
        caller: &Principal,
        id: ProjectId,
        draft: InviteDraft,
    ) -> Result<IssuedInvite, ProjectError> {
        self.managed(caller, id).await?;
        let terms = InviteTerms::parse(draft)?;
        let token = InviteToken::generate();
        let created_at = now();
        let invite = self
            .projects
            .create_invite(NewInvite {
                project_id: id,
                role: terms.role,
                max_uses: terms.max_uses,
                token_digest: InviteToken::digest(token.expose()),
                expires_at: created_at + terms.lifetime,
                created_by: caller.id,
                created_at,
            })
            .await?;
        Ok(IssuedInvite { invite, token })
    }

    /// One page of the project's invitations that are not revoked, newest first: its admins.
    pub async fn invites(
        &self,
        caller: &Principal,
        id: ProjectId,
        page: PageRequest,
    ) -> Result<Page<Invite>, ProjectError> {
        self.managed(caller, id).await?;
        Ok(self.projects.invites(id, page).await?)
    }

    /// Revokes an invitation: its admins. Its link stops working at once.
    pub async fn revoke_invite(&self, caller: &Principal, id: ProjectId, invite: InviteId) -> Result<(), ProjectError> {
        self.managed(caller, id).await?;
        if self.projects.revoke_invite(id, invite).await? {
            Ok(())
        } else {
            Err(ProjectError::NotFound(Missing::Invite))
        }
    }

    /// Follows an invitation: the caller joins with its role, or, a member already, is shown the
    /// project with nothing changed. Unknown, revoked, expired and used-up invitations are all
    /// `NotFound`.
    pub async fn accept(&self, caller: &Principal, token: &str) -> Result<ProjectView, ProjectError> {
        let project = match self.projects.accept_invite(InviteToken::digest(token), caller.id, now()).await? {
            Acceptance::Joined(project) => {
                for listener in &self.listeners {
                    listener.joined(project, caller.id).await;
                }
                project
            }
            Acceptance::AlreadyMember(project) => project,
            Acceptance::Closed => return Err(ProjectError::NotFound(Missing::Invite)),
        };
        self.visible(caller, project).await
    }

    /// The project as the caller sees it, when they may: members, platform moderators and admins.
    async fn visible(&self, caller: &Principal, id: ProjectId) -> Result<ProjectView, ProjectError> {
        let project = self.projects.find(id).await?.ok_or(ProjectError::NotFound(Missing::Project))?;
        let my_role = self.projects.role_of(id, caller.id).await?;
        if my_role.is_none() && !caller.role.is_moderator() {
            return Err(ProjectError::NotFound(Missing::Project));
        }
        Ok(ProjectView { project, my_role })
    }

    /// The project, when the caller may manage it: its admins, and platform admins anywhere.
    async fn managed(&self, caller: &Principal, id: ProjectId) -> Result<ProjectView, ProjectError> {
        let view = self.visible(caller, id).await?;
        if view.my_role == Some(ProjectRole::Admin) || caller.role.is_admin() {
            Ok(view)
        } else {
            Err(ProjectError::Forbidden(ADMINS_ONLY))
        }
    }
}

fn check_version(if_match: Option<i64>, current: i64) -> Result<(), ProjectError> {
    match if_match {
        Some(expected) if expected != current => Err(ProjectError::VersionMismatch { expected, current }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use workbench_users::{Role, User};

    use super::*;
    use crate::{MockProjectRepository, Project};

    fn caller(id: i64, role: Role) -> Principal {
        let mut user = User::sample(id);
        user.role = role;
        Principal::from(&user)
    }

    fn project() -> Project {
        Project {
            id: ProjectId(1),
            name: "Kitchen".into(),
            description: None,
            owner_id: UserId(1),
            archived: false,
            member_count: 2,
            version: 3,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    /// A repository that knows project 1, where `role` is the caller's role.
    fn repo_with(role: Option<ProjectRole>) -> MockProjectRepository {
        let mut repo = MockProjectRepository::new();
        repo.expect_find().returning(|_| Ok(Some(project())));
        repo.expect_role_of().returning(move |_, _| Ok(role));
        repo
    }

    fn service(repo: MockProjectRepository) -> ProjectService {
        ProjectService::new(Arc::new(repo))
    }

    #[tokio::test]
    async fn outsiders_are_told_the_project_does_not_exist_and_staff_see_it_without_a_role() {
        let got = service(repo_with(None)).get(&caller(9, Role::User), ProjectId(1)).await;
        assert!(matches!(got, Err(ProjectError::NotFound(Missing::Project))), "{got:?}");
        let seen = service(repo_with(None)).get(&caller(9, Role::Moderator), ProjectId(1)).await.unwrap();
        assert_eq!(seen.my_role, None);
    }

    #[tokio::test]
    async fn only_admins_manage_and_platform_admins_do_anywhere() {
        for (who, role, allowed) in [
            (caller(2, Role::User), Some(ProjectRole::Editor), false),
            (caller(2, Role::User), Some(ProjectRole::Viewer), false),
            (caller(3, Role::Moderator), None, false),
            (caller(2, Role::User), Some(ProjectRole::Admin), true),
            (caller(4, Role::Admin), None, true),
        ] {
            let mut repo = repo_with(role);
            repo.expect_invites().returning(|_, page| Ok(Page::new(vec![], 0, page)));
            let got = service(repo).invites(&who, ProjectId(1), PageRequest::new(None, None).unwrap()).await;
            assert_eq!(got.is_ok(), allowed, "{who:?} as {role:?}: {got:?}");
            if !allowed {
                assert!(matches!(got, Err(ProjectError::Forbidden(_))));
            }
        }
    }

    #[tokio::test]
    async fn a_member_may_leave_but_not_remove_others() {
        let mut repo = repo_with(Some(ProjectRole::Viewer));
        repo.expect_remove_member().times(1).returning(|_, _| Ok((MemberChange::Done, Vec::new())));
        let service = service(repo);
        service.remove_member(&caller(2, Role::User), ProjectId(1), UserId(2)).await.unwrap();
        let other = service.remove_member(&caller(2, Role::User), ProjectId(1), UserId(5)).await;
        assert!(matches!(other, Err(ProjectError::Forbidden(_))), "{other:?}");
    }

    #[tokio::test]
    async fn the_last_admin_stays() {
        let mut repo = repo_with(Some(ProjectRole::Admin));
        repo.expect_change_role().returning(|_, _, _| Ok(MemberChange::LastAdmin));
        let got = service(repo)
            .change_role(
                &caller(1, Role::User),
                ProjectId(1),
                UserId(1),
                Some("viewer".into()),
                TypeFailures::default(),
            )
            .await;
        assert!(matches!(got, Err(ProjectError::LastAdmin)), "{got:?}");
    }

    #[tokio::test]
    async fn an_unknown_user_and_an_unknown_role_are_reported_together_or_by_the_store() {
        let mut repo = repo_with(Some(ProjectRole::Admin));
        repo.expect_add_member().never();
        let draft = MemberDraft { user_id: Some(0), role: Some("owner".into()), ..Default::default() };
        let Err(ProjectError::Validation(errors)) =
            service(repo).add_member(&caller(1, Role::User), ProjectId(1), draft).await
        else {
            panic!("refused")
        };
        assert!(errors.contains("user_id") && errors.contains("role"), "{errors}");

        let mut repo = repo_with(Some(ProjectRole::Admin));
        repo.expect_add_member().returning(|_, _, _, _| Ok(Admission::NoSuchUser));
        let draft = MemberDraft { user_id: Some(77), role: Some("viewer".into()), ..Default::default() };
        let got = service(repo).add_member(&caller(1, Role::User), ProjectId(1), draft).await;
        assert!(matches!(&got, Err(ProjectError::Validation(e)) if e.contains("user_id")), "{got:?}");
    }

    #[tokio::test]
    async fn a_stale_if_match_changes_nothing() {
        let mut repo = repo_with(Some(ProjectRole::Admin));
        repo.expect_update().never();
        let got = service(repo).update(&caller(1, Role::User), ProjectId(1), ProjectPatch::default(), Some(2)).await;
        assert!(matches!(got, Err(ProjectError::VersionMismatch { expected: 2, current: 3 })), "{got:?}");
    }

    #[tokio::test]
    async fn a_closed_invitation_is_not_found() {
        let mut repo = MockProjectRepository::new();
        repo.expect_accept_invite().returning(|_, _, _| Ok(Acceptance::Closed));
        let got = service(repo).accept(&caller(2, Role::User), "token").await;
        assert!(matches!(got, Err(ProjectError::NotFound(Missing::Invite))), "{got:?}");
    }
}
