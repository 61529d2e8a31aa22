//! Notifications: the caller's inbox and its read marks, their delivery preferences, and
//! following tasks and projects.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use serde_json::Value;
use workbench_notifications::{NotificationError, Subject};
use workbench_projects::ProjectId;
use workbench_tasks::TaskId;

pub mod dto;
mod reminders;

use reminders::{create_reminder, delete_reminder, list_reminders};

use crate::extract::{CurrentUser, Json, Query};
use crate::groups::Routes;
use crate::pagination::{link_header, pagination_of};
use crate::problem::{ApiError, Problem};
use crate::responses::{BadRequest, NotFound, Unauthorized, Unprocessable};
use crate::state::AppState;
use dto::{
    MarkNotificationsReadRequest, NotificationPage, NotificationQuery, PreferencesRequest, PreferencesResponse,
    UnsubscribeQuery, UnsubscribeResponse,
};

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/notifications") {
        cfg.service(list)
            .service(mark_read)
            .service(preferences)
            .service(set_preferences)
            .service(unsubscribe_link)
            .service(unsubscribe_one_click);
    }
    if let Some(cfg) = routes.under("/tasks") {
        cfg.service(watch_task)
            .service(unwatch_task)
            .service(create_reminder)
            .service(list_reminders)
            .service(delete_reminder);
    }
    if let Some(cfg) = routes.under("/projects") {
        cfg.service(watch_project).service(unwatch_project);
    }
}

impl From<NotificationError> for ApiError {
    fn from(e: NotificationError) -> Self {
        match e {
            NotificationError::Validation(errors) => ApiError::validation(errors),
            NotificationError::InvalidToken => ApiError::new(
                actix_web::http::StatusCode::BAD_REQUEST,
                "invalid-unsubscribe-token",
                "The unsubscribe link is not one this server signed.",
            ),
            NotificationError::NotFound => ApiError::not_found("No such reminder."),
            NotificationError::Unavailable(cause) => ApiError::internal(cause),
        }
    }
}

