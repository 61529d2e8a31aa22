//! Events as the outbox holds them and as they go on the wire.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use workbench_users::UserId;

/// An event's id: the outbox row's, never reused, so that publishers can deduplicate by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub i64);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl EventId {
    /// The id a receiver sees: `evt_<id>`. Stable across retries and republications; the
    /// `webhook-id` of outbound deliveries and the `Nats-Msg-Id` of NATS messages.
    pub fn message_id(self) -> String {
        format!("evt_{}", self.0)
    }
}

/// One event waiting in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    /// The event's id: its place in the outbox, and its receivers' key for deduplication.
    pub id: EventId,
    /// `task.created`, `task.updated`, `task.deleted`.
    pub name: String,
    /// The id of what the event is about (the task's).
    pub subject_id: i64,
    /// The users who may see the subject (a task's owner and assignee): only they hear of it
    /// through their webhook subscriptions.
    pub audience: Vec<UserId>,
    /// The subject as the domain serialises it (a `Task`), or `{"id": ...}` for a deletion, as
    /// the JSON text it was stored as: it is read once, by the presenter, so it is not parsed
    /// into a tree on the way. A created task's event is written with its row, before the row's
    /// id exists: `subject_id` is the authority for the id, not the payload.
    pub payload: Box<RawValue>,
    /// When the change happened.
    pub occurred_at: DateTime<Utc>,
}

/// An event as receivers get it: `{"type": "task.updated", "timestamp": "...", "data": {...}}`.
/// Outbound webhooks send exactly these three fields (the id travels in `webhook-id`); the bus and
/// NATS add `id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// The event's id (`evt_<n>`) on the bus and NATS; absent in webhook bodies, which carry it in
    /// `webhook-id`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    /// The event's name (`task.updated`).
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the change happened, RFC 3339 in UTC.
    pub timestamp: String,
    /// JSON text, written into the envelope as it is.
    pub data: Box<RawValue>,
    /// Who may see the subject, on the bus only: realtime delivery sends the event to these
    /// users' connections. Never sent to webhooks or NATS.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub audience: Vec<i64>,
}

impl Envelope {
    /// The envelope of `event` with `data`, carrying the event's id when `with_id`.
    pub fn of(event: &OutboxEvent, data: Box<RawValue>, with_id: bool) -> Self {
        Self {
            id: with_id.then(|| event.id.message_id()),
            event_type: event.name.clone(),
            timestamp: event.occurred_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            data,
            audience: Vec::new(),
        }
    }

    /// The envelope as compact JSON bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising strings and JSON text cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_wire_shape_is_type_timestamp_and_data() {
        let event = OutboxEvent {
            id: EventId(42),
            name: "task.updated".into(),
            subject_id: 7,
            audience: vec![UserId(1)],
            payload: RawValue::from_string("{}".into()).unwrap(),
            occurred_at: Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).unwrap(),
        };
        let data = || RawValue::from_string(r#"{"id":7}"#.into()).unwrap();
        let webhook = Envelope::of(&event, data(), false);
        assert_eq!(
            String::from_utf8(webhook.to_bytes()).unwrap(),
            r#"{"type":"task.updated","timestamp":"2026-01-15T10:30:00Z","data":{"id":7}}"#
        );
        let bus = Envelope::of(&event, data(), true);
        assert_eq!(bus.id.as_deref(), Some("evt_42"));
    }
}
