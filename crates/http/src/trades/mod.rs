//! Trades: owners swap what they own. The market lists other users' tradeable items; a trade is
//! seen by its two parties only (anyone else: `404`), and each party acts for itself (the other
//! party: `403`). Only an open trade changes (`409` otherwise).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use workbench_core::{FieldErrors, PageRequest, now};
use workbench_trades::{MarketFilter, Trade, TradeFilter, TradeId};

pub mod dto;
mod errors;
pub(crate) mod events;

use crate::extract::{CurrentUser, Json, Query};
use crate::groups::Routes;
use crate::idempotency::{Created, IdempotencyKeySchema};
use crate::pagination::{Paginated, paginated};
use crate::preconditions::{IfMatchSchema, etag, if_match, none_match_hits};
use crate::problem::{ApiError, Problem};
use crate::responses::{
    BadRequest, Forbidden, KEY_IN_USE, NOT_JSON_OR_BAD_KEY, NOT_MODIFIED, NotFound, PreconditionFailed, Unauthorized,
    Unprocessable,
};
use crate::state::AppState;
use dto::{CounterTradeRequest, CreateTradeRequest, MarketItemResponse, MarketQuery, TradeListQuery, TradeResponse};

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/market") {
        cfg.service(market);
    }
    if let Some(cfg) = routes.under("/trades") {
        cfg.service(list)
            .service(propose)
            .service(get)
            .service(accept)
            .service(decline)
            .service(cancel)
            .service(counter);
    }
}

fn trade_response(trade: Trade, status: StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(trade.version)))
        .json(TradeResponse::new(trade, now()))
}

