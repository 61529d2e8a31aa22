//! The bus of several instances: Redis pub/sub on one channel.
//!
//! Every instance publishes to, and subscribes to, the same channel; a message reaches this
//! instance's subscribers through the subscription too (not by a local shortcut), so every
//! instance sees every message once and in the same order as the others.
//!
//! The subscription is watched: when it ends (Redis restarted, the connection dropped) or stops
//! answering pings, subscribers are told [`Delivery::Lost`] at once and the adapter reconnects
//! with back-off; once it is subscribed again they are told [`Delivery::Restored`]. A publish that
//! cannot reach Redis is delivered to this instance only, and counts as a lost link too.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::Pool as RedisPool;
use futures_util::StreamExt;
use tokio::sync::{Notify, broadcast, oneshot};
use workbench_core::broadcast::{Broadcast, BusMessage, Delivery, Subscription, fan_out};

/// How long a publish may take before it counts as failed.
const PUBLISH_TIMEOUT: Duration = Duration::from_millis(500);
/// How often an idle subscription is pinged, and how long the answer may take.
const PING_EVERY: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// Reconnection back-off: from the first to the longest wait.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// How long [`RedisBroadcast::connect`] waits for the first subscription.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Failure to start the bus.
#[derive(Debug, thiserror::Error)]
pub enum BroadcastError {
    #[error("cannot subscribe to Redis channel {channel}: {reason}")]
    Subscribe { channel: String, reason: String },
}

/// The Redis pub/sub adapter. Dropping it stops its subscription.
#[derive(Debug)]
pub struct RedisBroadcast {
    pool: RedisPool,
    channel: String,
    sender: broadcast::Sender<Delivery>,
    /// Whether the subscription is live: while it is not, publishes are also delivered locally.
    linked: Arc<AtomicBool>,
    /// Asks the subscriber task to drop and renew its subscription (after a failed publish).
    renew: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RedisBroadcast {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RedisBroadcast {
    /// Subscribes to `channel` on the server at `url` and publishes through `pool`. Returns once
    /// the subscription is live, so that nothing published after start-up is missed.
    pub async fn connect(url: &str, pool: RedisPool, channel: &str) -> Result<Self, BroadcastError> {
        let fail = |reason: String| BroadcastError::Subscribe { channel: channel.to_owned(), reason };
        let client = redis::Client::open(url).map_err(|e| fail(e.to_string()))?;
        let sender = fan_out();
        let linked = Arc::new(AtomicBool::new(false));
        let renew = Arc::new(Notify::new());
        let (ready, first) = oneshot::channel();
        let task =
            tokio::spawn(subscriber(client, channel.to_owned(), sender.clone(), linked.clone(), renew.clone(), ready));
        match tokio::time::timeout(CONNECT_TIMEOUT, first).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(reason))) => {
                task.abort();
                return Err(fail(reason));
            }
            Ok(Err(_)) | Err(_) => {
                task.abort();
                return Err(fail("timed out".into()));
            }
        }
        Ok(Self { pool, channel: channel.to_owned(), sender, linked, renew, task })
    }

    /// Whether the subscription is live right now.
    pub fn is_linked(&self) -> bool {
        self.linked.load(Ordering::Acquire)
    }

    fn deliver_locally(&self, topic: &str, payload: Vec<u8>) {
        let _ = self.sender.send(Delivery::Message(Arc::new(BusMessage { topic: topic.to_owned(), payload })));
    }
}

#[async_trait]
impl Broadcast for RedisBroadcast {
    async fn publish(&self, topic: &str, payload: Vec<u8>) {
        let frame = encode(topic, &payload);
        let sent = tokio::time::timeout(PUBLISH_TIMEOUT, async {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            redis::cmd("PUBLISH")
                .arg(&self.channel)
                .arg(frame)
                .query_async::<i64>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|_| Err("timed out".into()));
        match sent {
            // While unsubscribed, this instance would not see its own message come back.
            Ok(_) if self.is_linked() => {}
            Ok(_) => self.deliver_locally(topic, payload),
            Err(reason) => {
                tracing::warn!(topic, reason, "could not publish to the other instances; delivering locally");
                self.deliver_locally(topic, payload);
                // Other instances missed this message: make sure this instance's subscribers
                // treat the link as broken until the subscription is renewed.
                if self.linked.swap(false, Ordering::AcqRel) {
                    let _ = self.sender.send(Delivery::Lost);
                }
                self.renew.notify_one();
            }
        }
    }

    fn subscribe(&self) -> Subscription {
        Subscription::new(self.sender.subscribe())
    }
}

/// Keeps a subscription to `channel` alive, forwarding its messages and its losses.
async fn subscriber(
    client: redis::Client,
    channel: String,
    sender: broadcast::Sender<Delivery>,
    linked: Arc<AtomicBool>,
    renew: Arc<Notify>,
    ready: oneshot::Sender<Result<(), String>>,
) {
    let mut ready = Some(ready);
    let mut wait = RETRY_FIRST;
    loop {
        match subscribe(&client, &channel).await {
            Ok((mut sink, mut stream)) => {
                wait = RETRY_FIRST;
                let was_linked = linked.swap(true, Ordering::AcqRel);
                match ready.take() {
                    Some(ready) => {
                        let _ = ready.send(Ok(()));
                    }
                    None if !was_linked => {
                        tracing::info!(channel, "broadcast subscription restored");
                        let _ = sender.send(Delivery::Restored);
                    }
                    None => {}
                }
                let mut ping = tokio::time::interval(PING_EVERY);
                ping.reset();
                let why = loop {
                    tokio::select! {
                        message = stream.next() => match message {
                            Some(message) => {
                                if let Some(decoded) = decode(message.get_payload_bytes()) {
                                    let _ = sender.send(Delivery::Message(Arc::new(decoded)));
                                }
                            }
                            None => break "the subscription ended".to_owned(),
                        },
                        _ = ping.tick() => {
                            match tokio::time::timeout(PING_TIMEOUT, sink.ping::<redis::Value>()).await {
                                Ok(Ok(_)) => {}
                                Ok(Err(e)) => break format!("ping failed: {e}"),
                                Err(_) => break "ping timed out".to_owned(),
                            }
                        }
                        () = renew.notified() => break "a publish failed".to_owned(),
                    }
                };
                if linked.swap(false, Ordering::AcqRel) {
                    tracing::warn!(channel, why, "broadcast subscription lost; reconnecting");
                    let _ = sender.send(Delivery::Lost);
                }
            }
            Err(e) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(e.to_string()));
                    return;
                }
                tracing::debug!(channel, error = %e, "broadcast subscription failed; retrying");
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RETRY_MAX);
    }
}

async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> redis::RedisResult<(redis::aio::PubSubSink, redis::aio::PubSubStream)> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub.split())
}

/// `topic`, a NUL, then the payload: topics are ours and never contain NUL.
fn encode(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(topic.len() + 1 + payload.len());
    frame.extend_from_slice(topic.as_bytes());
    frame.push(0);
    frame.extend_from_slice(payload);
    frame
}

fn decode(frame: &[u8]) -> Option<BusMessage> {
    let split = frame.iter().position(|b| *b == 0)?;
    let topic = std::str::from_utf8(&frame[..split]).ok()?.to_owned();
    Some(BusMessage { topic, payload: frame[split + 1..].to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let m = decode(&encode("task.updated", b"{\"id\":1}\0x")).expect("decodes");
        assert_eq!(m.topic, "task.updated");
        assert_eq!(m.payload, b"{\"id\":1}\0x");
        assert!(decode(b"no separator").is_none());
    }
}
