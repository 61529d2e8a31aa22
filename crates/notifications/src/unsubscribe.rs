//! One-click unsubscribe tokens (RFC 8058): a user and a kind (or their daily digest), signed,
//! so that a link in an e-mail turns that e-mail off without a sign-in and cannot be forged for
//! anyone else.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use workbench_users::UserId;

use crate::model::Kind;

type HmacSha256 = Hmac<Sha256>;

/// What a one-click link turns off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsubscribe {
    /// The e-mail of one kind (an instant e-mail's link).
    Kind(Kind),
    /// The daily digest: every kind mailed daily (a digest's link).
    Digest,
}

impl Unsubscribe {
    /// Its name in a token and an answer: the kind's, or `digest`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unsubscribe::Kind(kind) => kind.as_str(),
            Unsubscribe::Digest => "digest",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        if text == "digest" { Some(Unsubscribe::Digest) } else { Kind::parse(text).map(Unsubscribe::Kind) }
    }
}

/// What signs and checks unsubscribe tokens: a key of its own, derived from the server's secret
/// (so a token is no access token, and one signing key never serves two purposes).
#[derive(Clone)]
pub struct UnsubscribeKey([u8; 32]);

impl std::fmt::Debug for UnsubscribeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnsubscribeKey(..)")
    }
}

impl UnsubscribeKey {
    /// The key derived from `secret` (every instance with the same secret agrees).
    pub fn derive(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
        mac.update(b"workbench notifications unsubscribe v1");
        Self(mac.finalize().into_bytes().into())
    }

    fn mac(&self, user: UserId, kind: Unsubscribe) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(format!("{}.{}", user.0, kind.as_str()).as_bytes());
        mac
    }

    /// The token that turns `kind`'s e-mail off for `user`: `<user>.<kind>.<signature>`.
    pub fn token(&self, user: UserId, kind: Unsubscribe) -> String {
        let signature = URL_SAFE_NO_PAD.encode(self.mac(user, kind).finalize().into_bytes());
        format!("{}.{}.{signature}", user.0, kind.as_str())
    }

    /// The user and kind `token` names, if this key signed it (compared in constant time).
    pub fn verify(&self, token: &str) -> Option<(UserId, Unsubscribe)> {
        let mut parts = token.trim().splitn(3, '.');
        let user = UserId(parts.next()?.parse().ok().filter(|id: &i64| *id > 0)?);
        let kind = Unsubscribe::parse(parts.next()?)?;
        let signature = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
        self.mac(user, kind).verify_slice(&signature).ok()?;
        Some((user, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_user_and_kind_and_nothing_else() {
        let key = UnsubscribeKey::derive(b"a server secret of some length");
        let token = key.token(UserId(42), Unsubscribe::Kind(Kind::Assigned));
        assert_eq!(key.verify(&token), Some((UserId(42), Unsubscribe::Kind(Kind::Assigned))));
        let digest = key.token(UserId(42), Unsubscribe::Digest);
        assert_eq!(key.verify(&digest), Some((UserId(42), Unsubscribe::Digest)));
        let signature = token.rsplit('.').next().unwrap();
        for forged in [
            format!("43.assigned.{signature}"),
            format!("42.commented.{signature}"),
            format!("42.digest.{signature}"),
            format!("42.assigned.{}", &signature[1..]),
            "42.assigned".to_owned(),
            "x.assigned.abc".to_owned(),
            String::new(),
        ] {
            assert_eq!(key.verify(&forged), None, "{forged}");
        }
        let other = UnsubscribeKey::derive(b"another server's secret");
        assert_eq!(other.verify(&token), None, "another key's token");
    }
}
