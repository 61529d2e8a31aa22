//! Wire shapes of users and profiles.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::{IntoParams, ToSchema};
use workbench_core::{FieldErrors, PageRequest, Validator};
use workbench_users::{PasswordChange, Principal, ProfileChanges, Role, User, UserStatus, Username};

use crate::body::{WHITESPACE_CLASS, component, http_url_pattern, patterned, present, trimmed_text};
use crate::pagination::{PageNumberSchema, PageSizeSchema};

/// The schema of a username as `Username::parse` reads it: 3–32 characters of `[a-zA-Z0-9_.-]`,
/// around which whitespace is trimmed.
#[derive(Debug)]
pub struct UsernameSchema;

component!(
    UsernameSchema,
    "Username",
    patterned(
        format!("^[{w}]*[A-Za-z0-9_.-]{{3,32}}[{w}]*$", w = WHITESPACE_CLASS),
        "3 to 32 characters of `[a-zA-Z0-9_.-]` (surrounding whitespace is trimmed); unique regardless of case"
    )
    .examples(["ann"])
);

/// The schema of a new password as `Password::parse` reads it: 8 to 72 bytes, not trimmed.
#[derive(Debug)]
pub struct PasswordSchema;

component!(
    PasswordSchema,
    "Password",
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
        .min_length(Some(workbench_users::Password::MIN_BYTES))
        .max_length(Some(workbench_users::Password::MAX_BYTES))
        .description(Some(
            "8 to 72 bytes of UTF-8, taken as sent (a character outside ASCII is 2 to 4 bytes, so the byte \
             bounds are the binding ones)"
        ))
        .examples(["correct horse battery"])
);

/// The schema of an email address as `Email::parse` reads it.
#[derive(Debug)]
pub struct EmailSchema;

component!(
    EmailSchema,
    "Email",
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .max_length(Some(254))
        .description(Some(
            "An address with one `@`, a local part of 1 to 64 bytes and a domain with a dot (not at \
             either end, never two in a row, no `-` at either end); no whitespace, control characters or \
             `<>()[],;:\\\"`; at most 254 bytes. Trimmed, and compared and stored in lower case"
        ))
        .examples(["ann@example.com"])
);

/// The schema of a first or last name: at most 100 characters once trimmed; blank clears it.
#[derive(Debug)]
pub struct PersonNameSchema;

component!(
    PersonNameSchema,
    "PersonName",
    trimmed_text(0, ProfileChanges::MAX_NAME_CHARS, "At most 100 characters once trimmed; blank clears it")
);

/// The schema of a bio: at most 2000 characters once trimmed; blank clears it.
#[derive(Debug)]
pub struct BioSchema;

component!(
    BioSchema,
    "Bio",
    trimmed_text(0, ProfileChanges::MAX_BIO_CHARS, "At most 2000 characters once trimmed; blank clears it")
);

/// The schema of an avatar URL as `ProfileChanges::parse_avatar_url` reads it.
#[derive(Debug)]
pub struct AvatarUrlSchema;

component!(
    AvatarUrlSchema,
    "AvatarUrl",
    patterned(
        http_url_pattern(2048, true),
        "An absolute `http://` or `https://` URL of at most 2048 bytes, without whitespace or control characters \
         (surrounding whitespace is trimmed); blank clears it"
    )
    .examples(["https://cdn.example.com/ann.png"])
);

/// A user as others see them. `email` is present only for the user themself and for admins.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: i64,
    pub username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub role: Role,
    pub status: UserStatus,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    pub totp_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserResponse {
    /// `user` as `viewer` may see it.
    pub fn seen_by(user: User, viewer: &Principal) -> Self {
        let email = user.email_visible_to(viewer).then(|| user.email.clone());
        Self {
            id: user.id.0,
            username: user.username,
            email,
            role: user.role,
            status: user.status,
            first_name: user.first_name,
            last_name: user.last_name,
            bio: user.bio,
            avatar_url: user.avatar_url,
            totp_enabled: user.totp_enabled,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }

    /// The user as they see themself.
    pub fn own(user: User) -> Self {
        let viewer = Principal::from(&user);
        Self::seen_by(user, &viewer)
    }
}

/// `PATCH /users/me`: fields left out are kept; `null` clears a nullable field.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateProfileRequest {
    /// May be changed, not cleared (`null` is refused).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = UsernameSchema)]
    pub username: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<PersonNameSchema>, nullable)]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<PersonNameSchema>, nullable)]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<BioSchema>, nullable)]
    pub bio: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<AvatarUrlSchema>, nullable)]
    pub avatar_url: Option<Option<String>>,
}

impl TryFrom<UpdateProfileRequest> for ProfileChanges {
    type Error = FieldErrors;
    fn try_from(r: UpdateProfileRequest) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        let username = match r.username {
            None => None,
            Some(None) => {
                v.fail("username", "must not be null");
                None
            }
            Some(Some(raw)) => v.check("username", Username::parse(raw)),
        };
        let mut nullable =
            |field: &str, raw: Option<Option<String>>, parse: fn(Option<String>) -> Result<Option<String>, String>| {
                raw.and_then(|raw| v.check(field, parse(raw)))
            };
        let changes = ProfileChanges {
            first_name: nullable("first_name", r.first_name, ProfileChanges::parse_name),
            last_name: nullable("last_name", r.last_name, ProfileChanges::parse_name),
            bio: nullable("bio", r.bio, ProfileChanges::parse_bio),
            avatar_url: nullable("avatar_url", r.avatar_url, ProfileChanges::parse_avatar_url),
            username,
        };
        v.finish().map(|()| changes)
    }
}

/// `PUT /users/me/password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    /// The password the account has now; a wrong one is refused with `422` naming this field.
    #[schema(value_type = String, required = true, min_length = 1, format = Password)]
    pub current_password: Option<String>,
    #[schema(value_type = PasswordSchema, required = true)]
    pub new_password: Option<String>,
}

impl TryFrom<ChangePasswordRequest> for PasswordChange {
    type Error = FieldErrors;
    fn try_from(r: ChangePasswordRequest) -> Result<Self, FieldErrors> {
        PasswordChange::parse(r.current_password, r.new_password)
    }
}

/// `page`, `per_page` and `search` of a user list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Page number, from 1.
    #[param(value_type = Option<PageNumberSchema>, inline)]
    pub page: Option<i64>,
    /// Items per page, from 1; more than 100 is read as 100. Default 20.
    #[param(value_type = Option<PageSizeSchema>, inline)]
    pub per_page: Option<i64>,
    /// Case-insensitive substring of username or name (and email, for admins).
    pub search: Option<String>,
}

impl UserListQuery {
    pub fn page(&self) -> Result<PageRequest, FieldErrors> {
        PageRequest::from_signed(self.page, self.per_page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_patch_distinguishes_absent_from_null() {
        let r: UpdateProfileRequest = serde_json::from_str(r#"{"bio": null, "first_name": "Ann"}"#).unwrap();
        let c = ProfileChanges::try_from(r).unwrap();
        assert_eq!(c.bio, Some(None));
        assert_eq!(c.first_name, Some(Some("Ann".into())));
        assert_eq!(c.last_name, None);
        let r: UpdateProfileRequest = serde_json::from_str(r#"{"username": null, "avatar_url": "ftp://x"}"#).unwrap();
        let e = ProfileChanges::try_from(r).unwrap_err();
        assert!(e.contains("username") && e.contains("avatar_url"));
    }
}
