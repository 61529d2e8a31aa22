//! Registration, sign-in and token rotation.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use workbench_users::{NewAccount, Role};

use crate::dto::{LoginRequest, RefreshRequest, RegisterRequest, TokenResponse, UserResponse};
use crate::extract::{CurrentUser, Json};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Create an account with the `user` role.
#[utoipa::path(
    tag = "auth",
    operation_id = "register",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The new account", body = UserResponse,
            headers(("Location" = String, description = "The new user's URL"))),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email or username taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, all listed", body = Problem, content_type = "application/problem+json"),
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

/// Sign in with email and password.
#[utoipa::path(
    tag = "auth",
    operation_id = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenResponse),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown email or wrong password (one message for both)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/login")]
pub async fn login(state: web::Data<AppState>, body: Json<LoginRequest>) -> Result<HttpResponse, ApiError> {
    let (email, password) = body.into_inner().credentials()?;
    let session = state.auth.login(&email, &password).await?;
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
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown, expired, revoked or reused token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`refresh_token` is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(state: web::Data<AppState>, body: Json<RefreshRequest>) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().token()?;
    match state.auth.refresh(&token).await {
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
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`refresh_token` is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, body: Json<RefreshRequest>) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().token()?;
    state.auth.logout(&token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in user.
#[utoipa::path(
    tag = "auth",
    operation_id = "get_me",
    security(("bearer_auth" = [])),
    responses(
        (status = 200, body = UserResponse),
        (status = 401, description = "Missing, expired or invalid access token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/auth/me")]
pub async fn me(CurrentUser(user): CurrentUser) -> web::Json<UserResponse> {
    web::Json(UserResponse::own(user))
}
