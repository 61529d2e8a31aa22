//! The bus of a single instance.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::broadcast;
use workbench_core::broadcast::{Broadcast, BusMessage, Delivery, Subscription, fan_out};

/// Delivers each message to this process's subscribers. Never loses its link, since there is none.
#[derive(Debug, Clone)]
pub struct LocalBroadcast {
    sender: broadcast::Sender<Delivery>,
}

impl LocalBroadcast {
    pub fn new() -> Self {
        Self { sender: fan_out() }
    }
}

impl Default for LocalBroadcast {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Broadcast for LocalBroadcast {
    async fn publish(&self, topic: &str, payload: Vec<u8>) {
        // An error only means nobody subscribes yet: nothing to deliver to.
        let _ = self.sender.send(Delivery::Message(Arc::new(BusMessage { topic: topic.to_owned(), payload })));
    }

    fn subscribe(&self) -> Subscription {
        Subscription::new(self.sender.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_subscriber_gets_every_message() {
        let bus = LocalBroadcast::new();
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        bus.publish("principal", b"7".to_vec()).await;
        for sub in [&mut a, &mut b] {
            match sub.recv().await {
                Some(Delivery::Message(m)) => {
                    assert_eq!((m.topic.as_str(), m.payload.as_slice()), ("principal", &b"7"[..]))
                }
                other => panic!("expected the message, got {other:?}"),
            }
        }
    }
}
