//! The administrators' dashboard: how big the platform is and how busy it is today.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use workbench_core::RepositoryError;

use crate::{Principal, UserError};

/// The dashboard's figures, as of one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlatformCounts {
    /// Every account, active or not.
    pub users: u64,
    /// Every task.
    pub tasks: u64,
    /// Every product of the catalogue.
    pub products: u64,
    /// Every stored file.
    pub files: u64,
    /// Accounts created since the start of the UTC day.
    pub new_users_today: u64,
    /// Sign-ins that can still be refreshed: refresh-token families with a token that is neither
    /// used, revoked nor expired.
    pub active_sessions: u64,
}

/// Counts across the platform's tables.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PlatformCensus: Send + Sync {
    /// Every figure of [`PlatformCounts`], read in one consistent go where the store allows:
    /// `new_users_today` counts accounts created at or after `day_start`, `active_sessions`
    /// families live at `now`.
    async fn counts(&self, day_start: DateTime<Utc>, now: DateTime<Utc>) -> Result<PlatformCounts, RepositoryError>;
}

/// The dashboard, for administrators only.
#[derive(Clone)]
pub struct DashboardService {
    census: Arc<dyn PlatformCensus>,
}

impl std::fmt::Debug for DashboardService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardService").finish_non_exhaustive()
    }
}

impl DashboardService {
    /// The dashboard over the platform's tables, counted by `census`.
    pub fn new(census: Arc<dyn PlatformCensus>) -> Self {
        Self { census }
    }

    /// The figures as of `now`; "today" is the UTC calendar day of `now`.
    pub async fn counts(&self, viewer: &Principal, now: DateTime<Utc>) -> Result<PlatformCounts, UserError> {
        if !viewer.role.is_admin() {
            return Err(UserError::Forbidden("only administrators may read the dashboard"));
        }
        let day_start = now.date_naive().and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        Ok(self.census.counts(day_start, now).await?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use mockall::predicate::eq;

    use super::*;
    use crate::{Role, UserId, UserStatus};

    fn principal(role: Role) -> Principal {
        Principal { id: UserId(1), role, status: UserStatus::Active, token_generation: 0 }
    }

    #[tokio::test]
    async fn today_starts_at_midnight_utc() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 23, 59, 59).unwrap();
        let midnight = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
        let mut census = MockPlatformCensus::new();
        census
            .expect_counts()
            .with(eq(midnight), eq(now))
            .returning(|_, _| Ok(PlatformCounts { users: 3, new_users_today: 1, ..PlatformCounts::default() }));
        let counts = DashboardService::new(Arc::new(census)).counts(&principal(Role::Admin), now).await.unwrap();
        assert_eq!((counts.users, counts.new_users_today), (3, 1));
    }

    #[tokio::test]
    async fn only_administrators_may_read_it() {
        let service = DashboardService::new(Arc::new(MockPlatformCensus::new()));
        for role in [Role::User, Role::Moderator] {
            let refused = service.counts(&principal(role), Utc::now()).await;
            assert!(matches!(refused, Err(UserError::Forbidden(_))), "{role:?}");
        }
    }
}
