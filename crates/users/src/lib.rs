//! The accounts domain of Workbench.
//!
//! Users, their roles and status, the rules for credentials (who may sign in, how refresh tokens
//! rotate, what a reused token means) and the ports the rules need: [`UserRepository`],
//! [`RefreshTokenStore`], [`PasswordHasher`] and [`TokenIssuer`]. Nothing here knows about HTTP,
//! SQL or a particular hashing or token library; adapters implement the ports.
//!
//! [`AuthService`] signs people in and out; [`UserService`] is everything else a person or an
//! administrator does to accounts.

mod auth_service;
mod error;
mod model;
mod ports;
mod tokens;
mod user_service;

pub use auth_service::{AuthService, AuthSettings, Session};
pub use error::{AuthError, UserError};
pub use model::{
    Email, NewAccount, NewUser, Password, PasswordChange, ProfileChanges, Role, User, UserId, UserStatus, Username, now,
};
pub use ports::{PasswordHasher, RefreshTokenStore, TokenIssuer, UserQuery, UserRepository};
pub use tokens::{
    AccessClaims, AccessToken, InvalidAccessToken, NewRefreshToken, RefreshToken, RefreshTokenRecord, TokenHash,
};
pub use user_service::{AdminChanges, UserService};

#[cfg(feature = "mock")]
pub use ports::{MockPasswordHasher, MockRefreshTokenStore, MockTokenIssuer, MockUserRepository};
