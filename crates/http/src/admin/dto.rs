//! Wire shapes of account administration and the audit trail.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use workbench_core::{FieldErrors, PageRequest, Validator};
use workbench_users::{AdminChanges, AuditAction, AuditEntry, AuditQuery, PlatformCounts, Role, UserId, UserStatus};

use crate::body::{Instant, instant, present};
use crate::pagination::{PageNumberSchema, PageSizeSchema};

/// `PATCH /admin/users/{id}`: either field may be left out, neither cleared.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AdminUpdateRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Role)]
    pub role: Option<Option<Role>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = UserStatus)]
    pub status: Option<Option<UserStatus>>,
}

impl TryFrom<AdminUpdateRequest> for AdminChanges {
    type Error = FieldErrors;
    /// `null` for either is refused, naming it: an account always has a role and a status.
    fn try_from(r: AdminUpdateRequest) -> Result<Self, FieldErrors> {
        fn given<T>(v: &mut Validator, field: &str, raw: Option<Option<T>>) -> Option<T> {
            if matches!(raw, Some(None)) {
                v.fail(field, "must not be null");
            }
            raw.flatten()
        }
        let mut v = Validator::default();
        let changes = AdminChanges { role: given(&mut v, "role", r.role), status: given(&mut v, "status", r.status) };
        v.finish().map(|()| changes)
    }
}

/// One entry of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryResponse {
    pub id: i64,
    pub action: AuditAction,
    /// Who acted; absent for anonymous actions such as a failed login with an unknown email.
    pub actor_id: Option<i64>,
    /// Whose account the action was about.
    pub target_id: Option<i64>,
    /// The peer address of the connection.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// What else is worth knowing: `{"from": "user", "to": "admin"}`, `{"reason": "wrong_password"}`, ...
    #[schema(value_type = Object)]
    pub details: Map<String, Value>,
    pub created_at: DateTime<Utc>,
}

impl From<AuditEntry> for AuditEntryResponse {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            action: e.action,
            actor_id: e.actor_id.map(|id| id.0),
            target_id: e.target_id.map(|id| id.0),
            ip: e.ip,
            user_agent: e.user_agent,
            details: e.details,
            created_at: e.created_at,
        }
    }
}

/// The query of `GET /admin/audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditListQuery {
    /// Only entries of this actor.
    pub actor_id: Option<i64>,
    /// Only entries of this action (surrounding whitespace is ignored).
    #[param(value_type = Option<AuditAction>, inline)]
    pub action: Option<String>,
    /// Only entries at or after this instant: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[serde(default, deserialize_with = "instant")]
    #[param(value_type = Option<Instant>, inline)]
    pub since: Option<DateTime<Utc>>,
    /// Page number, from 1.
    #[param(value_type = Option<PageNumberSchema>, inline)]
    pub page: Option<i64>,
    /// Items per page, from 1; more than 100 is read as 100. Default 20.
    #[param(value_type = Option<PageSizeSchema>, inline)]
    pub per_page: Option<i64>,
}

impl AuditListQuery {
    /// The domain query, or a `422` naming every parameter outside its allowed values.
    pub fn into_query(self) -> Result<AuditQuery, FieldErrors> {
        let mut v = Validator::default();
        let action = v.optional("action", self.action, |a: String| AuditAction::parse(a.trim()));
        let page = PageRequest::from_signed(self.page, self.per_page);
        let mut errors = v.finish().err().map(FieldErrors::into_vec).unwrap_or_default();
        if let Err(page_errors) = &page {
            errors.extend(page_errors.as_slice().iter().cloned());
        }
        if let Some(errors) = FieldErrors::from_vec(errors) {
            return Err(errors);
        }
        Ok(AuditQuery {
            actor_id: self.actor_id.map(UserId),
            action: action.ok().flatten(),
            since: self.since,
            page: page.unwrap_or_default(),
        })
    }
}

/// `GET /admin/dashboard`: how big the platform is and how busy it is today.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardResponse {
    pub users_count: u64,
    pub tasks_count: u64,
    pub products_count: u64,
    pub files_count: u64,
    /// Accounts created since midnight UTC.
    pub new_users_today: u64,
    /// Live sign-ins: refresh-token families that can still be refreshed.
    pub active_sessions: u64,
}

impl From<PlatformCounts> for DashboardResponse {
    fn from(c: PlatformCounts) -> Self {
        Self {
            users_count: c.users,
            tasks_count: c.tasks,
            products_count: c.products,
            files_count: c.files,
            new_users_today: c.new_users_today,
            active_sessions: c.active_sessions,
        }
    }
}
