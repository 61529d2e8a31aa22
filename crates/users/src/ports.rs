//! What the accounts domain needs from the outside world. Each method's doc says what an adapter
//! MUST do; every adapter is tested against that contract.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use workbench_core::{Page, PageRequest, RepositoryError};

use crate::audit::{AuditEntry, AuditQuery, NewAuditEntry};
use crate::oauth::{
    AuthorizationRequest, ExternalIdentity, ExternalProfile, LogoutRequest, PendingAuthorization, ProviderError,
};
use crate::provider::OAuthProviderName;
use crate::tokens::{
    AccessClaims, AccessToken, InvalidAccessToken, NewRefreshToken, RefreshTokenRecord, SignIn, TokenHash,
};
use crate::two_factor::{PendingSecondFactor, TotpState};
use crate::{Email, NewUser, ProfileChanges, Role, User, UserId, UserStatus, Username};

/// Which users to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Case-insensitive substring of username, first or last name.
    pub search: Option<String>,
    /// Whether `search` also matches email addresses (only for admins).
    pub search_email: bool,
    /// Leave this user out (the caller, for assignee pickers).
    pub exclude: Option<UserId>,
    /// Only active accounts.
    pub only_active: bool,
    /// Which page of the matching accounts, ordered by id.
    pub page: PageRequest,
}

