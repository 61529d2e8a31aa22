//! Account administration.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, web};
use workbench_users::{AdminChanges, UserId};

pub mod dto;
pub mod jobs;

use crate::extract::{Client, CurrentUser, Json, Query};
use crate::groups::Routes;
use crate::pagination::{Paginated, paginated};
use crate::preconditions::{IfMatchSchema, if_match};
use crate::problem::{ApiError, Problem};
use crate::responses::{BadRequest, Forbidden, NotFound, PreconditionFailed, Unauthorized};
use crate::state::AppState;
use crate::users::dto::UserResponse;
use crate::users::user_response;
use dto::{AdminUpdateRequest, AuditEntryResponse, AuditListQuery, DashboardResponse};

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    // `/admin/jobs/runs` and `/admin/jobs/schedules` before `/admin/jobs/{id}`.
    if let Some(cfg) = routes.under("/admin") {
        cfg.service(update_user)
            .service(delete_user)
            .service(audit)
            .service(dashboard)
            .service(jobs::list)
            .service(jobs::runs)
            .service(jobs::schedules)
            .service(jobs::get)
            .service(jobs::retry)
            .service(jobs::cancel);
    }
}

/// Change another account's role or status (admins only). Nobody grants a role above their own
/// or manages an account that outranks them; disabling an account revokes its tokens. With
/// `If-Match`, a stale version is refused with `412`.
#[utoipa::path(
    tag = "admin",
    operation_id = "admin_update_user",
    security(("bearer_auth" = ["admin"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "User id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the change is based on"),
    ),
    request_body = AdminUpdateRequest,
    responses(
        (status = 200, description = "The updated user", body = UserResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not an admin, or the change is above the caller's rank", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        (status = 422, description = "Unknown role or status", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/admin/users/{id}")]
pub async fn update_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(actor): CurrentUser,
    Client(client): Client,
    id: web::Path<i64>,
    body: Json<AdminUpdateRequest>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let changes = AdminChanges::try_from(body.into_inner())?;
    let user = state.users.administer(&actor, UserId(id.into_inner()), changes, &client, expected.version()).await?;
    Ok(user_response(actix_web::http::StatusCode::OK, user, &actor))
}

/// Delete another account (admins only). With `If-Match`, a stale version is refused with `412`.
#[utoipa::path(
    tag = "admin",
    operation_id = "admin_delete_user",
    security(("bearer_auth" = ["admin"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "User id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the deletion is based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
    )
)]
#[delete("/admin/users/{id}")]
pub async fn delete_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(actor): CurrentUser,
    Client(client): Client,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let target = UserId(id.into_inner());
    // The deletion cascades to owned tasks and clears assignments in the database; the cache must
    // learn about it too, so collect what changes first (only once the deletion is allowed).
    state.users.check_deletable(&actor, target).await?;
    let involved = state.tasks.involving(target).await?;
    state.users.delete(&actor, target, &client, expected.version()).await?;
    state.tasks.forget(&involved).await;
    Ok(HttpResponse::NoContent().finish())
}

/// The audit trail of security-relevant actions (admins only), newest first: sign-ins and
/// refused sign-ins, sign-outs, refresh-token reuse, password, role and status changes,
/// deletions, two-factor changes and OAuth links.
#[utoipa::path(
    tag = "admin",
    operation_id = "admin_audit",
    security(("bearer_auth" = ["admin"])),
    params(AuditListQuery),
    responses(
        (status = 200, body = Paginated<AuditEntryResponse>,
            headers(("Link" = String, description = "`first`, `last`, and `prev`/`next` when they exist"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
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

/// Counts across the platform (admins only): users, tasks, products and files, accounts created
/// today (UTC) and live sign-ins (refresh-token families that can still be refreshed).
#[utoipa::path(
    tag = "admin",
    operation_id = "admin_dashboard",
    security(("bearer_auth" = ["admin"])),
    responses(
        (status = 200, body = DashboardResponse),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
#[get("/admin/dashboard")]
pub async fn dashboard(
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
) -> Result<web::Json<DashboardResponse>, ApiError> {
    let counts = state.dashboard.counts(&viewer, workbench_users::now()).await?;
    Ok(web::Json(counts.into()))
}
