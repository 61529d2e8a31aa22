//! Task structure: relations between tasks, project boards (buckets and moves) and custom fields.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use workbench_projects::ProjectId;
use workbench_tasks::{BucketId, FieldId, TaskId};

pub mod dto;

use crate::extract::{CurrentUser, Json, Query};
use crate::groups::Routes;
use crate::pagination::{PageQuery, Paginated, paginated};
use crate::preconditions::etag;
use crate::problem::{ApiError, Problem};
use crate::responses::{BadRequest, Forbidden, NotFound, Unauthorized, Unprocessable};
use crate::state::AppState;
use crate::tasks::dto::TaskResponse;
use dto::{
    BucketResponse, CreateBucketRequest, CreateFieldRequest, CreateRelationRequest, FieldResponse, MoveTaskRequest,
    RelationResponse, RelationsResponse, UpdateBucketRequest,
};

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/tasks") {
        cfg.service(relations).service(relate).service(unrelate).service(move_task);
    }
    if let Some(cfg) = routes.under("/projects") {
        cfg.service(buckets)
            .service(create_bucket)
            .service(update_bucket)
            .service(delete_bucket)
            .service(bucket_tasks)
            .service(fields)
            .service(create_field)
            .service(delete_field);
    }
}

/// A task's related tasks, by kind as seen from it.
#[utoipa::path(
    tag = "tasks",
    operation_id = "list_task_relations",
    security(("bearer_auth" = ["tasks:read"])),
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    responses(
        (status = 200, body = RelationsResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[get("/tasks/{id}/relations")]
pub async fn relations(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<web::Json<RelationsResponse>, ApiError> {
    let related = state.tasks.related(&user, TaskId(id.into_inner())).await?;
    Ok(web::Json(related.into()))
}

/// Relate a task the caller may change to another they see: `201` when new, `200` when it was
/// there already. A cycle of subtasks or blockers, or a second parent, is a `422` naming
/// `task_id`.
#[utoipa::path(
    tag = "tasks",
    operation_id = "create_task_relation",
    security(("bearer_auth" = ["tasks:write"])),
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    request_body = CreateRelationRequest,
    responses(
        (status = 200, description = "It was there already", body = RelationResponse),
        (status = 201, body = RelationResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, description = "An unknown kind, a task the caller does not see, a cycle or a second parent", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tasks/{id}/relations")]
pub async fn relate(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<CreateRelationRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (kind, other, created) = state.tasks.relate(&user, TaskId(id.into_inner()), body.kind, body.task_id).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(HttpResponse::build(status).json(RelationResponse { kind, task_id: other.0 }))
}

/// Remove a relation, named by its kind as seen from either of its tasks.
#[utoipa::path(
    tag = "tasks",
    operation_id = "delete_task_relation",
    security(("bearer_auth" = ["tasks:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Task id"),
        ("kind" = workbench_tasks::RelationKind, Path, description = "The relation's kind as seen from the task"),
        ("task_id" = i64, Path, minimum = 1, description = "The other task"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
#[delete("/tasks/{id}/relations/{kind}/{task_id}")]
pub async fn unrelate(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i64, String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind, other) = path.into_inner();
    state.tasks.unrelate(&user, TaskId(id), &kind, TaskId(other)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Move a task on its project's board: into a bucket, after or before one of its tasks or at its
/// end. One row is written whatever the bucket's length. Into the done bucket completes the task;
/// out of it reopens it.
#[utoipa::path(
    tag = "tasks",
    operation_id = "move_task",
    security(("bearer_auth" = ["tasks:write"])),
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    request_body = MoveTaskRequest,
    responses(
        (status = 200, body = TaskResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The bucket holds its limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/tasks/{id}/move")]
pub async fn move_task(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<MoveTaskRequest>,
) -> Result<HttpResponse, ApiError> {
    let task = state.tasks.move_task(&user, TaskId(id.into_inner()), body.into_inner().into()).await?;
    Ok(HttpResponse::Ok().insert_header((header::ETAG, etag(task.version))).json(TaskResponse::from(task)))
}

/// A project's buckets, in board order.
#[utoipa::path(
    tag = "projects",
    operation_id = "list_buckets",
    security(("bearer_auth" = ["projects:read"])),
    params(("id" = i64, Path, minimum = 1, description = "Project id"), PageQuery),
    responses(
        (status = 200, body = Paginated<BucketResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/projects/{id}/buckets")]
pub async fn buckets(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().page()?;
    let buckets = state.tasks.buckets(&user, ProjectId(id.into_inner()), page).await?;
    Ok(paginated(&req, buckets.map(BucketResponse::from)))
}

/// Add a bucket at the end of the board: the project's editors and admins.
#[utoipa::path(
    tag = "projects",
    operation_id = "create_bucket",
    security(("bearer_auth" = ["projects:write"])),
    params(("id" = i64, Path, minimum = 1, description = "Project id")),
    request_body = CreateBucketRequest,
    responses(
        (status = 201, body = BucketResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/projects/{id}/buckets")]
pub async fn create_bucket(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<CreateBucketRequest>,
) -> Result<HttpResponse, ApiError> {
    let bucket = state.tasks.create_bucket(&user, ProjectId(id.into_inner()), body.into_inner().into()).await?;
    Ok(HttpResponse::Created().json(BucketResponse::from(bucket)))
}

/// Change a bucket: the project's editors and admins.
#[utoipa::path(
    tag = "projects",
    operation_id = "update_bucket",
    security(("bearer_auth" = ["projects:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Project id"),
        ("bucket_id" = i64, Path, minimum = 1, description = "Bucket id"),
    ),
    request_body = UpdateBucketRequest,
    responses(
        (status = 200, body = BucketResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[patch("/projects/{id}/buckets/{bucket_id}")]
pub async fn update_bucket(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i64, i64)>,
    body: Json<UpdateBucketRequest>,
) -> Result<web::Json<BucketResponse>, ApiError> {
    let (project, bucket) = path.into_inner();
    let bucket =
        state.tasks.update_bucket(&user, ProjectId(project), BucketId(bucket), body.into_inner().into()).await?;
    Ok(web::Json(bucket.into()))
}

/// Delete a bucket: its tasks go to the first remaining one. A project keeps at least one
/// bucket (`409`).
#[utoipa::path(
    tag = "projects",
    operation_id = "delete_bucket",
    security(("bearer_auth" = ["projects:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Project id"),
        ("bucket_id" = i64, Path, minimum = 1, description = "Bucket id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The project's only bucket", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/projects/{id}/buckets/{bucket_id}")]
pub async fn delete_bucket(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (project, bucket) = path.into_inner();
    state.tasks.delete_bucket(&user, ProjectId(project), BucketId(bucket)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A bucket's tasks in its order, a page at a time.
#[utoipa::path(
    tag = "projects",
    operation_id = "list_bucket_tasks",
    security(("bearer_auth" = ["tasks:read"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Project id"),
        ("bucket_id" = i64, Path, minimum = 1, description = "Bucket id"),
        PageQuery,
    ),
    responses(
        (status = 200, body = Paginated<TaskResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/projects/{id}/buckets/{bucket_id}/tasks")]
pub async fn bucket_tasks(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i64, i64)>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (project, bucket) = path.into_inner();
    let page = query.into_inner().page()?;
    let tasks = state.tasks.bucket_tasks(&user, ProjectId(project), BucketId(bucket), page).await?;
    Ok(paginated(&req, tasks.map(TaskResponse::from)))
}

/// A project's custom fields, oldest first.
#[utoipa::path(
    tag = "projects",
    operation_id = "list_fields",
    security(("bearer_auth" = ["projects:read"])),
    params(("id" = i64, Path, minimum = 1, description = "Project id"), PageQuery),
    responses(
        (status = 200, body = Paginated<FieldResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/projects/{id}/fields")]
pub async fn fields(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().page()?;
    let fields = state.tasks.fields(&user, ProjectId(id.into_inner()), page).await?;
    Ok(paginated(&req, fields.map(FieldResponse::from)))
}

/// Define a custom field: the project's admins. Its tasks then carry `fields.<id>`, filterable
/// in `GET /tasks?field.<id>=` and in search as `field:<name>=`.
#[utoipa::path(
    tag = "projects",
    operation_id = "create_field",
    security(("bearer_auth" = ["projects:write"])),
    params(("id" = i64, Path, minimum = 1, description = "Project id")),
    request_body = CreateFieldRequest,
    responses(
        (status = 201, body = FieldResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The project has a field of that name, or 50 fields", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/projects/{id}/fields")]
pub async fn create_field(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<CreateFieldRequest>,
) -> Result<HttpResponse, ApiError> {
    let field = state.tasks.create_field(&user, ProjectId(id.into_inner()), body.into_inner().into()).await?;
    Ok(HttpResponse::Created().json(FieldResponse::from(field)))
}

/// Delete a custom field and its values: the project's admins.
#[utoipa::path(
    tag = "projects",
    operation_id = "delete_field",
    security(("bearer_auth" = ["projects:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Project id"),
        ("field_id" = i64, Path, minimum = 1, description = "Field id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
#[delete("/projects/{id}/fields/{field_id}")]
pub async fn delete_field(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (project, field) = path.into_inner();
    state.tasks.delete_field(&user, ProjectId(project), FieldId(field)).await?;
    Ok(HttpResponse::NoContent().finish())
}
