//! Wire types: what clients send and receive. Domain types stay free of HTTP concerns; these
//! convert to and from them.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use workbench_core::{FieldErrors, Page, PageRequest, Validator};
use workbench_users::{
    LoginAttempt, NewAccount, PasswordChange, ProfileChanges, Role, Session, User, UserStatus, Username,
};

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
    pub fn seen_by(user: User, viewer: &User) -> Self {
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
        let viewer = user.clone();
        Self::seen_by(user, &viewer)
    }
}

/// A field read leniently: a value of the wrong JSON type is kept as a failure instead of
/// failing the whole body, so that it is reported together with every other invalid field.
#[derive(Debug, Clone)]
pub enum Lenient<T> {
    Valid(T),
    Invalid(String),
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Ok(match serde_json::from_value(value) {
            Ok(v) => Lenient::Valid(v),
            Err(e) => Lenient::Invalid(e.to_string()),
        })
    }
}

/// Splits lenient fields into their values and the type failures, then validates the values and
/// merges both lists (a field's type failure replaces its "is required").
pub fn merge_type_errors<T>(
    type_errors: Vec<workbench_core::FieldError>,
    validated: Result<T, FieldErrors>,
) -> Result<T, FieldErrors> {
    match validated {
        Ok(value) => FieldErrors::from_vec(type_errors).map_or(Ok(value), Err),
        Err(rules) => {
            let mut all = type_errors;
            let rest: Vec<_> =
                rules.into_vec().into_iter().filter(|e| !all.iter().any(|t| t.field == e.field)).collect();
            all.extend(rest);
            Err(FieldErrors::from_vec(all).expect("a rule failed"))
        }
    }
}

impl<T: Serialize> Serialize for Lenient<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Lenient::Valid(v) => v.serialize(s),
            Lenient::Invalid(message) => s.serialize_str(message),
        }
    }
}

pub fn lenient<T>(field: &str, raw: Option<Lenient<T>>, errors: &mut Vec<workbench_core::FieldError>) -> Option<T> {
    match raw? {
        Lenient::Valid(v) => Some(v),
        Lenient::Invalid(message) => {
            errors.push(workbench_core::FieldError::new(field, message));
            None
        }
    }
}

/// `POST /auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3–32 characters of `[a-zA-Z0-9_.-]`, unique regardless of case.
    #[schema(value_type = String, required = true, example = "ann")]
    pub username: Option<Lenient<String>>,
    #[schema(value_type = String, required = true, example = "ann@example.com")]
    pub email: Option<Lenient<String>>,
    /// 8 to 72 bytes.
    #[schema(value_type = String, required = true, example = "correct horse battery")]
    pub password: Option<Lenient<String>>,
}

impl TryFrom<RegisterRequest> for NewAccount {
    type Error = FieldErrors;
    fn try_from(r: RegisterRequest) -> Result<Self, FieldErrors> {
        let mut type_errors = Vec::new();
        let username = lenient("username", r.username, &mut type_errors);
        let email = lenient("email", r.email, &mut type_errors);
        let password = lenient("password", r.password, &mut type_errors);
        merge_type_errors(type_errors, NewAccount::parse(username, email, password))
    }
}

/// `POST /auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(value_type = String, required = true, example = "ann@example.com")]
    pub email: Option<String>,
    #[schema(value_type = String, required = true, example = "correct horse battery")]
    pub password: Option<String>,
    /// The current code of the authenticator app, for accounts with TOTP on.
    #[schema(example = "123456")]
    pub totp_code: Option<String>,
    /// An unused recovery code, in place of `totp_code`.
    pub recovery_code: Option<String>,
}

impl LoginRequest {
    /// The attempt, or a `422` naming each missing field.
    pub fn attempt(self) -> Result<LoginAttempt, FieldErrors> {
        let mut v = Validator::default();
        let email = v.required("email", self.email, Ok::<_, String>);
        let password = v.required("password", self.password, Ok::<_, String>);
        match (email, password) {
            (Some(email), Some(password)) => {
                Ok(LoginAttempt { email, password, totp_code: self.totp_code, recovery_code: self.recovery_code })
            }
            _ => Err(v.finish().expect_err("a field is missing")),
        }
    }
}

/// `POST /auth/refresh` and `POST /auth/logout`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    #[schema(value_type = String, required = true)]
    pub refresh_token: Option<String>,
}

impl RefreshRequest {
    pub fn token(self) -> Result<String, FieldErrors> {
        match self.refresh_token.filter(|t| !t.is_empty()) {
            Some(token) => Ok(token),
            None => Err(FieldErrors::single("refresh_token", "is required")),
        }
    }
}

/// A new token pair.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT to send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// An opaque token for `POST /auth/refresh`; single use.
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user: UserResponse,
}

impl From<Session> for TokenResponse {
    fn from(s: Session) -> Self {
        Self {
            access_token: s.access.token,
            refresh_token: s.refresh_token.expose().to_owned(),
            token_type: "Bearer",
            expires_in: s.access.expires_in,
            user: UserResponse::own(s.user),
        }
    }
}

