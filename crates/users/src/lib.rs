//! The accounts domain of Workbench.
//!
//! Users, their roles and status, the rules for credentials (who may sign in, how refresh tokens
//! rotate, what a reused token means) and the ports the rules need: [`UserRepository`],
//! [`RefreshTokenStore`], [`PasswordHasher`], [`TokenIssuer`], [`TotpVerifier`], [`OAuthProvider`],
//! [`OAuthStateStore`], [`AuditLog`] and [`PrincipalCache`]. Nothing here knows about HTTP,
//! SQL or a particular hashing or token library; adapters implement the ports.
//!
//! [`AuthService`] signs people in and out; [`OAuthService`] signs them in through Google or
//! GitHub; [`TwoFactorService`] turns TOTP on and off; [`UserService`] is everything else a person
//! or an administrator does to accounts. Security-relevant actions leave an [`AuditEntry`].

mod audit;
mod auth_service;
mod dashboard;
mod error;
mod model;
mod oauth;
mod ports;
mod principal;
mod tokens;
mod two_factor;
mod user_service;

pub use audit::{AuditAction, AuditEntry, AuditQuery, ClientInfo, NewAuditEntry};
pub use auth_service::{AuthService, AuthSettings, LoginAttempt, Session};
pub use dashboard::{DashboardService, PlatformCensus, PlatformCounts};
pub use error::{AuthError, UserError};
pub use model::{
    Email, NewAccount, NewUser, Password, PasswordChange, ProfileChanges, Role, User, UserId, UserStatus, Username, now,
};
pub use oauth::{
    AuthorizationRequest, Callback, ExternalIdentity, ExternalProfile, OAuthError, OAuthProviderName, OAuthService,
    PendingAuthorization, ProviderError, STATE_TTL,
};
pub use ports::{
    AuditLog, OAuthProvider, OAuthStateStore, PasswordHasher, RefreshTokenStore, TokenIssuer, TotpVerifier, UserQuery,
    UserRepository,
};
pub use principal::{Accounts, Authenticator, CacheEpoch, PRINCIPAL_CHANGED, Principal, PrincipalCache};
pub use tokens::{
    AccessClaims, AccessToken, InvalidAccessToken, NewRefreshToken, RefreshToken, RefreshTokenRecord, TokenHash,
};
pub use two_factor::{
    RECOVERY_CODES, RecoveryCode, SecondFactor, TotpSetup, TotpState, TwoFactorError, TwoFactorService,
};
pub use user_service::{AdminChanges, UserService};

#[cfg(feature = "mock")]
pub use dashboard::MockPlatformCensus;
#[cfg(feature = "mock")]
pub use ports::{
    MockAuditLog, MockOAuthProvider, MockOAuthStateStore, MockPasswordHasher, MockRefreshTokenStore, MockTokenIssuer,
    MockTotpVerifier, MockUserRepository,
};
#[cfg(feature = "mock")]
pub use principal::{MockAccounts, MockPrincipalCache};
