//! The audit trail: an append-only record of security-relevant actions, for administrators.
//!
//! Each entry names who acted (`actor_id`), on whom (`target_id`), from where (IP and user agent)
//! and what happened (`action`, with `details`). Entries of an action that changes something are
//! handed to the repository method making the change, so that the change and its record are
//! written in one transaction: there is never a change without its entry, or the reverse.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use workbench_core::PageRequest;

use crate::UserId;

/// What a client told us about itself, recorded with every audit entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The peer address of the connection.
    pub ip: Option<String>,
    /// The client's `User-Agent`, at most 512 bytes of it.
    pub user_agent: Option<String>,
}

/// The kinds of recorded actions. The wire names are stable: administrators filter on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A successful sign-in, by password or through an OAuth provider.
    Login,
    /// A refused sign-in: unknown email, wrong password, disabled account or missing second factor.
    LoginFailed,
    /// A sign-out: the session's refresh token was revoked.
    Logout,
    /// An already-exchanged refresh token was presented again; its family was revoked.
    RefreshTokenReuse,
    /// A password was changed by its owner.
    PasswordChanged,
    /// An administrator changed an account's role (`details`: `from`, `to`).
    RoleChanged,
    /// An administrator disabled or enabled an account (`details`: `from`, `to`).
    StatusChanged,
    /// An account was deleted.
    UserDeleted,
    /// Two-factor sign-in was turned on.
    TotpEnabled,
    /// Two-factor sign-in was turned off.
    TotpDisabled,
    /// A recovery code was spent in place of a TOTP code.
    RecoveryCodeUsed,
    /// An OAuth identity was attached to an account (a new one, or an existing one by verified email).
    OauthLinked,
    /// An owned item changed owner through an accepted trade (`details`: item, trade, from, to).
    OwnershipTransferred,
    /// A personal access token was made (`details`: token id, name, scopes, expiry).
    TokenCreated,
    /// A personal access token was revoked by its user (`details`: token id).
    TokenRevoked,
}

impl AuditAction {
    /// Every action, for listing and parsing.
    pub const ALL: [AuditAction; 15] = [
        AuditAction::Login,
        AuditAction::LoginFailed,
        AuditAction::Logout,
        AuditAction::RefreshTokenReuse,
        AuditAction::PasswordChanged,
        AuditAction::RoleChanged,
        AuditAction::StatusChanged,
        AuditAction::UserDeleted,
        AuditAction::TotpEnabled,
        AuditAction::TotpDisabled,
        AuditAction::RecoveryCodeUsed,
        AuditAction::OauthLinked,
        AuditAction::OwnershipTransferred,
        AuditAction::TokenCreated,
        AuditAction::TokenRevoked,
    ];

    /// The action's wire name (`login_failed`): stable, since administrators filter on it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login_failed",
            AuditAction::Logout => "logout",
            AuditAction::RefreshTokenReuse => "refresh_token_reuse",
            AuditAction::PasswordChanged => "password_changed",
            AuditAction::RoleChanged => "role_changed",
            AuditAction::StatusChanged => "status_changed",
            AuditAction::UserDeleted => "user_deleted",
            AuditAction::TotpEnabled => "totp_enabled",
            AuditAction::TotpDisabled => "totp_disabled",
            AuditAction::RecoveryCodeUsed => "recovery_code_used",
            AuditAction::OauthLinked => "oauth_linked",
            AuditAction::OwnershipTransferred => "ownership_transferred",
            AuditAction::TokenCreated => "token_created",
            AuditAction::TokenRevoked => "token_revoked",
        }
    }

    /// The action named `s`, or the message a `422` carries naming every valid one.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|a| a.as_str()).collect();
            format!("must be one of {}", names.join(", "))
        })
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An entry to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// What was done.
    pub action: AuditAction,
    /// Who did it, when known (`None` for a refused sign-in of an unknown email).
    pub actor_id: Option<UserId>,
    /// Whose account it was about, if any.
    pub target_id: Option<UserId>,
    /// The client's address (see [`ClientInfo::ip`]).
    pub ip: Option<String>,
    /// The client's `User-Agent`, bounded.
    pub user_agent: Option<String>,
    /// A JSON object with what else is worth knowing (`{"from": "user", "to": "admin"}`).
    pub details: Map<String, Value>,
    /// When it was done.
    pub at: DateTime<Utc>,
}

/// User agents are client-controlled: keep what is useful and bound what is stored.
const MAX_USER_AGENT: usize = 512;

impl NewAuditEntry {
    /// An entry for `action`, made now by the client described by `client`.
    pub fn new(action: AuditAction, client: &ClientInfo) -> Self {
        let user_agent = client.user_agent.as_deref().map(|ua| {
            let mut end = ua.len().min(MAX_USER_AGENT);
            while !ua.is_char_boundary(end) {
                end -= 1;
            }
            ua[..end].to_owned()
        });
        Self {
            action,
            actor_id: None,
            target_id: None,
            ip: client.ip.clone(),
            user_agent,
            details: Map::new(),
            at: crate::now(),
        }
    }

    /// Who acted.
    pub fn by(mut self, actor: UserId) -> Self {
        self.actor_id = Some(actor);
        self
    }

    /// Whose account the action was about.
    pub fn on(mut self, target: UserId) -> Self {
        self.target_id = Some(target);
        self
    }

    /// One more detail.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// The same entry at another time, for actions whose change is stamped with a given instant.
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = at;
        self
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// The entry's id: entries are appended in this order.
    pub id: i64,
    /// What was done.
    pub action: AuditAction,
    /// Who did it, when known.
    pub actor_id: Option<UserId>,
    /// Whose account it was about, if any.
    pub target_id: Option<UserId>,
    /// The client's address.
    pub ip: Option<String>,
    /// The client's `User-Agent`, bounded.
    pub user_agent: Option<String>,
    /// A JSON object with what else is worth knowing.
    pub details: Map<String, Value>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// Which entries to list: newest first, filtered by any of the fields set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    /// Only the entries of this actor.
    pub actor_id: Option<UserId>,
    /// Only the entries of this action.
    pub action: Option<AuditAction>,
    /// Entries at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Which page of the matching entries.
    pub page: PageRequest,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Ok(action));
            assert_eq!(serde_json::to_value(action).unwrap(), Value::String(action.as_str().into()));
        }
        assert!(AuditAction::parse("lunch").unwrap_err().contains("login_failed"));
    }

    #[test]
    fn long_user_agents_are_cut_on_a_character_boundary() {
        let client = ClientInfo { ip: None, user_agent: Some("é".repeat(400)) };
        let entry = NewAuditEntry::new(AuditAction::Login, &client);
        let ua = entry.user_agent.unwrap();
        assert!(ua.len() <= MAX_USER_AGENT);
        assert!(ua.chars().all(|c| c == 'é'));
    }
}
