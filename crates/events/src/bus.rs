//! Events onto the broadcast port, for realtime subscribers on every instance.

use std::sync::Arc;

use async_trait::async_trait;
use workbench_core::broadcast::Broadcast;

use crate::{Envelope, EventPresenter, EventPublisher, OutboxEvent, PublishError};

/// Publishes each event on the broadcast port under the topic `event.<name>`
/// (`event.task.updated`), the payload its [`Envelope`] with its id and its audience (the users
/// realtime clients deliver it to). The bus is at most once and
/// never fails its caller: realtime clients that miss an event are told so by the bus
/// (`Delivery::Lost`) and re-read.
pub struct BroadcastPublisher {
    bus: Arc<dyn Broadcast>,
    presenter: Arc<dyn EventPresenter>,
}

impl std::fmt::Debug for BroadcastPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastPublisher").finish_non_exhaustive()
    }
}

impl BroadcastPublisher {
    /// The topic of an event: `event.<name>`.
    pub fn topic(name: &str) -> String {
        format!("event.{name}")
    }

    /// A publisher onto `bus`, each event shaped by `presenter` (a task as `GET /tasks/{id}` shows
    /// it).
    pub fn new(bus: Arc<dyn Broadcast>, presenter: Arc<dyn EventPresenter>) -> Self {
        Self { bus, presenter }
    }
}

#[async_trait]
impl EventPublisher for BroadcastPublisher {
    fn name(&self) -> &'static str {
        "bus"
    }

    async fn publish(&self, events: &[OutboxEvent]) -> Result<(), PublishError> {
        for event in events {
            let mut envelope = Envelope::of(event, self.presenter.data(event), true);
            envelope.audience = event.audience.iter().map(|u| u.0).collect();
            self.bus.publish(&Self::topic(&event.name), envelope.to_bytes()).await;
        }
        Ok(())
    }
}
