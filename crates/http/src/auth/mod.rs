//! Registration, sign-in and token rotation.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, post, web};
use workbench_users::{NewAccount, OAuthProviderName, OAuthSignIn, Role};

pub mod dto;
mod errors;

use crate::extract::{Client, CurrentUser, Json, Query};
use crate::groups::Routes;
use crate::problem::{ApiError, Problem};
use crate::responses::{BadRequest, Unauthorized, Unprocessable};
use crate::state::AppState;
use crate::users::dto::UserResponse;
use dto::{
    BackchannelLogoutForm, LoginRequest, LoginTotpRequest, OAuthCallbackQuery, OAuthProviderSchema,
    RecoveryCodesResponse, RefreshRequest, RegisterRequest, SignInProvider, SignInProviders, TokenResponse,
    TotpCodeRequest, TotpRequiredProblem, TotpSetupResponse,
};

/// The cookie that binds a pending OAuth sign-in to the browser that started it.
const BROWSER_COOKIE: &str = "workbench_oauth_browser";

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/auth") {
        cfg.service(register)
            .service(login)
            .service(login_totp)
            .service(refresh)
            .service(logout)
            .service(me)
            .service(providers)
            .service(oauth_start)
            .service(oauth_callback)
            .service(backchannel_logout)
            .service(totp_setup)
            .service(totp_enable)
            .service(totp_disable);
    }
}

/// Create an account with the `user` role.
#[utoipa::path(
    tag = "auth",
    operation_id = "register",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The new account", body = UserResponse,
            headers(("Location" = String, description = "The new user's URL")),
            links(
                ("GetUser" = (operation_id = "get_user", parameters(("id" = "$response.body#/id")))),
                ("AdminUpdateUser" = (operation_id = "admin_update_user", parameters(("id" = "$response.body#/id")))),
                ("AdminDeleteUser" = (operation_id = "admin_delete_user", parameters(("id" = "$response.body#/id")))),
            )),
        (status = 400, response = BadRequest),
        (status = 409, description = "Email or username taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/auth/register")]
pub async fn register(state: web::Data<AppState>, body: Json<RegisterRequest>) -> Result<HttpResponse, ApiError> {
    let account = NewAccount::try_from(body.into_inner())?;
    let user = state.auth.register(account, Role::User).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/users/{}", user.id)))
        .json(UserResponse::own(user)))
}

/// Sign in with email and password, plus a TOTP code or a recovery code when the account has
/// two-factor authentication on.
#[utoipa::path(
    tag = "auth",
    operation_id = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenResponse),
        (status = 400, response = BadRequest),
        (status = 401, description = "Unknown email or wrong password (one message for both); or, type ending in `totp-required`, a missing or invalid second factor", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
        (status = 429, description = "Too many wrong two-factor codes in a row: locked for 15 minutes (`Retry-After`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    Client(client): Client,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let attempt = body.into_inner().attempt()?;
    let session = state.auth.login(attempt, &client).await?;
    Ok(TokenResponse::from(session).respond())
}

/// Complete a sign-in that stopped at `totp-required` (an OAuth sign-in of an account with
/// two-factor authentication on) with its `mfa_token` and a TOTP code or an unused recovery code.
/// Wrong codes count towards the same lock as at `POST /auth/login`; a wrong code leaves the
/// `mfa_token` usable until it expires (5 minutes) or the lock trips, a right one spends it.
#[utoipa::path(
    tag = "auth",
    operation_id = "login_totp",
    request_body = LoginTotpRequest,
    responses(
        (status = 200, description = "A new token pair; the `mfa_token` is spent", body = TokenResponse),
        (status = 400, response = BadRequest),
        (status = 401, description = "Type ending in `invalid-token`: the `mfa_token` is unknown, expired or already used (start the sign-in again); type ending in `totp-required`: the code is missing, wrong or already used (the same `mfa_token` may try again)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`mfa_token` is missing", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong two-factor codes in a row: locked for 15 minutes (`Retry-After`); the `mfa_token` is spent", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/login/totp")]
pub async fn login_totp(
    state: web::Data<AppState>,
    Client(client): Client,
    body: Json<LoginTotpRequest>,
) -> Result<HttpResponse, ApiError> {
    let attempt = body.into_inner().attempt()?;
    let session = state.oauth.complete_second_factor(attempt, &client).await?;
    Ok(TokenResponse::from(session).respond())
}

/// Exchange a refresh token for a new pair. The presented token stops working; presenting an
/// already-used one revokes its whole family (every token from the same sign-in).
#[utoipa::path(
    tag = "auth",
    operation_id = "refresh_tokens",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenResponse),
        (status = 400, response = BadRequest),
        (status = 401, description = "Unknown, expired, revoked or reused token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`refresh_token` is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    Client(client): Client,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().token()?;
    match state.auth.refresh(&token, &client).await {
        Ok(session) => Ok(TokenResponse::from(session).respond()),
        Err(e) => {
            if let workbench_users::AuthError::TokenReused { user_id } = &e {
                tracing::warn!(user_id = user_id.0, "refresh token reuse detected; token family revoked");
            }
            Err(e.into())
        }
    }
}

