//! Access and refresh tokens as the domain sees them.
//!
//! Access tokens are short-lived and self-contained (the [`TokenIssuer`](crate::TokenIssuer)
//! port signs and checks them). Refresh tokens are opaque random strings: the server keeps only a
//! SHA-256 hash of each, grouped in *families* — one family per sign-in — so that presenting an
//! already-rotated token can revoke every token descended from the same sign-in.
//!
//! A family's id is also the id of its *session*: every access token names the session it was
//! issued under (the JWT's `sid`), so that what a request does can be traced to the sign-in
//! behind it (a personal access token remembers the session it was made from, and ends with it
//! when the session is found stolen), and every token of a family carries when the sign-in
//! happened, which refreshing does not change.

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{ProviderSession, Role, UserId};

/// What a verified access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// Whose token it is.
    pub user_id: UserId,
    /// The role the account had when the token was issued (the request reads the current one).
    pub role: Role,
    /// The token's unique id (`jti`).
    pub token_id: String,
    /// The user's token generation when the token was issued.
    pub generation: i64,
    /// The session it was issued under (`sid`): its refresh-token family's id. `None` only for
    /// tokens issued before the claim existed.
    pub session_id: Option<String>,
    /// When the token stops being accepted (`exp`).
    pub expires_at: DateTime<Utc>,
}

/// A freshly signed access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The signed token (a JWT), sent as `Authorization: Bearer`.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// An access token that is malformed, forged, expired or meant for someone else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid access token: {0}")]
pub struct InvalidAccessToken(pub String);

/// A refresh token as handed to the client. 256 random bits, URL-safe hex.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// A new token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// The hash under which the token is stored and looked up.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// The token itself, to hand to the client once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken(***)")
    }
}

/// The SHA-256 of a refresh token, hex-encoded. A plain hash (no salt, no work factor) is right
/// here: the token already carries 256 bits of entropy, so it cannot be guessed from its hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// The hash of whatever a client presented, valid token or not.
    pub fn of(presented: &str) -> Self {
        Self(hex::encode(Sha256::digest(presented.as_bytes())))
    }

    /// A hash as an adapter stored it (read back, not computed).
    pub fn stored(hex: String) -> Self {
        Self(hex)
    }

    /// The SHA-256, hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A refresh token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    /// Whose token it is.
    pub user_id: UserId,
    /// The sign-in the token belongs to: every token refreshed from one login shares it, and a
    /// reuse revokes them together.
    pub family_id: String,
    /// The token's SHA-256: the token itself is never stored.
    pub hash: TokenHash,
    /// When the sign-in that began the family happened: the first token's `created_at`, carried
    /// unchanged by every rotation.
    pub signed_in_at: DateTime<Utc>,
    /// When the token was issued.
    pub created_at: DateTime<Utc>,
    /// When the token stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// The OpenID Connect provider's session the family was started from (on its first token
    /// only; rotations carry `None`), so that the provider can end it.
    pub provider_session: Option<ProviderSession>,
}

/// A stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// The stored token's id.
    pub id: i64,
    /// Whose token it is.
    pub user_id: UserId,
    /// The sign-in the token belongs to (see [`NewRefreshToken::family_id`]).
    pub family_id: String,
    /// When the family's sign-in happened (see [`NewRefreshToken::signed_in_at`]).
    pub signed_in_at: DateTime<Utc>,
    /// When the token stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// Set when the token was exchanged for a new pair; presenting it again is reuse.
    pub used_at: Option<DateTime<Utc>>,
    /// Set when its family was revoked (logout, reuse, password change, account disabled).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A session (a refresh-token family) as an access check sees it: whose it is, when its sign-in
/// happened, and whether it was ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// Whose session it is.
    pub user_id: UserId,
    /// When the sign-in that began it happened (refreshes keep it).
    pub signed_in_at: DateTime<Utc>,
    /// Whether the family was revoked (logout, reuse, password change, account disabled).
    pub ended: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_distinct() {
        let a = RefreshToken::generate();
        let b = RefreshToken::generate();
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a, b);
        assert_eq!(a.hash(), TokenHash::of(a.expose()));
        assert_ne!(a.hash().as_str(), a.expose());
        assert_eq!(format!("{a:?}"), "RefreshToken(***)");
    }
}