/// The caller's notifications, newest first (only the unread ones with `unread=true`), with
/// their unread count beside the pagination.
#[utoipa::path(
    tag = "notifications",
    operation_id = "list_notifications",
    security(("bearer_auth" = ["profile:read"])),
    params(NotificationQuery),
    responses(
        (status = 200, body = NotificationPage, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/notifications")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    query: Query<NotificationQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let inbox = state.notifications.inbox(&user, query.unread.unwrap_or(false), query.page()?).await?;
    let (pagination, link) = (pagination_of(&inbox.page), link_header(&req, &inbox.page));
    let body = NotificationPage {
        data: inbox.page.items.into_iter().map(Into::into).collect(),
        pagination,
        unread_count: inbox.unread_count,
    };
    Ok(HttpResponse::Ok().insert_header((header::LINK, link)).json(body))
}

/// Mark the caller's notifications read: `up_to_id` and every older one, and `ids`; all of them
/// when the body names neither (`{}`). Others' notifications are not touched. The caller's other
/// sockets hear `notification.read`.
#[utoipa::path(
    tag = "notifications",
    operation_id = "mark_notifications_read",
    security(("bearer_auth" = ["profile:read"])),
    request_body = MarkNotificationsReadRequest,
    responses(
        (status = 204, description = "Marked"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/notifications/read")]
pub async fn mark_read(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: Json<MarkNotificationsReadRequest>,
) -> Result<HttpResponse, ApiError> {
    let draft = body.into_inner().into_draft();
    state.notifications.mark_read(&user, draft).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// How the caller gets each kind of notification: in the app, and by e-mail (`off`, `instant`
/// or in the `daily` digest).
#[utoipa::path(
    tag = "notifications",
    operation_id = "get_notification_preferences",
    security(("bearer_auth" = ["profile:read"])),
    responses(
        (status = 200, body = PreferencesResponse),
        (status = 401, response = Unauthorized),
    )
)]
#[get("/notifications/preferences")]
pub async fn preferences(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<web::Json<PreferencesResponse>, ApiError> {
    Ok(web::Json(state.notifications.preferences(&user).await?.into()))
}

/// Change how the caller gets some kinds; the kinds and fields left out stay. An unknown kind,
/// field or value is a `422` naming it, and nothing changes.
#[utoipa::path(
    tag = "notifications",
    operation_id = "set_notification_preferences",
    security(("bearer_auth" = ["session"])),
    request_body = PreferencesRequest,
    responses(
        (status = 200, body = PreferencesResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, response = Unprocessable),
    )
)]
#[put("/notifications/preferences")]
pub async fn set_preferences(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: Json<Value>,
) -> Result<web::Json<PreferencesResponse>, ApiError> {
    Ok(web::Json(state.notifications.set_preferences(&user, &body.into_inner()).await?.into()))
}

/// Follow a task the caller sees: its status changes and comments notify them.
#[utoipa::path(
    tag = "notifications",
    operation_id = "watch_task",
    security(("bearer_auth" = ["tasks:read"])),
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    responses(
        (status = 204, description = "Followed"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[put("/tasks/{id}/watch")]
pub async fn watch_task(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    follow_task(&state, &user, id.into_inner(), true).await
}

/// Stop following a task, even one the caller follows by default (as its owner or assignee).
#[utoipa::path(
    tag = "notifications",
    operation_id = "unwatch_task",
    security(("bearer_auth" = ["tasks:read"])),
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    responses(
        (status = 204, description = "No longer followed"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[delete("/tasks/{id}/watch")]
pub async fn unwatch_task(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    follow_task(&state, &user, id.into_inner(), false).await
}

/// Follow a project the caller is a member of: every one of its tasks notifies them as a
/// followed task does.
#[utoipa::path(
    tag = "notifications",
    operation_id = "watch_project",
    security(("bearer_auth" = ["projects:read"])),
    params(("id" = i64, Path, minimum = 1, description = "Project id")),
    responses(
        (status = 204, description = "Followed"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[put("/projects/{id}/watch")]
pub async fn watch_project(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    follow_project(&state, &user, id.into_inner(), true).await
}

/// Stop following a project.
#[utoipa::path(
    tag = "notifications",
    operation_id = "unwatch_project",
    security(("bearer_auth" = ["projects:read"])),
    params(("id" = i64, Path, minimum = 1, description = "Project id")),
    responses(
        (status = 204, description = "No longer followed"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[delete("/projects/{id}/watch")]
pub async fn unwatch_project(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    follow_project(&state, &user, id.into_inner(), false).await
}

/// Records the caller's follow of a task they see (404 otherwise).
async fn follow_task(
    state: &AppState,
    user: &workbench_users::Principal,
    id: i64,
    following: bool,
) -> Result<HttpResponse, ApiError> {
    state.tasks.get(user, TaskId(id)).await?;
    state.notifications.watch(user, Subject::task(id), following).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Records the caller's follow of a project they see (404 otherwise).
async fn follow_project(
    state: &AppState,
    user: &workbench_users::Principal,
    id: i64,
    following: bool,
) -> Result<HttpResponse, ApiError> {
    state.projects.get(user, ProjectId(id)).await?;
    state.notifications.watch(user, Subject::project(id), following).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Turn off the e-mail of the kind an unsubscribe link names, for the user it names: the link
/// in every notification e-mail, opened in a browser. No sign-in: the token is signed. Using it
/// again changes nothing.
#[utoipa::path(
    tag = "notifications",
    operation_id = "unsubscribe_notifications",
    params(UnsubscribeQuery),
    responses(
        (status = 200, body = UnsubscribeResponse),
        (status = 400, description = "A token this server did not sign", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/notifications/unsubscribe")]
pub async fn unsubscribe_link(
    state: web::Data<AppState>,
    query: Query<UnsubscribeQuery>,
) -> Result<HttpResponse, ApiError> {
    unsubscribe(&state, &query.into_inner().token).await
}

/// The same, as a mail client's one-click unsubscribe (RFC 8058: `POST` with the body
/// `List-Unsubscribe=One-Click`, which is not needed).
#[utoipa::path(
    tag = "notifications",
    operation_id = "unsubscribe_notifications_one_click",
    params(UnsubscribeQuery),
    responses(
        (status = 200, body = UnsubscribeResponse),
        (status = 400, description = "A token this server did not sign", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/notifications/unsubscribe")]
pub async fn unsubscribe_one_click(
    state: web::Data<AppState>,
    query: Query<UnsubscribeQuery>,
) -> Result<HttpResponse, ApiError> {
    unsubscribe(&state, &query.into_inner().token).await
}

async fn unsubscribe(state: &AppState, token: &str) -> Result<HttpResponse, ApiError> {
    let kind = state.notifications.unsubscribe(token).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(UnsubscribeResponse { kind: kind.as_str(), email: "off" }))
}
