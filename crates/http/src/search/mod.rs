//! `GET /search`: one query over several domains, each group answered by its own domain's service
//! under that domain's own visibility rule, so that search can never show more than the domain's
//! own routes would.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use workbench_core::PageRequest;
use workbench_products::{ProductFilter, ProductSearch, ProductStatus};
use workbench_search::{Group, SavedSearchId};

pub mod dto;
mod errors;

use crate::chat::dto::MessageResponse;
use crate::extract::{CurrentUser, Json, Query};
use crate::files::dto::FileResponse;
use crate::groups::Routes;
use crate::pagination::{PageQuery, Paginated, paginated};
use crate::problem::ApiError;
use crate::problem::Problem;
use crate::products::dto::ProductResponse;
use crate::responses::{BadRequest, NotFound, Unauthorized, Unprocessable};
use crate::state::AppState;
use crate::tasks::dto::TaskResponse;
use crate::users::dto::UserResponse;
use dto::{Facets, SaveSearchRequest, SavedSearchResponse, Search, SearchQuery, SearchResponse, Totals};

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/search") {
        cfg.service(search);
    }
    if let Some(cfg) = routes.under("/searches") {
        cfg.service(save).service(list_saved).service(delete_saved);
    }
}

/// Users, tasks, products, files and messages matching `q` (a query of the search language), grouped by
/// type; each group holds at most `limit` results the caller may see, and is present only when
/// searched. `totals` counts every match of each group, and `facets` how the matching tasks
/// spread over statuses, priorities, tags and projects. A query holds at most 32 terms; each
/// statement reading the matching tasks is stopped after 2 s (`503 search-timeout`, to retry).
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
        (status = 503, description = "`search-timeout`: reading the matching tasks ran past its time limit and was stopped; try again after `Retry-After` seconds, or narrow the query", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
#[get("/search")]
pub async fn search(
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
    query: Query<SearchQuery>,
) -> Result<web::Json<SearchResponse>, ApiError> {
    let Search { query, groups, limit } = query.into_inner().parse()?;
    let wanted = |group| groups.contains(&group);
    // A page of `limit` (at most 50, within a page's bounds) from each domain's own list.
    let page = PageRequest::new(Some(1), Some(limit))?;
    let text = query.text();

    let users = async {
        if !wanted(Group::Users) {
            return Ok((None, None));
        }
        let (found, total) = futures_util::try_join!(
            state.users.search(&viewer, text.clone(), page.per_page()),
            state.users.list(&viewer, Some(text.clone()), PageRequest::new(Some(1), Some(1))?),
        )?;
        let found = found.into_iter().map(|u| UserResponse::seen_by(u, &viewer)).collect();
        Ok::<_, ApiError>((Some(found), Some(total.total)))
    };
    let tasks = async {
        if !wanted(Group::Tasks) {
            return Ok((None, None));
        }
        // Newest first, as `GET /tasks?q=` lists them.
        let filter = query.tasks_for(&viewer, &state.users, &state.tasks, workbench_users::now()).await?;
        let (found, facets) = futures_util::try_join!(
            state.tasks.search(&viewer, filter.clone(), page.per_page()),
            state.tasks.facets(&viewer, filter),
        )?;
        Ok::<_, ApiError>((Some(found.into_iter().map(TaskResponse::from).collect()), Some(facets)))
    };
    let products = async {
        if !wanted(Group::Products) {
            return Ok((None, None));
        }
        let wanted = ProductSearch::parse(Some(text.clone()), Some(limit))?;
        let active = ProductFilter {
            statuses: vec![ProductStatus::Active],
            text: Some(text.to_lowercase()).filter(|t| !t.is_empty()),
            ..ProductFilter::default()
        };
        let (found, total) = futures_util::try_join!(
            state.catalogue.search(wanted),
            state.catalogue.products(active, PageRequest::new(Some(1), Some(1))?),
        )?;
        Ok::<_, ApiError>((Some(found.into_iter().map(ProductResponse::from).collect()), Some(total.total)))
    };
    let files = async {
        if !wanted(Group::Files) {
            return Ok((None, None));
        }
        let (found, total) = futures_util::try_join!(
            state.files.search(&viewer, &text, page.per_page()),
            state.files.search_total(&viewer, &text),
        )?;
        let found = found.into_iter().map(|f| FileResponse::new(f, &state.web.public_url)).collect();
        Ok::<_, ApiError>((Some(found), Some(total)))
    };
    let messages = async {
        if !wanted(Group::Messages) {
            return Ok((None, None));
        }
        let found = state.chat.search_everywhere(&viewer, text.to_lowercase(), page).await?;
        let total = found.total;
        let found = found.items.into_iter().map(|f| MessageResponse::new(f.message, f.room.as_ref())).collect();
        Ok::<_, ApiError>((Some(found), Some(total)))
    };
    let (
        (users, users_total),
        (tasks, facets),
        (products, products_total),
        (files, files_total),
        (messages, messages_total),
    ) = futures_util::try_join!(users, tasks, products, files, messages)?;
    let totals = Totals {
        users: users_total,
        tasks: facets.as_ref().map(|f| f.total),
        products: products_total,
        files: files_total,
        messages: messages_total,
    };
    Ok(web::Json(SearchResponse { users, tasks, products, files, messages, totals, facets: facets.map(Facets::from) }))
}

/// Keep a query under a name, to run it again later with `GET /search?q=`. The query must be one
/// `GET /search` would answer; each user keeps at most 100.
#[utoipa::path(
    tag = "search",
    operation_id = "save_search",
    security(("bearer_auth" = ["tasks:write"])),
    request_body = SaveSearchRequest,
    responses(
        (status = 201, body = SavedSearchResponse, headers(("Location" = String)),
            links(("DeleteSavedSearch" = (operation_id = "delete_saved_search", parameters(("id" = "$response.body#/id")))))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 409, description = "The caller already keeps 100 saved searches", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/searches")]
pub async fn save(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: Json<SaveSearchRequest>,
) -> Result<HttpResponse, ApiError> {
    let saved = state.searches.save(&user, body.into_inner().into_draft()).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/searches/{}", saved.id.0)))
        .json(SavedSearchResponse::from(saved)))
}

/// The caller's saved searches, newest first.
#[utoipa::path(
    tag = "search",
    operation_id = "list_saved_searches",
    security(("bearer_auth" = ["tasks:read"])),
    params(PageQuery),
    responses(
        (status = 200, body = Paginated<SavedSearchResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/searches")]
pub async fn list_saved(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().page()?;
    let searches = state.searches.list(&user, page).await?;
    Ok(paginated(&req, searches.map(SavedSearchResponse::from)))
}

/// Forget one of the caller's saved searches.
#[utoipa::path(
    tag = "search",
    operation_id = "delete_saved_search",
    security(("bearer_auth" = ["tasks:write"])),
    params(("id" = i64, Path, minimum = 1, description = "Saved search id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[delete("/searches/{id}")]
pub async fn delete_saved(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state.searches.delete(&user, SavedSearchId(id.into_inner())).await?;
    Ok(HttpResponse::NoContent().finish())
}
