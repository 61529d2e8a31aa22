//! Domain events onto NATS: each event the outbox relay hands over is published to the subject
//! `workbench.<event>` (`workbench.task.updated`), its payload the event's [`Envelope`] with its
//! id, and a `Nats-Msg-Id` header carrying the same id, so that a JetStream stream capturing
//! `workbench.>` drops the copies a relay republishes after a crash.
//!
//! A batch counts as published once the server has it (`flush`); until then, or if NATS cannot
//! be reached, the events stay in the outbox and the relay hands them over again.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use workbench_events::{Envelope, EventPresenter, EventPublisher, OutboxEvent, PublishError};

/// The subject prefix: `workbench.<event>`.
pub const SUBJECT_PREFIX: &str = "workbench";
/// How long a batch may wait for the server before it counts as failed.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Publishes events to NATS.
pub struct NatsPublisher {
    client: async_nats::Client,
    presenter: Arc<dyn EventPresenter>,
}

impl std::fmt::Debug for NatsPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsPublisher").field("state", &self.client.connection_state()).finish_non_exhaustive()
    }
}

/// The subject of an event: `workbench.<name>`.
pub fn subject(event: &str) -> String {
    format!("{SUBJECT_PREFIX}.{event}")
}

impl NatsPublisher {
    /// Connects to `url` (`nats://host:4222`, several comma-separated). A server that cannot be
    /// reached yet does not fail the start: the client keeps trying in the background, and events
    /// wait in the outbox meanwhile.
    pub async fn connect(url: &str, presenter: Arc<dyn EventPresenter>) -> anyhow::Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .name("workbench")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("connected to NATS"),
                    async_nats::Event::Disconnected => tracing::warn!("lost the connection to NATS; reconnecting"),
                    other => tracing::debug!(event = %other, "NATS client event"),
                }
            })
            .connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("NATS_URL: {e}"))?;
        Ok(Self { client, presenter })
    }
}

#[async_trait]
impl EventPublisher for NatsPublisher {
    fn name(&self) -> &'static str {
        "nats"
    }

    async fn publish(&self, events: &[OutboxEvent]) -> Result<(), PublishError> {
        for event in events {
            let envelope = Envelope::of(event, self.presenter.data(event), true);
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", event.id.message_id().as_str());
            self.client
                .publish_with_headers(subject(&event.name), headers, envelope.to_bytes().into())
                .await
                .map_err(|e| PublishError(anyhow::anyhow!("publishing to NATS: {e}")))?;
        }
        match tokio::time::timeout(FLUSH_TIMEOUT, self.client.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(PublishError(anyhow::anyhow!("flushing to NATS: {e}"))),
            Err(_) => {
                Err(PublishError(anyhow::anyhow!("NATS did not take the events within {} s", FLUSH_TIMEOUT.as_secs())))
            }
        }
    }
}
