//! Who a CalDAV request comes from: HTTP Basic with a personal access token as the password (an
//! app password), or `Authorization: Bearer` with one. The account's own password is never
//! accepted here, so a second factor cannot be stepped around through a task app; failures
//! count against the sign-in limit of the client's address.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use base64::Engine;
use workbench_tokens::{Scope, Scopes, is_personal_token};
use workbench_users::Principal;

use super::errors::DavError;
use crate::limits::{Limits, address_bucket, client_address};
use crate::state::AppState;

/// The caller of a CalDAV request and what their token allows.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub scopes: Scopes,
}

impl Caller {
    /// Refuses what the token's scopes do not allow.
    pub fn needs(&self, scope: Scope) -> Result<(), DavError> {
        if self.scopes.grants(scope) {
            Ok(())
        } else {
            Err(DavError::need_privileges(format!("this token lacks the {} scope", scope.as_str())))
        }
    }
}

/// The caller of `req`, or the 401 (or 429, once this address failed too often) to answer.
pub async fn caller(req: &HttpRequest, state: &AppState, names: &KnownNames) -> Result<Caller, DavError> {
    match credentials(req) {
        None => Err(DavError::unauthorized("Sign in with your username and a personal access token.")),
        Some(presented) => match check(state, names, presented).await {
            Ok(caller) => Ok(caller),
            Err(Refusal::Invalid) => Err(failed(req).await),
            Err(Refusal::Store(e)) => Err(e),
        },
    }
}

/// What the `Authorization` header presents: an optional user name and the secret.
struct Presented {
    user: Option<String>,
    secret: String,
}

fn credentials(req: &HttpRequest) -> Option<Presented> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(Presented { user: None, secret: rest.to_owned() });
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, secret) = decoded.split_once(':')?;
    Some(Presented { user: Some(user.to_owned()), secret: secret.to_owned() })
}

/// The user names each account was seen to answer to, for a minute: a task app sends its user
/// name with every request, and reading the account each time would double what a sync costs.
/// Only matches are kept; a renamed account's old name is taken for at most that minute (the token
/// is the credential; the name only has to be its account's). One per worker, bounded.
#[derive(Debug, Default)]
pub struct KnownNames(Mutex<HashMap<(i64, String), Instant>>);

impl KnownNames {
    const FOR: Duration = Duration::from_secs(60);
    const MAX: usize = 10_000;

    fn holds(&self, key: &(i64, String)) -> bool {
        let known = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        known.get(key).is_some_and(|seen| seen.elapsed() < Self::FOR)
    }

    fn note(&self, key: (i64, String)) {
        let mut known = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if known.len() >= Self::MAX {
            known.retain(|_, seen| seen.elapsed() < Self::FOR);
            if known.len() >= Self::MAX {
                known.clear();
            }
        }
        known.insert(key, Instant::now());
    }
}

enum Refusal {
    Invalid,
    Store(DavError),
}

async fn check(state: &AppState, names: &KnownNames, presented: Presented) -> Result<Caller, Refusal> {
    // Anything but a personal access token (an account password above all) is refused unread.
    if !is_personal_token(&presented.secret) {
        return Err(Refusal::Invalid);
    }
    let caller = state.tokens.authenticate(&presented.secret).await.map_err(|e| match e {
        workbench_tokens::TokenError::Unknown(cause) => Refusal::Store(DavError::internal(cause)),
        _ => Refusal::Invalid,
    })?;
    if let Some(user) = presented.user.filter(|u| !u.is_empty()) {
        // The token must be the named account's: a user name that is not its owner's is a failure.
        let key = (caller.principal.id.0, user.to_lowercase());
        if !names.holds(&key) {
            let account = state.users.me(&caller.principal).await.map_err(|_| Refusal::Invalid)?;
            let named = user.eq_ignore_ascii_case(&account.username) || user.eq_ignore_ascii_case(&account.email);
            if !named {
                return Err(Refusal::Invalid);
            }
            names.note(key);
        }
    }
    Ok(Caller { principal: caller.principal, scopes: caller.scopes })
}

/// The answer to a failed sign-in: a 401, counted against the address's sign-in limit (429 once
/// it is spent, as a sign-in would be).
async fn failed(req: &HttpRequest) -> DavError {
    let unauthorized = DavError::unauthorized("The user name or the personal access token is not valid.");
    let Some(limits) = req.app_data::<web::Data<Limits>>() else { return unauthorized };
    let Some(policy) = limits.auth else { return unauthorized };
    let address = client_address(req).unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    let decision = limits.limiter.check(&policy, &address_bucket(address)).await;
    if decision.allowed { unauthorized } else { DavError::too_many(&decision) }
}
