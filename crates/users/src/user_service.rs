//! Everything people and administrators do to accounts after signing in.

use std::sync::Arc;

use workbench_core::{FieldErrors, Page, PageRequest};

use crate::audit::{AuditAction, AuditEntry, AuditQuery, ClientInfo, NewAuditEntry};
use crate::{
    AuditLog, PasswordChange, PasswordHasher, Principal, PrincipalCache, ProfileChanges, Role, User, UserError, UserId,
    UserQuery, UserRepository, UserStatus, Username, now,
};

/// What an administrator may change on someone else's account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdminChanges {
    /// A new role; `None` keeps it. Nobody grants a role above their own.
    pub role: Option<Role>,
    /// Disable or enable the account; `None` keeps its status.
    pub status: Option<UserStatus>,
}

/// Profiles, passwords, lists of users and account administration.
#[derive(Clone)]
pub struct UserService {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    audit: Arc<dyn AuditLog>,
    /// Forgotten on every instance when a change below alters what a request may do.
    principals: Arc<dyn PrincipalCache>,
}

impl std::fmt::Debug for UserService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserService").finish_non_exhaustive()
    }
}

impl UserService {
    /// The service over the accounts in `users`, hashing new passwords with `hasher`, recording
    /// changes in `audit` and telling `principals` (every instance's cache) when an account's role,
    /// status or password changes.
    pub fn new(
        users: Arc<dyn UserRepository>,
        hasher: Arc<dyn PasswordHasher>,
        audit: Arc<dyn AuditLog>,
        principals: Arc<dyn PrincipalCache>,
    ) -> Self {
        Self { users, hasher, audit, principals }
    }

    /// The caller's own account, as stored now.
    pub async fn me(&self, viewer: &Principal) -> Result<User, UserError> {
        self.users.find(viewer.id).await?.ok_or(UserError::NotFound)
    }

    /// Users the viewer may see, optionally filtered by a search term. Admins see disabled
    /// accounts too and may search by email; everyone else sees active accounts by name.
    pub async fn list(
        &self,
        viewer: &Principal,
        search: Option<String>,
        page: PageRequest,
    ) -> Result<Page<User>, UserError> {
        let admin = viewer.role.is_admin();
        let query = UserQuery { search, search_email: admin, exclude: None, only_active: !admin, page };
        Ok(self.users.list(query).await?)
    }

    /// The first `limit` users [`UserService::list`] would show for `search`, without a total.
    pub async fn search(&self, viewer: &Principal, search: String, limit: u32) -> Result<Vec<User>, UserError> {
        let admin = viewer.role.is_admin();
        let page = PageRequest::new(Some(1), Some(u64::from(limit)))?;
        let query = UserQuery { search: Some(search), search_email: admin, exclude: None, only_active: !admin, page };
        Ok(self.users.first_matching(query).await?)
    }

    /// The account the viewer knows by this username (any case), if they may see it: as
    /// [`UserService::list`] would show it.
    pub async fn by_username(&self, viewer: &Principal, username: &str) -> Result<Option<User>, UserError> {
        let Ok(username) = Username::parse(username) else { return Ok(None) };
        let user = self.users.find_by_username(&username).await?;
        Ok(user.filter(|u| viewer.role.is_admin() || u.status == UserStatus::Active))
    }

    /// Every other active user: the candidates for an assignee picker.
    pub async fn others(
        &self,
        viewer: &Principal,
        search: Option<String>,
        page: PageRequest,
    ) -> Result<Page<User>, UserError> {
        let query = UserQuery {
            search,
            search_email: viewer.role.is_admin(),
            exclude: Some(viewer.id),
            only_active: true,
            page,
        };
        Ok(self.users.list(query).await?)
    }

    /// One user. A disabled account is invisible to everyone but admins and itself.
    pub async fn get(&self, viewer: &Principal, id: UserId) -> Result<User, UserError> {
        let user = self.users.find(id).await?.ok_or(UserError::NotFound)?;
        if user.is_active() || user.id == viewer.id || viewer.role.is_admin() {
            Ok(user)
        } else {
            Err(UserError::NotFound)
        }
    }

    /// Applies the viewer's changes to their own profile. With `if_match`, only while the account
    /// is still at that version.
    pub async fn update_profile(
        &self,
        viewer: &Principal,
        changes: ProfileChanges,
        if_match: Option<i64>,
    ) -> Result<User, UserError> {
        if changes.is_empty() {
            let user = self.users.find(viewer.id).await?.ok_or(UserError::NotFound)?;
            return at_version(user, if_match);
        }
        match self.users.update_profile(viewer.id, changes, now(), if_match).await? {
            Some(user) => Ok(user),
            None => Err(self.refused_write(viewer.id, if_match).await),
        }
    }

