//! Wire shapes of trades and the market.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use workbench_core::TypeFailures;
use workbench_products::{ProductSummary, UserProductStatus};
use workbench_trades::{MarketItem, Trade, TradeDraft, TradeItem, TradeStatus};

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};

use crate::body::{Lenient, component, lenient, nullable};
use crate::pagination::{PageNumberSchema, PageSizeSchema};
use crate::user_products::dto::ProductSummaryResponse;

fn product(p: ProductSummary) -> ProductSummaryResponse {
    ProductSummaryResponse { id: p.id.0, name: p.name, brand: p.brand, model: p.model, category_name: p.category_name }
}

pub use crate::body::WholeNumber;

fn whole(ids: Option<Vec<WholeNumber>>) -> Option<Vec<i64>> {
    ids.map(|ids| ids.into_iter().map(|id| id.0).collect())
}

/// The schema of one side's item ids as the trade rules read them.
#[derive(Debug)]
pub struct TradeItemIdsSchema;

component!(
    TradeItemIdsSchema,
    "TradeItemIds",
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                    utoipa::openapi::schema::KnownFormat::Int64
                )))
                .minimum(Some(1))
        )
        .max_items(Some(workbench_trades::MAX_ITEMS_PER_SIDE))
        .unique_items(true)
        .description(Some("Ids of owned items (`user-products`), at most 20, none twice"))
);

/// Where a trade stands, as read now: an open trade past its expiry is `expired`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TradeStatusName {
    Open,
    Accepted,
    Declined,
    Cancelled,
    Expired,
    Superseded,
}

impl From<TradeStatus> for TradeStatusName {
    fn from(s: TradeStatus) -> Self {
        match s {
            TradeStatus::Open => TradeStatusName::Open,
            TradeStatus::Accepted => TradeStatusName::Accepted,
            TradeStatus::Declined => TradeStatusName::Declined,
            TradeStatus::Cancelled => TradeStatusName::Cancelled,
            TradeStatus::Expired => TradeStatusName::Expired,
            TradeStatus::Superseded => TradeStatusName::Superseded,
        }
    }
}

/// An item in a trade: the owned item's id (kept when its owner changes) and its product.
#[derive(Debug, Serialize, ToSchema)]
pub struct TradeItemResponse {
    pub id: i64,
    pub product: ProductSummaryResponse,
}

impl From<TradeItem> for TradeItemResponse {
    fn from(i: TradeItem) -> Self {
        Self { id: i.id, product: product(i.product) }
    }
}

