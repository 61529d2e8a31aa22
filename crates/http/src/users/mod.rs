//! Users: lists, profiles and passwords.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, patch, put, web};
use workbench_users::{Principal, ProfileChanges, User, UserId};

pub mod dto;
mod errors;

use crate::extract::{Client, CurrentUser, Json, Query};
use crate::groups::Routes;
use crate::pagination::{Paginated, paginated};
use crate::preconditions::{IfMatchSchema, etag, if_match};
use crate::problem::{ApiError, Problem};
use crate::responses::{BadRequest, NotFound, PreconditionFailed, Unauthorized, Unprocessable};
use crate::state::AppState;
use dto::{ChangePasswordRequest, UpdateProfileRequest, UserListQuery, UserResponse};

/// `user` as `viewer` may see it, with the `ETag` of its version.
pub(crate) fn user_response(status: actix_web::http::StatusCode, user: User, viewer: &Principal) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(user.version)))
        .json(UserResponse::seen_by(user, viewer))
}

/// The caller, as they see themself, with the `ETag` of their account's version.
pub(crate) fn own_response(status: actix_web::http::StatusCode, user: User) -> HttpResponse {
    let viewer = Principal::from(&user);
    user_response(status, user, &viewer)
}

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    // Before `/users/{id}`, which would otherwise claim `/users/except-me` and `/users/me`.
    if let Some(cfg) = routes.under("/users") {
        cfg.service(list).service(except_me).service(me).service(update_me).service(change_password).service(get);
    }
}

/// Users, searchable by username and name (and email, for admins). Non-admins see active
/// accounts only.
#[utoipa::path(
    tag = "users",
    operation_id = "list_users",
    security(("bearer_auth" = ["profile:read"])),
    params(UserListQuery),
    responses(
        (status = 200, body = Paginated<UserResponse>, headers(("Link" = String, description = "first, prev, next, last"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/users")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
    query: Query<UserListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = state.users.list(&viewer, query.search.clone(), query.page()?).await?;
    Ok(paginated(&req, page.map(|u| UserResponse::seen_by(u, &viewer))))
}

/// Every other active user, for assignee pickers.
#[utoipa::path(
    tag = "users",
    operation_id = "list_other_users",
    security(("bearer_auth" = ["profile:read"])),
    params(UserListQuery),
    responses(
        (status = 200, body = Paginated<UserResponse>, headers(("Link" = String, description = "first, prev, next, last"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/users/except-me")]
pub async fn except_me(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
    query: Query<UserListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = state.users.others(&viewer, query.search.clone(), query.page()?).await?;
    Ok(paginated(&req, page.map(|u| UserResponse::seen_by(u, &viewer))))
}

/// The caller, exactly as `GET /auth/me` answers.
#[utoipa::path(
    tag = "users",
    operation_id = "get_my_profile",
    security(("bearer_auth" = ["profile:read"])),
    responses(
        (status = 200, body = UserResponse, headers(("ETag" = String))),
        (status = 401, response = Unauthorized),
    )
)]
#[get("/users/me")]
pub async fn me(state: web::Data<AppState>, CurrentUser(caller): CurrentUser) -> Result<HttpResponse, ApiError> {
    Ok(own_response(actix_web::http::StatusCode::OK, state.users.me(&caller).await?))
}

/// One user.
#[utoipa::path(
    tag = "users",
    operation_id = "get_user",
    security(("bearer_auth" = ["profile:read"])),
    params(("id" = i64, Path, minimum = 1, description = "User id")),
    responses(
        (status = 200, body = UserResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[get("/users/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user = state.users.get(&viewer, UserId(id.into_inner())).await?;
    Ok(user_response(actix_web::http::StatusCode::OK, user, &viewer))
}

/// Change the caller's profile. Fields left out are kept; `null` clears a nullable field.
/// With `If-Match`, a stale version is refused with `412`.
#[utoipa::path(
    tag = "users",
    operation_id = "update_me",
    security(("bearer_auth" = ["session"])),
    params(
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the change is based on"),
    ),
    request_body = UpdateProfileRequest,
    responses(
        (status = 200, description = "The updated caller", body = UserResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 409, description = "Username taken", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = Unprocessable),
    )
)]
#[patch("/users/me")]
pub async fn update_me(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
    body: Json<UpdateProfileRequest>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let changes = ProfileChanges::try_from(body.into_inner())?;
    let user = state.users.update_profile(&viewer, changes, expected.version()).await?;
    Ok(own_response(actix_web::http::StatusCode::OK, user))
}

/// Change the caller's password. Every refresh token of the user is revoked.
#[utoipa::path(
    tag = "users",
    operation_id = "change_password",
    security(("bearer_auth" = ["session"])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; every session must sign in again"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, description = "Wrong `current_password` or invalid `new_password`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/users/me/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
    Client(client): Client,
    body: Json<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    state.users.change_password(&viewer, body.current_password, body.new_password, &client).await?;
    Ok(HttpResponse::NoContent().finish())
}
