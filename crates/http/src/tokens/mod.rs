//! Personal access tokens: a signed-in user makes, lists and revokes the tokens their scripts
//! use (`/tokens`). Only a session manages tokens: no token can make, list or revoke one.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use workbench_tokens::TokenId;

pub mod dto;
mod errors;

use crate::extract::{Client, CurrentUser, Json, Query, SignedIn};
use crate::groups::Routes;
use crate::pagination::{PageQuery, Paginated, paginated};
use crate::problem::{ApiError, Problem};
use crate::responses::{BadRequest, NotFound, Unauthorized, Unprocessable};
use crate::state::AppState;
use dto::{CreateTokenRequest, CreatedPersonalTokenResponse, PersonalTokenResponse};

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/tokens") {
        cfg.service(create).service(list).service(revoke);
    }
}

/// Make a personal access token for scripts and integrations: sent as `Authorization: Bearer
/// wbp_…`, it acts as its user within its scopes until it expires or is revoked. Its secret is in
/// this answer only (the server keeps its SHA-256), which is also why `Idempotency-Key` is not
/// honoured here: replaying the answer would mean keeping the secret.
///
/// A token outlives the session that makes it, so the session alone is not enough: the body
/// carries the account's current `password` (as turning two-factor sign-in on does), and an
/// account without one, made through a sign-in provider alone, must have signed in within the
/// last 10 minutes (`403` with a `type` ending in `reauthentication-required` otherwise: sign in
/// again). Each such request draws from the account's sign-in rate limit, so wrong passwords are
/// guessed no faster than at `POST /auth/login`.
///
/// The token remembers the session it was made from: if that session's refresh token is
/// detected stolen (an already-used one presented again), the token is revoked with it. Signing
/// out and changing the password do not end a token (revoke it with `DELETE /tokens/{id}`);
/// disabling the account stops it at once.
#[utoipa::path(
    tag = "tokens",
    operation_id = "create_token",
    security(("bearer_auth" = ["session"])),
    request_body = CreateTokenRequest,
    responses(
        (status = 201, body = CreatedPersonalTokenResponse, headers(("Location" = String)),
            links(("RevokeToken" = (operation_id = "revoke_token", parameters(("id" = "$response.body#/id")))))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "A personal access token (`type` ending in `insufficient-scope`): only a signed-in session makes tokens; or an account without a password whose session did not sign in within the last 10 minutes (`type` ending in `reauthentication-required`): sign in again", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, every one listed in `errors`; `password` when it is missing or not the account's current one", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tokens")]
pub async fn create(
    state: web::Data<AppState>,
    SignedIn { principal, session_id }: SignedIn,
    Client(client): Client,
    body: Json<CreateTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let draft = body.into_inner().into_draft();
    let issued = state.tokens.create(&principal, session_id.as_deref(), draft, &client).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/tokens/{}", issued.token.id)))
        // The body holds a credential: no cache may keep it.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedPersonalTokenResponse::from(issued)))
}

/// The caller's personal access tokens, newest first, expired ones included until revoked; with
/// when each was last used. Never their secrets.
#[utoipa::path(
    tag = "tokens",
    operation_id = "list_tokens",
    security(("bearer_auth" = ["session"])),
    params(PageQuery),
    responses(
        (status = 200, body = Paginated<PersonalTokenResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "A personal access token: only a signed-in session lists tokens", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/tokens")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().page()?;
    let tokens = state.tokens.list(&user, page).await?;
    Ok(paginated(&req, tokens.map(PersonalTokenResponse::from)))
}

/// Revoke one of the caller's tokens: it is refused at its next request, on every instance, and
/// leaves the listing.
#[utoipa::path(
    tag = "tokens",
    operation_id = "revoke_token",
    security(("bearer_auth" = ["session"])),
    params(("id" = i64, Path, minimum = 1, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "A personal access token: only a signed-in session revokes tokens", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = NotFound),
    )
)]
#[delete("/tokens/{id}")]
pub async fn revoke(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    Client(client): Client,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state.tokens.revoke(&user, TokenId(id.into_inner()), &client).await?;
    Ok(HttpResponse::NoContent().finish())
}