    /// Changes the viewer's password after checking the current one, then signs out every other
    /// session by revoking all of the user's refresh tokens. A refusal names every failing field:
    /// a wrong current password is reported beside a new password that breaks the rules.
    pub async fn change_password(
        &self,
        viewer: &Principal,
        current_password: Option<String>,
        new_password: Option<String>,
        client: &ClientInfo,
    ) -> Result<(), UserError> {
        let change = match PasswordChange::parse(current_password.clone(), new_password) {
            Ok(change) => change,
            Err(mut refused) => {
                if let Some(current) = current_password.filter(|c| !c.is_empty())
                    && !self.current_password_matches(viewer.id, &current).await?
                {
                    refused.append(FieldErrors::single("current_password", "is incorrect"));
                }
                return Err(refused.into());
            }
        };
        if !self.current_password_matches(viewer.id, &change.current_password).await? {
            return Err(FieldErrors::single("current_password", "is incorrect").into());
        }
        let new_hash = self.hasher.hash(change.new_password.expose()).await?;
        let at = now();
        let audit = NewAuditEntry::new(AuditAction::PasswordChanged, client).by(viewer.id).on(viewer.id).at(at);
        self.users.change_password(viewer.id, new_hash, at, vec![audit]).await?;
        self.principals.invalidate(viewer.id).await;
        Ok(())
    }

    async fn current_password_matches(&self, id: UserId, password: &str) -> Result<bool, UserError> {
        let hash = self.users.password_hash(id).await?;
        Ok(self.hasher.verify(password, hash).await?)
    }

    /// An administrator changes another account's role or status. Nobody may act on their own
    /// account this way, on an account that outranks them, or grant a role above their own.
    /// Disabling an account revokes its refresh tokens (its access tokens fail at the next
    /// request) and cancels its open trades; its files' share links stop opening while it stays
    /// disabled.
    pub async fn administer(
        &self,
        actor: &Principal,
        target: UserId,
        changes: AdminChanges,
        client: &ClientInfo,
        if_match: Option<i64>,
    ) -> Result<User, UserError> {
        let user = at_version(self.target_for_admin(actor, target).await?, if_match)?;
        if changes.role.is_some_and(|role| role > actor.role) {
            return Err(UserError::Forbidden("you cannot grant a role above your own"));
        }
        // Only what really changes is written and recorded.
        let role = changes.role.filter(|r| *r != user.role);
        let status = changes.status.filter(|s| *s != user.status);
        if role.is_none() && status.is_none() {
            return Ok(user);
        }
        let at = now();
        let entry = |action| NewAuditEntry::new(action, client).by(actor.id).on(target).at(at);
        let mut audit = Vec::new();
        if let Some(role) = role {
            audit.push(entry(AuditAction::RoleChanged).with("from", user.role.as_str()).with("to", role.as_str()));
        }
        if let Some(status) = status {
            audit
                .push(entry(AuditAction::StatusChanged).with("from", user.status.as_str()).with("to", status.as_str()));
        }
        let Some(changed) = self.users.set_role_and_status(target, role, status, at, if_match, audit).await? else {
            return Err(self.refused_write(target, if_match).await);
        };
        self.principals.invalidate(target).await;
        Ok(changed)
    }

    /// Whether `actor` may delete `target` (the rules of [`Self::delete`]), without deleting it:
    /// for callers that must prepare work that only an allowed deletion should cost.
    pub async fn check_deletable(&self, actor: &Principal, target: UserId) -> Result<User, UserError> {
        self.target_for_admin(actor, target).await
    }

    /// An administrator deletes another account, under the same rules as [`Self::administer`].
    /// With `if_match`, only while the account is still at that version.
    pub async fn delete(
        &self,
        actor: &Principal,
        target: UserId,
        client: &ClientInfo,
        if_match: Option<i64>,
    ) -> Result<User, UserError> {
        let user = at_version(self.target_for_admin(actor, target).await?, if_match)?;
        let audit = NewAuditEntry::new(AuditAction::UserDeleted, client)
            .by(actor.id)
            .on(target)
            .with("username", user.username.as_str())
            .with("email", user.email.as_str());
        if !self.users.delete(target, if_match, vec![audit]).await? {
            return Err(self.refused_write(target, if_match).await);
        }
        self.principals.invalidate(target).await;
        Ok(user)
    }