/// Other active users' tradeable items (only those still `active`), newest first.
#[utoipa::path(
    tag = "trades",
    operation_id = "list_market",
    security(("bearer_auth" = ["products:read"])),
    params(MarketQuery),
    responses(
        (status = 200, body = Paginated<MarketItemResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, description = "`page=0`, a page size out of range, or `category_id` below 1", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/market")]
pub async fn market(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    query: Query<MarketQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = PageRequest::from_signed(query.page, query.per_page);
    let category = match query.category_id {
        Some(id) if id < 1 => Err(FieldErrors::single("category_id", "must be a positive integer")),
        other => Ok(other),
    };
    let (page, category_id) = FieldErrors::both(page, category)?;
    let filter = MarketFilter { q: query.q, category_id, brand: query.brand };
    let items = state.trades.market(&user, filter, page).await?;
    Ok(paginated(&req, items.map(MarketItemResponse::from)))
}

/// The caller's trades, newest first: `role=sent` or `received` (both by default), `status` as
/// read now.
#[utoipa::path(
    tag = "trades",
    operation_id = "list_trades",
    security(("bearer_auth" = ["products:read"])),
    params(TradeListQuery),
    responses(
        (status = 200, body = Paginated<TradeResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, description = "An unknown `role` or `status`, `page=0` or a page size out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/trades")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    query: Query<TradeListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let (filter, page) = FieldErrors::both(
        TradeFilter::parse(query.role.as_deref(), query.status.as_deref()),
        PageRequest::from_signed(query.page, query.per_page),
    )?;
    let trades = state.trades.list(&user, filter, page).await?;
    let at = now();
    Ok(paginated(&req, trades.map(|t| TradeResponse::new(t, at))))
}

/// Propose a trade: items of the caller's for tradeable items of another user's. Every failing
/// rule is reported on its field. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "trades",
    operation_id = "propose_trade",
    security(("bearer_auth" = ["products:write"])),
    params(("Idempotency-Key" = inline(Option<IdempotencyKeySchema>), Header, nullable = false, description = "Replays the first response for 24 h")),
    request_body = CreateTradeRequest,
    responses(
        (status = 201, body = TradeResponse, headers(("Location" = String), ("ETag" = String)),
            links(
                ("GetTrade" = (operation_id = "get_trade", parameters(("id" = "$response.body#/id")))),
                ("CancelTrade" = (operation_id = "cancel_trade", parameters(("id" = "$response.body#/id")))),
            )),
        (status = 400, description = NOT_JSON_OR_BAD_KEY, body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 409, description = KEY_IN_USE, body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/trades")]
pub async fn propose(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: Json<CreateTradeRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    state
        .idempotency
        .run(&req, user.id, &body, || async {
            let trade = state.trades.propose(&user, body.clone().into_draft()).await?;
            Ok(Created {
                location: Some(format!("/api/v1/trades/{}", trade.id)),
                etag: Some(etag(trade.version)),
                body: serde_json::value::to_raw_value(&TradeResponse::new(trade, now())).map_err(ApiError::internal)?,
            })
        })
        .await
}

/// One trade, with its `ETag`: its two parties only.
#[utoipa::path(
    tag = "trades",
    operation_id = "get_trade",
    security(("bearer_auth" = ["products:read"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Trade id"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "`ETag`s the client holds; the current one answers `304`"),
    ),
    responses(
        (status = 200, body = TradeResponse, headers(("ETag" = String))),
        (status = 304, description = NOT_MODIFIED),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[get("/trades/{id}")]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let trade = state.trades.get(&user, TradeId(id.into_inner())).await?;
    if none_match_hits(&req, trade.version) {
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, etag(trade.version))).finish());
    }
    Ok(trade_response(trade, StatusCode::OK))
}

/// Accept a trade (its recipient): every item moves to the other side at once, with its serial,
/// dates, warranty and files, and stops being tradeable; every other open trade holding any of
/// these items is cancelled. If an item changed hands or state meanwhile, nothing moves, the
/// trade is cancelled and the answer is `409` of type `items-changed`.
#[utoipa::path(
    tag = "trades",
    operation_id = "accept_trade",
    security(("bearer_auth" = ["products:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Trade id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the answer is based on"),
    ),
    responses(
        (status = 200, body = TradeResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The trade is not open; (type `items-changed`) an item moved meanwhile; or a party already owns one of the products with the same serial number (`errors` names `serial_number`; nothing moved, the trade stays open)", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
    )
)]
#[post("/trades/{id}/accept")]
pub async fn accept(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let trade = state.trades.accept(&user, TradeId(id.into_inner()), expected.version()).await?;
    Ok(trade_response(trade, StatusCode::OK))
}

/// Decline a trade: its recipient.
#[utoipa::path(
    tag = "trades",
    operation_id = "decline_trade",
    security(("bearer_auth" = ["products:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Trade id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the answer is based on"),
    ),
    responses(
        (status = 200, body = TradeResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The trade is not open", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
    )
)]
#[post("/trades/{id}/decline")]
pub async fn decline(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let trade = state.trades.decline(&user, TradeId(id.into_inner()), expected.version()).await?;
    Ok(trade_response(trade, StatusCode::OK))
}

/// Cancel a trade: its proposer.
#[utoipa::path(
    tag = "trades",
    operation_id = "cancel_trade",
    security(("bearer_auth" = ["products:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Trade id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the answer is based on"),
    ),
    responses(
        (status = 200, body = TradeResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The trade is not open", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
    )
)]
#[post("/trades/{id}/cancel")]
pub async fn cancel(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let trade = state.trades.cancel(&user, TradeId(id.into_inner()), expected.version()).await?;
    Ok(trade_response(trade, StatusCode::OK))
}

/// Answer a trade with a new one in the other direction (its recipient): the new trade's
/// `parent_id` is this one, which becomes `superseded`.
#[utoipa::path(
    tag = "trades",
    operation_id = "counter_trade",
    security(("bearer_auth" = ["products:write"])),
    params(("id" = i64, Path, minimum = 1, description = "Trade id")),
    request_body = CounterTradeRequest,
    responses(
        (status = 201, body = TradeResponse, headers(("Location" = String), ("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The trade is not open", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/trades/{id}/counter")]
pub async fn counter(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<CounterTradeRequest>,
) -> Result<HttpResponse, ApiError> {
    let trade = state.trades.counter(&user, TradeId(id.into_inner()), body.into_inner().into_draft()).await?;
    let location = format!("/api/v1/trades/{}", trade.id);
    let mut response = trade_response(trade, StatusCode::CREATED);
    if let Ok(value) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}
