//! The public catalogue: categories and products, read by anyone (and cached), changed by admins.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use workbench_core::FieldErrors;
use workbench_products::{CatalogueService, CategoryId, ProductError, ProductFilter, ProductId};

pub mod dto;
mod errors;

use crate::extract::{CurrentUser, Json, Query};
use crate::groups::Routes;
use crate::idempotency::{Created, IdempotencyKeySchema};
use crate::pagination::{DataList, Paginated, paginated};
use crate::preconditions::{IfMatchSchema, etag, if_match, none_match_hits};
use crate::problem::{ApiError, Problem};
use crate::responses::{
    BadRequest, Forbidden, KEY_IN_USE, NOT_JSON_OR_BAD_KEY, NOT_MODIFIED, NotFound, PreconditionFailed, Unauthorized,
    Unprocessable,
};
use crate::state::AppState;
use dto::{
    CategoryResponse, CreateCategoryRequest, CreateProductRequest, ProductListQuery, ProductResponse,
    ProductSearchQuery, UpdateCategoryRequest, UpdateProductRequest,
};

fn category_response(category: workbench_products::Category, status: StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(category.version)))
        .json(CategoryResponse::from(category))
}

fn product_response(product: workbench_products::Product, status: StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(product.version)))
        .json(ProductResponse::from(product))
}

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/categories") {
        cfg.service(list_categories)
            .service(get_category)
            .service(create_category)
            .service(update_category)
            .service(delete_category);
    }
    // `/products/search` before `/products/{id}`.
    if let Some(cfg) = routes.under("/products") {
        cfg.service(list).service(search).service(get).service(create).service(replace).service(update).service(remove);
    }
}

/// Every category, by name. Public.
#[utoipa::path(
    tag = "products",
    operation_id = "list_categories",
    responses((status = 200, body = DataList<CategoryResponse>))
)]
#[get("/categories")]
pub async fn list_categories(state: web::Data<AppState>) -> Result<web::Json<DataList<CategoryResponse>>, ApiError> {
    let categories = state.catalogue.categories().await?;
    Ok(web::Json(DataList { data: categories.into_iter().map(CategoryResponse::from).collect() }))
}

/// One category, with its `ETag`. Public.
#[utoipa::path(
    tag = "products",
    operation_id = "get_category",
    params(("id" = i64, Path, minimum = 1, description = "Category id")),
    responses(
        (status = 200, body = CategoryResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    )
)]
#[get("/categories/{id}")]
pub async fn get_category(state: web::Data<AppState>, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let id = CategoryId(id.into_inner());
    let category = state
        .catalogue
        .categories()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(ProductError::NotFound(workbench_products::Resource::Category))?;
    Ok(category_response(category, StatusCode::OK))
}

