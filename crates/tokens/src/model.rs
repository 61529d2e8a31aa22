//! Personal access tokens: the secret a user hands a script, what is stored of it, and what a
//! request needs to know about it.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};
use workbench_core::{BoundedText, TypeFailures, Validator};
use workbench_users::UserId;

use crate::{Scope, Scopes};

/// What every token starts with, so that people, logs and secret scanners tell it apart from an
/// access token (a JWT) at a glance, and the server tells it apart without parsing it.
pub const TOKEN_PREFIX: &str = "wbp_";
/// Random base62 characters after [`TOKEN_PREFIX`]: 43 of them carry 256 bits (43 × log2 62).
const RANDOM_CHARS: usize = 43;
/// The characters of a token shown in listings to tell tokens apart: `wbp_` and 8 more.
pub const SHOWN_PREFIX_CHARS: usize = 12;
/// A token's lifetime when its user does not say, in days.
pub const DEFAULT_DAYS: i64 = 90;
/// The longest lifetime a token may have, in days.
pub const MAX_DAYS: i64 = 365;
/// The most characters a token's name may have.
pub const NAME_MAX_CHARS: usize = 100;

/// A token's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(pub i64);

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The secret itself, as handed to its user once. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    /// A new secret from the operating system's CSPRNG: `wbp_` and 43 base62 characters.
    pub fn generate() -> Self {
        let random: String = rand::rng().sample_iter(Alphanumeric).take(RANDOM_CHARS).map(char::from).collect();
        Self(format!("{TOKEN_PREFIX}{random}"))
    }

    /// The secret itself: shown to its user once, when the token is made, and kept nowhere.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The characters shown to tell this token apart from its user's others.
    pub fn shown_prefix(&self) -> &str {
        &self.0[..SHOWN_PREFIX_CHARS]
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(***)")
    }
}

/// Whether a bearer credential claims to be a personal access token (rather than a JWT).
pub fn is_personal_token(presented: &str) -> bool {
    presented.starts_with(TOKEN_PREFIX)
}

/// The SHA-256 of a presented token, by which it is stored, looked up and cached. A plain hash is
/// right here: the secret carries 256 random bits, so it cannot be found from its hash, and a
/// hash costs a fraction of a microsecond, which a check on every request can afford.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// The digest of whatever a client presented, valid token or not.
    pub fn of(presented: &str) -> Self {
        Self(Sha256::digest(presented.as_bytes()).into())
    }

    /// As stored: 64 lower-case hex digits.
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// A digest read back from storage or the bus.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Enough to tell digests apart in a log, not enough to matter.
        write!(f, "TokenDigest({}…)", &self.to_hex()[..8])
    }
}

/// A token as its user sees it in a listing: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalAccessToken {
    /// The token's id, by which its user lists and revokes it.
    pub id: TokenId,
    /// Whose token it is: it acts as this user.
    pub user_id: UserId,
    /// What its user called it (1 to [`NAME_MAX_CHARS`] characters), to tell what it is for.
    pub name: String,
    /// What it may do.
    pub scopes: Scopes,
    /// The secret's first [`SHOWN_PREFIX_CHARS`] characters.
    pub prefix: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When a request last used it, to within about a minute (written off the request path).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A token just made, with its secret (shown only now).
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The token as it will be listed.
    pub token: PersonalAccessToken,
    /// Its secret, to show once.
    pub secret: TokenSecret,
}

/// A token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// Whose token it is.
    pub user_id: UserId,
    /// Its name, checked.
    pub name: String,
    /// What it may do.
    pub scopes: Scopes,
    /// The SHA-256 of its secret: what is stored and looked up.
    pub digest: TokenDigest,
    /// The secret's first [`SHOWN_PREFIX_CHARS`] characters.
    pub prefix: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it is made.
    pub created_at: DateTime<Utc>,
    /// The session it is made from (the `sid` of the access token that made it): a detected
    /// theft of that session revokes the token. `None` when that access token named none.
    pub session_id: Option<String>,
}