/// Where accounts live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new account. MUST return `Conflict { field: "email" }` or
    /// `Conflict { field: "username" }` when either is taken (usernames compared case-insensitively).
    async fn create(&self, user: NewUser) -> Result<User, RepositoryError>;

    /// The account with this id, if any.
    async fn find(&self, id: UserId) -> Result<Option<User>, RepositoryError>;

    /// The account with this username, compared without regard to case, if any.
    async fn find_by_username(&self, username: &Username) -> Result<Option<User>, RepositoryError>;

    /// The account with this (already lower-cased) email and its password hash, if it has one.
    async fn find_for_login(&self, email: &Email) -> Result<Option<(User, Option<String>)>, RepositoryError>;

    /// The stored password hash of an account, if it has one.
    async fn password_hash(&self, id: UserId) -> Result<Option<String>, RepositoryError>;

    /// One page of accounts, ordered by id, and the total matching `query`.
    async fn list(&self, query: UserQuery) -> Result<Page<User>, RepositoryError>;

    /// The first page of [`UserRepository::list`] without the total: what a search that shows a
    /// few needs, and cheaper when many accounts match (the store can stop at the page's end).
    async fn first_matching(&self, query: UserQuery) -> Result<Vec<User>, RepositoryError>;

    /// Applies profile changes and bumps `updated_at` and `version`. With `expected`, changes
    /// nothing unless the account is at that version. Returns `None` when there is no such user
    /// (or it is not at `expected`). MUST return `Conflict { field: "username" }` when the new
    /// username is taken.
    async fn update_profile(
        &self,
        id: UserId,
        changes: ProfileChanges,
        at: DateTime<Utc>,
        expected: Option<i64>,
    ) -> Result<Option<User>, RepositoryError>;

    /// Replaces the password hash, revokes every refresh token of the user and appends `audit`,
    /// all in one transaction.
    async fn change_password(
        &self,
        id: UserId,
        hash: String,
        at: DateTime<Utc>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<(), RepositoryError>;

    /// Changes role and/or status, bumps `version` and appends `audit`, in one transaction.
    /// Disabling MUST also revoke every refresh token of the user, start a new token generation,
    /// and cancel every open trade the user proposed or was proposed (each with its
    /// `trade.cancelled` event), in that transaction. With `expected`, changes nothing unless the
    /// account is at that version.
    /// Returns `None` (and records nothing) when there is no such user (or it is not at
    /// `expected`).
    async fn set_role_and_status(
        &self,
        id: UserId,
        role: Option<Role>,
        status: Option<UserStatus>,
        at: DateTime<Utc>,
        expected: Option<i64>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Option<User>, RepositoryError>;

    /// Deletes the account and everything that belongs only to it, and appends `audit`, in one
    /// transaction. With `expected`, deletes nothing unless the account is at that version.
    /// Returns whether it deleted (nothing is recorded when it did not).
    async fn delete(
        &self,
        id: UserId,
        expected: Option<i64>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<bool, RepositoryError>;

    /// The account an external identity is linked to: `provider` is the identity's namespace
    /// ([`ExternalIdentity::provider`]: `google`, `github` or an OpenID Connect issuer).
    async fn find_by_identity(&self, provider: &str, subject: &str) -> Result<Option<User>, RepositoryError>;

    /// Stores a new account (as [`Self::create`]) together with its first external identity and
    /// `audit`, in one transaction. Entries without an actor or target get the new account's id.
    async fn create_with_identity(
        &self,
        user: NewUser,
        identity: ExternalIdentity,
        audit: Vec<NewAuditEntry>,
    ) -> Result<User, RepositoryError>;

    /// Links an external identity to an existing account and appends `audit`, in one transaction.
    /// MUST return `Conflict { field: "identity" }` when the identity is already linked.
    async fn link_identity(
        &self,
        id: UserId,
        identity: ExternalIdentity,
        audit: Vec<NewAuditEntry>,
    ) -> Result<(), RepositoryError>;

    /// The account's TOTP secret and state; `None` when there is no such user.
    async fn totp_state(&self, id: UserId) -> Result<Option<TotpState>, RepositoryError>;

    /// Stores a new, not yet enabled, TOTP secret. MUST store nothing and return `false` when TOTP
    /// is already enabled, so that an enabled secret is never replaced or revealed.
    async fn set_pending_totp(&self, id: UserId, secret: String, at: DateTime<Utc>) -> Result<bool, RepositoryError>;

    /// Turns TOTP on with the pending secret: records `used_step` (if any) as the last used step,
    /// replaces the recovery codes with `recovery_codes` (hashes) and appends `audit`, in one
    /// transaction. MUST change nothing and return `false` when TOTP is already on or no secret
    /// is pending.
    async fn enable_totp(
        &self,
        id: UserId,
        used_step: Option<i64>,
        recovery_codes: Vec<TokenHash>,
        at: DateTime<Utc>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<bool, RepositoryError>;

    /// Turns TOTP off, forgetting the secret and the recovery codes, and appends `audit`, in one
    /// transaction.
    async fn disable_totp(
        &self,
        id: UserId,
        at: DateTime<Utc>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<(), RepositoryError>;

    /// Records that the code of time step `step` was used. MUST return `false` (and change
    /// nothing) unless `step` is later than every step used before, so that a code works once.
    async fn use_totp_step(&self, id: UserId, step: i64) -> Result<bool, RepositoryError>;

    /// Spends a recovery code. MUST return `false` when the user has no unused code with this
    /// hash; of two concurrent uses of one code, exactly one succeeds.
    async fn use_recovery_code(&self, id: UserId, code: &TokenHash, at: DateTime<Utc>)
    -> Result<bool, RepositoryError>;

    /// Counts a wrong second factor. At the `limit`-th failure in a row the second factor locks
    /// until `lock_until` and the count starts over; returns when it is locked until, if it is.
    async fn record_second_factor_failure(
        &self,
        id: UserId,
        limit: u32,
        lock_until: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, RepositoryError>;

    /// Forgets the wrong second factors counted so far (after a right one).
    async fn clear_second_factor_failures(&self, id: UserId) -> Result<(), RepositoryError>;

    /// How many unused recovery codes the user has left.
    async fn recovery_codes_left(&self, id: UserId) -> Result<u32, RepositoryError>;
}

/// Where refresh tokens live, only as hashes.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    /// Stores a new token, and the `audit` of the sign-in that made it, in one transaction.
    async fn insert(&self, token: NewRefreshToken, audit: Vec<NewAuditEntry>) -> Result<(), RepositoryError>;

    /// The token with this hash, used, revoked or expired alike.
    async fn find(&self, hash: &TokenHash) -> Result<Option<RefreshTokenRecord>, RepositoryError>;

    /// Atomically marks token `used` as used at `at` and stores `next` in its place. MUST store
    /// nothing and return `false` when `used` was already used or revoked, so that two requests
    /// racing with the same token cannot both succeed.
    async fn rotate(&self, used: i64, next: NewRefreshToken, at: DateTime<Utc>) -> Result<bool, RepositoryError>;

    /// Revokes every token of a family that is not revoked yet and appends `audit`, in one
    /// transaction.
    async fn revoke_family(
        &self,
        family_id: &str,
        at: DateTime<Utc>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<(), RepositoryError>;

    /// The session `family_id` names (see [`SignIn`]); `None` when no token of it is left.
    async fn sign_in(&self, family_id: &str) -> Result<Option<SignIn>, RepositoryError>;

    /// A family's token was presented again, so it was stolen: revokes the family as
    /// [`Self::revoke_family`] does, moves `user`'s token generation on, so that every access
    /// token issued before (the thief's among them) stops working, deletes every credential
    /// `user` made from that session that would outlive those access tokens (personal access
    /// tokens, which name the session they were made from), and appends `audit`, all in one
    /// transaction. Each audit entry MUST name the personal access tokens deleted
    /// (`revoked_token_ids`). The caller then invalidates `user`'s principal, which every cache
    /// of those credentials follows.
    async fn revoke_stolen_family(
        &self,
        family_id: &str,
        user: UserId,
        at: DateTime<Utc>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<(), RepositoryError>;

    /// Revokes every token of a user that is not revoked yet.
    async fn revoke_all_for_user(&self, user_id: UserId, at: DateTime<Utc>) -> Result<(), RepositoryError>;

    /// Revokes the families started from a provider's sign-in session: those of `issuer` whose
    /// provider session is `sid` (and, when `subject` is given too, whose person is `subject`),
    /// appends one `audit` entry per family ended (its actor and target filled in with the
    /// family's user), all in one transaction. Returns the families ended, with their users.
    async fn end_provider_session(
        &self,
        issuer: &str,
        sid: &str,
        subject: Option<String>,
        at: DateTime<Utc>,
        audit: NewAuditEntry,
    ) -> Result<Vec<(String, UserId)>, RepositoryError>;

    /// Ends every session of `user`: revokes all its tokens and moves its token generation on,
    /// so that every access token issued before stops working, and appends `audit`, in one
    /// transaction. The caller then invalidates the user's principal.
    async fn end_every_session(
        &self,
        user: UserId,
        at: DateTime<Utc>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<(), RepositoryError>;

    /// Claims a provider's logout token by its `jti`, remembered until `expires_at`. MUST return
    /// `false` when the same issuer's `jti` was claimed before (by any instance), so that a
    /// token is honoured once.
    async fn claim_logout_token(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;
}

/// Password hashing. Implementations are slow on purpose and MUST NOT block the async executor.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// A salted, slow hash of `password`.
    async fn hash(&self, password: &str) -> anyhow::Result<String>;

    /// Whether `password` matches `hash`. With no hash (an unknown email, an account without a
    /// password) it MUST spend the same work as a real check and return `false`, so that response
    /// times do not tell which emails have accounts.
    async fn verify(&self, password: &str, hash: Option<String>) -> anyhow::Result<bool>;
}

/// Signs and checks access tokens.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// A signed access token for `user`, valid for the configured lifetime, issued under the
    /// session `session_id` (its refresh-token family), which the token MUST carry (`sid`).
    fn issue(&self, user: &User, session_id: &str) -> anyhow::Result<AccessToken>;

    /// The claims of a valid token. MUST refuse a token that is expired, signed with another key
    /// or algorithm, or issued for another issuer or audience.
    fn verify(&self, token: &str) -> Result<AccessClaims, InvalidAccessToken>;
}

/// The audit trail's storage. Entries of changes are written by the repository making the change;
/// this port appends the entries of actions that change nothing (a failed sign-in) and reads.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends one entry.
    async fn record(&self, entry: NewAuditEntry) -> Result<(), RepositoryError>;

    /// One page of entries matching `query`, newest first, and the total.
    async fn list(&self, query: AuditQuery) -> Result<Page<AuditEntry>, RepositoryError>;
}

/// RFC 6238 time-based one-time passwords.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait TotpVerifier: Send + Sync {
    /// A new random secret, base32-encoded.
    fn generate_secret(&self) -> String;

    /// The `otpauth://` URL an authenticator app imports, labelled with `account`.
    fn otpauth_url(&self, secret: &str, account: &str) -> anyhow::Result<String>;

    /// The time step (Unix time / period) whose code `code` is, when it is valid at `at` for
    /// `secret`, allowing one step either side for clock drift.
    fn verify(&self, secret: &str, code: &str, at: DateTime<Utc>) -> Option<i64>;
}

/// One OAuth2 identity provider (Google, GitHub, an OpenID Connect provider), spoken to with the
/// authorization-code flow and PKCE.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait OAuthProvider: Send + Sync {
    /// Which provider this is.
    fn name(&self) -> OAuthProviderName;

    /// What a login page shows on its button.
    fn display_name(&self) -> String;

    /// The namespace of the identities this provider vouches for: its name for Google and
    /// GitHub, its issuer for an OpenID Connect provider (accounts are linked by issuer and
    /// subject).
    fn identity_namespace(&self) -> String {
        self.name().as_str().to_owned()
    }

    /// Where to send the browser, with a fresh random `state`, PKCE challenge and (OpenID
    /// Connect) `nonce`. Fails only when the provider's metadata cannot be read.
    async fn authorization_request(&self) -> Result<AuthorizationRequest, ProviderError>;

    /// Exchanges an authorization code (with the PKCE verifier of its request) and reads the
    /// signed-in person's profile; an OpenID Connect provider's ID token MUST carry `nonce`.
    async fn profile(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: Option<String>,
    ) -> Result<ExternalProfile, ProviderError>;

    /// Checks a back-channel logout token (OpenID Connect Back-Channel Logout 1.0 §2.6): its
    /// signature, `iss`, `aud`, `iat`, `jti`, `events`, `sub`/`sid` and the absence of `nonce`.
    /// A provider without back-channel logout refuses every token.
    async fn verify_logout_token(&self, _token: &str) -> Result<LogoutRequest, ProviderError> {
        Err(ProviderError::InvalidToken(format!("{} has no back-channel logout", self.name())))
    }
}

/// Pending OAuth authorizations, between the redirect to the provider and its callback. They
/// live in the shared database so that the callback may land on any instance.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait OAuthStateStore: Send + Sync {
    /// Remembers an authorization under the hash of its `state`.
    async fn save(&self, state: TokenHash, pending: PendingAuthorization) -> Result<(), RepositoryError>;

    /// Removes and returns the authorization stored under `state`, expired or not. Of two
    /// concurrent takes of one state, exactly one gets it.
    async fn take(&self, state: &TokenHash) -> Result<Option<PendingAuthorization>, RepositoryError>;
}

/// Sign-ins waiting for their second factor, under the hash of their [`MfaToken`](crate::MfaToken).
/// They live in the shared database so that the second step may land on any instance.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MfaTokenStore: Send + Sync {
    /// Remembers a pending sign-in under the hash of its token.
    async fn save(&self, token: TokenHash, pending: PendingSecondFactor) -> Result<(), RepositoryError>;

    /// The pending sign-in stored under `token`, expired or not; spends nothing.
    async fn find(&self, token: &TokenHash) -> Result<Option<PendingSecondFactor>, RepositoryError>;

    /// Spends the token: removes it unless it is gone or expired at `at`, and returns whether it
    /// did. Of two concurrent spends of one token, exactly one succeeds.
    async fn spend(&self, token: &TokenHash, at: DateTime<Utc>) -> Result<bool, RepositoryError>;
}
