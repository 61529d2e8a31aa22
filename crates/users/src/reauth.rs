//! Reauthentication: proving, over a signed-in session, that its holder is the account's owner,
//! before an action that a session alone (a borrowed laptop, a stolen access token) must not be
//! enough for: turning two-factor sign-in on or off, making a personal access token.
//!
//! The proof is the account's current password, named as the field `password` when it is
//! missing or wrong, with the request's other fields. An account without one (made through a
//! sign-in provider alone) has nothing to type: where an action needs a proof all the same (a
//! personal access token, which outlives the session by up to a year), a sign-in within the last
//! [`RECENT_SIGN_IN`] stands in for it. That is the sign-in of the session the request's access
//! token was issued under (its `sid`): it must be the caller's, not ended, and have happened that
//! recently; refreshing keeps a session's sign-in time, so a thief holding a session cannot
//! make it recent.
//!
//! Every request that confirms a password draws from its account's sign-in rate-limit bucket
//! where requests are admitted, so a stolen session guesses the password no faster than a login.

use std::sync::Arc;

use chrono::Duration;
use workbench_core::Validator;

use crate::{PasswordHasher, RefreshTokenStore, UserId, UserRepository, now};

/// How recent the sign-in of an account without a password must be to stand in for it.
pub const RECENT_SIGN_IN: Duration = Duration::minutes(10);

/// What a missing current password is called, wherever one is asked for.
pub(crate) const PASSWORD_REQUIRED: &str = "is required: the current password of the account";
/// What a wrong current password is called, wherever one is asked for.
pub(crate) const PASSWORD_WRONG: &str = "is not the current password";

/// Names `password` in `v` when account `id` has a password and `password` is missing or not it;
/// answers whether the account has one. An empty string is a missing password.
pub(crate) async fn check_current_password(
    users: &dyn UserRepository,
    hasher: &dyn PasswordHasher,
    id: UserId,
    password: Option<&str>,
    v: &mut Validator,
) -> anyhow::Result<bool> {
    let Some(hash) = users.password_hash(id).await? else { return Ok(false) };
    match password.filter(|p| !p.is_empty()) {
        None => v.fail("password", PASSWORD_REQUIRED),
        Some(password) => {
            if !hasher.verify(password, Some(hash)).await? {
                v.fail("password", PASSWORD_WRONG);
            }
        }
    }
    Ok(true)
}

/// Why a proof of ownership was refused, beyond a field of the request.
#[derive(Debug, thiserror::Error)]
pub enum ReauthError {
    /// The account has no password, and the session behind the request did not begin within
    /// [`RECENT_SIGN_IN`] (or has ended, or is not known): only signing in again proves it.
    #[error("the account has no password and its sign-in is not recent: sign in again")]
    SignInRequired,
    /// The account or its session could not be read.
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

impl From<workbench_core::RepositoryError> for ReauthError {
    fn from(e: workbench_core::RepositoryError) -> Self {
        Self::Unknown(e.into())
    }
}

/// Checks that the holder of a session is the account's owner (see the module).
#[derive(Clone)]
pub struct Reauthentication {
    users: Arc<dyn UserRepository>,
    sign_ins: Arc<dyn RefreshTokenStore>,
    hasher: Arc<dyn PasswordHasher>,
}

impl std::fmt::Debug for Reauthentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reauthentication").finish_non_exhaustive()
    }
}

impl Reauthentication {
    /// The check over the accounts in `users` (their password hashes, compared by `hasher`) and
    /// the sessions in `sign_ins` (when each began).
    pub fn new(
        users: Arc<dyn UserRepository>,
        sign_ins: Arc<dyn RefreshTokenStore>,
        hasher: Arc<dyn PasswordHasher>,
    ) -> Self {
        Self { users, sign_ins, hasher }
    }

