//! Credential adapters of the accounts domain: how Workbench checks who someone is.
//!
//! | port ([`workbench_users`]) | adapter | with |
//! |---|---|---|
//! | [`PasswordHasher`](workbench_users::PasswordHasher) | [`BcryptHasher`] | bcrypt, on the blocking pool |
//! | [`TokenIssuer`](workbench_users::TokenIssuer) | [`JwtIssuer`] | HS256 JWTs |
//! | [`TotpVerifier`](workbench_users::TotpVerifier) | [`TotpRs`] | RFC 6238, SHA1, 6 digits, 30 s |
//! | [`OAuthProvider`](workbench_users::OAuthProvider) | [`GoogleProvider`], [`GitHubProvider`] | `oauth2`, PKCE S256, `reqwest` |
//! | [`OAuthProvider`](workbench_users::OAuthProvider) | [`OidcProvider`] (any OpenID Connect provider) | discovery, `oauth2` with a `nonce`, ID and logout tokens checked by `jsonwebtoken` against the JWKS |
//!
//! The OAuth providers take their endpoints from [`OAuthClientSettings`] (defaults: the `*_URL`
//! consts, the real ones) and a client from [`http_client`] (no redirects, 10 s timeouts).
//!
//! With the `testing` feature, `testing::FakeProvider` is a local HTTP server playing Google and
//! GitHub, for tests that sign in without touching the internet. It is never part of the app.

mod jwt;
mod oauth;
mod oidc;
mod oidc_config;
mod password;
#[cfg(feature = "testing")]
pub mod testing;
mod totp;

pub use jwt::{JwtIssuer, JwtSettings};
pub use oauth::{
    GITHUB_API_URL, GITHUB_AUTH_URL, GITHUB_TOKEN_URL, GOOGLE_AUTH_URL, GOOGLE_TOKEN_URL, GOOGLE_USERINFO_URL,
    GitHubProvider, GoogleProvider, OAuthClientSettings, http_client,
};
pub use oidc::{LOGOUT_TOKEN_MAX_AGE, OidcProvider, OidcSettings};
pub use oidc_config::{DEFAULT_OIDC_SCOPES, oidc_providers_from};
pub use password::BcryptHasher;
pub use totp::TotpRs;
