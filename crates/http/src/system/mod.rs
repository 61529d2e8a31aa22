//! Live system metrics of this instance, for moderators and admins: the latest sample and the
//! samples kept in memory (`workbench_system`), as JSON or CSV. WebSocket subscribers of the
//! `system` topic receive the same samples as they are taken.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use workbench_system::Sample;

pub mod dto;

use crate::extract::{CurrentUser, parse_query};
use crate::groups::Routes;
use crate::pagination::DataList;
use crate::problem::{ApiError, Problem};
use crate::responses::{Forbidden, Unauthorized, Unprocessable};
use crate::state::AppState;
use dto::{HistoryFormat, HistoryQuery, Samples};

/// How long a request waits for the first sample of a process that just started.
const FIRST_SAMPLE_WAIT: Duration = Duration::from_secs(5);

/// Refuses anyone below moderator: the machine's figures are for the people who run it.
fn moderators_only(viewer: &workbench_users::Principal) -> Result<(), ApiError> {
    if viewer.role.is_moderator() {
        Ok(())
    } else {
        Err(ApiError::forbidden("Only moderators and administrators may see the system metrics."))
    }
}

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/system") {
        cfg.service(latest).service(history);
    }
}

/// The latest sample of this instance: CPU, memory, swap, disks, network, this process, its
/// HTTP traffic and open WebSockets, the alerts firing and their thresholds. Sampled every
/// `SYSTEM_METRICS_INTERVAL` (5 s by default).
#[utoipa::path(
    tag = "system",
    operation_id = "get_system_metrics",
    security(("bearer_auth" = ["admin"])),
    responses(
        (status = 200, description = "The latest sample", body = Sample),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, description = "The process has just started and no sample is taken yet; retry after `Retry-After` seconds",
            body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/system/metrics")]
pub async fn latest(state: web::Data<AppState>, CurrentUser(user): CurrentUser) -> Result<HttpResponse, ApiError> {
    moderators_only(&user)?;
    let sample = tokio::time::timeout(FIRST_SAMPLE_WAIT, state.system.sample())
        .await
        .map_err(|_| ApiError::unavailable("No system metrics sample has been taken yet.").with_retry_after(1))?;
    Ok(HttpResponse::Ok().json(&*sample))
}

/// The samples of the last `minutes`, oldest first, kept in memory for
/// `SYSTEM_METRICS_RETENTION` (1 h by default; a restart starts afresh): `{data: [...]}`, or
/// with `format=csv` a `text/csv` attachment of their scalar figures under a header row.
#[utoipa::path(
    tag = "system",
    operation_id = "get_system_metrics_history",
    security(("bearer_auth" = ["admin"])),
    params(HistoryQuery),
    responses(
        (status = 200, description = "The samples, oldest first", content(
            (DataList<Sample> = "application/json"),
            (String = "text/csv", example = "at,cpu_percent,load_1m,load_5m,load_15m,memory_total_bytes,memory_used_bytes,memory_available_bytes,swap_total_bytes,swap_used_bytes,network_rx_bytes_per_s,network_tx_bytes_per_s,process_rss_bytes,process_cpu_percent,process_uptime_s,http_requests_per_s,http_p95_ms,http_errors_per_s,websockets\r\n2026-01-15T10:30:00Z,12.5,0.42,0.3,0.25,8264916992,2147483648,6117433344,0,0,1530.2,870.6,52428800,0.8,3600,4.2,18.75,0,2\r\n"),
        )),
        (status = 400, description = "`minutes` is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/system/metrics/history")]
pub async fn history(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, ApiError> {
    moderators_only(&user)?;
    // Read after the role check: the query's rules are nobody else's business.
    let query: HistoryQuery = parse_query(req.query_string())?;
    let (minutes, format) = query.parse(state.system.config().retention)?;
    let samples = state.system.history(minutes);
    Ok(match format {
        HistoryFormat::Json => HttpResponse::Ok().json(Samples { data: samples.iter().map(|s| &**s).collect() }),
        HistoryFormat::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"system-metrics-{minutes}m.csv\""),
            ))
            .body(workbench_system::to_csv(&samples)),
    })
}
