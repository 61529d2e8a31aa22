//! Tasks, their comments, tags and statistics.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use workbench_core::FieldErrors;
use workbench_projects::ProjectId;
use workbench_tasks::{TaskFilter, TaskId};
use workbench_users::now;

pub mod dto;
mod errors;
pub(crate) mod events;

use crate::extract::{CurrentUser, Json, Query};
use crate::groups::Routes;
use crate::idempotency::{Created, IdempotencyKeySchema};
use crate::pagination::{DataList, PageQuery, Paginated, paginated};
use crate::preconditions::{IfMatchSchema, etag, if_match, none_match_hits};
use crate::problem::{ApiError, Problem};
use crate::responses::{
    BadRequest, Forbidden, KEY_IN_USE, NOT_JSON_OR_BAD_KEY, NOT_MODIFIED, NotFound, PreconditionFailed, Unauthorized,
    Unprocessable,
};
use crate::state::AppState;
use dto::{
    CommentResponse, CreateCommentRequest, CreateTaskRequest, OccurrencesQuery, OccurrencesResponse, TagQuery,
    TagResponse, TaskListQuery, TaskResponse, TaskStatsResponse, UpdateTaskRequest,
};

fn task_response(task: workbench_tasks::Task, status: actix_web::http::StatusCode) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::ETAG, etag(task.version))).json(TaskResponse::from(task))
}

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    // `/tasks/stats` before `/tasks/{id}`.
    if let Some(cfg) = routes.under("/tasks") {
        cfg.service(create)
            .service(list)
            .service(stats)
            .service(get)
            .service(occurrences)
            .service(replace)
            .service(update)
            .service(remove)
            .service(comments)
            .service(add_comment)
            .service(delete_comment);
    }
    if let Some(cfg) = routes.under("/tags") {
        cfg.service(tags);
    }
}

/// Create a task owned by the caller. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "tasks",
    operation_id = "create_task",
    security(("bearer_auth" = ["tasks:write"])),
    params(("Idempotency-Key" = inline(Option<IdempotencyKeySchema>), Header, nullable = false, description = "Replays the first response for 24 h")),
    request_body = CreateTaskRequest,
    responses(
        (status = 201, body = TaskResponse, headers(("Location" = String), ("ETag" = String)),
            links(
                ("GetTask" = (operation_id = "get_task", parameters(("id" = "$response.body#/id")))),
                ("UpdateTask" = (operation_id = "update_task",
                    parameters(("id" = "$response.body#/id"), ("If-Match" = "$response.header.ETag")))),
                ("ReplaceTask" = (operation_id = "replace_task",
                    parameters(("id" = "$response.body#/id"), ("If-Match" = "$response.header.ETag")))),
                ("DeleteTask" = (operation_id = "delete_task", parameters(("id" = "$response.body#/id")))),
                ("ListTaskComments" = (operation_id = "list_task_comments", parameters(("id" = "$response.body#/id")))),
                ("CreateTaskComment" = (operation_id = "create_task_comment", parameters(("id" = "$response.body#/id")))),
            )),
        (status = 400, description = NOT_JSON_OR_BAD_KEY, body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "A viewer of the project named by `project_id`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = KEY_IN_USE, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, all listed (or a reused Idempotency-Key with another body)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tasks")]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: Json<CreateTaskRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    state
        .idempotency
        .run(&req, user.id, &body, || async {
            let task = state.tasks.create(&user, body.clone().into_draft()).await?;
            Ok(Created {
                location: Some(format!("/api/v1/tasks/{}", task.id)),
                etag: Some(etag(task.version)),
                body: serde_json::value::to_raw_value(&TaskResponse::from(task)).map_err(ApiError::internal)?,
            })
        })
        .await
}

