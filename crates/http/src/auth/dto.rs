//! Wire shapes of registration, sign-in, tokens, two-factor authentication and OAuth.

use actix_web::HttpResponse;
use actix_web::http::header;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use workbench_core::{FieldErrors, TypeFailures, Validator};
use workbench_users::{
    Callback, LoginAttempt, MfaChallenge, NewAccount, RecoveryCode, SecondFactorAttempt, Session, TotpSetup,
};

use crate::body::{Lenient, WHITESPACE_CLASS, component, lenient, patterned};
use crate::problem::{ApiError, CONTENT_TYPE, Problem};
use crate::users::dto::{EmailSchema, PasswordSchema, UserResponse, UsernameSchema};

/// `POST /auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[serde(default)]
    #[schema(value_type = UsernameSchema, required = true)]
    pub username: Lenient<String>,
    #[serde(default)]
    #[schema(value_type = EmailSchema, required = true)]
    pub email: Lenient<String>,
    #[serde(default)]
    #[schema(value_type = PasswordSchema, required = true)]
    pub password: Lenient<String>,
}

impl TryFrom<RegisterRequest> for NewAccount {
    type Error = FieldErrors;
    fn try_from(r: RegisterRequest) -> Result<Self, FieldErrors> {
        let mut failures = TypeFailures::default();
        let username = lenient("username", r.username, &mut failures);
        let email = lenient("email", r.email, &mut failures);
        let password = lenient("password", r.password, &mut failures);
        NewAccount::parse_with(failures, username, email, password)
    }
}

/// `POST /auth/login`.
#[derive(Deserialize, ToSchema)]
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

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest").field("email", &self.email).finish_non_exhaustive()
    }
}

impl LoginRequest {
    /// The attempt, or a `422` naming each missing field.
    pub fn attempt(self) -> Result<LoginAttempt, FieldErrors> {
        let mut v = Validator::default();
        let email = v.required("email", self.email, Ok::<_, String>);
        let password = v.required("password", self.password, Ok::<_, String>);
        let (totp_code, recovery_code) = (self.totp_code, self.recovery_code);
        v.finish_with(email.zip(password).map(|(email, password)| LoginAttempt {
            email,
            password,
            totp_code,
            recovery_code,
        }))
    }
}

/// `POST /auth/login/totp`: the second step of a sign-in that stopped at `totp-required`.
#[derive(Deserialize, ToSchema)]
pub struct LoginTotpRequest {
    /// The `mfa_token` of the `totp-required` answer (or of the front end's URL fragment).
    #[schema(value_type = String, required = true, min_length = 1)]
    pub mfa_token: Option<String>,
    /// The current code of the authenticator app.
    #[schema(example = "123456")]
    pub totp_code: Option<String>,
    /// An unused recovery code, in place of `totp_code`.
    pub recovery_code: Option<String>,
}

impl std::fmt::Debug for LoginTotpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginTotpRequest").finish_non_exhaustive()
    }
}

impl LoginTotpRequest {
    /// The attempt, or a `422` naming `mfa_token` when it is missing.
    pub fn attempt(self) -> Result<SecondFactorAttempt, FieldErrors> {
        match self.mfa_token.filter(|t| !t.is_empty()) {
            Some(mfa_token) => {
                Ok(SecondFactorAttempt { mfa_token, totp_code: self.totp_code, recovery_code: self.recovery_code })
            }
            None => Err(FieldErrors::single("mfa_token", "is required")),
        }
    }
}

/// `POST /auth/refresh` and `POST /auth/logout`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The `refresh_token` of the last token pair.
    #[schema(value_type = String, required = true, min_length = 1)]
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
        redirect(frontend_url, &fragment)
    }
}

/// The callback's `401 totp-required`: a problem document with the challenge's token.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "https://workbench.dev/problems/totp-required",
    "title": "Unauthorized",
    "status": 401,
    "detail": "This account has two-factor authentication on: complete the sign-in with POST /api/v1/auth/login/totp.",
    "mfa_token": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "expires_in": 300
}))]
pub struct TotpRequiredProblem {
    #[serde(flatten)]
    pub problem: Problem,
    /// Single use, valid `expires_in` seconds: send it to `POST /auth/login/totp` with a code.
    pub mfa_token: String,
    /// Seconds until `mfa_token` expires.
    pub expires_in: i64,
}

impl TotpRequiredProblem {
    pub fn new(challenge: &MfaChallenge) -> Self {
        let problem = ApiError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "totp-required",
            "This account has two-factor authentication on: complete the sign-in with POST \
             /api/v1/auth/login/totp, sending `mfa_token` with a `totp_code` or a `recovery_code`.",
        )
        .problem();
        Self { problem, mfa_token: challenge.token.expose().to_owned(), expires_in: seconds_left(challenge) }
    }

    /// 401 with the challenge; never cached.
    pub fn respond(self) -> HttpResponse {
        HttpResponse::Unauthorized()
            .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(self)
    }

    /// 302 to `frontend_url` with `error=totp_required`, `mfa_token` and `expires_in` in the
    /// fragment (kept out of logs and `Referer` as the tokens are), and no tokens: the front end
    /// asks for a code and completes with `POST /auth/login/totp`.
    pub fn redirect_to(challenge: &MfaChallenge, frontend_url: &str) -> HttpResponse {
        let fragment = form_urlencoded::Serializer::new(String::new())
            .append_pair("error", "totp_required")
            .append_pair("mfa_token", challenge.token.expose())
            .append_pair("expires_in", &seconds_left(challenge).to_string())
            .finish();
        redirect(frontend_url, &fragment)
    }
}