/// A trade, as its parties see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TradeResponse {
    pub id: i64,
    /// The trade this one answers, for a counter-proposal.
    pub parent_id: Option<i64>,
    pub proposer_id: i64,
    pub recipient_id: i64,
    /// What the proposer gives.
    pub offered_items: Vec<TradeItemResponse>,
    /// What the proposer asks of the recipient.
    pub requested_items: Vec<TradeItemResponse>,
    pub message: Option<String>,
    pub status: TradeStatusName,
    pub expires_at: DateTime<Utc>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TradeResponse {
    pub fn new(t: Trade, now: DateTime<Utc>) -> Self {
        let status = t.status_at(now).into();
        Self {
            id: t.id.0,
            parent_id: t.parent_id.map(|p| p.0),
            proposer_id: t.proposer_id.0,
            recipient_id: t.recipient_id.0,
            offered_items: t.offered.into_iter().map(Into::into).collect(),
            requested_items: t.requested.into_iter().map(Into::into).collect(),
            message: t.message,
            status,
            expires_at: t.expires_at,
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// `POST /trades`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateTradeRequest {
    /// Another active user.
    #[schema(value_type = i64, required = true, minimum = 1)]
    #[serde(default)]
    pub recipient_id: Lenient<i64>,
    /// Items of the caller's (tradeable or not); at most 20, none twice.
    #[schema(value_type = TradeItemIdsSchema)]
    #[serde(default)]
    pub offered_item_ids: Lenient<Vec<WholeNumber>>,
    /// Tradeable items of the recipient's; at most 20, none twice. At least one item in all.
    #[schema(value_type = TradeItemIdsSchema)]
    #[serde(default)]
    pub requested_item_ids: Lenient<Vec<WholeNumber>>,
    /// At most 2,000 characters.
    #[schema(value_type = Option<String>, max_length = 2000)]
    #[serde(default)]
    pub message: Lenient<String>,
    /// 1 to 720; 72 when left out.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 720, default = 72)]
    #[serde(default)]
    pub expires_in_hours: Lenient<i64>,
}

impl CreateTradeRequest {
    pub fn into_draft(self) -> TradeDraft {
        let mut type_failures = TypeFailures::default();
        TradeDraft {
            recipient_id: lenient("recipient_id", self.recipient_id, &mut type_failures),
            offered_item_ids: whole(lenient("offered_item_ids", self.offered_item_ids, &mut type_failures)),
            requested_item_ids: whole(lenient("requested_item_ids", self.requested_item_ids, &mut type_failures)),
            message: nullable("message", self.message, &mut type_failures),
            expires_in_hours: nullable("expires_in_hours", self.expires_in_hours, &mut type_failures),
            type_failures,
        }
    }
}

/// `POST /trades/{id}/counter`: a new trade in the other direction.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CounterTradeRequest {
    /// Items of the caller's; at most 20, none twice.
    #[schema(value_type = TradeItemIdsSchema)]
    #[serde(default)]
    pub offered_item_ids: Lenient<Vec<WholeNumber>>,
    /// Tradeable items of the trade's proposer; at most 20, none twice.
    #[schema(value_type = TradeItemIdsSchema)]
    #[serde(default)]
    pub requested_item_ids: Lenient<Vec<WholeNumber>>,
    #[schema(value_type = Option<String>, max_length = 2000)]
    #[serde(default)]
    pub message: Lenient<String>,
}

impl CounterTradeRequest {
    pub fn into_draft(self) -> TradeDraft {
        let mut type_failures = TypeFailures::default();
        TradeDraft {
            recipient_id: None,
            offered_item_ids: whole(lenient("offered_item_ids", self.offered_item_ids, &mut type_failures)),
            requested_item_ids: whole(lenient("requested_item_ids", self.requested_item_ids, &mut type_failures)),
            message: nullable("message", self.message, &mut type_failures),
            expires_in_hours: None,
            type_failures,
        }
    }
}

/// `GET /trades`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TradeListQuery {
    /// `sent` (proposed by the caller) or `received`; both when left out.
    #[param(inline, value_type = Option<TradeRoleName>)]
    pub role: Option<String>,
    /// As read now (an open trade past its expiry is `expired`).
    #[param(inline, value_type = Option<TradeStatusName>)]
    pub status: Option<String>,
    #[param(value_type = Option<PageNumberSchema>, inline)]
    pub page: Option<i64>,
    #[param(value_type = Option<PageSizeSchema>, inline)]
    pub per_page: Option<i64>,
}

/// Which of the caller's trades to list.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TradeRoleName {
    Sent,
    Received,
}

/// `GET /market`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MarketQuery {
    /// A part of the product's name or brand, case-insensitive.
    pub q: Option<String>,
    #[param(minimum = 1)]
    pub category_id: Option<i64>,
    /// The product's brand, case-insensitive.
    pub brand: Option<String>,
    #[param(value_type = Option<PageNumberSchema>, inline)]
    pub page: Option<i64>,
    #[param(value_type = Option<PageSizeSchema>, inline)]
    pub per_page: Option<i64>,
}

/// Who offers an item on the market.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarketOwner {
    pub id: i64,
    pub username: String,
}

/// A tradeable item of another user.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarketItemResponse {
    pub item_id: i64,
    pub product: ProductSummaryResponse,
    pub owner: MarketOwner,
    pub purchase_date: Option<NaiveDate>,
    pub warranty_expires: Option<NaiveDate>,
    /// Whether `warranty_expires` is today (UTC) or later.
    pub is_under_warranty: bool,
    pub status: UserProductStatus,
}

impl From<MarketItem> for MarketItemResponse {
    fn from(m: MarketItem) -> Self {
        Self {
            item_id: m.item_id,
            is_under_warranty: workbench_products::is_under_warranty(m.warranty_expires, workbench_products::today()),
            product: product(m.product),
            owner: MarketOwner { id: m.owner_id.0, username: m.owner_username },
            purchase_date: m.purchase_date,
            warranty_expires: m.warranty_expires,
            status: m.status,
        }
    }
}
