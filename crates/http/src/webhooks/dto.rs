//! Wire shapes of webhooks: subscriptions, their delivery log, and deliveries received.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use workbench_core::TypeFailures;
use workbench_webhooks::{DeliveryAttempt, InboundDelivery, Subscription, SubscriptionDraft, URL_MAX_LEN, URL_SHAPE};

use crate::body::{Lenient, WHITESPACE_CLASS, component, lenient, patterned};
use crate::pagination::{PageNumberSchema, PageSizeSchema};

/// The events a subscription can ask for: a task's (the default: all three), a trade's (by name).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub enum TaskEventName {
    #[serde(rename = "task.created")]
    #[schema(rename = "task.created")]
    Created,
    #[serde(rename = "task.updated")]
    #[schema(rename = "task.updated")]
    Updated,
    #[serde(rename = "task.deleted")]
    #[schema(rename = "task.deleted")]
    Deleted,
    #[serde(rename = "trade.proposed")]
    #[schema(rename = "trade.proposed")]
    TradeProposed,
    #[serde(rename = "trade.accepted")]
    #[schema(rename = "trade.accepted")]
    TradeAccepted,
    #[serde(rename = "trade.declined")]
    #[schema(rename = "trade.declined")]
    TradeDeclined,
    #[serde(rename = "trade.cancelled")]
    #[schema(rename = "trade.cancelled")]
    TradeCancelled,
    #[serde(rename = "trade.countered")]
    #[schema(rename = "trade.countered")]
    TradeCountered,
    #[serde(rename = "trade.expired")]
    #[schema(rename = "trade.expired")]
    TradeExpired,
}

/// The schema of a subscription URL as `workbench_webhooks::check_url` reads it.
#[derive(Debug)]
pub struct SubscriptionUrlSchema;

component!(
    SubscriptionUrlSchema,
    "SubscriptionUrl",
    patterned(
        format!("^[{w}]*(?:{URL_SHAPE})[{w}]*$", w = WHITESPACE_CLASS),
        "Where deliveries are POSTed: an `http://` or `https://` URL with a host name or an IPv4 address, \
         at most 2,000 characters, no credentials, no whitespace (surrounding whitespace is trimmed)"
    )
    .max_length(Some(URL_MAX_LEN))
    .examples(["https://hooks.example.com/workbench"])
);

/// `POST /webhooks/subscriptions`. Fields are read leniently so that every failing one is
/// reported at once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateSubscriptionRequest {
    /// Where deliveries are POSTed: `http(s)://`, at most 2,000 characters, no credentials. A
    /// private, loopback or link-local target is refused unless the operator allows it
    /// (`WEBHOOK_ALLOW_PRIVATE_TARGETS`); the address is checked again at every delivery.
    #[schema(value_type = SubscriptionUrlSchema, required = true)]
    #[serde(default)]
    pub url: Lenient<String>,
    /// The events to deliver; every task event when left out.
    #[schema(value_type = Vec<TaskEventName>, required = false, min_items = 1)]
    #[serde(default)]
    pub events: Lenient<Vec<String>>,
}

impl CreateSubscriptionRequest {
    pub fn into_draft(self) -> SubscriptionDraft {
        let mut type_failures = TypeFailures::default();
        let url = lenient("url", self.url, &mut type_failures);
        let events = lenient("events", self.events, &mut type_failures);
        SubscriptionDraft { url, events, type_failures }
    }
}

/// A subscription as its owner sees it after creating it: with its signing secret, shown only
/// this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionCreatedResponse {
    pub id: i64,
    pub url: String,
    pub events: Vec<TaskEventName>,
    /// `whsec_` and base64: the key of each delivery's `webhook-signature` (Standard Webhooks).
    /// Shown only in this answer.
    #[schema(examples("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))]
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

/// A subscription as listed (without its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionResponse {
    pub id: i64,
    pub url: String,
    #[schema(value_type = Vec<TaskEventName>)]
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Subscription> for SubscriptionResponse {
    fn from(s: Subscription) -> Self {
        Self { id: s.id.0, url: s.url, events: s.events, created_at: s.created_at }
    }
}

impl From<Subscription> for SubscriptionCreatedResponse {
    fn from(s: Subscription) -> Self {
        let events = s
            .events
            .iter()
            .filter_map(|e| serde_json::from_value::<TaskEventName>(serde_json::Value::String(e.clone())).ok())
            .collect();
        Self { id: s.id.0, url: s.url, events, secret: s.secret.expose().to_owned(), created_at: s.created_at }
    }
}

