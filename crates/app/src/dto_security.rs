//! Wire shapes of two-factor authentication, OAuth sign-in and the audit trail.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use workbench_core::{FieldErrors, PageRequest, Validator};
use workbench_users::{AuditAction, AuditEntry, AuditQuery, Callback, RecoveryCode, TotpSetup, UserId};

use crate::dto_tasks::instant;

/// `POST /auth/totp/setup`: what an authenticator app needs. Shown only until TOTP is enabled.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetupResponse {
    /// The shared secret, base32, for typing into an app by hand.
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    pub secret: String,
    /// The same secret as an `otpauth://totp/...` URL, for a QR code.
    #[schema(example = "otpauth://totp/Workbench:ann%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Workbench")]
    pub otpauth_url: String,
}

impl From<TotpSetup> for TotpSetupResponse {
    fn from(s: TotpSetup) -> Self {
        Self { secret: s.secret, otpauth_url: s.otpauth_url }
    }
}

/// `POST /auth/totp/enable` and `POST /auth/totp/disable`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TotpCodeRequest {
    /// The current 6-digit code of the authenticator app (for `disable`, an unused recovery code
    /// works too).
    #[schema(value_type = String, required = true, example = "123456")]
    pub code: Option<String>,
}

impl TotpCodeRequest {
    pub fn code(self) -> Result<String, FieldErrors> {
        match self.code.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()) {
            Some(code) => Ok(code),
            None => Err(FieldErrors::single("code", "is required")),
        }
    }
}

/// `POST /auth/totp/enable`: the recovery codes, shown only this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesResponse {
    /// Ten single-use codes, each accepted once as `recovery_code` at login in place of a TOTP code.
    #[schema(example = json!(["abcd-efgh-jkmn-pqrs"]))]
    pub recovery_codes: Vec<String>,
}

impl From<Vec<RecoveryCode>> for RecoveryCodesResponse {
    fn from(codes: Vec<RecoveryCode>) -> Self {
        Self { recovery_codes: codes.iter().map(|c| c.expose().to_owned()).collect() }
    }
}

/// The query of `GET /auth/oauth/{provider}/callback`, as the provider sends it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OAuthCallbackQuery {
    /// The authorization code.
    pub code: Option<String>,
    /// The `state` this server sent with the redirect.
    pub state: Option<String>,
    /// Set by the provider instead of `code` when the person declined or the request was refused.
    pub error: Option<String>,
}

impl From<OAuthCallbackQuery> for Callback {
    fn from(q: OAuthCallbackQuery) -> Self {
        Callback { code: q.code, state: q.state, error: q.error }
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
    /// Only entries of this action: `login`, `login_failed`, `logout`, `refresh_token_reuse`,
    /// `password_changed`, `role_changed`, `status_changed`, `user_deleted`, `totp_enabled`,
    /// `totp_disabled`, `recovery_code_used` or `oauth_linked`.
    pub action: Option<String>,
    /// Only entries at or after this instant: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[serde(default, deserialize_with = "instant")]
    #[param(value_type = Option<String>)]
    pub since: Option<DateTime<Utc>>,
    #[param(minimum = 1, default = 1)]
    pub page: Option<u64>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u64>,
}

impl AuditListQuery {
    /// The domain query, or a `422` naming every parameter outside its allowed values.
    pub fn into_query(self) -> Result<AuditQuery, FieldErrors> {
        let mut v = Validator::default();
        let action = v.optional("action", self.action, |a: String| AuditAction::parse(a.trim()));
        let page = PageRequest::new(self.page, self.per_page);
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