/// What a request made with a token needs to know of it: whose it is, what it may do and until
/// when. Kept in the grant cache, so that it costs no round trip.
#[derive(Debug)]
pub struct Grant {
    /// The token the grant is for.
    pub token_id: TokenId,
    /// Whose token it is: a request acts as this user.
    pub user_id: UserId,
    /// What the token may do.
    pub scopes: Scopes,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When a use of the token was last noted for writing (Unix seconds), so that a token in
    /// constant use costs one write a minute, not one per request.
    last_noted: AtomicI64,
}

impl Grant {
    /// A grant of `scopes` to `user_id` by token `token_id` until `expires_at`; `last_used_at`, as
    /// stored, keeps a use just written from being noted again within the minute.
    pub fn new(
        token_id: TokenId,
        user_id: UserId,
        scopes: Scopes,
        expires_at: DateTime<Utc>,
        last_used_at: Option<DateTime<Utc>>,
    ) -> Self {
        let last_noted = AtomicI64::new(last_used_at.map_or(i64::MIN, |at| at.timestamp()));
        Self { token_id, user_id, scopes, expires_at, last_noted }
    }

    /// Whether the token no longer works at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }

    /// Whether a use at `now` is worth writing down: the first in `every` since the last one
    /// written (by this instance). Of racing requests exactly one is told yes.
    pub(crate) fn claim_use(&self, now: DateTime<Utc>, every: Duration) -> bool {
        let now = now.timestamp();
        let last = self.last_noted.load(Ordering::Relaxed);
        now.saturating_sub(last) >= every.num_seconds()
            && self.last_noted.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

/// `POST /tokens` as sent: each field may be missing or of the wrong type.
#[derive(Default)]
pub struct TokenDraft {
    /// The token's name.
    pub name: Option<String>,
    /// The names of the scopes to grant (each must be a [`Scope`](crate::Scope)'s).
    pub scopes: Option<Vec<String>>,
    /// The token's lifetime in days, 1 to [`MAX_DAYS`]; [`DEFAULT_DAYS`] when missing.
    pub expires_in_days: Option<i64>,
    /// The account's current password (never printed): see `workbench_users::Reauthentication`.
    pub password: Option<String>,
    /// Fields whose JSON type was wrong, reported with the rest.
    pub type_failures: TypeFailures,
}

impl fmt::Debug for TokenDraft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenDraft")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("expires_in_days", &self.expires_in_days)
            .field("type_failures", &self.type_failures)
            .finish_non_exhaustive()
    }
}

/// A draft whose every field is within its bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenTerms {
    pub name: String,
    pub scopes: Scopes,
    pub lifetime: Duration,
}

impl TokenTerms {
    /// The terms of `draft`, every failing field named at once.
    #[cfg(test)]
    pub(crate) fn parse(draft: TokenDraft) -> Result<Self, workbench_core::FieldErrors> {
        let mut v = Validator::seeded(draft.type_failures);
        let terms = Self::check(&mut v, draft.name, draft.scopes, draft.expires_in_days);
        v.finish_with(terms)
    }