/// The tasks the caller sees: the personal tasks they own or are assigned to and every task of
/// their projects (every task for moderators and admins).
#[utoipa::path(
    tag = "tasks",
    operation_id = "list_tasks",
    security(("bearer_auth" = ["tasks:read"])),
    params(TaskListQuery),
    responses(
        (status = 200, body = Paginated<TaskResponse>, headers(("Link" = String))),
        (status = 400, description = "An unparsable value (`page=abc`, a bad date)", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 422, description = "A value outside the allowed set (`sort=colour`, `status=done`, `page=0`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tasks")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    query: Query<TaskListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (raw, project, page) = query.into_inner().split();
    let (mut filter, page) = FieldErrors::both(TaskFilter::parse(raw, now()), page)?;
    let fields = dto::field_filters(req.query_string())?;
    if !fields.is_empty() {
        filter.refinement.fields = state.tasks.field_conditions(&user, fields).await?;
    }
    let tasks = match project {
        Some(project) => state.tasks.list_project(&user, ProjectId(project), filter, page).await?,
        None => state.tasks.list(&user, filter, page).await?,
    };
    Ok(paginated(&req, tasks.map(TaskResponse::from)))
}

/// Counts over the tasks the caller sees.
#[utoipa::path(
    tag = "tasks",
    operation_id = "get_task_stats",
    security(("bearer_auth" = ["tasks:read"])),
    responses(
        (status = 200, body = TaskStatsResponse),
        (status = 401, response = Unauthorized),
    )
)]
#[get("/tasks/stats")]
pub async fn stats(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<web::Json<TaskStatsResponse>, ApiError> {
    Ok(web::Json(state.tasks.stats(&user).await?.into()))
}

/// One task, with its `ETag`. `If-None-Match` with the current tag answers `304`.
#[utoipa::path(
    tag = "tasks",
    operation_id = "get_task",
    security(("bearer_auth" = ["tasks:read"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Task id"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "`ETag`s the client holds; the current one answers `304`"),
    ),
    responses(
        (status = 200, body = TaskResponse, headers(("ETag" = String))),
        (status = 304, description = NOT_MODIFIED),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[get("/tasks/{id}")]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let task = state.tasks.get(&user, TaskId(id.into_inner())).await?;
    if none_match_hits(&req, task.version) {
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, etag(task.version))).finish());
    }
    Ok(task_response(task, actix_web::http::StatusCode::OK))
}

/// The next due dates of a recurring task, each after the task's own: what completing it, and
/// the occurrences after, will make. Empty for a task that does not recur.
#[utoipa::path(
    tag = "tasks",
    operation_id = "list_task_occurrences",
    security(("bearer_auth" = ["tasks:read"])),
    params(("id" = i64, Path, minimum = 1, description = "Task id"), OccurrencesQuery),
    responses(
        (status = 200, body = OccurrencesResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, description = "`count` outside 1 to 50", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tasks/{id}/occurrences")]
pub async fn occurrences(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    query: Query<OccurrencesQuery>,
) -> Result<web::Json<OccurrencesResponse>, ApiError> {
    let count = match query.into_inner().count {
        None => 5,
        Some(n @ 1..=50) => n as usize,
        Some(_) => return Err(FieldErrors::single("count", "must be from 1 to 50").into()),
    };
    let data = state.tasks.occurrences(&user, TaskId(id.into_inner()), count).await?;
    Ok(web::Json(OccurrencesResponse { data }))
}

async fn apply_update(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: workbench_users::Principal,
    id: i64,
    body: UpdateTaskRequest,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let task = state.tasks.update(&user, TaskId(id), body.into(), expected.version()).await?;
    Ok(task_response(task, actix_web::http::StatusCode::OK))
}

/// Change a task: fields left out are kept, `null` clears a nullable field. Same as `PATCH`.
/// With `If-Match`, a stale version is refused with `412`.
#[utoipa::path(
    tag = "tasks",
    operation_id = "replace_task",
    security(("bearer_auth" = ["tasks:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Task id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the change is based on"),
    ),
    request_body = UpdateTaskRequest,
    responses(
        (status = 200, body = TaskResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "A viewer of the task's project; a move by someone who may not delete the task; a task taken out of its project (`project_id: null`) by anyone but its owner while a member and the project's admins", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = NotFound),
        (status = 409, description = "Concurrent writers kept winning; retry", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = Unprocessable),
    )
)]
#[put("/tasks/{id}")]
pub async fn replace(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<UpdateTaskRequest>,
) -> Result<HttpResponse, ApiError> {
    apply_update(req, state, user, id.into_inner(), body.into_inner()).await
}

/// Change a task: fields left out are kept, `null` clears a nullable field.
/// With `If-Match`, a stale version is refused with `412`.
#[utoipa::path(
    tag = "tasks",
    operation_id = "update_task",
    security(("bearer_auth" = ["tasks:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Task id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the change is based on"),
    ),
    request_body = UpdateTaskRequest,
    responses(
        (status = 200, body = TaskResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "A viewer of the task's project; a move by someone who may not delete the task; a task taken out of its project (`project_id: null`) by anyone but its owner while a member and the project's admins", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = NotFound),
        (status = 409, description = "Concurrent writers kept winning; retry", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = Unprocessable),
    )
)]
#[patch("/tasks/{id}")]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<UpdateTaskRequest>,
) -> Result<HttpResponse, ApiError> {
    apply_update(req, state, user, id.into_inner(), body.into_inner()).await
}

