//! The job queue and the schedules, as admins see and steer them: jobs by status, the schedules
//! and their run log, and retrying a dead job or cancelling one that has not started.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use workbench_core::{FieldError, PageRequest};
use workbench_jobs::{JobId, JobState};

pub mod dto;
mod errors;

use crate::extract::{CurrentUser, Query, admins_only};
use crate::pagination::{DataList, Paginated, paginated};
use crate::problem::{ApiError, Problem};
use crate::responses::{BadRequest, NotFound, Unauthorized};
use crate::state::AppState;
use dto::{JobListQuery, JobResponse, RunListQuery, ScheduleResponse, ScheduleRunResponse};

/// A job status as the `status` parameter names it; `dead` is the contract's word for discarded.
fn parse_status(s: &str) -> Result<JobState, String> {
    if s.eq_ignore_ascii_case("dead") { Ok(JobState::Discarded) } else { JobState::parse(s) }
}

/// The job queue, newest first, optionally only the jobs in one `status`. Jobs that schedules
/// enqueued name their `schedule` slot; their run log is at `GET /admin/jobs/runs`.
#[utoipa::path(
    tag = "admin",
    operation_id = "admin_list_jobs",
    security(("bearer_auth" = ["admin"])),
    params(JobListQuery),
    responses(
        (status = 200, body = Paginated<JobResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown `status`, or `page`/`per_page` below 1", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/jobs")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
    query: Query<JobListQuery>,
) -> Result<HttpResponse, ApiError> {
    admins_only(&viewer)?;
    let query = query.into_inner();
    let (status, page) = match (
        query.status.as_deref().map(str::trim).map(parse_status).transpose(),
        PageRequest::from_signed(query.page, query.per_page),
    ) {
        (Ok(status), Ok(page)) => (status, page),
        (status, page) => {
            let mut errors: Vec<FieldError> =
                status.err().map(|why| FieldError::new("status", why)).into_iter().collect();
            errors.extend(page.err().map(|e| e.into_vec()).unwrap_or_default());
            return Err(ApiError::field_errors(errors));
        }
    };
    let jobs = state.jobs.list(status, page).await?;
    Ok(paginated(&req, jobs.map(JobResponse::from)))
}

/// The schedules' run log, latest slot first: one entry per slot fired (by one instance,
/// whatever their number), with its outcome, duration and items affected.
#[utoipa::path(
    tag = "admin",
    operation_id = "admin_list_schedule_runs",
    security(("bearer_auth" = ["admin"])),
    params(RunListQuery),
    responses(
        (status = 200, body = Paginated<ScheduleRunResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`page`/`per_page` below 1", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/jobs/runs")]
pub async fn runs(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
    query: Query<RunListQuery>,
) -> Result<HttpResponse, ApiError> {
    admins_only(&viewer)?;
    let query = query.into_inner();
    let page = PageRequest::from_signed(query.page, query.per_page)?;
    let schedule = query.schedule.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let runs = state.jobs.runs(schedule, page).await?;
    Ok(paginated(&req, runs.map(ScheduleRunResponse::from)))
}

/// The schedules as configured: each one's cron expression, whether it runs here, its next slot
/// and its latest run. Not paginated.
#[utoipa::path(
    tag = "admin",
    operation_id = "admin_list_schedules",
    security(("bearer_auth" = ["admin"])),
    responses(
        (status = 200, body = DataList<ScheduleResponse>),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/jobs/schedules")]
pub async fn schedules(
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
) -> Result<web::Json<DataList<ScheduleResponse>>, ApiError> {
    admins_only(&viewer)?;
    let now = workbench_jobs::now();
    let mut data = Vec::with_capacity(state.schedules.len());
    for info in state.schedules.iter() {
        let one = PageRequest::new(Some(1), Some(1))?;
        let latest = state.jobs.runs(Some(info.schedule.name().to_owned()), one).await?;
        data.push(ScheduleResponse::new(info, now, latest.items.into_iter().next()));
    }
    Ok(web::Json(DataList { data }))
}

/// One job, with the error of each failed attempt.
#[utoipa::path(
    tag = "admin",
    operation_id = "admin_get_job",
    security(("bearer_auth" = ["admin"])),
    params(("id" = i64, Path, minimum = 1, description = "Job id")),
    responses(
        (status = 200, body = JobResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = NotFound),
    )
)]
#[get("/admin/jobs/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
    id: web::Path<i64>,
) -> Result<web::Json<JobResponse>, ApiError> {
    admins_only(&viewer)?;
    Ok(web::Json(state.jobs.get(JobId(id.into_inner())).await?.into()))
}

/// Run a `discarded` (dead) or `cancelled` job again, now. It keeps its attempts and their
/// errors; when its attempts are used up it gets one more.
#[utoipa::path(
    tag = "admin",
    operation_id = "admin_retry_job",
    security(("bearer_auth" = ["admin"])),
    params(("id" = i64, Path, minimum = 1, description = "Job id")),
    responses(
        (status = 200, description = "The job, `available` again", body = JobResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = NotFound),
        (status = 409, description = "The job is not discarded or cancelled, or another unfinished job holds its unique key", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/jobs/{id}/retry")]
pub async fn retry(
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
    id: web::Path<i64>,
) -> Result<web::Json<JobResponse>, ApiError> {
    admins_only(&viewer)?;
    let job = state.jobs.retry(JobId(id.into_inner())).await?;
    tracing::info!(job = %job.id, kind = job.kind, admin = viewer.id.0, "job retried by an admin");
    Ok(web::Json(job.into()))
}

/// Withdraw a job that has not started (`available`, `scheduled` or `retryable`). A running job
/// cannot be cancelled: its handler is already at work.
#[utoipa::path(
    tag = "admin",
    operation_id = "admin_cancel_job",
    security(("bearer_auth" = ["admin"])),
    params(("id" = i64, Path, minimum = 1, description = "Job id")),
    responses(
        (status = 200, description = "The job, `cancelled`", body = JobResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = NotFound),
        (status = 409, description = "The job is running or finished", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/jobs/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
    id: web::Path<i64>,
) -> Result<web::Json<JobResponse>, ApiError> {
    admins_only(&viewer)?;
    let job = state.jobs.cancel(JobId(id.into_inner())).await?;
    tracing::info!(job = %job.id, kind = job.kind, admin = viewer.id.0, "job cancelled by an admin");
    Ok(web::Json(job.into()))
}