/// Whole seconds until the challenge expires.
fn seconds_left(challenge: &MfaChallenge) -> i64 {
    (challenge.expires_at - workbench_users::now()).num_seconds().max(0)
}

/// 302 to `frontend_url` (any fragment of its own replaced) with `fragment`.
fn redirect(frontend_url: &str, fragment: &str) -> HttpResponse {
    let base = frontend_url.split('#').next().unwrap_or(frontend_url);
    HttpResponse::Found()
        .insert_header((header::LOCATION, format!("{base}#{fragment}")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// `POST /auth/totp/setup`: what an authenticator app needs. Shown only until TOTP is enabled.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetupResponse {
    /// The shared secret, base32, for typing into an app by hand.
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    pub secret: String,
    /// The same secret as an `otpauth://totp/...` URL, for a QR code.
    #[schema(example = "otpauth://totp/Workbench:ann%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Workbench")]
    pub otpauth_url: String,
}

impl From<TotpSetup> for TotpSetupResponse {
    fn from(s: TotpSetup) -> Self {
        Self { secret: s.secret, otpauth_url: s.otpauth_url }
    }
}

/// The schema of a two-factor code as [`TotpCodeRequest::code`] reads it: anything but blank.
#[derive(Debug)]
pub struct TotpCodeSchema;

component!(
    TotpCodeSchema,
    "TotpCode",
    patterned(
        format!("[^{WHITESPACE_CLASS}]"),
        "Not blank; surrounding whitespace is trimmed. A code that is not current (or not an unused \
         recovery code) is refused with `422` naming `code`"
    )
    .examples(["123456"])
);

/// `POST /auth/totp/enable` and `POST /auth/totp/disable`.
#[derive(Deserialize, ToSchema)]
pub struct TotpCodeRequest {
    /// The current 6-digit code of the authenticator app (for `disable`, an unused recovery code
    /// works too).
    #[schema(value_type = TotpCodeSchema, required = true)]
    pub code: Option<String>,
    /// The account's current password. Required when the account has one; accounts made through
    /// Google or GitHub alone have none and leave it out.
    #[schema(example = "correct horse battery")]
    pub password: Option<String>,
}

impl std::fmt::Debug for TotpCodeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpCodeRequest").finish_non_exhaustive()
    }
}

impl TotpCodeRequest {
    /// The code (empty when missing: the domain names it, with the password if that fails too)
    /// and the password.
    pub fn into_parts(self) -> (String, Option<String>) {
        (self.code.map(|c| c.trim().to_owned()).unwrap_or_default(), self.password)
    }
}

/// `POST /auth/totp/enable`: the recovery codes, shown only this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesResponse {
    /// Ten single-use codes, each accepted once as `recovery_code` at login in place of a TOTP code.
    #[schema(example = json!(["abcd-efgh-jkmn-pqrs"]))]
    pub recovery_codes: Vec<String>,
}

impl From<Vec<RecoveryCode>> for RecoveryCodesResponse {
    fn from(codes: Vec<RecoveryCode>) -> Self {
        Self { recovery_codes: codes.iter().map(|c| c.expose().to_owned()).collect() }
    }
}

/// The schema of a sign-in provider's name in a path.
#[derive(Debug)]
pub struct OAuthProviderSchema;

component!(
    OAuthProviderSchema,
    "OAuthProvider",
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some("^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$"))
        .examples(["google", "github", "keycloak"])
        .description(Some(
            "`google`, `github`, or the name of an OpenID Connect provider configured in `OIDC_PROVIDERS`. \
             A provider that is not configured answers `404`"
        ))
);

/// One way to sign in, as `GET /auth/providers` lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInProvider {
    /// The name in the provider's routes.
    #[schema(example = "keycloak")]
    pub name: String,
    /// What a login page shows on its button.
    #[schema(example = "Company SSO")]
    pub display_name: String,
    /// What kind of provider it is.
    #[schema(value_type = String, example = "oidc", pattern = "^(oidc|google|github)$")]
    pub kind: &'static str,
    /// Where a login page sends the browser to start signing in (`GET /auth/oauth/{name}`).
    #[schema(example = "https://workbench.example.com/api/v1/auth/oauth/keycloak")]
    pub start_url: String,
}

/// `GET /auth/providers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInProviders {
    /// Every configured way to sign in besides a password, in the order configured (Google,
    /// GitHub, then `OIDC_PROVIDERS`).
    pub data: Vec<SignInProvider>,
}

/// `POST /auth/oidc/{provider}/backchannel-logout`, as the provider sends it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BackchannelLogoutForm {
    /// The logout token: a JWT signed by the provider (OpenID Connect Back-Channel Logout 1.0 §2.4).
    #[schema(example = "eyJhbGciOiJSUzI1NiIsInR5cCI6ImxvZ291dCtqd3QifQ...", required = true)]
    pub logout_token: Option<String>,
}

/// The query of `GET /auth/oauth/{provider}/callback`, as the provider sends it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OAuthCallbackQuery {
    /// The authorization code.
    pub code: Option<String>,
    /// The `state` this server sent with the redirect.
    pub state: Option<String>,
    /// Set by the provider instead of `code` when the person declined or the request was refused.
    pub error: Option<String>,
}

impl From<OAuthCallbackQuery> for Callback {
    fn from(q: OAuthCallbackQuery) -> Self {
        Callback { code: q.code, state: q.state, error: q.error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_reports_type_errors_with_rule_errors() {
        let r: RegisterRequest =
            serde_json::from_str(r#"{"username": 5, "email": "nope", "password": "short"}"#).unwrap();
        let e = NewAccount::try_from(r).unwrap_err();
        let fields: Vec<_> = e.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["username", "email", "password"]);
        assert!(e.as_slice()[0].message.contains("invalid type"));
    }
}
