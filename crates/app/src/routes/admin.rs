//! Account administration.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, web};
use workbench_users::{AdminChanges, UserId};

use crate::dto::{AdminUpdateRequest, Paginated, UserResponse, paginated};
use crate::dto_security::{AuditEntryResponse, AuditListQuery};
use crate::extract::{Client, CurrentUser, Json, Query};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Change another account's role or status (admins only). Nobody grants a role above their own
/// or manages an account that outranks them; disabling an account revokes its tokens.
#[utoipa::path(
    tag = "admin",
    operation_id = "admin_update_user",
    security(("bearer_auth" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body = AdminUpdateRequest,
    responses(
        (status = 200, description = "The updated user", body = UserResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin, or the change is above the caller's rank", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown role or status", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/admin/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    CurrentUser(actor): CurrentUser,
    Client(client): Client,
    id: web::Path<i64>,
    body: Json<AdminUpdateRequest>,
) -> Result<web::Json<UserResponse>, ApiError> {
    let body = body.into_inner();
    let changes = AdminChanges { role: body.role, status: body.status };
    let user = state.users.administer(&actor, UserId(id.into_inner()), changes, &client).await?;
    Ok(web::Json(UserResponse::seen_by(user, &actor)))
}

/// Delete another account (admins only).
#[utoipa::path(
    tag = "admin",
    operation_id = "admin_delete_user",
    security(("bearer_auth" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/admin/users/{id}")]
pub async fn delete_user(
    state: web::Data<AppState>,
    CurrentUser(actor): CurrentUser,
    Client(client): Client,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let target = UserId(id.into_inner());
    // The deletion cascades to owned tasks and clears assignments in the database; the cache must
    // learn about it too, so collect what changes first (only once the deletion is allowed).
    state.users.check_deletable(&actor, target).await?;
    let involved = state.tasks.involving(target).await?;
    state.users.delete(&actor, target, &client).await?;
    state.tasks.forget(&involved).await;
    Ok(HttpResponse::NoContent().finish())
}

/// The audit trail of security-relevant actions (admins only), newest first: sign-ins and
/// refused sign-ins, sign-outs, refresh-token reuse, password, role and status changes,
/// deletions, two-factor changes and OAuth links.
#[utoipa::path(
    tag = "admin",
    operation_id = "admin_audit",
    security(("bearer_auth" = [])),
    params(AuditListQuery),
    responses(
        (status = 200, body = Paginated<AuditEntryResponse>,
            headers(("Link" = String, description = "`first`, `last`, and `prev`/`next` when they exist"))),
        (status = 400, description = "A parameter cannot be parsed", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown `action`, or `page`/`per_page` below 1", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/audit")]
pub async fn audit(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
    query: Query<AuditListQuery>,
) -> Result<HttpResponse, ApiError> {
    // A non-admin learns nothing, not even which parameters would be wrong.
    state.users.check_auditor(&viewer)?;
    let query = query.into_inner().into_query()?;
    let page = state.users.audit_trail(&viewer, query).await?;
    Ok(paginated(&req, page.map(AuditEntryResponse::from)))
}