    /// Proves that `user`, calling over the session `session_id`, owns the account. With a
    /// password, `password` must be it, else `password` is named in `v` (the caller reports it
    /// with the request's other fields). Without one, the session must be a sign-in of `user`
    /// that has not ended and happened within [`RECENT_SIGN_IN`], else
    /// [`ReauthError::SignInRequired`], whatever the fields say.
    pub async fn confirm(
        &self,
        user: UserId,
        session_id: Option<&str>,
        password: Option<&str>,
        v: &mut Validator,
    ) -> Result<(), ReauthError> {
        if check_current_password(self.users.as_ref(), self.hasher.as_ref(), user, password, v).await? {
            return Ok(());
        }
        let Some(session_id) = session_id else { return Err(ReauthError::SignInRequired) };
        let sign_in = self.sign_ins.sign_in(session_id).await?;
        let recent = sign_in.is_some_and(|s| s.user_id == user && !s.ended && s.signed_in_at > now() - RECENT_SIGN_IN);
        if recent { Ok(()) } else { Err(ReauthError::SignInRequired) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MockPasswordHasher, MockRefreshTokenStore, MockUserRepository, SignIn};

    /// A service for an account whose password is `password` (none when `None`), with `sign_in`
    /// as the only session there is.
    fn service(password: Option<&'static str>, sign_in: Option<SignIn>) -> Reauthentication {
        let mut users = MockUserRepository::new();
        users.expect_password_hash().returning(move |_| Ok(password.map(|p| format!("hash of {p}"))));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|typed, hash| Ok(hash == Some(format!("hash of {typed}"))));
        let mut sign_ins = MockRefreshTokenStore::new();
        sign_ins.expect_sign_in().returning(move |family| Ok(sign_in.clone().filter(|_| family == "fam")));
        Reauthentication::new(Arc::new(users), Arc::new(sign_ins), Arc::new(hasher))
    }

    fn signed_in(user: i64, ago: Duration, ended: bool) -> Option<SignIn> {
        Some(SignIn { user_id: UserId(user), signed_in_at: now() - ago, ended })
    }

    /// What `confirm` says: `Ok` with the failing fields, or the refusal.
    async fn confirm(
        svc: &Reauthentication,
        session: Option<&str>,
        password: Option<&str>,
    ) -> Result<Vec<(String, String)>, ReauthError> {
        let mut v = Validator::default();
        svc.confirm(UserId(1), session, password, &mut v).await?;
        Ok(v.finish()
            .err()
            .map(|e| e.into_vec().into_iter().map(|e| (e.field, e.message)).collect())
            .unwrap_or_default())
    }

    #[tokio::test]
    async fn an_account_with_a_password_must_send_it_whatever_its_session() {
        let svc = service(Some("secret words"), signed_in(1, Duration::seconds(5), false));
        let named = |message: &str| vec![("password".to_owned(), message.to_owned())];
        assert_eq!(
            confirm(&svc, Some("fam"), None).await.unwrap(),
            named(PASSWORD_REQUIRED),
            "a new sign-in is no proof"
        );
        assert_eq!(confirm(&svc, Some("fam"), Some("")).await.unwrap(), named(PASSWORD_REQUIRED));
        assert_eq!(confirm(&svc, None, Some("guess")).await.unwrap(), named(PASSWORD_WRONG));
        assert!(confirm(&svc, None, Some("secret words")).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_account_without_one_needs_a_recent_live_sign_in_of_its_own() {
        let ok = |svc: Reauthentication| async move { confirm(&svc, Some("fam"), None).await.is_ok() };
        assert!(ok(service(None, signed_in(1, Duration::minutes(9), false))).await);
        let svc = service(None, signed_in(1, Duration::minutes(9), false));
        assert!(confirm(&svc, Some("fam"), Some("anything")).await.unwrap().is_empty(), "a password sent is ignored");
        assert!(!ok(service(None, signed_in(1, Duration::minutes(11), false))).await, "too long ago");
        assert!(!ok(service(None, signed_in(1, Duration::minutes(1), true))).await, "signed out");
        assert!(!ok(service(None, signed_in(2, Duration::minutes(1), false))).await, "someone else's");
        assert!(!ok(service(None, None)).await, "no such session");
        let svc = service(None, signed_in(1, Duration::minutes(1), false));
        assert!(matches!(confirm(&svc, None, None).await, Err(ReauthError::SignInRequired)), "a token without `sid`");
        assert!(matches!(confirm(&svc, Some("other"), Some("x")).await, Err(ReauthError::SignInRequired)));
    }
}
