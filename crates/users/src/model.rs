//! Users and the values they are made of. Every input type is a newtype whose constructor is the
//! only way to make one, so a service never sees an invalid username, email or password.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use workbench_core::{BoundedText, TextError, TypeFailures, Validator};

// Defined once for every domain; kept here so that `workbench_users::now` callers need not change.
pub use workbench_core::now;

/// A user's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a user may do, in increasing power. The derived order is the rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An ordinary account: their own tasks, products and files, and what is shared with them.
    User,
    /// Also sees every task and may remove others' comments and chat messages.
    Moderator,
    /// Also administers accounts (roles, status, deletion) and sees every email.
    Admin,
    /// An admin no admin can manage: only a super admin grants the role or changes such an account.
    SuperAdmin,
}

impl Role {
    /// Every role, in increasing power.
    pub const ALL: [Role; 4] = [Role::User, Role::Moderator, Role::Admin, Role::SuperAdmin];

    /// The role's name on the wire and in the database (`super_admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
            Role::SuperAdmin => "super_admin",
        }
    }

    /// The role named `s` (as [`Role::as_str`] spells it), or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| "must be one of user, moderator, admin, super_admin".to_owned())
    }

    /// Admins and super admins administer accounts and see every email.
    pub fn is_admin(self) -> bool {
        self >= Role::Admin
    }

    /// Moderators and above see every task and may remove others' comments.
    pub fn is_moderator(self) -> bool {
        self >= Role::Moderator
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an account may be used. A disabled account keeps its data but cannot sign in, and its
/// existing access tokens stop working at the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// The account may sign in and its tokens work.
    Active,
    /// The account keeps its data but may not sign in; its tokens stop working at their next
    /// request.
    Disabled,
}

impl UserStatus {
    /// The status's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }

    /// The status named `s` (`active`, `disabled`), or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "active" => Ok(UserStatus::Active),
            "disabled" => Ok(UserStatus::Disabled),
            _ => Err("must be one of active, disabled".to_owned()),
        }
    }
}

/// An account as the domain knows it. The password hash is deliberately not part of it: only the
/// sign-in path ever reads one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The account's id.
    pub id: UserId,
    /// The unique username, as its owner spelled it (unique regardless of case).
    pub username: String,
    /// Always stored lower-case, so that comparisons are case-insensitive.
    pub email: String,
    /// What the account may do.
    pub role: Role,
    /// Whether the account may be used.
    pub status: UserStatus,
    /// The given name, if the user gave one.
    pub first_name: Option<String>,
    /// The family name, if the user gave one.
    pub last_name: Option<String>,
    /// A few words the user wrote about themself, if any.
    pub bio: Option<String>,
    /// The URL of the user's picture, if any.
    pub avatar_url: Option<String>,
    /// Whether signing in with a password also needs a TOTP code (or a recovery code).
    pub totp_enabled: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
    /// When the account last changed.
    pub updated_at: DateTime<Utc>,
    /// Access tokens carry the generation they were issued under and are refused once it moves
    /// on (it does when the account is disabled), even if the account is enabled again.
    pub token_generation: i64,
    /// Grows with every change to the account: the `ETag` of its representation, and what a
    /// conditional change (`If-Match`) is checked against.
    pub version: i64,
}

impl User {
    /// Whether the account may be used (its status is active).
    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }

    /// A user's email is shown only to themself and to admins.
    pub fn email_visible_to(&self, viewer: &crate::Principal) -> bool {
        viewer.id == self.id || viewer.role.is_admin()
    }

    /// An active `user` with id `id`, username `user<id>` and email `user<id>@example.com`: the
    /// starting point of test fixtures here and in crates that enable the `mock` feature.
    #[cfg(any(test, feature = "mock"))]
    pub fn sample(id: i64) -> Self {
        let at = now();
        User {
            id: UserId(id),
            username: format!("user{id}"),
            email: format!("user{id}@example.com"),
            role: Role::User,
            status: UserStatus::Active,
            first_name: None,
            last_name: None,
            bio: None,
            avatar_url: None,
            totp_enabled: false,
            created_at: at,
            updated_at: at,
            token_generation: 0,
            version: 1,
        }
    }
}

