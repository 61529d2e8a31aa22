//! What the relay needs from the outside world. Each method's doc says what an adapter MUST do.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use workbench_core::RepositoryError;

use crate::{EventId, OutboxEvent};

/// Where events wait until they are published (a table written in the same transaction as the
/// changes). Tested against this contract in `crates/store/tests/store/events.rs`.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Takes or renews the relay lease for `holder` until `until`. MUST succeed when the lease is
    /// free, held by `holder`, or lapsed before `now`, and MUST fail (answer `false`, change
    /// nothing) while another holder's lease runs, decided in one conditional write, so that one
    /// relay runs at a time on any number of instances.
    async fn acquire(&self, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, RepositoryError>;

    /// Gives the lease up if `holder` has it, so that another instance takes over at once.
    async fn release(&self, holder: &str) -> Result<(), RepositoryError>;

    /// Up to `limit` events still in the outbox, lowest id first, each with its payload as stored
    /// (see [`OutboxEvent::payload`]).
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxEvent>, RepositoryError>;

    /// Removes published events; ids no longer there are ignored.
    async fn remove(&self, ids: Vec<EventId>) -> Result<(), RepositoryError>;
}

/// Why a publication failed; the relay tries the same events again later.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct PublishError(pub anyhow::Error);

/// Somewhere events go: outbound webhooks, the broadcast bus, NATS.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// A short name for logs and metrics (`webhooks`, `bus`, `nats`).
    fn name(&self) -> &'static str;

    /// Publishes `events`, in order. MUST be idempotent per event id: after an error, or after a
    /// crash of the relay, the same events are handed over again.
    async fn publish(&self, events: &[OutboxEvent]) -> Result<(), PublishError>;
}

/// How the application shows an event's subject on the wire: for task events, the task exactly as
/// `GET /tasks/{id}` shows it. Lives in the application, which owns the wire shapes.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait EventPresenter: Send + Sync {
    /// The `data` of the event's envelope, as JSON text.
    fn data(&self, event: &OutboxEvent) -> Box<serde_json::value::RawValue>;
}

/// What `/metrics` hears from the relay. MUST return quickly (update counters, nothing more).
pub trait RelayObserver: Send + Sync {
    /// `publisher` took `count` events.
    fn published(&self, publisher: &str, count: usize);
    /// `publisher` failed; the events stay in the outbox.
    fn publish_failed(&self, publisher: &str);
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRelayObserver;

impl RelayObserver for NoRelayObserver {
    fn published(&self, _publisher: &str, _count: usize) {}
    fn publish_failed(&self, _publisher: &str) {}
}
