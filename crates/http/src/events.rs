//! How domain events look on the wire. Events leave the outbox through one relay per deployment
//! (a lease in the database decides which instance runs it), which publishes them on the
//! broadcast port under `event.<name>`, to outbound webhook subscriptions and to NATS, then
//! removes them, so the outbox holds only what is not yet published. What an event carries is its
//! subject as this API shows it: each domain that has such events presents its own, next to its
//! wire types (`tasks/events.rs`, `trades/events.rs`).

use serde_json::value::RawValue;
use workbench_events::{EventPresenter, OutboxEvent};

/// Shows an event's subject as the API shows it, through the presenter of the event's domain;
/// an event no domain presents (a task's deletion: `{"id": ...}`) as it was written.
#[derive(Debug, Clone, Copy, Default)]
pub struct WirePresenter;

impl EventPresenter for WirePresenter {
    fn data(&self, event: &OutboxEvent) -> Box<RawValue> {
        crate::tasks::events::present(event)
            .or_else(|| crate::trades::events::present(event))
            .unwrap_or_else(|| event.payload.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_no_domain_presents_is_shown_as_written() {
        let event = OutboxEvent {
            id: workbench_events::EventId(1),
            name: "task.deleted".into(),
            subject_id: 7,
            audience: vec![],
            payload: serde_json::value::to_raw_value(&serde_json::json!({"id": 7})).unwrap(),
            occurred_at: workbench_core::now(),
        };
        assert_eq!(WirePresenter.data(&event).get(), r#"{"id":7}"#);
    }
}