/// Sign out: the refresh token's family is revoked. Answers 204 for unknown tokens too.
#[utoipa::path(
    tag = "auth",
    operation_id = "logout",
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "Signed out"),
        (status = 400, response = BadRequest),
        (status = 422, description = "`refresh_token` is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    Client(client): Client,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().token()?;
    state.auth.logout(&token, &client).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in user.
#[utoipa::path(
    tag = "auth",
    operation_id = "get_me",
    security(("bearer_auth" = ["profile:read"])),
    responses(
        (status = 200, body = UserResponse, headers(("ETag" = String))),
        (status = 401, response = Unauthorized),
    )
)]
#[get("/auth/me")]
pub async fn me(state: web::Data<AppState>, CurrentUser(caller): CurrentUser) -> Result<HttpResponse, ApiError> {
    Ok(crate::users::own_response(actix_web::http::StatusCode::OK, state.users.me(&caller).await?))
}

/// Every configured way to sign in besides a password (Google, GitHub, OpenID Connect
/// providers), for a login page to show its buttons.
#[utoipa::path(
    tag = "auth",
    operation_id = "list_sign_in_providers",
    responses((status = 200, body = SignInProviders)),
)]
#[get("/auth/providers")]
pub async fn providers(state: web::Data<AppState>) -> HttpResponse {
    let base = state.web.public_url.trim_end_matches('/');
    let data = state
        .oauth
        .configured()
        .into_iter()
        .map(|p| SignInProvider {
            start_url: format!("{base}/api/v1/auth/oauth/{}", p.name),
            kind: p.name.kind().as_str(),
            name: p.name.to_string(),
            display_name: p.display_name,
        })
        .collect();
    HttpResponse::Ok().json(SignInProviders { data })
}

