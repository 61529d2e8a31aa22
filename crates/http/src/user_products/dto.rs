//! Wire shapes of the caller's collection and its warranty overview.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use workbench_core::TypeFailures;
use workbench_products::{
    SerialNumber, UserProduct, UserProductDraft, UserProductPatch, UserProductStatus, WarrantyFilter,
};

use crate::body::{
    CalendarDate, CalendarDateSchema, Lenient, component, lenient, name_list_pattern, nullable, patterned, present,
    trimmed_text,
};
use crate::pagination::{PageNumberSchema, PageSizeSchema};

/// The schema of a serial number as `SerialNumber::parse` reads it.
#[derive(Debug)]
pub struct SerialNumberSchema;

component!(
    SerialNumberSchema,
    "SerialNumber",
    trimmed_text(1, SerialNumber::MAX_CHARS, "1 to 100 characters once trimmed; unique per product in the collection")
        .examples(["SN-2024-0001"])
);

/// The `status` filter of `GET /user-products`.
#[derive(Debug)]
pub struct UserProductStatusListSchema;

component!(
    UserProductStatusListSchema,
    "UserProductStatusList",
    patterned(
        name_list_pattern(&UserProductStatus::ALL.map(UserProductStatus::as_str)),
        "Comma-separated statuses: `active`, `sold`, `broken`, `archived` (empty items are ignored)"
    )
    .examples(["active,broken"])
);

/// The catalogue product an item is.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductSummaryResponse {
    pub id: i64,
    pub name: String,
    pub brand: String,
    pub model: Option<String>,
    pub category_name: String,
}

/// An item of the caller's collection.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserProductResponse {
    pub id: i64,
    pub user_id: i64,
    pub product: ProductSummaryResponse,
    /// Grows by one with every change; the `ETag` is derived from it.
    pub version: i64,
    pub serial_number: Option<String>,
    pub purchase_date: Option<NaiveDate>,
    /// What the owner paid, in minor units.
    pub purchase_price_cents: Option<i64>,
    /// The last day the warranty covers; defaults to `purchase_date` + the product's warranty.
    pub warranty_expires: Option<NaiveDate>,
    /// Whether `warranty_expires` is today (UTC) or later.
    pub is_under_warranty: bool,
    pub status: UserProductStatus,
    /// Offered on the market (`GET /market`) for others to propose trades.
    pub tradeable: bool,
    pub notes: Option<String>,
    /// How many files are attached.
    pub files_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserProduct> for UserProductResponse {
    fn from(item: UserProduct) -> Self {
        let is_under_warranty = item.is_under_warranty(workbench_products::today());
        Self {
            id: item.id.0,
            user_id: item.user_id.0,
            product: ProductSummaryResponse {
                id: item.product.id.0,
                name: item.product.name,
                brand: item.product.brand,
                model: item.product.model,
                category_name: item.product.category_name,
            },
            version: item.version,
            serial_number: item.serial_number,
            purchase_date: item.purchase_date,
            purchase_price_cents: item.purchase_price_cents,
            warranty_expires: item.warranty_expires,
            is_under_warranty,
            status: item.status,
            tradeable: item.tradeable,
            notes: item.notes,
            files_count: item.files_count,
            created_at: item.created_at,
            updated_at: item.updated_at,
        }
    }
}