/// Where a delivery stands after an attempt.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatusName {
    /// Not delivered yet: another attempt follows, with backoff.
    Pending,
    Delivered,
    /// Given up on (attempts used up, `410 Gone`, or a refused target).
    Failed,
}

impl From<workbench_webhooks::DeliveryStatus> for DeliveryStatusName {
    fn from(s: workbench_webhooks::DeliveryStatus) -> Self {
        match s {
            workbench_webhooks::DeliveryStatus::Pending => Self::Pending,
            workbench_webhooks::DeliveryStatus::Delivered => Self::Delivered,
            workbench_webhooks::DeliveryStatus::Failed => Self::Failed,
        }
    }
}

/// One attempt to deliver one event.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttemptResponse {
    pub id: i64,
    /// The delivery (one event to this subscription) the attempt belongs to.
    pub delivery_id: i64,
    #[schema(value_type = TaskEventName)]
    pub event: String,
    /// The `webhook-id` header: the same on every attempt of a delivery.
    #[schema(examples("evt_42"))]
    pub webhook_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    pub response_status: Option<u16>,
    /// Why the attempt failed, when it did.
    pub error: Option<String>,
    pub duration_ms: u64,
    /// Whether the receiver answered 2xx.
    pub success: bool,
    /// The delivery's status after this attempt.
    pub status: DeliveryStatusName,
}

impl From<DeliveryAttempt> for DeliveryAttemptResponse {
    fn from(a: DeliveryAttempt) -> Self {
        Self {
            id: a.id,
            delivery_id: a.delivery_id.0,
            event: a.event,
            webhook_id: a.message_id,
            attempt: a.attempt,
            attempted_at: a.attempted_at,
            response_status: a.response_status,
            error: a.error,
            duration_ms: a.duration_ms,
            success: a.succeeded,
            status: a.delivery_status.into(),
        }
    }
}

/// What receiving a delivery did.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboundReceipt {
    /// The stored delivery's id.
    pub id: i64,
    /// Whether this delivery id was received before: then nothing was stored or processed again.
    pub duplicate: bool,
}

/// Who sends deliveries.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderName {
    Github,
    Stripe,
}

/// Where a received delivery stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InboundStatusName {
    /// Stored; processing pending or being retried (see `attempts`, `last_error`).
    Received,
    Processed,
    /// An event type Workbench does not act on, kept for the record.
    Ignored,
    /// Processing failed for good.
    Failed,
}

/// A delivery received from GitHub or Stripe.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboundDeliveryResponse {
    pub id: i64,
    pub provider: ProviderName,
    /// `X-GitHub-Event`, or the Stripe event's `type`.
    #[schema(examples("push", "payment_intent.succeeded"))]
    pub event_type: String,
    /// `X-GitHub-Delivery`, or the Stripe event's `id`.
    pub delivery_id: String,
    /// The body as received.
    pub payload: serde_json::Value,
    pub received_at: DateTime<Utc>,
    pub status: InboundStatusName,
    /// Processing attempts made.
    pub attempts: u32,
    pub last_error: Option<String>,
    /// What processing did.
    pub result: Option<serde_json::Value>,
    pub processed_at: Option<DateTime<Utc>>,
}

impl From<InboundDelivery> for InboundDeliveryResponse {
    fn from(d: InboundDelivery) -> Self {
        use workbench_webhooks::{InboundStatus, Provider};
        Self {
            id: d.id,
            provider: match d.provider {
                Provider::Github => ProviderName::Github,
                Provider::Stripe => ProviderName::Stripe,
            },
            event_type: d.event_type,
            delivery_id: d.delivery_id,
            payload: d.payload,
            received_at: d.received_at,
            status: match d.status {
                InboundStatus::Received => InboundStatusName::Received,
                InboundStatus::Processed => InboundStatusName::Processed,
                InboundStatus::Ignored => InboundStatusName::Ignored,
                InboundStatus::Failed => InboundStatusName::Failed,
            },
            attempts: d.attempts,
            last_error: d.last_error,
            result: d.result,
            processed_at: d.processed_at,
        }
    }
}

/// `GET /admin/webhooks/inbound`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboundListQuery {
    /// Only deliveries from this provider.
    #[param(value_type = Option<ProviderName>, inline)]
    pub provider: Option<String>,
    #[param(value_type = Option<PageNumberSchema>, inline)]
    pub page: Option<i64>,
    #[param(value_type = Option<PageSizeSchema>, inline)]
    pub per_page: Option<i64>,
}