/// Delete a task (its owner, moderators and admins; not an assignee).
#[utoipa::path(
    tag = "tasks",
    operation_id = "delete_task",
    security(("bearer_auth" = ["tasks:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Task id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the deletion is based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "An assignee (or a project's viewer) may not delete", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
    )
)]
#[delete("/tasks/{id}")]
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    state.tasks.delete(&user, TaskId(id.into_inner()), expected.version()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A task's comments, oldest first.
#[utoipa::path(
    tag = "tasks",
    operation_id = "list_task_comments",
    security(("bearer_auth" = ["tasks:read"])),
    params(("id" = i64, Path, minimum = 1, description = "Task id"), PageQuery),
    responses(
        (status = 200, body = Paginated<CommentResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/tasks/{id}/comments")]
pub async fn comments(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().page()?;
    let comments = state.tasks.comments(&user, TaskId(id.into_inner()), page).await?;
    Ok(paginated(&req, comments.map(CommentResponse::from)))
}

/// Comment on a task the caller sees. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "tasks",
    operation_id = "create_task_comment",
    security(("bearer_auth" = ["tasks:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Task id"),
        ("Idempotency-Key" = inline(Option<IdempotencyKeySchema>), Header, nullable = false, description = "Replays the first response for 24 h"),
    ),
    request_body = CreateCommentRequest,
    responses(
        (status = 201, body = CommentResponse,
            links(
                ("DeleteTaskComment" = (operation_id = "delete_task_comment",
                    parameters(("id" = "$response.body#/task_id"), ("comment_id" = "$response.body#/id")))),
            )),
        (status = 400, description = "The body is not JSON, the path cannot be parsed, or a bad Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, description = KEY_IN_USE, body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/tasks/{id}/comments")]
pub async fn add_comment(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<CreateCommentRequest>,
) -> Result<HttpResponse, ApiError> {
    let task = TaskId(id.into_inner());
    let body = body.into_inner();
    state
        .idempotency
        .run(&req, user.id, &body, || async {
            let comment = state.tasks.comment(&user, task, body.body.clone()).await?;
            Ok(Created {
                // A comment has no URL of its own to read it from (only to delete it).
                location: None,
                etag: None,
                body: serde_json::value::to_raw_value(&CommentResponse::from(comment)).map_err(ApiError::internal)?,
            })
        })
        .await
}

/// Delete a comment (its author, moderators and admins).
#[utoipa::path(
    tag = "tasks",
    operation_id = "delete_task_comment",
    security(("bearer_auth" = ["tasks:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Task id"),
        ("comment_id" = i64, Path, minimum = 1, description = "Comment id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
#[delete("/tasks/{id}/comments/{comment_id}")]
pub async fn delete_comment(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (task, comment) = path.into_inner();
    state.tasks.delete_comment(&user, TaskId(task), comment).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Tags on the caller's visible tasks, most used first.
#[utoipa::path(
    tag = "tasks",
    operation_id = "list_tags",
    security(("bearer_auth" = ["tasks:read"])),
    params(TagQuery),
    responses(
        (status = 200, body = DataList<TagResponse>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    )
)]
#[get("/tags")]
pub async fn tags(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    query: Query<TagQuery>,
) -> Result<web::Json<DataList<TagResponse>>, ApiError> {
    let tags = state.tasks.tags(&user, query.into_inner().q).await?;
    Ok(web::Json(DataList { data: tags.into_iter().map(TagResponse::from).collect() }))
}
