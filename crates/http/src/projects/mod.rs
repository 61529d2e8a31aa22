//! Projects: spaces shared by a team, their members and roles, and invitations by link.
//!
//! Non-members are told a project does not exist; platform moderators and admins see every
//! project (`?all=true` on the list), and platform admins act as a project admin anywhere.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use workbench_core::PageRequest;
use workbench_projects::{InviteId, ProjectFilter, ProjectId, ProjectView};
use workbench_users::UserId;

pub mod dto;
mod errors;

use crate::extract::{CurrentUser, Json, Query};
use crate::groups::Routes;
use crate::idempotency::{Created, IdempotencyKeySchema};
use crate::pagination::{PageQuery, Paginated, paginated};
use crate::preconditions::{IfMatchSchema, etag, if_match, none_match_hits};
use crate::problem::{ApiError, Problem};
use crate::responses::{
    BadRequest, Forbidden, KEY_IN_USE, NOT_JSON_OR_BAD_KEY, NOT_MODIFIED, NotFound, PreconditionFailed, Unauthorized,
    Unprocessable,
};
use crate::state::AppState;
use dto::{
    AddProjectMemberRequest, ChangeProjectRoleRequest, CreateProjectInviteRequest, CreateProjectRequest,
    ProjectInviteCreatedResponse, ProjectInviteResponse, ProjectListQuery, ProjectMemberResponse, ProjectResponse,
    UpdateProjectRequest,
};

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/projects") {
        cfg.service(list)
            .service(create)
            .service(get)
            .service(stats)
            .service(update)
            .service(remove)
            .service(members)
            .service(add_member)
            .service(change_role)
            .service(remove_member)
            .service(invites)
            .service(create_invite)
            .service(revoke_invite);
    }
    if let Some(cfg) = routes.under("/invites") {
        cfg.service(accept);
    }
}

fn project_response(view: ProjectView, status: StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(view.project.version)))
        .json(ProjectResponse::from(view))
}

/// The projects the caller belongs to, newest created first; `archived=true` lists only archived
/// ones, the default only the others. Platform moderators and admins list every project with
/// `all=true`.
#[utoipa::path(
    tag = "projects",
    operation_id = "list_projects",
    security(("bearer_auth" = ["projects:read"])),
    params(ProjectListQuery),
    responses(
        (status = 200, body = Paginated<ProjectResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, description = "`page=0` or a page size out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/projects")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    query: Query<ProjectListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = PageRequest::from_signed(query.page, query.per_page)?;
    let filter = ProjectFilter { archived: query.archived.unwrap_or(false) };
    let projects = state.projects.list(&user, query.all.unwrap_or(false), filter, page).await?;
    Ok(paginated(&req, projects.map(ProjectResponse::from)))
}

/// Create a project: the caller is its owner and first admin. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "projects",
    operation_id = "create_project",
    security(("bearer_auth" = ["projects:write"])),
    params(("Idempotency-Key" = inline(Option<IdempotencyKeySchema>), Header, nullable = false, description = "Replays the first response for 24 h")),
    request_body = CreateProjectRequest,
    responses(
        (status = 201, body = ProjectResponse, headers(("Location" = String), ("ETag" = String)),
            links(
                ("GetProject" = (operation_id = "get_project", parameters(("id" = "$response.body#/id")))),
                ("UpdateProject" = (operation_id = "update_project",
                    parameters(("id" = "$response.body#/id"), ("If-Match" = "$response.header.ETag")))),
                ("DeleteProject" = (operation_id = "delete_project", parameters(("id" = "$response.body#/id")))),
            )),
        (status = 400, description = NOT_JSON_OR_BAD_KEY, body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 409, description = KEY_IN_USE, body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/projects")]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: Json<CreateProjectRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    state
        .idempotency
        .run(&req, user.id, &body, || async {
            let view = state.projects.create(&user, body.clone().into_draft()).await?;
            Ok(Created {
                location: Some(format!("/api/v1/projects/{}", view.project.id)),
                etag: Some(etag(view.project.version)),
                body: serde_json::value::to_raw_value(&ProjectResponse::from(view)).map_err(ApiError::internal)?,
            })
        })
        .await
}

/// One project, with its `ETag`: its members, platform moderators and admins.
#[utoipa::path(
    tag = "projects",
    operation_id = "get_project",
    security(("bearer_auth" = ["projects:read"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Project id"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "`ETag`s the client holds; the current one answers `304`"),
    ),
    responses(
        (status = 200, body = ProjectResponse, headers(("ETag" = String))),
        (status = 304, description = NOT_MODIFIED),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[get("/projects/{id}")]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let view = state.projects.get(&user, ProjectId(id.into_inner())).await?;
    if none_match_hits(&req, view.project.version) {
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, etag(view.project.version))).finish());
    }
    Ok(project_response(view, StatusCode::OK))
}