/// A username: 3–32 characters of `[a-zA-Z0-9_.-]`. Unique regardless of case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// A username from what a client sent, trimmed; the message a `422` carries otherwise.
    pub fn parse(raw: impl AsRef<str>) -> Result<Self, String> {
        let s = raw.as_ref().trim();
        if !(3..=32).contains(&s.len()) {
            return Err("must be 3 to 32 characters".into());
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
            return Err("may contain only letters, digits, '_', '.' and '-'".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// The username as its owner spelled it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The username as an owned `String`.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An email address, trimmed and lower-cased so that comparisons are case-insensitive.
///
/// The check is deliberately modest (one `@`, a dotted domain, no spaces or angle brackets):
/// the only real test of an address is mail reaching it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// An email address from what a client sent, trimmed and lower-cased; the message a `422`
    /// carries otherwise.
    pub fn parse(raw: impl AsRef<str>) -> Result<Self, String> {
        const INVALID: &str = "must be a valid email address";
        let s = raw.as_ref().trim().to_lowercase();
        if s.len() > 254 {
            return Err("must be at most 254 characters".into());
        }
        let (local, domain) = s.split_once('@').ok_or(INVALID)?;
        let bad_char = |c: char| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"@".contains(c);
        let domain_ok = domain.contains('.')
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && !domain.contains("..")
            && !domain.chars().any(bad_char);
        if local.is_empty() || local.len() > 64 || local.chars().any(bad_char) || !domain_ok {
            return Err(INVALID.into());
        }
        Ok(Self(s))
    }

    /// The address, lower-cased.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address, lower-cased, as an owned `String`.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A new password: 8 to 72 bytes. bcrypt reads at most 72 bytes, so a longer password is refused
/// rather than silently truncated. The value never appears in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The shortest password accepted, in bytes.
    pub const MIN_BYTES: usize = 8;
    /// The longest password accepted, in bytes: all that bcrypt reads.
    pub const MAX_BYTES: usize = 72;

    /// A new password of 8 to 72 bytes, as sent (never trimmed); the message a `422` carries
    /// otherwise.
    pub fn parse(raw: impl Into<String>) -> Result<Self, String> {
        let s = raw.into();
        if s.len() < Self::MIN_BYTES {
            return Err(format!("must be at least {} bytes", Self::MIN_BYTES));
        }
        if s.len() > Self::MAX_BYTES {
            return Err(format!("must be at most {} bytes", Self::MAX_BYTES));
        }
        Ok(Self(s))
    }

    /// The password itself, for the hasher alone.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A validated registration.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The chosen username.
    pub username: Username,
    /// The email address, lower-cased.
    pub email: Email,
    /// The chosen password, not yet hashed.
    pub password: Password,
}

impl NewAccount {
    /// Validates the three fields at once, reporting every failing one.
    pub fn parse(
        username: Option<String>,
        email: Option<String>,
        password: Option<String>,
    ) -> Result<Self, workbench_core::FieldErrors> {
        Self::parse_with(TypeFailures::default(), username, email, password)
    }

    /// [`Self::parse`] of a registration some of whose fields were sent with a value of the
    /// wrong type: those are absent here, and reported as they failed, first.
    pub fn parse_with(
        type_failures: TypeFailures,
        username: Option<String>,
        email: Option<String>,
        password: Option<String>,
    ) -> Result<Self, workbench_core::FieldErrors> {
        let mut v = Validator::seeded(type_failures);
        let username = v.required("username", username, Username::parse);
        let email = v.required("email", email, Email::parse);
        let password = v.required("password", password, Password::parse);
        let account = match (username, email, password) {
            (Some(username), Some(email), Some(password)) => Some(Self { username, email, password }),
            _ => None,
        };
        v.finish_with(account)
    }
}

/// What the repository stores for a new account: the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The username to store.
    pub username: Username,
    /// The email address to store, lower-cased.
    pub email: Email,
    /// The bcrypt hash of the password; `None` for an account made through an OAuth provider alone,
    /// which has none.
    pub password_hash: Option<String>,
    /// What the account may do.
    pub role: Role,
    /// When the account is made: its `created_at` and `updated_at`.
    pub created_at: DateTime<Utc>,
}

/// A validated password change.
#[derive(Debug, Clone)]
pub struct PasswordChange {
    /// The password the account has now, to be checked before anything changes.
    pub current_password: String,
    /// The password that replaces it.
    pub new_password: Password,
}

impl PasswordChange {
    /// Checks both passwords at once: the current one must be sent, the new one must be a valid
    /// [`Password`]; every failing field is reported.
    pub fn parse(
        current_password: Option<String>,
        new_password: Option<String>,
    ) -> Result<Self, workbench_core::FieldErrors> {
        let mut v = Validator::default();
        let current =
            v.required(
                "current_password",
                current_password,
                |s: String| {
                    if s.is_empty() { Err("is required") } else { Ok(s) }
                },
            );
        let new = v.required("new_password", new_password, Password::parse);
        v.finish_with(current.zip(new).map(|(current_password, new_password)| Self { current_password, new_password }))
    }
}

/// Changes a user makes to their own profile. For the nullable fields, `Some(None)` clears the
/// value and `None` keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChanges {
    /// A new username; `None` keeps it.
    pub username: Option<Username>,
    /// A new given name, or `Some(None)` to clear it.
    pub first_name: Option<Option<String>>,
    /// A new family name, or `Some(None)` to clear it.
    pub last_name: Option<Option<String>>,
    /// A new text about the user, or `Some(None)` to clear it.
    pub bio: Option<Option<String>>,
    /// A new picture URL, or `Some(None)` to clear it.
    pub avatar_url: Option<Option<String>>,
}