/// Create a category (admins). The slug is derived from the name when left out. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "products",
    operation_id = "create_category",
    security(("bearer_auth" = ["admin"])),
    params(("Idempotency-Key" = inline(Option<IdempotencyKeySchema>), Header, nullable = false, description = "Replays the first response for 24 h")),
    request_body = CreateCategoryRequest,
    responses(
        (status = 201, body = CategoryResponse, headers(("Location" = String), ("ETag" = String))),
        (status = 400, description = NOT_JSON_OR_BAD_KEY, body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, description = "The slug is taken, or the same Idempotency-Key is still being processed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, all listed, or a reused Idempotency-Key with another body", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/categories")]
pub async fn create_category(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: Json<CreateCategoryRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    // Refused before the key is looked at: a key must not replay a creation to a non-admin.
    CatalogueService::admin_only(&user)?;
    state
        .idempotency
        .run(&req, user.id, &body, || async {
            let category = state.catalogue.create_category(&user, body.clone().into_draft()).await?;
            Ok(Created {
                location: Some(format!("/api/v1/categories/{}", category.id)),
                etag: Some(etag(category.version)),
                body: serde_json::value::to_raw_value(&CategoryResponse::from(category)).map_err(ApiError::internal)?,
            })
        })
        .await
}

/// Change a category (admins): fields left out are kept, `null` clears `description`.
/// With `If-Match`, a stale version is refused with `412`.
#[utoipa::path(
    tag = "products",
    operation_id = "update_category",
    security(("bearer_auth" = ["admin"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Category id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the change is based on"),
    ),
    request_body = UpdateCategoryRequest,
    responses(
        (status = 200, body = CategoryResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The slug is taken, or concurrent writers kept winning", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = Unprocessable),
    )
)]
#[put("/categories/{id}")]
pub async fn update_category(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<UpdateCategoryRequest>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let patch = body.into_inner().into();
    let category =
        state.catalogue.update_category(&user, CategoryId(id.into_inner()), patch, expected.version()).await?;
    Ok(category_response(category, StatusCode::OK))
}

/// Delete a category (admins); one that still has products is refused with `409`.
#[utoipa::path(
    tag = "products",
    operation_id = "delete_category",
    security(("bearer_auth" = ["admin"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Category id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the deletion is based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The category still has products", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
    )
)]
#[delete("/categories/{id}")]
pub async fn delete_category(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    state.catalogue.delete_category(&user, CategoryId(id.into_inner()), expected.version()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The catalogue, by name, filtered. Public.
#[utoipa::path(
    tag = "products",
    operation_id = "list_products",
    params(ProductListQuery),
    responses(
        (status = 200, body = Paginated<ProductResponse>, headers(("Link" = String))),
        (status = 400, description = "An unparsable value (`page=abc`, `category_id=x`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value outside the allowed set (`status=sold`, `page=0`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/products")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: Query<ProductListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (raw, page) = query.into_inner().split();
    let (filter, page) = FieldErrors::both(ProductFilter::parse(raw), page)?;
    let products = state.catalogue.products(filter, page).await?;
    Ok(paginated(&req, products.map(ProductResponse::from)))
}

/// Quick search of active products by name, brand or model (names starting with `q` first).
/// Public; not paginated.
#[utoipa::path(
    tag = "products",
    operation_id = "search_products",
    params(ProductSearchQuery),
    responses(
        (status = 200, body = DataList<ProductResponse>),
        (status = 400, response = BadRequest),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/products/search")]
pub async fn search(
    state: web::Data<AppState>,
    query: Query<ProductSearchQuery>,
) -> Result<web::Json<DataList<ProductResponse>>, ApiError> {
    let wanted = query.into_inner().parse()?;
    let products = state.catalogue.search(wanted).await?;
    Ok(web::Json(DataList { data: products.into_iter().map(ProductResponse::from).collect() }))
}

/// One product, with its `ETag`. `If-None-Match` with the current tag answers `304`. Public.
#[utoipa::path(
    tag = "products",
    operation_id = "get_product",
    params(
        ("id" = i64, Path, minimum = 1, description = "Product id"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "`ETag`s the client holds; the current one answers `304`"),
    ),
    responses(
        (status = 200, body = ProductResponse, headers(("ETag" = String))),
        (status = 304, description = NOT_MODIFIED),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    )
)]
#[get("/products/{id}")]
pub async fn get(req: HttpRequest, state: web::Data<AppState>, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let product = state.catalogue.product(ProductId(id.into_inner())).await?;
    if none_match_hits(&req, product.version) {
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, etag(product.version))).finish());
    }
    Ok(product_response(product, StatusCode::OK))
}

/// Add a product to the catalogue (admins). Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "products",
    operation_id = "create_product",
    security(("bearer_auth" = ["admin"])),
    params(("Idempotency-Key" = inline(Option<IdempotencyKeySchema>), Header, nullable = false, description = "Replays the first response for 24 h")),
    request_body = CreateProductRequest,
    responses(
        (status = 201, body = ProductResponse, headers(("Location" = String), ("ETag" = String)),
            links(
                ("GetProduct" = (operation_id = "get_product", parameters(("id" = "$response.body#/id")))),
                ("UpdateProduct" = (operation_id = "update_product",
                    parameters(("id" = "$response.body#/id"), ("If-Match" = "$response.header.ETag")))),
                ("DeleteProduct" = (operation_id = "delete_product", parameters(("id" = "$response.body#/id")))),
            )),
        (status = 400, description = NOT_JSON_OR_BAD_KEY, body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, description = KEY_IN_USE, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, all listed (an unknown `category_id` among them), or a reused Idempotency-Key with another body", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/products")]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: Json<CreateProductRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    // Refused before the key is looked at: a key must not replay a creation to a non-admin.
    CatalogueService::admin_only(&user)?;
    state
        .idempotency
        .run(&req, user.id, &body, || async {
            let product = state.catalogue.create_product(&user, body.clone().into_draft()).await?;
            Ok(Created {
                location: Some(format!("/api/v1/products/{}", product.id)),
                etag: Some(etag(product.version)),
                body: serde_json::value::to_raw_value(&ProductResponse::from(product)).map_err(ApiError::internal)?,
            })
        })
        .await
}

async fn apply_update(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: workbench_users::Principal,
    id: i64,
    body: UpdateProductRequest,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let product = state.catalogue.update_product(&user, ProductId(id), body.into(), expected.version()).await?;
    Ok(product_response(product, StatusCode::OK))
}

/// Change a product (admins): fields left out are kept, `null` clears a nullable field. Same as
/// `PATCH`. With `If-Match`, a stale version is refused with `412`.
#[utoipa::path(
    tag = "products",
    operation_id = "replace_product",
    security(("bearer_auth" = ["admin"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Product id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the change is based on"),
    ),
    request_body = UpdateProductRequest,
    responses(
        (status = 200, body = ProductResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "Concurrent writers kept winning; retry", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = Unprocessable),
    )
)]
#[put("/products/{id}")]
pub async fn replace(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<UpdateProductRequest>,
) -> Result<HttpResponse, ApiError> {
    apply_update(req, state, user, id.into_inner(), body.into_inner()).await
}

/// Change a product (admins): fields left out are kept, `null` clears a nullable field.
/// With `If-Match`, a stale version is refused with `412`.
#[utoipa::path(
    tag = "products",
    operation_id = "update_product",
    security(("bearer_auth" = ["admin"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Product id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the change is based on"),
    ),
    request_body = UpdateProductRequest,
    responses(
        (status = 200, body = ProductResponse, headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "Concurrent writers kept winning; retry", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = Unprocessable),
    )
)]
#[patch("/products/{id}")]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: Json<UpdateProductRequest>,
) -> Result<HttpResponse, ApiError> {
    apply_update(req, state, user, id.into_inner(), body.into_inner()).await
}

/// Delete a product (admins); one that users own is refused with `409` (discontinue it instead).
#[utoipa::path(
    tag = "products",
    operation_id = "delete_product",
    security(("bearer_auth" = ["admin"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Product id"),
        ("If-Match" = inline(Option<IfMatchSchema>), Header, nullable = false, description = "The `ETag` the deletion is based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "Users own this product", body = Problem, content_type = "application/problem+json"),
        (status = 412, response = PreconditionFailed),
    )
)]
#[delete("/products/{id}")]
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    state.catalogue.delete_product(&user, ProductId(id.into_inner()), expected.version()).await?;
    Ok(HttpResponse::NoContent().finish())
}
