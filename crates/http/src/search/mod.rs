//! `GET /search`: one query over several domains, each group answered by its own domain's service
//! under that domain's own visibility rule, so that search can never show more than the domain's
//! own routes would.

use actix_web::{get, web};
use workbench_core::PageRequest;
use workbench_products::ProductSearch;
use workbench_tasks::{RawTaskFilter, TaskFilter};

pub mod dto;

use crate::extract::{CurrentUser, Query};
use crate::files::dto::FileResponse;
use crate::groups::Routes;
use crate::problem::ApiError;
use crate::products::dto::ProductResponse;
use crate::responses::{BadRequest, Unauthorized, Unprocessable};
use crate::state::AppState;
use crate::tasks::dto::TaskResponse;
use crate::users::dto::UserResponse;
use dto::{Group, SearchQuery, SearchResponse};

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/search") {
        cfg.service(search);
    }
}

/// Users, tasks, products and files matching `q`, grouped by type; each group holds at most `limit`
/// results the caller may see, and is present only when searched.
#[utoipa::path(
    tag = "search",
    operation_id = "search",
    security(("bearer_auth" = ["tasks:read"])),
    params(SearchQuery),
    responses(
        (status = 200, body = SearchResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/search")]
pub async fn search(
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
    query: Query<SearchQuery>,
) -> Result<web::Json<SearchResponse>, ApiError> {
    let search = query.into_inner().parse()?;
    let wanted = |group| search.groups.contains(&group);
    // A page of `limit` (at most 50, within a page's bounds) from each domain's own list.
    let limit = Some(search.limit);
    let page = PageRequest::new(Some(1), limit)?;

    let users = async {
        if !wanted(Group::Users) {
            return Ok(None);
        }
        let found = state.users.search(&viewer, search.text.clone(), page.per_page()).await?;
        Ok::<_, ApiError>(Some(found.into_iter().map(|u| UserResponse::seen_by(u, &viewer)).collect()))
    };
    let tasks = async {
        if !wanted(Group::Tasks) {
            return Ok(None);
        }
        // Newest first, as `GET /tasks?q=` lists them.
        let raw = RawTaskFilter { q: Some(search.text.clone()), ..RawTaskFilter::default() };
        let filter = TaskFilter::parse(raw, workbench_users::now())?;
        let found = state.tasks.search(&viewer, filter, page.per_page()).await?;
        Ok::<_, ApiError>(Some(found.into_iter().map(TaskResponse::from).collect()))
    };
    let products = async {
        if !wanted(Group::Products) {
            return Ok(None);
        }
        let wanted = ProductSearch::parse(Some(search.text.clone()), limit)?;
        let found = state.catalogue.search(wanted).await?;
        Ok::<_, ApiError>(Some(found.into_iter().map(ProductResponse::from).collect()))
    };
    let files = async {
        if !wanted(Group::Files) {
            return Ok(None);
        }
        let found = state.files.search(&viewer, &search.text, page.per_page()).await?;
        Ok::<_, ApiError>(Some(found.into_iter().map(|f| FileResponse::new(f, &state.web.public_url)).collect()))
    };
    let (users, tasks, products, files) = futures_util::try_join!(users, tasks, products, files)?;
    Ok(web::Json(SearchResponse { users, tasks, products, files }))
}
