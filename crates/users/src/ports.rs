//! What the accounts domain needs from the outside world. Each method's doc says what an adapter
//! MUST do; every adapter is tested against that contract.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use workbench_core::{Page, PageRequest, RepositoryError};

use crate::tokens::{AccessClaims, AccessToken, InvalidAccessToken, NewRefreshToken, RefreshTokenRecord, TokenHash};
use crate::{Email, NewUser, ProfileChanges, Role, User, UserId, UserStatus};

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

    /// The account with this (already lower-cased) email and its password hash, if it has one.
    async fn find_for_login(&self, email: &Email) -> Result<Option<(User, Option<String>)>, RepositoryError>;

    /// The stored password hash of an account, if it has one.
    async fn password_hash(&self, id: UserId) -> Result<Option<String>, RepositoryError>;

    /// One page of accounts, ordered by id, and the total matching `query`.
    async fn list(&self, query: UserQuery) -> Result<Page<User>, RepositoryError>;

    /// Applies profile changes and bumps `updated_at`. Returns `None` when there is no such user.
    /// MUST return `Conflict { field: "username" }` when the new username is taken.
    async fn update_profile(
        &self,
        id: UserId,
        changes: ProfileChanges,
        at: DateTime<Utc>,
    ) -> Result<Option<User>, RepositoryError>;

    /// Replaces the password hash.
    async fn set_password_hash(&self, id: UserId, hash: String, at: DateTime<Utc>) -> Result<(), RepositoryError>;

    /// Changes role and/or status. Returns `None` when there is no such user.
    async fn set_role_and_status(
        &self,
        id: UserId,
        role: Option<Role>,
        status: Option<UserStatus>,
        at: DateTime<Utc>,
    ) -> Result<Option<User>, RepositoryError>;

    /// Deletes the account and everything that belongs only to it. Returns whether it existed.
    async fn delete(&self, id: UserId) -> Result<bool, RepositoryError>;
}

/// Where refresh tokens live, only as hashes.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    /// Stores a new token.
    async fn insert(&self, token: NewRefreshToken) -> Result<(), RepositoryError>;

    /// The token with this hash, used, revoked or expired alike.
    async fn find(&self, hash: &TokenHash) -> Result<Option<RefreshTokenRecord>, RepositoryError>;

    /// Atomically marks token `used` as used at `at` and stores `next` in its place. MUST store
    /// nothing and return `false` when `used` was already used or revoked, so that two requests
    /// racing with the same token cannot both succeed.
    async fn rotate(&self, used: i64, next: NewRefreshToken, at: DateTime<Utc>) -> Result<bool, RepositoryError>;

    /// Revokes every token of a family that is not revoked yet.
    async fn revoke_family(&self, family_id: &str, at: DateTime<Utc>) -> Result<(), RepositoryError>;

    /// Revokes every token of a user that is not revoked yet.
    async fn revoke_all_for_user(&self, user_id: UserId, at: DateTime<Utc>) -> Result<(), RepositoryError>;
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
    /// A signed access token for `user`, valid for the configured lifetime.
    fn issue(&self, user: &User) -> anyhow::Result<AccessToken>;

    /// The claims of a valid token. MUST refuse a token that is expired, signed with another key
    /// or algorithm, or issued for another issuer or audience.
    fn verify(&self, token: &str) -> Result<AccessClaims, InvalidAccessToken>;
}