/// Counts over the project's tasks, as `GET /tasks/stats` counts the caller's: its members,
/// platform moderators and admins.
#[utoipa::path(
    tag = "projects",
    operation_id = "get_project_stats",
    security(("bearer_auth" = ["projects:read"])),
    params(("id" = i64, Path, minimum = 1, description = "Project id")),
    responses(
        (status = 200, body = crate::tasks::dto::TaskStatsResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[get("/projects/{id}/stats")]
pub async fn stats(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<web::Json<crate::tasks::dto::TaskStatsResponse>, ApiError> {
    let view = state.projects.get(&user, ProjectId(id.into_inner())).await?;
    Ok(web::Json(state.tasks.project_stats(view.project.id).await?.into()))
}

/// Change a project's name, description or archived flag: its admins. Fields left out are kept;
/// `description: null` clears it. With `If-Match`, a stale version is refused with `412`.
#[utoipa::path(
    tag = "projects",
    operation_id = "update_project",
    security(("bearer_auth" = ["projects:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Project id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the change is based on"),
    ),
    request_body = UpdateProjectRequest,
    responses(
        (status = 200, body = ProjectResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "Concurrent writers kept winning", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = Unprocessable),
    )
)]
#[patch("/projects/{id}")]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<UpdateProjectRequest>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let patch = body.into_inner().into_patch();
    let view = state.projects.update(&user, ProjectId(id.into_inner()), patch, expected.version()).await?;
    Ok(project_response(view, StatusCode::OK))
}

/// Delete a project with its members and invitations: its admins.
#[utoipa::path(
    tag = "projects",
    operation_id = "delete_project",
    security(("bearer_auth" = ["projects:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Project id"),
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
#[delete("/projects/{id}")]
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    state.projects.delete(&user, ProjectId(id.into_inner()), expected.version()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The project's members, earliest joined first: anyone who sees the project.
#[utoipa::path(
    tag = "projects",
    operation_id = "list_project_members",
    security(("bearer_auth" = ["projects:read"])),
    params(("id" = i64, Path, minimum = 1, description = "Project id"), PageQuery),
    responses(
        (status = 200, body = Paginated<ProjectMemberResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, description = "`page=0` or a page size out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/projects/{id}/members")]
pub async fn members(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().page()?;
    let members = state.projects.members(&user, ProjectId(id.into_inner()), page).await?;
    Ok(paginated(&req, members.map(ProjectMemberResponse::from)))
}

/// Add a member with a role: the project's admins. An unknown or disabled account is `422`
/// naming `user_id`; a member already, `409`.
#[utoipa::path(
    tag = "projects",
    operation_id = "add_project_member",
    security(("bearer_auth" = ["projects:write"])),
    params(("id" = i64, Path, minimum = 1, description = "Project id")),
    request_body = AddProjectMemberRequest,
    responses(
        (status = 201, body = ProjectMemberResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The user is already a member", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/projects/{id}/members")]
pub async fn add_member(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<AddProjectMemberRequest>,
) -> Result<HttpResponse, ApiError> {
    let member = state.projects.add_member(&user, ProjectId(id.into_inner()), body.into_inner().into_draft()).await?;
    Ok(HttpResponse::Created().json(ProjectMemberResponse::from(member)))
}

/// Change a member's role: the project's admins. The last admin cannot be demoted (`409`).
#[utoipa::path(
    tag = "projects",
    operation_id = "change_project_member_role",
    security(("bearer_auth" = ["projects:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Project id"),
        ("user_id" = i64, Path, minimum = 1, description = "The member's user id"),
    ),
    request_body = ChangeProjectRoleRequest,
    responses(
        (status = 200, body = ProjectMemberResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The project would be left without an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
    )
)]
#[patch("/projects/{id}/members/{user_id}")]
pub async fn change_role(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i64, i64)>,
    body: Json<ChangeProjectRoleRequest>,
) -> Result<web::Json<ProjectMemberResponse>, ApiError> {
    let (project, member) = path.into_inner();
    let (role, failures) = body.into_inner().into_role();
    let member = state.projects.change_role(&user, ProjectId(project), UserId(member), role, failures).await?;
    Ok(web::Json(ProjectMemberResponse::from(member)))
}

/// Remove a member: the project's admins; any member may remove themself (leave). The last
/// admin can neither be removed nor leave (`409`).
#[utoipa::path(
    tag = "projects",
    operation_id = "remove_project_member",
    security(("bearer_auth" = ["projects:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Project id"),
        ("user_id" = i64, Path, minimum = 1, description = "The member's user id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The project would be left without an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/projects/{id}/members/{user_id}")]
pub async fn remove_member(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (project, member) = path.into_inner();
    state.projects.remove_member(&user, ProjectId(project), UserId(member)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The project's invitations that are not revoked, newest first: its admins. Tokens are never
/// shown again.
#[utoipa::path(
    tag = "projects",
    operation_id = "list_project_invites",
    security(("bearer_auth" = ["projects:read"])),
    params(("id" = i64, Path, minimum = 1, description = "Project id"), PageQuery),
    responses(
        (status = 200, body = Paginated<ProjectInviteResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, description = "`page=0` or a page size out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/projects/{id}/invites")]
pub async fn invites(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().page()?;
    let invites = state.projects.invites(&user, ProjectId(id.into_inner()), page).await?;
    Ok(paginated(&req, invites.map(ProjectInviteResponse::from)))
}

/// Invite people by link: the project's admins. Whoever accepts it joins with its role. The
/// token (256 bits) is in this answer only.
#[utoipa::path(
    tag = "projects",
    operation_id = "create_project_invite",
    security(("bearer_auth" = ["projects:write"])),
    params(("id" = i64, Path, minimum = 1, description = "Project id")),
    request_body = CreateProjectInviteRequest,
    responses(
        (status = 201, body = ProjectInviteCreatedResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/projects/{id}/invites")]
pub async fn create_invite(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<CreateProjectInviteRequest>,
) -> Result<HttpResponse, ApiError> {
    let issued = state.projects.invite(&user, ProjectId(id.into_inner()), body.into_inner().into_draft()).await?;
    let token = issued.token.expose().to_owned();
    let i = issued.invite;
    Ok(HttpResponse::Created().json(ProjectInviteCreatedResponse {
        id: i.id.0,
        url: format!("{}/api/v1/invites/{token}/accept", state.web.public_url),
        token,
        role: i.role.into(),
        max_uses: i.max_uses,
        uses: i.uses,
        expires_at: i.expires_at,
    }))
}

/// Revoke an invitation: the project's admins. Its link stops working at once and it leaves the
/// listing.
#[utoipa::path(
    tag = "projects",
    operation_id = "revoke_project_invite",
    security(("bearer_auth" = ["projects:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Project id"),
        ("invite_id" = i64, Path, minimum = 1, description = "Invitation id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
#[delete("/projects/{id}/invites/{invite_id}")]
pub async fn revoke_invite(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (project, invitation) = path.into_inner();
    state.projects.revoke_invite(&user, ProjectId(project), InviteId(invitation)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Accept an invitation: the caller joins with its role. A member already is answered the same,
/// with nothing changed and no use counted. Unknown, revoked, expired and used-up invitations
/// are `404` alike.
#[utoipa::path(
    tag = "projects",
    operation_id = "accept_project_invite",
    security(("bearer_auth" = ["projects:write"])),
    params(("token" = String, Path, description = "The invitation's token")),
    responses(
        (status = 200, body = ProjectResponse, headers(("ETag" = String))),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[post("/invites/{token}/accept")]
pub async fn accept(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = state.projects.accept(&user, &token).await?;
    Ok(project_response(view, StatusCode::OK))
}
