//! A task's reminders: set, listed and deleted by those who may change the task; told to its
//! owner and assignee when they come.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use workbench_notifications::{Reminder, ReminderDraft, ReminderId};
use workbench_tasks::{Access, Task, TaskId};
use workbench_users::Principal;

use crate::body::{Lenient, nullable};
use crate::extract::{CurrentUser, Json};
use crate::problem::ApiError;
use crate::responses::{BadRequest, Forbidden, NotFound, Unauthorized, Unprocessable};
use crate::state::AppState;

/// A reminder of a task.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderResponse {
    pub id: i64,
    pub task_id: i64,
    /// The moment of an absolute reminder; null for a relative one.
    pub at: Option<DateTime<Utc>>,
    /// The span before the task's due date of a relative reminder, as it was given (`P1D`);
    /// null for an absolute one.
    #[schema(example = "P1D")]
    pub before_due: Option<String>,
    /// When it fires next: null once it fired, and for a relative one while the task has no due
    /// date. A relative reminder moves with the due date.
    pub fires_at: Option<DateTime<Utc>>,
    /// When it fired; null until then (and again when a later due date re-arms it).
    pub fired_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Reminder> for ReminderResponse {
    fn from(r: Reminder) -> Self {
        Self {
            id: r.id.0,
            task_id: r.task_id,
            at: r.at,
            before_due: r.before_due,
            fires_at: r.fires_at,
            fired_at: r.fired_at,
            created_at: r.created_at,
        }
    }
}

/// A new reminder: `at` a moment to come, or `before_due` a span before the due date.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReminderRequest {
    /// An RFC 3339 moment in the future.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default)]
    pub at: Lenient<String>,
    /// An ISO 8601 duration of weeks, days, hours, minutes or seconds, positive and at most a
    /// year: `P1D`, `PT2H`, `P1DT12H`, `P1W`.
    #[schema(value_type = Option<String>, example = "P1D")]
    #[serde(default)]
    pub before_due: Lenient<String>,
}

impl ReminderRequest {
    fn into_draft(self) -> ReminderDraft {
        let mut type_failures = workbench_core::TypeFailures::default();
        let at = nullable("at", self.at, &mut type_failures);
        let before_due = nullable("before_due", self.before_due, &mut type_failures);
        ReminderDraft { at, before_due, type_failures }
    }
}

/// The task, when the caller may change it: 404 when they do not see it, 403 when they only
/// read it.
async fn changeable(state: &AppState, user: &Principal, id: i64) -> Result<Task, ApiError> {
    let task = state.tasks.get(user, TaskId(id)).await?;
    if state.tasks.access_to(user, task.id).await? < Access::Change {
        return Err(ApiError::forbidden("Only those who may change a task set or delete its reminders."));
    }
    Ok(task)
}

/// Set a reminder on a task: at a moment, or a span before its due date (moving with it). It
/// fires once, across instances, as a `reminder` notification to the task's owner and
/// assignee. A task holds at most 10 (the 11th is a `422`).
#[utoipa::path(
    tag = "notifications",
    operation_id = "create_task_reminder",
    security(("bearer_auth" = ["tasks:write"])),
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    request_body = ReminderRequest,
    responses(
        (status = 201, body = ReminderResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/tasks/{id}/reminders")]
pub async fn create_reminder(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<ReminderRequest>,
) -> Result<HttpResponse, ApiError> {
    let task = changeable(&state, &user, id.into_inner()).await?;
    let reminder = state.reminders.add(user.id, &task, body.into_inner().into_draft()).await?;
    Ok(HttpResponse::Created().json(ReminderResponse::from(reminder)))
}

/// The reminders set on a task the caller sees, oldest first.
#[utoipa::path(
    tag = "notifications",
    operation_id = "list_task_reminders",
    security(("bearer_auth" = ["tasks:read"])),
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    responses(
        (status = 200, body = Vec<ReminderResponse>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[get("/tasks/{id}/reminders")]
pub async fn list_reminders(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<web::Json<Vec<ReminderResponse>>, ApiError> {
    let task = state.tasks.get(&user, TaskId(id.into_inner())).await?;
    let reminders = state.reminders.of_task(&task).await?;
    Ok(web::Json(reminders.into_iter().map(ReminderResponse::from).collect()))
}

/// Delete a reminder of a task.
#[utoipa::path(
    tag = "notifications",
    operation_id = "delete_task_reminder",
    security(("bearer_auth" = ["tasks:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Task id"),
        ("rid" = i64, Path, minimum = 1, description = "Reminder id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
#[delete("/tasks/{id}/reminders/{rid}")]
pub async fn delete_reminder(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, rid) = path.into_inner();
    let task = changeable(&state, &user, id).await?;
    state.reminders.remove(&task, ReminderId(rid)).await?;
    Ok(HttpResponse::NoContent().finish())
}
