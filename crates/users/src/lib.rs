//! The accounts domain of Workbench.
//!
//! Users, their roles and status, the rules for credentials (who may sign in, how refresh tokens
//! rotate, what a reused token means) and the ports the rules need: [`UserRepository`],
//! [`RefreshTokenStore`], [`PasswordHasher`], [`TokenIssuer`], [`TotpVerifier`], [`OAuthProvider`],
//! [`OAuthStateStore`], [`MfaTokenStore`], [`AuditLog`] and [`PrincipalCache`]. Nothing here knows about HTTP,
//! SQL or a particular hashing or token library; adapters implement the ports.
//!
//! [`AuthService`] signs people in and out; [`OAuthService`] signs them in through Google or
//! GitHub; [`TwoFactorService`] turns TOTP on and off; [`Reauthentication`] proves that the holder
//! of a session owns the account before what a session alone must not be enough for;
//! [`UserService`] is everything else a person or an administrator does to accounts. Security-relevant actions leave an [`AuditEntry`].

#![warn(missing_docs)]

mod audit;
mod auth_service;
mod dashboard;
mod error;
mod model;
mod oauth;
mod ports;
mod principal;
mod provider;
mod reauth;
mod tokens;
mod two_factor;
mod user_service;

pub use audit::{AuditAction, AuditEntry, AuditQuery, ClientInfo, NewAuditEntry};
pub use auth_service::{AuthParts, AuthService, AuthSettings, LoginAttempt, Session};
pub use dashboard::{DashboardService, PlatformCensus, PlatformCounts};
pub use error::{AuthError, UserError};
pub use model::{
    Email, NewAccount, NewUser, Password, PasswordChange, ProfileChanges, Role, User, UserId, UserStatus, Username, now,
};
pub use oauth::{
    AuthorizationRequest, BrowserBinding, Callback, ExternalIdentity, ExternalProfile, LogoutRequest, OAuthError,
    OAuthService, OAuthSignIn, OAuthStart, PendingAuthorization, ProviderError, ProviderInfo, STATE_TTL,
};
pub use ports::{
    AuditLog, MfaTokenStore, OAuthProvider, OAuthStateStore, PasswordHasher, RefreshTokenStore, TokenIssuer,
    TotpVerifier, UserQuery, UserRepository,
};
pub use principal::{
    Accounts, Authenticator, CacheEpoch, PRINCIPAL_CHANGED, Principal, PrincipalCache, SESSION_ENDED, SessionCache,
    StoredAccounts,
};
pub use provider::{OAuthProviderName, ProviderKind, ProviderSession};
pub use reauth::{RECENT_SIGN_IN, ReauthError, Reauthentication};
pub use tokens::{
    AccessClaims, AccessToken, InvalidAccessToken, NewRefreshToken, RefreshToken, RefreshTokenRecord, SignIn, TokenHash,
};
pub use two_factor::{
    MFA_TOKEN_TTL, MfaChallenge, MfaToken, PendingSecondFactor, RECOVERY_CODES, RecoveryCode, SecondFactor,
    SecondFactorAttempt, TotpSetup, TotpState, TwoFactorError, TwoFactorService,
};
pub use user_service::{AdminChanges, UserService};

#[cfg(feature = "mock")]
pub use dashboard::MockPlatformCensus;
#[cfg(feature = "mock")]
pub use ports::{
    MockAuditLog, MockMfaTokenStore, MockOAuthProvider, MockOAuthStateStore, MockPasswordHasher, MockRefreshTokenStore,
    MockTokenIssuer, MockTotpVerifier, MockUserRepository,
};
#[cfg(feature = "mock")]
pub use principal::{MockAccounts, MockPrincipalCache, MockSessionCache};
