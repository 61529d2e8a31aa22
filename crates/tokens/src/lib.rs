//! Personal access tokens: scoped, expiring credentials a user makes for scripts and
//! integrations, sent as `Authorization: Bearer wbp_…` and acting as their user within their
//! scopes.
//!
//! A token is known by its SHA-256 ([`TokenDigest`]); the secret is shown once. Checking one on
//! the request path ([`TokenService::authenticate`]) reads its [`Grant`] from the [`GrantCache`]
//! and its user's principal from the principal cache, so a request costs no database round trip;
//! both caches are invalidated on every instance through the broadcast port, so a revoked token
//! or a disabled account is refused at its next request anywhere. When a token was last used is
//! written by a task of its own ([`TokenService::use_writer`]), at most about once a minute per
//! token, never by the request.
//!
//! Which scope each route needs is declared with the route (the HTTP adapter reads it from the
//! route's OpenAPI annotation); this crate only says what a token holds ([`Scopes::grants`]).

#![warn(missing_docs)]

mod error;
mod model;
mod ports;
mod scope;
mod service;

pub use error::TokenError;
pub use model::{
    DEFAULT_DAYS, Grant, IssuedToken, MAX_DAYS, NAME_MAX_CHARS, NewToken, PersonalAccessToken, SHOWN_PREFIX_CHARS,
    TOKEN_PREFIX, TokenDigest, TokenDraft, TokenId, TokenSecret, is_personal_token,
};
pub use ports::{GrantCache, TokenRepository};
#[cfg(feature = "mock")]
pub use ports::{MockGrantCache, MockTokenRepository};
pub use scope::{Scope, Scopes, UnknownScope};
pub use service::{TokenCaller, TokenService};
