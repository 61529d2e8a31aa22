//! The realtime fan-out of one Workbench instance.
//!
//! A [`Hub`] knows this instance's WebSocket connections and what each listens to: its user's
//! events, the chat rooms it joined, topics such as `system`. Anything meant for users or a
//! room is published on the broadcast port ([`Target`]), so it reaches the connections of every
//! instance through the one mechanism the instances share, and the hub of each instance hands it
//! to its own connections. Task events arrive the same way, from the outbox relay (topics
//! `event.task.*`).
//!
//! Every connection has a bounded queue of outgoing frames ([`Mailbox`]: nothing held while
//! empty). Delivery only ever *tries* to queue
//! (it never waits), and a connection whose queue is full is closed as a slow consumer
//! ([`CloseReason::SlowConsumer`]): one client that stops reading costs nobody else anything.
//!
//! [`Realtime`] is what an instance runs for all its sockets: presence (announced to contacts,
//! renewed by heartbeats, swept when an instance dies) and the watch that closes the sockets of
//! accounts that lost their access.
//!
//! The hub is transport-agnostic: frames are ready-made JSON text (serialised once, shared by
//! every recipient); the application owns their shapes and the socket itself.

mod closing;
mod hub;
mod mailbox;
mod notify;
mod presence;
mod route;

pub use closing::{CloseReason, Closing};
pub use hub::{Connection, ConnectionId, Hub, HubConfig, Refused};
pub use mailbox::{CloseSignal, Mailbox, Transmit, Transmitted};
pub use presence::{
    HEARTBEAT_EVERY, PRESENCE_AUDIENCE_MAX, PRESENCE_SNAPSHOT_MAX, PRESENCE_TTL, Realtime, RealtimeTasks, SWEEP_EVERY,
};
pub use route::{TOPIC, Target};

use bytestring::ByteString;
use serde::Serialize;

/// A server event as it goes on the wire: `{"type": "...", "data": ...}`.
pub fn event_frame(kind: &str, data: &impl Serialize) -> ByteString {
    #[derive(Serialize)]
    struct Event<'a, T> {
        #[serde(rename = "type")]
        kind: &'a str,
        data: &'a T,
    }
    // Serialising our own wire types into a string cannot fail.
    ByteString::from(serde_json::to_string(&Event { kind, data }).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_its_type_and_data() {
        let frame = event_frame("presence", &serde_json::json!({"user_id": 7, "status": "online"}));
        assert_eq!(&*frame, r#"{"type":"presence","data":{"user_id":7,"status":"online"}}"#);
    }
}