/// `POST /user-products`. Fields are read leniently so that a value of the wrong type is
/// reported together with every other failing field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateUserProductRequest {
    /// An active product of the catalogue; an unknown or discontinued one is refused with `422`
    /// naming this field.
    #[schema(value_type = i64, required = true, minimum = 1)]
    #[serde(default)]
    pub product_id: Lenient<i64>,
    #[schema(value_type = Option<SerialNumberSchema>)]
    #[serde(default)]
    pub serial_number: Lenient<String>,
    /// Not in the future.
    #[schema(value_type = Option<CalendarDateSchema>)]
    #[serde(default)]
    pub purchase_date: Lenient<CalendarDate>,
    #[schema(value_type = Option<i64>, minimum = 0)]
    #[serde(default)]
    pub purchase_price_cents: Lenient<i64>,
    /// Default: `purchase_date` + the product's warranty. Not before `purchase_date`.
    #[schema(value_type = Option<CalendarDateSchema>)]
    #[serde(default)]
    pub warranty_expires: Lenient<CalendarDate>,
    /// Default `active`.
    #[schema(value_type = UserProductStatus)]
    #[serde(default)]
    pub status: Lenient<UserProductStatus>,
    #[schema(value_type = Option<String>, max_length = 10000)]
    #[serde(default)]
    pub notes: Lenient<String>,
}

impl CreateUserProductRequest {
    /// The draft, with the fields whose JSON type was wrong.
    pub fn into_draft(self) -> UserProductDraft {
        let mut e = TypeFailures::default();
        UserProductDraft {
            product_id: lenient("product_id", self.product_id, &mut e),
            serial_number: nullable("serial_number", self.serial_number, &mut e),
            purchase_date: nullable("purchase_date", self.purchase_date, &mut e).map(NaiveDate::from),
            purchase_price_cents: nullable("purchase_price_cents", self.purchase_price_cents, &mut e),
            warranty_expires: nullable("warranty_expires", self.warranty_expires, &mut e).map(NaiveDate::from),
            status: lenient("status", self.status, &mut e),
            notes: nullable("notes", self.notes, &mut e),
            type_failures: e,
        }
    }
}

/// `PUT` and `PATCH /user-products/{id}`: fields left out are kept; `null` clears a nullable
/// field (every one but `product_id` and `status`).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateUserProductRequest {
    /// Moving the item to another product requires that product to be active.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i64, minimum = 1)]
    pub product_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<SerialNumberSchema>, nullable)]
    pub serial_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<CalendarDateSchema>, nullable)]
    pub purchase_date: Option<Option<CalendarDate>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable, minimum = 0)]
    pub purchase_price_cents: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<CalendarDateSchema>, nullable)]
    pub warranty_expires: Option<Option<CalendarDate>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = UserProductStatus)]
    pub status: Option<Option<UserProductStatus>>,
    /// Offer the item on the market (`true`) or take it off (`false`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    pub tradeable: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, max_length = 10000)]
    pub notes: Option<Option<String>>,
}

impl From<UpdateUserProductRequest> for UserProductPatch {
    fn from(r: UpdateUserProductRequest) -> Self {
        Self {
            product_id: r.product_id,
            serial_number: r.serial_number,
            purchase_date: r.purchase_date.map(|d| d.map(NaiveDate::from)),
            purchase_price_cents: r.purchase_price_cents,
            warranty_expires: r.warranty_expires.map(|d| d.map(NaiveDate::from)),
            status: r.status,
            tradeable: r.tradeable,
            notes: r.notes,
        }
    }
}

/// Filter and page of `GET /user-products`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserProductListQuery {
    #[param(value_type = Option<UserProductStatusListSchema>, inline)]
    pub status: Option<String>,
    /// Page number, from 1.
    #[param(value_type = Option<PageNumberSchema>, inline)]
    pub page: Option<i64>,
    /// Items per page, from 1; more than 100 is read as 100. Default 20.
    #[param(value_type = Option<PageSizeSchema>, inline)]
    pub per_page: Option<i64>,
}

/// `filter` and `days` of `GET /user-products/warranty`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WarrantyQueryParams {
    /// `active` (default: still covered), `expiring` (covered and ending within `days` days) or
    /// `expired`.
    #[param(value_type = Option<WarrantyFilter>, inline)]
    pub filter: Option<String>,
    /// For `expiring`: how many days ahead, from 0; default 30. Negative is refused with `422`.
    #[param(minimum = 0, default = 30)]
    pub days: Option<i64>,
}