/// OpenID Connect Back-Channel Logout 1.0, called by the provider: checks the logout token
/// (signature against the provider's keys, `iss`, `aud`, `iat`, `jti` never seen before, the
/// back-channel logout event, `sub` or `sid`, no `nonce`), then ends at once, on every instance,
/// the sessions it names: those started from provider session `sid`, or every session of the
/// person (`sub` alone), with their refresh tokens, access tokens and sockets.
#[utoipa::path(
    tag = "auth",
    operation_id = "oidc_backchannel_logout",
    params(("provider" = inline(OAuthProviderSchema), Path, description = "An OpenID Connect provider's name")),
    request_body(content = BackchannelLogoutForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The sessions named ended (also when none was open)",
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "No, an invalid, expired or replayed logout token (type ending in `invalid-logout-token`, naming what failed)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No OpenID Connect provider of that name is configured", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider's keys could not be read", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/oidc/{provider}/backchannel-logout")]
pub async fn backchannel_logout(
    state: web::Data<AppState>,
    provider: web::Path<String>,
    Client(client): Client,
    body: web::Bytes,
) -> HttpResponse {
    // A missing token is the domain's to refuse, after the provider: an unknown one is a 404.
    let form: Option<BackchannelLogoutForm> = serde_urlencoded::from_bytes(&body).ok();
    let token = form.and_then(|f| f.logout_token).unwrap_or_default();
    let outcome = state.oauth.backchannel_logout(&provider, &token, &client).await;
    let mut response = match outcome {
        Ok(ended) => {
            tracing::info!(provider = %provider, sessions = ended, "back-channel logout");
            HttpResponse::Ok().finish()
        }
        Err(e) => ApiError::from(e).error_response(),
    };
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

/// Start signing in with Google, GitHub or an OpenID Connect provider: redirects to the provider with a single-use `state`
/// (valid 10 minutes) and a PKCE challenge, and binds the sign-in to this browser with an
/// `HttpOnly` cookie scoped to the callback: only this browser can finish it.
#[utoipa::path(
    tag = "auth",
    operation_id = "oauth_start",
    params(("provider" = inline(OAuthProviderSchema), Path, description = "`google` or `github`")),
    responses(
        (status = 302, description = "To the provider's consent page",
            headers(
                ("Location" = String, description = "The provider's authorization URL"),
                ("Set-Cookie" = String, description = "`workbench_oauth_browser`: `HttpOnly`, `SameSite=Lax`, `Secure` when `PUBLIC_URL` is https, `Path` the callback's, `Max-Age` 600. The callback needs it back"),
            )),
        (status = 404, description = "The provider is unknown or not configured", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/auth/oauth/{provider}")]
pub async fn oauth_start(state: web::Data<AppState>, provider: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let start = state.oauth.begin(&provider).await?;
    let ttl = actix_web::cookie::time::Duration::seconds(start.ttl.num_seconds());
    let cookie = browser_cookie(&state, &provider, start.binding.expose().to_owned()).max_age(ttl).finish();
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, start.url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie)
        .finish())
}

/// The browser-binding cookie of `provider`'s sign-ins, holding `value`.
fn browser_cookie<'c>(state: &AppState, provider: &str, value: String) -> actix_web::cookie::CookieBuilder<'c> {
    Cookie::build(BROWSER_COOKIE, value)
        .path(format!("/api/v1/auth/oauth/{provider}/callback"))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.web.public_url.starts_with("https://"))
}

/// Where the provider sends the browser back. Checks and spends `state`, checks that this is the
/// browser that started the sign-in (its cookie, cleared here whatever the outcome), exchanges
/// the code, then signs in to the linked account, to an account with the same *verified* email
/// (linking it), or to a new account. Answers with the token pair, or, when `FRONTEND_URL` is
/// set, redirects there with the pair in the URL fragment. An account with two-factor
/// authentication on gets no tokens here, but an `mfa_token` for `POST /auth/login/totp`.
#[utoipa::path(
    tag = "auth",
    operation_id = "oauth_callback",
    params(("provider" = inline(OAuthProviderSchema), Path, description = "`google` or `github`"), OAuthCallbackQuery),
    responses(
        (status = 200, description = "A new token pair", body = TokenResponse),
        (status = 302, description = "With `FRONTEND_URL` set: to it, with `access_token`, `refresh_token`, `token_type`, `expires_in` and `user_id` in the fragment; or, for an account with two-factor authentication on, with `error=totp_required`, `mfa_token` and `expires_in` (and no tokens): the front end asks for a code and completes with `POST /auth/login/totp`",
            headers(("Location" = String))),
        (status = 400, description = "Missing, unknown, expired or replayed `state`, a callback opened in another browser than the one that started the sign-in (no or another `workbench_oauth_browser` cookie), or no `code`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Type ending in `totp-required`: the account has two-factor authentication on. No tokens: `mfa_token` (single use, valid `expires_in` seconds, 5 minutes) completes the sign-in with a code at `POST /auth/login/totp`", body = TotpRequiredProblem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The provider is unknown or not configured", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email belongs to an account, but the provider has not verified it", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider refused the sign-in, could not be reached, or shared no email address", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/auth/oauth/{provider}/callback")]
pub async fn oauth_callback(
    request: HttpRequest,
    state: web::Data<AppState>,
    provider: web::Path<String>,
    query: Query<OAuthCallbackQuery>,
    Client(client): Client,
) -> HttpResponse {
    let browser = request.cookie(BROWSER_COOKIE);
    let outcome =
        state.oauth.complete(&provider, query.into_inner().into(), browser.as_ref().map(Cookie::value), &client).await;
    let frontend = state.web.frontend_url.as_deref();
    let mut response = match outcome {
        Ok(OAuthSignIn::SignedIn(session)) => {
            let tokens = TokenResponse::from(*session);
            match frontend {
                Some(url) => tokens.redirect_to(url),
                None => tokens.respond(),
            }
        }
        Ok(OAuthSignIn::SecondFactorRequired(challenge)) => match frontend {
            Some(url) => TotpRequiredProblem::redirect_to(&challenge, url),
            None => TotpRequiredProblem::new(&challenge).respond(),
        },
        Err(e) => ApiError::from(e).error_response(),
    };
    // The binding is single use like its state. Only a known provider's path is safe in a header.
    if let Some(provider) = OAuthProviderName::parse(&provider) {
        let cookie = browser_cookie(&state, provider.as_str(), String::new()).finish();
        if let Err(e) = response.add_removal_cookie(&cookie) {
            tracing::warn!(error = %e, "could not clear the OAuth browser cookie");
        }
    }
    response
}

/// Start turning on two-factor authentication: a new secret for an authenticator app. It takes
/// effect only after `POST /auth/totp/enable` with a code; until then, calling this again
/// replaces it. Once TOTP is on, the secret is never shown again (409).
#[utoipa::path(
    tag = "auth",
    operation_id = "totp_setup",
    security(("bearer_auth" = ["session"])),
    responses(
        (status = 200, body = TotpSetupResponse),
        (status = 401, response = Unauthorized),
        (status = 409, description = "TOTP is already enabled", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/totp/setup")]
pub async fn totp_setup(
    state: web::Data<AppState>,
    CurrentUser(caller): CurrentUser,
) -> Result<HttpResponse, ApiError> {
    let setup = state.two_factor.setup(caller.id).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(TotpSetupResponse::from(setup)))
}

/// Turn on two-factor authentication with a current code of the pending secret and the current
/// password (accounts made through Google or GitHub alone have none and send none). Answers with
/// ten single-use recovery codes, shown only this once.
#[utoipa::path(
    tag = "auth",
    operation_id = "totp_enable",
    security(("bearer_auth" = ["session"])),
    request_body = TotpCodeRequest,
    responses(
        (status = 200, body = RecoveryCodesResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 409, description = "Already enabled, or no pending secret (call setup first)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Naming `code` when it is missing or wrong, and `password` when the account has one and it is missing or wrong (both when both fail)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/totp/enable")]
pub async fn totp_enable(
    state: web::Data<AppState>,
    CurrentUser(caller): CurrentUser,
    Client(client): Client,
    body: Json<TotpCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let (code, password) = body.into_inner().into_parts();
    let codes = state.two_factor.enable(caller.id, &code, password.as_deref(), &client).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(RecoveryCodesResponse::from(codes)))
}

/// Turn off two-factor authentication with a current code, or with an unused recovery code for
/// someone who lost their device, and the current password (accounts made through Google or
/// GitHub alone have none and send none). The secret and the recovery codes are forgotten. The
/// code is spent only when the password is right.
#[utoipa::path(
    tag = "auth",
    operation_id = "totp_disable",
    security(("bearer_auth" = ["session"])),
    request_body = TotpCodeRequest,
    responses(
        (status = 204, description = "Two-factor authentication is off"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 409, description = "TOTP is not enabled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Naming `code` when it is missing or wrong, and `password` when the account has one and it is missing or wrong (both when both fail; with a wrong password, a recovery code is not judged, since only spending it could)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong codes in a row: locked for 15 minutes (`Retry-After`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/totp/disable")]
pub async fn totp_disable(
    state: web::Data<AppState>,
    CurrentUser(caller): CurrentUser,
    Client(client): Client,
    body: Json<TotpCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let (code, password) = body.into_inner().into_parts();
    state.two_factor.disable(caller.id, &code, password.as_deref(), &client).await?;
    Ok(HttpResponse::NoContent().finish())
}
