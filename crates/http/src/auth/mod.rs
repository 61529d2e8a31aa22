//! Registration, sign-in and token rotation.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use workbench_users::{NewAccount, Role};

pub mod dto;
mod errors;

use crate::extract::{Client, CurrentUser, Json, Query};
use crate::groups::Routes;
use crate::problem::{ApiError, Problem};
use crate::responses::{BadRequest, Unauthorized, Unprocessable};
use crate::state::AppState;
use crate::users::dto::UserResponse;
use dto::{
    LoginRequest, OAuthCallbackQuery, OAuthProviderSchema, RecoveryCodesResponse, RefreshRequest, RegisterRequest,
    TokenResponse, TotpCodeRequest, TotpSetupResponse,
};

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/auth") {
        cfg.service(register)
            .service(login)
            .service(refresh)
            .service(logout)
            .service(me)
            .service(oauth_start)
            .service(oauth_callback)
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
    security(("bearer_auth" = [])),
    responses(
        (status = 200, body = UserResponse, headers(("ETag" = String))),
        (status = 401, response = Unauthorized),
    )
)]
#[get("/auth/me")]
pub async fn me(state: web::Data<AppState>, CurrentUser(caller): CurrentUser) -> Result<HttpResponse, ApiError> {
    Ok(crate::users::own_response(actix_web::http::StatusCode::OK, state.users.me(&caller).await?))
}

/// Start signing in with Google or GitHub: redirects to the provider with a single-use `state`
/// (valid 10 minutes) and a PKCE challenge.
#[utoipa::path(
    tag = "auth",
    operation_id = "oauth_start",
    params(("provider" = inline(OAuthProviderSchema), Path, description = "`google` or `github`")),
    responses(
        (status = 302, description = "To the provider's consent page",
            headers(("Location" = String, description = "The provider's authorization URL"))),
        (status = 404, description = "The provider is unknown or not configured", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/auth/oauth/{provider}")]
pub async fn oauth_start(state: web::Data<AppState>, provider: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let url = state.oauth.begin(&provider).await?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// Where the provider sends the browser back. Checks and spends `state`, exchanges the code,
/// then signs in to the linked account, to an account with the same *verified* email (linking
/// it), or to a new account. Answers with the token pair, or, when `FRONTEND_URL` is set,
/// redirects there with the pair in the URL fragment.
#[utoipa::path(
    tag = "auth",
    operation_id = "oauth_callback",
    params(("provider" = inline(OAuthProviderSchema), Path, description = "`google` or `github`"), OAuthCallbackQuery),
    responses(
        (status = 200, description = "A new token pair", body = TokenResponse),
        (status = 302, description = "With `FRONTEND_URL` set: to it, with `access_token`, `refresh_token`, `token_type`, `expires_in` and `user_id` in the fragment",
            headers(("Location" = String))),
        (status = 400, description = "Missing, unknown, expired or replayed `state`, or no `code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The provider is unknown or not configured", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email belongs to an account, but the provider has not verified it", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider refused the sign-in, could not be reached, or shared no email address", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/auth/oauth/{provider}/callback")]
pub async fn oauth_callback(
    state: web::Data<AppState>,
    provider: web::Path<String>,
    query: Query<OAuthCallbackQuery>,
    Client(client): Client,
) -> Result<HttpResponse, ApiError> {
    let session = state.oauth.complete(&provider, query.into_inner().into(), &client).await?;
    let tokens = TokenResponse::from(session);
    Ok(match &state.web.frontend_url {
        Some(url) => tokens.redirect_to(url),
        None => tokens.respond(),
    })
}

/// Start turning on two-factor authentication: a new secret for an authenticator app. It takes
/// effect only after `POST /auth/totp/enable` with a code; until then, calling this again
/// replaces it. Once TOTP is on, the secret is never shown again (409).
#[utoipa::path(
    tag = "auth",
    operation_id = "totp_setup",
    security(("bearer_auth" = [])),
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

/// Turn on two-factor authentication with a current code of the pending secret. Answers with
/// ten single-use recovery codes, shown only this once.
#[utoipa::path(
    tag = "auth",
    operation_id = "totp_enable",
    security(("bearer_auth" = [])),
    request_body = TotpCodeRequest,
    responses(
        (status = 200, body = RecoveryCodesResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 409, description = "Already enabled, or no pending secret (call setup first)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`code` is missing or wrong", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/totp/enable")]
pub async fn totp_enable(
    state: web::Data<AppState>,
    CurrentUser(caller): CurrentUser,
    Client(client): Client,
    body: Json<TotpCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let code = body.into_inner().code()?;
    let codes = state.two_factor.enable(caller.id, &code, &client).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(RecoveryCodesResponse::from(codes)))
}

/// Turn off two-factor authentication with a current code, or with an unused recovery code for
/// someone who lost their device. The secret and the recovery codes are forgotten.
#[utoipa::path(
    tag = "auth",
    operation_id = "totp_disable",
    security(("bearer_auth" = [])),
    request_body = TotpCodeRequest,
    responses(
        (status = 204, description = "Two-factor authentication is off"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 409, description = "TOTP is not enabled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`code` is missing or wrong", body = Problem, content_type = "application/problem+json"),
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
    let code = body.into_inner().code()?;
    state.two_factor.disable(caller.id, &code, &client).await?;
    Ok(HttpResponse::NoContent().finish())
}
