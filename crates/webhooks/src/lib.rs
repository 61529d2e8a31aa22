//! Webhooks of Workbench, both ways.
//!
//! **Inbound** ([`InboundService`], [`InboundProcessor`]): deliveries from GitHub
//! (`X-Hub-Signature-256`) and Stripe (`Stripe-Signature`, 5-minute tolerance) are checked over
//! the raw body in constant time, then stored together with their processing job in one
//! transaction, once per provider and delivery id. The queue processes them by event type, with
//! retries.
//!
//! **Outbound** ([`WebhookService`], [`FanOut`], [`DeliveryHandler`]): users subscribe a URL to
//! their task events. The outbox relay hands events to [`FanOut`], which stores one delivery per
//! event and subscription (whose owner may see the task) with its job; each attempt is signed the
//! Standard Webhooks way ([`signing::sign`]), never follows redirects, never reaches an internal
//! address ([`target`]) unless allowed, and is logged.

#![warn(missing_docs)]

mod deliver;
mod error;
mod inbound;
mod outbound;
mod secret;
pub mod signing;
pub mod target;

pub use deliver::{
    DELIVER_KIND, DELIVERY_MAX_ATTEMPTS, DELIVERY_TIMEOUT, DeliveryHandler, FanOut, OutgoingWebhook, SendError,
    WebhookSender, delivery_options,
};
pub use error::WebhookError;
pub use inbound::{
    DeliveryHeaders, Finished, INBOUND_KIND, INBOUND_MAX_ATTEMPTS, InboundDelivery, InboundProcessor, InboundService,
    InboundStatus, InboundStore, NewInboundDelivery, Processing, Provider, ProviderSecrets, Recorded,
    STRIPE_TOLERANCE_SECS, process,
};
pub use outbound::{
    Delivery, DeliveryAttempt, DeliveryId, DeliveryStatus, DeliveryStore, MAX_SUBSCRIPTIONS_PER_USER, NewAttempt,
    NewDelivery, NewSubscription, Subscription, SubscriptionDraft, SubscriptionId, SubscriptionRepository, URL_MAX_LEN,
    URL_SHAPE, WebhookService, check_events, check_url,
};
pub use secret::WebhookSecret;
pub use signing::SignatureError;

#[cfg(feature = "mock")]
pub use deliver::MockWebhookSender;
#[cfg(feature = "mock")]
pub use inbound::MockInboundStore;
#[cfg(feature = "mock")]
pub use outbound::{MockDeliveryStore, MockSubscriptionRepository};

/// What `/metrics` hears about deliveries. MUST return quickly (update counters, nothing more).
pub trait WebhookObserver: Send + Sync {
    /// An outbound attempt ended: `delivered`, `retried` (failed, will be tried again) or `failed`.
    fn outbound(&self, outcome: &'static str);
    /// An inbound delivery from `provider` was processed to `status`.
    fn inbound(&self, provider: Provider, status: InboundStatus);
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoWebhookObserver;

impl WebhookObserver for NoWebhookObserver {
    fn outbound(&self, _outcome: &'static str) {}
    fn inbound(&self, _provider: Provider, _status: InboundStatus) {}
}