    /// Why a conditional write to `id` changed nothing: the account is gone, or (with `if_match`)
    /// it moved past that version meanwhile.
    async fn refused_write(&self, id: UserId, if_match: Option<i64>) -> UserError {
        match (self.users.find(id).await, if_match) {
            (Ok(Some(user)), Some(expected)) => UserError::VersionMismatch { expected, current: user.version },
            (Ok(_), _) => UserError::NotFound,
            (Err(e), _) => e.into(),
        }
    }

    /// Whether `viewer` may read the audit trail: for callers that check before parsing a query.
    pub fn check_auditor(&self, viewer: &Principal) -> Result<(), UserError> {
        if viewer.role.is_admin() {
            Ok(())
        } else {
            Err(UserError::Forbidden("only administrators may read the audit trail"))
        }
    }

    /// The audit trail, for administrators.
    pub async fn audit_trail(&self, viewer: &Principal, query: AuditQuery) -> Result<Page<AuditEntry>, UserError> {
        self.check_auditor(viewer)?;
        Ok(self.audit.list(query).await?)
    }

    async fn target_for_admin(&self, actor: &Principal, target: UserId) -> Result<User, UserError> {
        if !actor.role.is_admin() {
            return Err(UserError::Forbidden("only administrators may manage accounts"));
        }
        let user = self.users.find(target).await?.ok_or(UserError::NotFound)?;
        if user.id == actor.id {
            return Err(UserError::Forbidden("you cannot change or delete your own account here"));
        }
        if user.role > actor.role {
            return Err(UserError::Forbidden("you cannot manage an account that outranks you"));
        }
        Ok(user)
    }
}