impl ProfileChanges {
    /// The most characters of a first or last name.
    pub const MAX_NAME_CHARS: usize = 100;
    /// The most characters of a bio.
    pub const MAX_BIO_CHARS: usize = 2000;
    /// The most bytes of an avatar URL.
    pub const MAX_URL_BYTES: usize = 2048;

    /// A first or last name: trimmed, at most 100 characters; blank clears it.
    pub fn parse_name(raw: Option<String>) -> Result<Option<String>, String> {
        Self::parse_text::<{ Self::MAX_NAME_CHARS }>(raw)
    }

    /// A bio: trimmed, at most 2000 characters; blank clears it.
    pub fn parse_bio(raw: Option<String>) -> Result<Option<String>, String> {
        Self::parse_text::<{ Self::MAX_BIO_CHARS }>(raw)
    }

    /// An avatar URL: an absolute `http` or `https` URL without spaces; blank clears it.
    pub fn parse_avatar_url(raw: Option<String>) -> Result<Option<String>, String> {
        let Some(s) = raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
        let host_ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'));
        if !host_ok || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must be an absolute http or https URL".into());
        }
        if s.len() > Self::MAX_URL_BYTES {
            return Err(format!("must be at most {} bytes", Self::MAX_URL_BYTES));
        }
        Ok(Some(s))
    }

    /// Bounded like any text a person types, except that blank is no error: it clears the field.
    fn parse_text<const MAX: usize>(raw: Option<String>) -> Result<Option<String>, String> {
        match raw.map(|raw| BoundedText::<MAX>::parse(&raw)) {
            None | Some(Err(TextError::Blank)) => Ok(None),
            Some(Ok(text)) => Ok(Some(text.into_inner())),
            Some(Err(e)) => Err(e.into()),
        }
    }

    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("al").is_err());
        assert!(Username::parse("a".repeat(33)).is_err());
        assert!(Username::parse("bad name").is_err());
        assert!(Username::parse("ÉTÉ").is_err());
        assert_eq!(Username::parse(" ok.name_-1 ").unwrap().as_str(), "ok.name_-1");
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(Email::parse(" Ann@Example.COM ").unwrap().as_str(), "ann@example.com");
        for bad in ["", "ann", "ann@", "@x.io", "ann@localhost", "a b@x.io", "ann@x..io", "a@b@c.io"] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn passwords_are_bounded_in_bytes_not_chars() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("x".repeat(72)).is_ok());
        assert!(Password::parse("x".repeat(73)).is_err());
        // 24 three-byte characters are 72 bytes; 25 are 75 and must be refused, not truncated.
        assert!(Password::parse("€".repeat(24)).is_ok());
        assert!(Password::parse("€".repeat(25)).is_err());
        assert_eq!(format!("{:?}", Password::parse("secret-pass").unwrap()), "Password(***)");
    }

    #[test]
    fn registration_reports_every_missing_field() {
        let e = NewAccount::parse(None, None, None).unwrap_err();
        assert!(e.contains("username") && e.contains("email") && e.contains("password"));
    }

    #[test]
    fn a_registration_field_of_the_wrong_type_is_reported_as_such_first() {
        let mut type_failures = TypeFailures::default();
        type_failures.record("email", "invalid type: integer `5`, expected a string");
        let e = NewAccount::parse_with(type_failures, Some("x".into()), None, Some("password1".into())).unwrap_err();
        let fields: Vec<_> = e.as_slice().iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
        assert_eq!(fields[0], ("email", "invalid type: integer `5`, expected a string"));
        assert_eq!(fields.iter().map(|f| f.0).collect::<Vec<_>>(), ["email", "username"]);
    }

    #[test]
    fn roles_are_ranked() {
        assert!(Role::User < Role::Moderator && Role::Moderator < Role::Admin && Role::Admin < Role::SuperAdmin);
        assert_eq!(Role::parse("super_admin"), Ok(Role::SuperAdmin));
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn profile_fields() {
        assert_eq!(ProfileChanges::parse_name(Some("  ".into())), Ok(None));
        assert!(ProfileChanges::parse_name(Some("é".repeat(101))).is_err());
        assert!(ProfileChanges::parse_avatar_url(Some("javascript:alert(1)".into())).is_err());
        assert!(ProfileChanges::parse_avatar_url(Some("https://".into())).is_err());
        assert_eq!(
            ProfileChanges::parse_avatar_url(Some("https://cdn.example.com/a.png".into())),
            Ok(Some("https://cdn.example.com/a.png".into()))
        );
    }
}
