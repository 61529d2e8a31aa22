//! What users own: the caller's collection and its warranty overview. Only the owner ever sees
//! an item; everyone else (admins included) is told it does not exist.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use workbench_core::{FieldErrors, PageRequest};
use workbench_products::{UserProduct, UserProductFilter, UserProductId, WarrantyQuery};

pub mod dto;

use crate::extract::{CurrentUser, Json, Query};
use crate::groups::Routes;
use crate::idempotency::{Created, IdempotencyKeySchema};
use crate::pagination::{DataList, Paginated, paginated};
use crate::preconditions::{IfMatchSchema, etag, if_match, none_match_hits};
use crate::problem::{ApiError, Problem};
use crate::responses::{
    BadRequest, NOT_JSON_OR_BAD_KEY, NOT_MODIFIED, NotFound, PreconditionFailed, Unauthorized, Unprocessable,
};
use crate::state::AppState;
use dto::{
    CreateUserProductRequest, UpdateUserProductRequest, UserProductListQuery, UserProductResponse, WarrantyQueryParams,
};

fn item_response(item: UserProduct, status: StatusCode) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::ETAG, etag(item.version))).json(UserProductResponse::from(item))
}

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    // `/user-products/warranty` before `/user-products/{id}`.
    if let Some(cfg) = routes.under("/user-products") {
        cfg.service(list)
            .service(warranty)
            .service(create)
            .service(get)
            .service(replace)
            .service(update)
            .service(remove);
    }
}

/// The caller's collection, newest first.
#[utoipa::path(
    tag = "user-products",
    operation_id = "list_user_products",
    security(("bearer_auth" = ["products:read"])),
    params(UserProductListQuery),
    responses(
        (status = 200, body = Paginated<UserProductResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, description = "A value outside the allowed set (`status=lost`, `page=0`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/user-products")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    query: Query<UserProductListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let (filter, page) = FieldErrors::both(
        UserProductFilter::parse(query.status.as_deref()),
        PageRequest::from_signed(query.page, query.per_page),
    )?;
    let items = state.collection.list(&user, filter, page).await?;
    Ok(paginated(&req, items.map(UserProductResponse::from)))
}

/// The caller's warranties: still running (`active`, soonest end first), ending within `days`
/// days (`expiring`) or over (`expired`, latest end first). Only items still owned (`active` or
/// `broken`) with an expiry date are listed. Not paginated.
#[utoipa::path(
    tag = "user-products",
    operation_id = "warranty_overview",
    security(("bearer_auth" = ["products:read"])),
    params(WarrantyQueryParams),
    responses(
        (status = 200, body = DataList<UserProductResponse>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, description = "An unknown `filter`, or a negative `days`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/user-products/warranty")]
pub async fn warranty(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    query: Query<WarrantyQueryParams>,
) -> Result<web::Json<DataList<UserProductResponse>>, ApiError> {
    let query = query.into_inner();
    let query = WarrantyQuery::parse(query.filter.as_deref(), query.days)?;
    let items = state.collection.warranties(&user, query).await?;
    Ok(web::Json(DataList { data: items.into_iter().map(UserProductResponse::from).collect() }))
}

/// Add a product to the caller's collection. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "user-products",
    operation_id = "create_user_product",
    security(("bearer_auth" = ["products:write"])),
    params(("Idempotency-Key" = inline(Option<IdempotencyKeySchema>), Header, nullable = false, description = "Replays the first response for 24 h")),
    request_body = CreateUserProductRequest,
    responses(
        (status = 201, body = UserProductResponse, headers(("Location" = String), ("ETag" = String)),
            links(
                ("GetUserProduct" = (operation_id = "get_user_product", parameters(("id" = "$response.body#/id")))),
                ("UpdateUserProduct" = (operation_id = "update_user_product",
                    parameters(("id" = "$response.body#/id"), ("If-Match" = "$response.header.ETag")))),
                ("DeleteUserProduct" = (operation_id = "delete_user_product", parameters(("id" = "$response.body#/id")))),
            )),
        (status = 400, description = NOT_JSON_OR_BAD_KEY, body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 409, description = "The caller already has this product with this serial number, or the same Idempotency-Key is still being processed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, all listed (an unknown or discontinued `product_id` among them), or a reused Idempotency-Key with another body", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/user-products")]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: Json<CreateUserProductRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    state
        .idempotency
        .run(&req, user.id, &body, || async {
            let item = state.collection.create(&user, body.clone().into_draft()).await?;
            Ok(Created {
                location: Some(format!("/api/v1/user-products/{}", item.id)),
                etag: Some(etag(item.version)),
                body: serde_json::value::to_raw_value(&UserProductResponse::from(item)).map_err(ApiError::internal)?,
            })
        })
        .await
}

/// One item of the caller's, with its `ETag`; anyone else's is `404`.
#[utoipa::path(
    tag = "user-products",
    operation_id = "get_user_product",
    security(("bearer_auth" = ["products:read"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Item id"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "`ETag`s the client holds; the current one answers `304`"),
    ),
    responses(
        (status = 200, body = UserProductResponse, headers(("ETag" = String))),
        (status = 304, description = NOT_MODIFIED),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[get("/user-products/{id}")]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let item = state.collection.get(&user, UserProductId(id.into_inner())).await?;
    if none_match_hits(&req, item.version) {
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, etag(item.version))).finish());
    }
    Ok(item_response(item, StatusCode::OK))
}

async fn apply_update(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: workbench_users::Principal,
    id: i64,
    body: UpdateUserProductRequest,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let item = state.collection.update(&user, UserProductId(id), body.into(), expected.version()).await?;
    Ok(item_response(item, StatusCode::OK))
}

/// Change an item of the caller's: fields left out are kept, `null` clears a nullable field.
/// Same as `PATCH`. With `If-Match`, a stale version is refused with `412`.
#[utoipa::path(
    tag = "user-products",
    operation_id = "replace_user_product",
    security(("bearer_auth" = ["products:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Item id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the change is based on"),
    ),
    request_body = UpdateUserProductRequest,
    responses(
        (status = 200, body = UserProductResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, description = "The serial number is already registered for this product, or concurrent writers kept winning", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = Unprocessable),
    )
)]
#[put("/user-products/{id}")]
pub async fn replace(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<UpdateUserProductRequest>,
) -> Result<HttpResponse, ApiError> {
    apply_update(req, state, user, id.into_inner(), body.into_inner()).await
}

/// Change an item of the caller's: fields left out are kept, `null` clears a nullable field.
/// With `If-Match`, a stale version is refused with `412`.
#[utoipa::path(
    tag = "user-products",
    operation_id = "update_user_product",
    security(("bearer_auth" = ["products:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Item id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the change is based on"),
    ),
    request_body = UpdateUserProductRequest,
    responses(
        (status = 200, body = UserProductResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, description = "The serial number is already registered for this product, or concurrent writers kept winning", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = Unprocessable),
    )
)]
#[patch("/user-products/{id}")]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<UpdateUserProductRequest>,
) -> Result<HttpResponse, ApiError> {
    apply_update(req, state, user, id.into_inner(), body.into_inner()).await
}

/// Remove an item from the caller's collection; one with files attached is refused with `409`.
#[utoipa::path(
    tag = "user-products",
    operation_id = "delete_user_product",
    security(("bearer_auth" = ["products:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Item id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the deletion is based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, description = "Files are attached to the item", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
    )
)]
#[delete("/user-products/{id}")]
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    state.collection.delete(&user, UserProductId(id.into_inner()), expected.version()).await?;
    Ok(HttpResponse::NoContent().finish())
}