/// `user`, unless the client's `If-Match` names another version.
fn at_version(user: User, if_match: Option<i64>) -> Result<User, UserError> {
    match if_match {
        Some(expected) if expected != user.version => {
            Err(UserError::VersionMismatch { expected, current: user.version })
        }
        _ => Ok(user),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MockAuditLog, MockPasswordHasher, MockPrincipalCache, MockUserRepository};

    fn user(id: i64, role: Role) -> User {
        User { role, ..User::sample(id) }
    }

    fn caller(id: i64, role: Role) -> Principal {
        Principal::from(&user(id, role))
    }

    /// A principal cache that expects no invalidation.
    fn untouched() -> MockPrincipalCache {
        let mut principals = MockPrincipalCache::new();
        principals.expect_invalidate().never();
        principals
    }

    fn repo_with(target: User) -> MockUserRepository {
        let mut users = MockUserRepository::new();
        users.expect_find().returning(move |_| Ok(Some(target.clone())));
        users
    }

    fn service(users: MockUserRepository) -> UserService {
        service_with(users, untouched())
    }

    fn service_with(users: MockUserRepository, principals: MockPrincipalCache) -> UserService {
        UserService::new(
            Arc::new(users),
            Arc::new(MockPasswordHasher::new()),
            Arc::new(MockAuditLog::new()),
            Arc::new(principals),
        )
    }

    fn client() -> ClientInfo {
        ClientInfo { ip: Some("192.0.2.1".into()), user_agent: Some("test".into()) }
    }

    #[tokio::test]
    async fn non_admins_cannot_administer() {
        let svc = service(MockUserRepository::new());
        let err =
            svc.administer(&caller(1, Role::Moderator), UserId(2), AdminChanges::default(), &client(), None).await;
        assert!(matches!(err, Err(UserError::Forbidden(_))));
    }

    #[tokio::test]
    async fn nobody_grants_a_role_above_their_own() {
        let svc = service(repo_with(user(2, Role::User)));
        let changes = AdminChanges { role: Some(Role::SuperAdmin), status: None };
        assert!(matches!(
            svc.administer(&caller(1, Role::Admin), UserId(2), changes, &client(), None).await,
            Err(UserError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn an_admin_cannot_touch_a_super_admin_or_themself() {
        let svc = service(repo_with(user(2, Role::SuperAdmin)));
        assert!(matches!(
            svc.delete(&caller(1, Role::Admin), UserId(2), &client(), None).await,
            Err(UserError::Forbidden(_))
        ));
        let svc = service(repo_with(user(1, Role::Admin)));
        assert!(matches!(
            svc.delete(&caller(1, Role::Admin), UserId(1), &client(), None).await,
            Err(UserError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn disabling_is_recorded_with_the_change() {
        let mut users = repo_with(user(2, Role::User));
        users
            .expect_set_role_and_status()
            .withf(|id, role, status, _, expected, audit| {
                *id == UserId(2)
                    && expected.is_none()
                    && role.is_none()
                    && *status == Some(UserStatus::Disabled)
                    && audit.len() == 1
                    && audit[0].action == AuditAction::StatusChanged
                    && audit[0].actor_id == Some(UserId(1))
                    && audit[0].details["to"] == "disabled"
                    && audit[0].ip.as_deref() == Some("192.0.2.1")
            })
            .times(1)
            .returning(|id, _, status, _, _, _| {
                let mut u = user(id.0, Role::User);
                u.status = status.unwrap_or(UserStatus::Active);
                Ok(Some(u))
            });
        let mut principals = MockPrincipalCache::new();
        principals.expect_invalidate().withf(|id| *id == UserId(2)).times(1).returning(|_| ());
        let svc = service_with(users, principals);
        let changes = AdminChanges { role: Some(Role::User), status: Some(UserStatus::Disabled) };
        let updated = svc.administer(&caller(1, Role::Admin), UserId(2), changes, &client(), None).await.unwrap();
        assert_eq!(updated.status, UserStatus::Disabled);
    }

    #[tokio::test]
    async fn a_stale_if_match_changes_nothing() {
        let mut users = repo_with(User { version: 4, ..user(2, Role::User) });
        users.expect_set_role_and_status().never();
        users.expect_delete().never();
        let svc = service(users);
        let changes = AdminChanges { role: Some(Role::Moderator), status: None };
        assert!(matches!(
            svc.administer(&caller(1, Role::Admin), UserId(2), changes, &client(), Some(3)).await,
            Err(UserError::VersionMismatch { expected: 3, current: 4 })
        ));
        assert!(matches!(
            svc.delete(&caller(1, Role::Admin), UserId(2), &client(), Some(3)).await,
            Err(UserError::VersionMismatch { expected: 3, current: 4 })
        ));
    }

    #[tokio::test]
    async fn a_profile_change_that_lost_a_race_is_refused_at_the_new_version() {
        let mut users = repo_with(User { version: 5, ..user(1, Role::User) });
        users.expect_update_profile().withf(|_, _, _, expected| *expected == Some(4)).returning(|_, _, _, _| Ok(None));
        let svc = service(users);
        let changes = ProfileChanges { bio: Some(Some("hi".into())), ..ProfileChanges::default() };
        assert!(matches!(
            svc.update_profile(&caller(1, Role::User), changes, Some(4)).await,
            Err(UserError::VersionMismatch { expected: 4, current: 5 })
        ));
    }

    #[tokio::test]
    async fn only_admins_read_the_audit_trail() {
        let svc = service(MockUserRepository::new());
        let err = svc.audit_trail(&caller(1, Role::Moderator), AuditQuery::default()).await;
        assert!(matches!(err, Err(UserError::Forbidden(_))));
    }

    #[tokio::test]
    async fn wrong_current_password_names_the_field_and_changes_nothing() {
        let mut users = MockUserRepository::new();
        users.expect_password_hash().returning(|_| Ok(Some("h".into())));
        users.expect_change_password().never();
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|_, _| Ok(false));
        let svc =
            UserService::new(Arc::new(users), Arc::new(hasher), Arc::new(MockAuditLog::new()), Arc::new(untouched()));
        let (current, new) = (Some("nope".to_owned()), Some("new-password".to_owned()));
        match svc.change_password(&caller(1, Role::User), current, new, &client()).await {
            Err(UserError::Validation(e)) => assert!(e.contains("current_password") && !e.contains("new_password")),
            other => panic!("expected a validation error, got {other:?}"),
        }
        // A new password that breaks the rules is named beside the wrong current one.
        match svc.change_password(&caller(1, Role::User), Some("nope".into()), Some("short".into()), &client()).await {
            Err(UserError::Validation(e)) => assert!(e.contains("current_password") && e.contains("new_password")),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn disabled_users_are_hidden_from_ordinary_users_only() {
        let mut target = user(2, Role::User);
        target.status = UserStatus::Disabled;
        let svc = service(repo_with(target));
        assert!(matches!(svc.get(&caller(1, Role::User), UserId(2)).await, Err(UserError::NotFound)));
        assert!(svc.get(&caller(1, Role::Admin), UserId(2)).await.is_ok());
    }
}