impl TokenResponse {
    /// 200 with the pair; never cached by anything between server and client.
    pub fn respond(self) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(self)
    }

    /// 302 to `frontend_url` with the pair in the fragment, which browsers never send to a
    /// server, so the tokens stay out of access logs and `Referer` headers.
    pub fn redirect_to(self, frontend_url: &str) -> HttpResponse {
        let fragment = form_urlencoded::Serializer::new(String::new())
            .append_pair("access_token", &self.access_token)
            .append_pair("refresh_token", &self.refresh_token)
            .append_pair("token_type", self.token_type)
            .append_pair("expires_in", &self.expires_in.to_string())
            .append_pair("user_id", &self.user.id.to_string())
            .finish();
        let base = frontend_url.split('#').next().unwrap_or(frontend_url);
        HttpResponse::Found()
            .insert_header((header::LOCATION, format!("{base}#{fragment}")))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()
    }
}

/// Distinguishes a field left out (`None`) from one sent as `null` (`Some(None)`).
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /users/me`: fields left out are kept; `null` clears a nullable field.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateProfileRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub username: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub bio: Option<Option<String>>,
    /// An absolute http(s) URL.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
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
    #[schema(value_type = String, required = true)]
    pub current_password: Option<String>,
    /// 8 to 72 bytes.
    #[schema(value_type = String, required = true)]
    pub new_password: Option<String>,
}

impl TryFrom<ChangePasswordRequest> for PasswordChange {
    type Error = FieldErrors;
    fn try_from(r: ChangePasswordRequest) -> Result<Self, FieldErrors> {
        PasswordChange::parse(r.current_password, r.new_password)
    }
}

/// `PATCH /admin/users/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AdminUpdateRequest {
    pub role: Option<Role>,
    pub status: Option<UserStatus>,
}

/// `page`, `per_page` and `search` of a user list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Page number, from 1.
    #[param(minimum = 1, default = 1)]
    pub page: Option<u64>,
    /// Items per page: 1 to 100 (larger values are clamped), default 20.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u64>,
    /// Case-insensitive substring of username or name (and email, for admins).
    pub search: Option<String>,
}

impl UserListQuery {
    pub fn page(&self) -> Result<PageRequest, FieldErrors> {
        PageRequest::new(self.page, self.per_page)
    }
}

/// Where a list page stands in the whole list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pagination {
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
    pub pages: u64,
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T: ToSchema> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

/// 200 with one page of a list and its `Link` header (`first` and `last` always, `prev` and
/// `next` when they exist). Links keep every other query parameter of the request.
pub fn paginated<T: ToSchema + Serialize>(req: &HttpRequest, page: Page<T>) -> HttpResponse {
    let pages = page.pages();
    let current = u64::from(page.request.page());
    let link = link_header(req, current, pages);
    let body = Paginated {
        pagination: Pagination {
            page: page.request.page(),
            per_page: page.request.per_page(),
            total: page.total,
            pages,
        },
        data: page.items,
    };
    HttpResponse::Ok().insert_header((header::LINK, link)).json(body)
}

fn link_header(req: &HttpRequest, current: u64, pages: u64) -> String {
    let others: Vec<(String, String)> = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "page")
        .collect();
    let url = |page: u64| {
        let mut pairs = others.clone();
        pairs.push(("page".to_owned(), page.to_string()));
        format!("<{}?{}>", req.path(), serde_urlencoded::to_string(&pairs).unwrap_or_default())
    };
    let last = pages.max(1);
    let mut links = vec![format!("{}; rel=\"first\"", url(1))];
    if current > 1 {
        links.push(format!("{}; rel=\"prev\"", url((current - 1).min(last))));
    }
    if current < pages {
        links.push(format!("{}; rel=\"next\"", url(current + 1)));
    }
    links.push(format!("{}; rel=\"last\"", url(last)));
    links.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn links_keep_other_parameters_and_omit_missing_neighbours() {
        let req = TestRequest::get().uri("/api/v1/users?search=a%20b&page=2&per_page=10").to_http_request();
        let link = link_header(&req, 2, 3);
        assert!(link.contains("</api/v1/users?search=a+b&per_page=10&page=1>; rel=\"first\""), "{link}");
        assert!(link.contains("page=1>; rel=\"prev\""));
        assert!(link.contains("page=3>; rel=\"next\""));
        assert!(link.contains("page=3>; rel=\"last\""));

        let link = link_header(&req, 1, 0);
        assert!(!link.contains("prev") && !link.contains("next"), "{link}");
        assert!(link.contains("page=1>; rel=\"last\""), "an empty list's last page is 1: {link}");
    }

    #[test]
    fn registration_reports_type_errors_with_rule_errors() {
        let r: RegisterRequest =
            serde_json::from_str(r#"{"username": 5, "email": "nope", "password": "short"}"#).unwrap();
        let e = NewAccount::try_from(r).unwrap_err();
        let fields: Vec<_> = e.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["username", "email", "password"]);
        assert!(e.as_slice()[0].message.contains("invalid type"));
    }

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
