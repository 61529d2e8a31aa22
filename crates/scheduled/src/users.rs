//! Account housekeeping: expired refresh tokens, inactive accounts.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use workbench_core::RepositoryError;
use workbench_jobs::{Job, JobFailure, JobHandler, JobOutcome};
use workbench_users::{AuditAction, ClientInfo, NewAuditEntry, PrincipalCache, UserId, UserRepository, UserStatus};

pub const PURGE_TOKENS_KIND: &str = "tokens.purge_expired";
pub const DISABLE_INACTIVE_KIND: &str = "users.disable_inactive";

/// Accounts disabled per round; the job goes on round after round.
const DISABLE_BATCH: usize = 200;

/// What account housekeeping needs from the store.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AccountHousekeeping: Send + Sync {
    /// Deletes every refresh token that expired before `now` (used, revoked or not: past its
    /// expiry none is of use, not even for reuse detection); returns how many.
    async fn purge_expired_refresh_tokens(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError>;

    /// Up to `limit` active accounts, other than admins and super admins, last seen before
    /// `cutoff`, lowest id first. Last seen: the latest sign-in or token refresh (every one issues a
    /// refresh token), or the account's creation when it never signed in.
    async fn inactive_users(&self, cutoff: DateTime<Utc>, limit: usize) -> Result<Vec<UserId>, RepositoryError>;
}

/// `tokens.purge_expired`.
pub struct PurgeExpiredTokens {
    store: Arc<dyn AccountHousekeeping>,
}

impl std::fmt::Debug for PurgeExpiredTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PurgeExpiredTokens").finish_non_exhaustive()
    }
}

impl PurgeExpiredTokens {
    pub fn new(store: Arc<dyn AccountHousekeeping>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl JobHandler for PurgeExpiredTokens {
    async fn run(&self, _job: &Job) -> Result<JobOutcome, JobFailure> {
        let purged = self.store.purge_expired_refresh_tokens(workbench_jobs::now()).await?;
        Ok(JobOutcome::affected(purged))
    }
}

/// `users.disable_inactive`: disables accounts inactive for `days`, through the same repository
/// call as an administrator's disabling (tokens revoked, audit entry in the same transaction),
/// and drops their cached principals on every instance.
pub struct DisableInactiveUsers {
    store: Arc<dyn AccountHousekeeping>,
    users: Arc<dyn UserRepository>,
    principals: Arc<dyn PrincipalCache>,
    days: u32,
}

impl std::fmt::Debug for DisableInactiveUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DisableInactiveUsers").field("days", &self.days).finish_non_exhaustive()
    }
}

impl DisableInactiveUsers {
    /// `days` of inactivity before an account is disabled; 0 switches the job into a no-op that
    /// says so.
    pub fn new(
        store: Arc<dyn AccountHousekeeping>,
        users: Arc<dyn UserRepository>,
        principals: Arc<dyn PrincipalCache>,
        days: u32,
    ) -> Self {
        Self { store, users, principals, days }
    }
}

#[async_trait]
impl JobHandler for DisableInactiveUsers {
    async fn run(&self, _job: &Job) -> Result<JobOutcome, JobFailure> {
        if self.days == 0 {
            return Ok(JobOutcome::skipped("INACTIVE_USER_DAYS is 0: accounts are never disabled for inactivity"));
        }
        let now = workbench_jobs::now();
        let cutoff = now - TimeDelta::days(i64::from(self.days));
        let system = ClientInfo { ip: None, user_agent: Some("workbench scheduler".to_owned()) };
        let mut disabled = 0u64;
        loop {
            let batch = self.store.inactive_users(cutoff, DISABLE_BATCH).await?;
            let done = batch.len() < DISABLE_BATCH;
            for id in batch {
                let audit = NewAuditEntry::new(AuditAction::StatusChanged, &system)
                    .on(id)
                    .with("from", UserStatus::Active.as_str())
                    .with("to", UserStatus::Disabled.as_str())
                    .with("reason", format!("inactive for {} days", self.days))
                    .at(now);
                if self
                    .users
                    .set_role_and_status(id, None, Some(UserStatus::Disabled), now, None, vec![audit])
                    .await?
                    .is_some()
                {
                    self.principals.invalidate(id).await;
                    disabled += 1;
                }
            }
            if done {
                break;
            }
        }
        if disabled > 0 {
            tracing::info!(disabled, days = self.days, "disabled inactive accounts");
        }
        Ok(JobOutcome::affected(disabled))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::Utc;
    use serde_json::json;
    use workbench_jobs::{JobId, JobState};
    use workbench_users::{MockPrincipalCache, MockUserRepository};

    use super::*;
    use crate::MockAccountHousekeeping;

    pub(crate) fn job(kind: &str) -> Job {
        let now = Utc::now();
        Job {
            id: JobId(1),
            kind: kind.into(),
            args: json!({}),
            priority: 0,
            state: JobState::Running,
            run_at: now,
            attempt: 1,
            max_attempts: 3,
            errors: vec![],
            unique_key: None,
            lease_owner: None,
            lease_until: None,
            created_at: now,
            attempted_at: Some(now),
            finished_at: None,
        }
    }

    #[tokio::test]
    async fn inactive_accounts_are_disabled_with_an_audit_entry_and_forgotten() {
        let mut store = MockAccountHousekeeping::new();
        store
            .expect_inactive_users()
            .withf(|cutoff, _| (Utc::now() - *cutoff).num_days() == 90)
            .returning(|_, _| Ok(vec![UserId(4), UserId(7)]));
        let mut users = MockUserRepository::new();
        users
            .expect_set_role_and_status()
            .withf(|_, role, status, _, expected, audit| {
                role.is_none()
                    && *status == Some(UserStatus::Disabled)
                    && expected.is_none()
                    && audit.len() == 1
                    && audit[0].details["reason"] == "inactive for 90 days"
            })
            .times(2)
            // User 7 was deleted meanwhile: nothing to disable, nothing counted.
            .returning(|id, _, status, at, _, _| Ok((id == UserId(4)).then(|| user(id, status.unwrap(), at))));
        let mut principals = MockPrincipalCache::new();
        principals.expect_invalidate().withf(|id| *id == UserId(4)).times(1).return_const(());
        let handler = DisableInactiveUsers::new(Arc::new(store), Arc::new(users), Arc::new(principals), 90);
        assert_eq!(handler.run(&job(DISABLE_INACTIVE_KIND)).await.unwrap().items_affected, Some(1));
    }

    fn user(id: UserId, status: UserStatus, at: DateTime<Utc>) -> workbench_users::User {
        workbench_users::User {
            id,
            username: "ann".into(),
            email: "ann@example.com".into(),
            role: workbench_users::Role::User,
            status,
            first_name: None,
            last_name: None,
            bio: None,
            avatar_url: None,
            totp_enabled: false,
            created_at: at,
            updated_at: at,
            token_generation: 2,
            version: 3,
        }
    }

    #[tokio::test]
    async fn zero_days_disables_nobody() {
        let mut store = MockAccountHousekeeping::new();
        store.expect_inactive_users().never();
        let handler = DisableInactiveUsers::new(
            Arc::new(store),
            Arc::new(MockUserRepository::new()),
            Arc::new(MockPrincipalCache::new()),
            0,
        );
        assert!(handler.run(&job(DISABLE_INACTIVE_KIND)).await.unwrap().skipped);
    }
}
