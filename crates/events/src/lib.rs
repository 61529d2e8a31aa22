//! Domain events of Workbench and the outbox they travel through.
//!
//! A change that others must hear about (a task created, updated or deleted) is written to the
//! outbox **in the same transaction as the change itself**, by the repository that makes the
//! change: a change that rolls back leaves no event, and an event is never lost because the
//! process died between the change and its publication.
//!
//! The [`Relay`] then publishes each event to every [`EventPublisher`] (outbound webhooks, the
//! broadcast bus for realtime, NATS) and removes it from the outbox once all of them took it.
//! One relay runs at a time across every instance (a lease in the database), so events go out
//! in order. Publication is at least once: a relay that dies after publishing and before removing
//! publishes again, with the same event id, so publishers are idempotent per [`EventId`].
//!
//! - [`OutboxEvent`]: an event as stored; [`Envelope`]: as it goes on the wire.
//! - [`Outbox`]: the port the store implements; [`EventPresenter`]: how the application shows an
//!   event's subject (the task as `GET /tasks/{id}` shows it).
//! - [`BroadcastPublisher`]: publishes to the broadcast port, topic `event.<name>`.

#![warn(missing_docs)]

mod bus;
mod model;
mod ports;
mod relay;
mod task;
mod trade;

pub use bus::BroadcastPublisher;
pub use model::{Envelope, EventId, OutboxEvent};
pub use ports::{EventPresenter, EventPublisher, NoRelayObserver, Outbox, PublishError, RelayObserver};
pub use relay::{Relay, RelayConfig};
pub use task::TaskEvent;
pub use trade::TradeEvent;

#[cfg(feature = "mock")]
pub use ports::{MockEventPresenter, MockEventPublisher, MockOutbox};