    /// The terms the fields make, each failing field named in `v` (which may hold others: the
    /// draft's type failures first, and what the caller checks after).
    pub(crate) fn check(
        v: &mut Validator,
        name: Option<String>,
        scopes: Option<Vec<String>>,
        expires_in_days: Option<i64>,
    ) -> Option<Self> {
        let name = v.required("name", name, |n| {
            let name = BoundedText::<NAME_MAX_CHARS>::parse(&n).map_err(|e| e.to_string())?;
            // A label shown in listings: control characters (a NUL above all, which PostgreSQL
            // cannot store) have no place in it.
            if name.as_str().chars().any(char::is_control) {
                return Err("must not contain control characters".to_owned());
            }
            Ok(name)
        });
        let scopes = v.required("scopes", scopes, |names| {
            let scopes =
                names.iter().map(|n| Scope::parse(n)).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
            let scopes = Scopes::of(scopes);
            if scopes.is_empty() { Err("must name at least one scope".to_owned()) } else { Ok(scopes) }
        });
        let days = v
            .optional("expires_in_days", expires_in_days, |d| {
                if (1..=MAX_DAYS).contains(&d) { Ok(d) } else { Err(format!("must be between 1 and {MAX_DAYS}")) }
            })
            .ok()
            .flatten()
            .unwrap_or(DEFAULT_DAYS);
        name.zip(scopes).map(|(name, scopes)| Self { name: name.into_inner(), scopes, lifetime: Duration::days(days) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_256_bits_of_base62_after_their_prefix() {
        let a = TokenSecret::generate();
        let b = TokenSecret::generate();
        assert_ne!(a, b);
        let random = a.expose().strip_prefix("wbp_").expect("prefixed");
        assert_eq!(random.len(), 43);
        assert!(random.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert!(43.0 * 62f64.log2() >= 256.0);
        assert_eq!(a.shown_prefix(), &a.expose()[..12]);
        assert_eq!(format!("{a:?}"), "TokenSecret(***)");
        assert!(is_personal_token(a.expose()) && !is_personal_token("eyJhbGciOi.x.y"));
    }

    #[test]
    fn digests_are_the_sha256_and_read_back_from_hex() {
        let digest = TokenDigest::of("wbp_x");
        assert_eq!(digest.to_hex().len(), 64);
        assert_eq!(TokenDigest::from_hex(&digest.to_hex()), Some(digest));
        assert_eq!(TokenDigest::from_hex("zz"), None);
        assert_ne!(TokenDigest::of("wbp_y"), digest);
    }

    fn draft(name: Option<&str>, scopes: Option<&[&str]>, days: Option<i64>) -> TokenDraft {
        TokenDraft {
            name: name.map(str::to_owned),
            scopes: scopes.map(|s| s.iter().map(|s| (*s).to_owned()).collect()),
            expires_in_days: days,
            password: None,
            type_failures: TypeFailures::default(),
        }
    }

    fn failing(d: TokenDraft) -> Vec<String> {
        TokenTerms::parse(d).unwrap_err().into_vec().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn terms_default_to_ninety_days_and_name_every_bad_field() {
        let terms = TokenTerms::parse(draft(Some("  ci  "), Some(&["tasks:read"]), None)).unwrap();
        assert_eq!((terms.name.as_str(), terms.lifetime), ("ci", Duration::days(90)));
        assert_eq!(failing(draft(None, None, Some(0))), ["name", "scopes", "expires_in_days"]);
        assert_eq!(failing(draft(Some(" "), Some(&[]), Some(366))), ["name", "scopes", "expires_in_days"]);
        assert_eq!(failing(draft(Some(&"n".repeat(101)), Some(&["tasks:delete"]), Some(365))), ["name", "scopes"]);
        assert_eq!(failing(draft(Some("a\u{0}b"), Some(&["tasks:read"]), None)), ["name"]);
        assert_eq!(failing(draft(Some("a\tb"), Some(&["tasks:read"]), None)), ["name"]);
        assert!(TokenTerms::parse(draft(Some("\tci\n"), Some(&["tasks:read"]), None)).is_ok(), "trimmed first");
        let long = TokenTerms::parse(draft(Some(&"n".repeat(100)), Some(&["chat:write", "chat:write"]), Some(365)));
        assert_eq!(long.unwrap().scopes, Scopes::of([Scope::ChatWrite]));
    }

    #[test]
    fn a_use_is_claimed_once_a_minute() {
        let now = workbench_core::now();
        let grant = Grant::new(TokenId(1), UserId(1), Scopes::default(), now, None);
        assert!(grant.claim_use(now, Duration::minutes(1)));
        assert!(!grant.claim_use(now + Duration::seconds(59), Duration::minutes(1)));
        assert!(grant.claim_use(now + Duration::seconds(60), Duration::minutes(1)));
        let recent = Grant::new(TokenId(2), UserId(1), Scopes::default(), now, Some(now));
        assert!(!recent.claim_use(now + Duration::seconds(1), Duration::minutes(1)), "read back as just used");
    }
}
