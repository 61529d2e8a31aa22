//! The broadcast port: messages that every instance must see at once.
//!
//! Cache invalidations, realtime events and presence all travel this one way, so that running
//! several instances behind a load balancer needs one mechanism, not one per feature. An adapter
//! delivers every message published on any instance (this one included) to every subscriber on
//! every instance, in publication order per publisher, at most once. It is not durable: what must
//! not be lost (webhooks, NATS events) goes through an outbox in the database instead.
//!
//! A subscriber is also told when deliveries may have been missed ([`Delivery::Lost`]: the link
//! between instances dropped, or the subscriber fell behind) and when they flow again
//! ([`Delivery::Restored`]), so that whatever it derived from the messages (a cache, a presence
//! list) can be cleared and rebuilt instead of silently going stale.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::broadcast;

/// One message: a topic that says what it is about, and an opaque payload (usually JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusMessage {
    /// What the message is about, for subscribers to pick theirs (`principal.changed`, a realtime
    /// frame's topic).
    pub topic: String,
    /// The message itself, opaque to the bus: usually JSON, decoded by the subscribers of its
    /// topic.
    pub payload: Vec<u8>,
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A message published on some instance, this one included.
    Message(Arc<BusMessage>),
    /// From now until [`Delivery::Restored`], messages may be missed.
    Lost,
    /// Messages flow again; those published while the link was down were not delivered.
    Restored,
}

/// The port. Implementations: in-process (one instance) and Redis pub/sub (several).
#[async_trait]
pub trait Broadcast: Send + Sync {
    /// Hands `payload` to every subscriber of every instance. MUST NOT fail the caller: when
    /// the other instances cannot be reached, an adapter delivers to this instance's
    /// subscribers, logs, and tells subscribers [`Delivery::Lost`].
    async fn publish(&self, topic: &str, payload: Vec<u8>);

    /// A new subscription, receiving what is published from now on.
    fn subscribe(&self) -> Subscription;
}

/// How many deliveries a subscriber may fall behind before it is told [`Delivery::Lost`].
pub const SUBSCRIBER_BACKLOG: usize = 4096;

/// A subscriber's end of the bus.
#[derive(Debug)]
pub struct Subscription {
    receiver: broadcast::Receiver<Delivery>,
    /// Set after a lag was reported as `Lost`, so that the next delivery is preceded by `Restored`.
    lagged: bool,
}

impl Subscription {
    /// Wraps a receiver of an adapter's fan-out channel.
    pub fn new(receiver: broadcast::Receiver<Delivery>) -> Self {
        Self { receiver, lagged: false }
    }

    /// The next delivery, or `None` once the bus is gone. A subscriber that fell behind by more
    /// than [`SUBSCRIBER_BACKLOG`] deliveries receives `Lost`, then `Restored`, then what follows.
    pub async fn recv(&mut self) -> Option<Delivery> {
        if std::mem::take(&mut self.lagged) {
            return Some(Delivery::Restored);
        }
        match self.receiver.recv().await {
            Ok(delivery) => Some(delivery),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                self.lagged = true;
                Some(Delivery::Lost)
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// A channel for an adapter's fan-out to this instance's subscribers.
pub fn fan_out() -> broadcast::Sender<Delivery> {
    broadcast::channel(SUBSCRIBER_BACKLOG).0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: u8) -> Delivery {
        Delivery::Message(Arc::new(BusMessage { topic: "t".into(), payload: vec![n] }))
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_so() {
        let sender = fan_out();
        let mut slow = Subscription::new(sender.subscribe());
        for _ in 0..=SUBSCRIBER_BACKLOG {
            let _ = sender.send(message(1));
        }
        assert_eq!(slow.recv().await, Some(Delivery::Lost));
        assert_eq!(slow.recv().await, Some(Delivery::Restored));
        assert!(matches!(slow.recv().await, Some(Delivery::Message(_))));
    }

    #[tokio::test]
    async fn deliveries_arrive_in_order_and_the_end_is_seen() {
        let sender = fan_out();
        let mut sub = Subscription::new(sender.subscribe());
        let _ = sender.send(message(1));
        let _ = sender.send(message(2));
        drop(sender);
        assert_eq!(sub.recv().await, Some(message(1)));
        assert_eq!(sub.recv().await, Some(message(2)));
        assert_eq!(sub.recv().await, None);
    }
}
