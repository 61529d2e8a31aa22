//! Everything people and administrators do to accounts after signing in.

use std::sync::Arc;

use workbench_core::{FieldErrors, Page, PageRequest};

use crate::audit::{AuditAction, AuditEntry, AuditQuery, ClientInfo, NewAuditEntry};
use crate::{
    AuditLog, PasswordChange, PasswordHasher, Principal, PrincipalCache, ProfileChanges, Role, User, UserError, UserId,
    UserQuery, UserRepository, UserStatus, now,
};

/// What an administrator may change on someone else's account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdminChanges {
    pub role: Option<Role>,
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

    /// Applies the viewer's changes to their own profile.
    pub async fn update_profile(&self, viewer: &Principal, changes: ProfileChanges) -> Result<User, UserError> {
        if changes.is_empty() {
            return self.users.find(viewer.id).await?.ok_or(UserError::NotFound);
        }
        self.users.update_profile(viewer.id, changes, now()).await?.ok_or(UserError::NotFound)
    }

    /// Changes the viewer's password after checking the current one, then signs out every other
    /// session by revoking all of the user's refresh tokens.
    pub async fn change_password(
        &self,
        viewer: &Principal,
        change: PasswordChange,
        client: &ClientInfo,
    ) -> Result<(), UserError> {
        let hash = self.users.password_hash(viewer.id).await?;
        if !self.hasher.verify(&change.current_password, hash).await? {
            return Err(FieldErrors::single("current_password", "is incorrect").into());
        }
        let new_hash = self.hasher.hash(change.new_password.expose()).await?;
        let at = now();
        let audit = NewAuditEntry::new(AuditAction::PasswordChanged, client).by(viewer.id).on(viewer.id).at(at);
        self.users.change_password(viewer.id, new_hash, at, vec![audit]).await?;
        self.principals.invalidate(viewer.id).await;
        Ok(())
    }

    /// An administrator changes another account's role or status. Nobody may act on their own
    /// account this way, on an account that outranks them, or grant a role above their own.
    /// Disabling an account revokes its refresh tokens; its access tokens fail at the next request.
    pub async fn administer(
        &self,
        actor: &Principal,
        target: UserId,
        changes: AdminChanges,
        client: &ClientInfo,
    ) -> Result<User, UserError> {
        let user = self.target_for_admin(actor, target).await?;
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
        let changed =
            self.users.set_role_and_status(target, role, status, at, audit).await?.ok_or(UserError::NotFound)?;
        self.principals.invalidate(target).await;
        Ok(changed)
    }

    /// Whether `actor` may delete `target` (the rules of [`Self::delete`]), without deleting it:
    /// for callers that must prepare work that only an allowed deletion should cost.
    pub async fn check_deletable(&self, actor: &Principal, target: UserId) -> Result<User, UserError> {
        self.target_for_admin(actor, target).await
    }

    /// An administrator deletes another account, under the same rules as [`Self::administer`].
    pub async fn delete(&self, actor: &Principal, target: UserId, client: &ClientInfo) -> Result<User, UserError> {
        let user = self.target_for_admin(actor, target).await?;
        let audit = NewAuditEntry::new(AuditAction::UserDeleted, client)
            .by(actor.id)
            .on(target)
            .with("username", user.username.as_str())
            .with("email", user.email.as_str());
        if !self.users.delete(target, vec![audit]).await? {
            return Err(UserError::NotFound);
        }
        self.principals.invalidate(target).await;
        Ok(user)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MockAuditLog, MockPasswordHasher, MockPrincipalCache, MockUserRepository, Password};

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
        let err = svc.administer(&caller(1, Role::Moderator), UserId(2), AdminChanges::default(), &client()).await;
        assert!(matches!(err, Err(UserError::Forbidden(_))));
    }

    #[tokio::test]
    async fn nobody_grants_a_role_above_their_own() {
        let svc = service(repo_with(user(2, Role::User)));
        let changes = AdminChanges { role: Some(Role::SuperAdmin), status: None };
        assert!(matches!(
            svc.administer(&caller(1, Role::Admin), UserId(2), changes, &client()).await,
            Err(UserError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn an_admin_cannot_touch_a_super_admin_or_themself() {
        let svc = service(repo_with(user(2, Role::SuperAdmin)));
        assert!(matches!(
            svc.delete(&caller(1, Role::Admin), UserId(2), &client()).await,
            Err(UserError::Forbidden(_))
        ));
        let svc = service(repo_with(user(1, Role::Admin)));
        assert!(matches!(
            svc.delete(&caller(1, Role::Admin), UserId(1), &client()).await,
            Err(UserError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn disabling_is_recorded_with_the_change() {
        let mut users = repo_with(user(2, Role::User));
        users
            .expect_set_role_and_status()
            .withf(|id, role, status, _, audit| {
                *id == UserId(2)
                    && role.is_none()
                    && *status == Some(UserStatus::Disabled)
                    && audit.len() == 1
                    && audit[0].action == AuditAction::StatusChanged
                    && audit[0].actor_id == Some(UserId(1))
                    && audit[0].details["to"] == "disabled"
                    && audit[0].ip.as_deref() == Some("192.0.2.1")
            })
            .times(1)
            .returning(|id, _, status, _, _| {
                let mut u = user(id.0, Role::User);
                u.status = status.unwrap_or(UserStatus::Active);
                Ok(Some(u))
            });
        let mut principals = MockPrincipalCache::new();
        principals.expect_invalidate().withf(|id| *id == UserId(2)).times(1).returning(|_| ());
        let svc = service_with(users, principals);
        let changes = AdminChanges { role: Some(Role::User), status: Some(UserStatus::Disabled) };
        let updated = svc.administer(&caller(1, Role::Admin), UserId(2), changes, &client()).await.unwrap();
        assert_eq!(updated.status, UserStatus::Disabled);
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
        let change =
            PasswordChange { current_password: "nope".into(), new_password: Password::parse("new-password").unwrap() };
        match svc.change_password(&caller(1, Role::User), change, &client()).await {
            Err(UserError::Validation(e)) => assert!(e.contains("current_password")),
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
