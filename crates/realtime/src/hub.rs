//! The connections of this instance and the delivery of frames to them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};

use bytestring::ByteString;
use tokio::sync::{Notify, mpsc};
use workbench_core::broadcast::{Broadcast, Delivery};
use workbench_users::UserId;

use crate::route::{self, TOPIC, Target};

/// How the hub treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct HubConfig {
    /// Frames a connection may have waiting before it counts as a slow consumer and is closed.
    pub queue: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        // A burst of a few hundred events is normal (a busy room, a page of history); a client
        // that lets more pile up has stopped reading.
        Self { queue: 256 }
    }
}

/// One connection's id, unique within this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

/// Why the server closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Its queue of outgoing frames filled: the client stopped reading.
    SlowConsumer,
    /// The account was disabled or deleted, or its tokens were revoked.
    Revoked,
    /// The server is shutting down.
    Shutdown,
}

impl CloseReason {
    /// The WebSocket close code: 4008 (an application code: "slow consumer"), 1008 (policy
    /// violation), 1001 (going away).
    pub fn code(self) -> u16 {
        match self {
            Self::SlowConsumer => 4008,
            Self::Revoked => 1008,
            Self::Shutdown => 1001,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::SlowConsumer => "slow consumer: too many undelivered messages",
            Self::Revoked => "the account may no longer connect",
            Self::Shutdown => "the server is shutting down",
        }
    }
}

/// A connection's close signal: set once, by whoever decides first; the socket task waits on it.
#[derive(Debug, Default)]
pub struct Closing {
    reason: OnceLock<CloseReason>,
    notify: Notify,
}

impl Closing {
    /// Asks the connection to close for `reason`, unless it was already asked.
    pub fn close(&self, reason: CloseReason) {
        if self.reason.set(reason).is_ok() {
            // `notify_one` keeps a permit when nobody waits yet, so the signal is not missed.
            self.notify.notify_one();
        }
    }

    /// Resolves once the connection was asked to close, with the reason.
    pub async fn wait(&self) -> CloseReason {
        loop {
            if let Some(reason) = self.reason.get() {
                return *reason;
            }
            self.notify.notified().await;
        }
    }

    pub fn reason(&self) -> Option<CloseReason> {
        self.reason.get().copied()
    }
}

struct Peer {
    user: UserId,
    /// The token generation the connection authenticated with.
    generation: i64,
    outgoing: mpsc::Sender<ByteString>,
    closing: Arc<Closing>,
    rooms: HashSet<String>,
    topics: HashSet<String>,
}

impl Peer {
    /// Queues `frame` without waiting; a full queue closes the connection.
    fn offer(&self, frame: &ByteString) -> bool {
        match self.outgoing.try_send(frame.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.closing.close(CloseReason::SlowConsumer);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

#[derive(Default)]
struct State {
    peers: HashMap<ConnectionId, Peer>,
    by_user: HashMap<UserId, Vec<ConnectionId>>,
    rooms: HashMap<String, HashSet<ConnectionId>>,
    topics: HashMap<String, HashSet<ConnectionId>>,
}

struct Inner {
    state: RwLock<State>,
    next_id: AtomicU64,
    bus: Arc<dyn Broadcast>,
    config: HubConfig,
}

impl Inner {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        // The state is only changed by code that cannot panic half-way, so a poisoned lock
        // still guards consistent data.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn deliver(&self, target: &Target, frame: &ByteString) {
        let state = self.read();
        match target {
            Target::Users(users) => {
                for user in users {
                    for id in state.by_user.get(user).into_iter().flatten() {
                        if let Some(peer) = state.peers.get(id) {
                            peer.offer(frame);
                        }
                    }
                }
            }
            Target::Room(room) => {
                for id in state.rooms.get(room).into_iter().flatten() {
                    if let Some(peer) = state.peers.get(id) {
                        peer.offer(frame);
                    }
                }
            }
        }
    }

    /// Removes a connection; `true` when it was its user's last one here.
    fn remove(&self, id: ConnectionId) -> bool {
        let mut state = self.write();
        let Some(peer) = state.peers.remove(&id) else { return false };
        for room in &peer.rooms {
            forget(&mut state.rooms, room, id);
        }
        for topic in &peer.topics {
            forget(&mut state.topics, topic, id);
        }
        let last = match state.by_user.get_mut(&peer.user) {
            Some(ids) => {
                ids.retain(|other| *other != id);
                ids.is_empty()
            }
            None => true,
        };
        if last {
            state.by_user.remove(&peer.user);
        }
        last
    }
}

fn forget(index: &mut HashMap<String, HashSet<ConnectionId>>, key: &str, id: ConnectionId) {
    if let Some(ids) = index.get_mut(key) {
        ids.remove(&id);
        if ids.is_empty() {
            index.remove(key);
        }
    }
}

/// The connections of this instance. Cheap to clone; every clone is the same hub.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("connections", &self.connections()).finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub that delivers what `bus` carries for realtime clients. Must be called within a
    /// Tokio runtime: it spawns the task that reads the bus (which ends when the hub is dropped).
    pub fn new(bus: Arc<dyn Broadcast>, config: HubConfig) -> Self {
        let subscription = bus.subscribe();
        let inner = Arc::new(Inner { state: RwLock::new(State::default()), next_id: AtomicU64::new(1), bus, config });
        tokio::spawn(route_bus(Arc::downgrade(&inner), subscription));
        Self { inner }
    }

    /// Registers a connection of `user`, authenticated with a token of `generation`. Also
    /// answers whether it is the user's first connection on this instance (they just came
    /// online here).
    pub fn register(&self, user: UserId, generation: i64) -> (Connection, bool) {
        let id = ConnectionId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        let (outgoing, queue) = mpsc::channel(self.inner.config.queue);
        let closing = Arc::new(Closing::default());
        let peer = Peer {
            user,
            generation,
            outgoing,
            closing: closing.clone(),
            rooms: HashSet::new(),
            topics: HashSet::new(),
        };
        let first = {
            let mut state = self.inner.write();
            state.peers.insert(id, peer);
            let ids = state.by_user.entry(user).or_default();
            ids.push(id);
            ids.len() == 1
        };
        (Connection { id, user, queue, closing, hub: Arc::downgrade(&self.inner), removed: false }, first)
    }

    /// From now on the connection receives what is said in `room`.
    pub fn join(&self, id: ConnectionId, room: &str) {
        let mut state = self.inner.write();
        let Some(peer) = state.peers.get_mut(&id) else { return };
        if peer.rooms.insert(room.to_owned()) {
            state.rooms.entry(room.to_owned()).or_default().insert(id);
        }
    }

    /// Stops the connection's delivery from `room`; `false` when it had not joined it.
    pub fn leave(&self, id: ConnectionId, room: &str) -> bool {
        let mut state = self.inner.write();
        let Some(peer) = state.peers.get_mut(&id) else { return false };
        let joined = peer.rooms.remove(room);
        if joined {
            forget(&mut state.rooms, room, id);
        }
        joined
    }

    /// From now on the connection receives what [`Hub::deliver_topic`] sends to `topic`.
    pub fn subscribe(&self, id: ConnectionId, topic: &str) {
        let mut state = self.inner.write();
        let Some(peer) = state.peers.get_mut(&id) else { return };
        if peer.topics.insert(topic.to_owned()) {
            state.topics.entry(topic.to_owned()).or_default().insert(id);
        }
    }

    pub fn unsubscribe(&self, id: ConnectionId, topic: &str) {
        let mut state = self.inner.write();
        let Some(peer) = state.peers.get_mut(&id) else { return };
        if peer.topics.remove(topic) {
            forget(&mut state.topics, topic, id);
        }
    }

    /// Queues a frame for one connection of this instance (an answer to what it asked).
    pub fn reply(&self, id: ConnectionId, frame: &ByteString) -> bool {
        self.inner.read().peers.get(&id).is_some_and(|peer| peer.offer(frame))
    }

    /// Sends `frame` to `target` on every instance, through the broadcast port.
    pub async fn publish(&self, target: &Target, frame: &str) {
        self.inner.bus.publish(TOPIC, route::encode(target, frame)).await;
    }

    /// Queues `frame` for this instance's subscribers of `topic` (what is about this instance,
    /// such as its system metrics, goes no further).
    pub fn deliver_topic(&self, topic: &str, frame: &ByteString) {
        let state = self.inner.read();
        for id in state.topics.get(topic).into_iter().flatten() {
            if let Some(peer) = state.peers.get(id) {
                peer.offer(frame);
            }
        }
    }

    /// Whether anyone here subscribes to `topic` (so that nobody builds frames for no one).
    pub fn has_subscribers(&self, topic: &str) -> bool {
        self.inner.read().topics.contains_key(topic)
    }

    /// Asks every connection of `user` here to close.
    pub fn close_user(&self, user: UserId, reason: CloseReason) {
        let state = self.inner.read();
        for id in state.by_user.get(&user).into_iter().flatten() {
            if let Some(peer) = state.peers.get(id) {
                peer.closing.close(reason);
            }
        }
    }

    /// Asks the connections of `user` here that authenticated with a token generation older than
    /// `generation` to close (their tokens were revoked).
    pub fn close_user_before(&self, user: UserId, generation: i64, reason: CloseReason) {
        let state = self.inner.read();
        for id in state.by_user.get(&user).into_iter().flatten() {
            if let Some(peer) = state.peers.get(id).filter(|peer| peer.generation < generation) {
                peer.closing.close(reason);
            }
        }
    }

    /// Asks every connection here to close (at shutdown).
    pub fn close_all(&self, reason: CloseReason) {
        for peer in self.inner.read().peers.values() {
            peer.closing.close(reason);
        }
    }

    /// The users with at least one connection here.
    pub fn users(&self) -> Vec<UserId> {
        self.inner.read().by_user.keys().copied().collect()
    }

    /// Whether `user` has a connection here.
    pub fn is_connected(&self, user: UserId) -> bool {
        self.inner.read().by_user.contains_key(&user)
    }

    /// Open connections here.
    pub fn connections(&self) -> usize {
        self.inner.read().peers.len()
    }
}

/// Hands what the bus carries for realtime clients to this instance's connections, until the
/// hub is gone.
async fn route_bus(hub: Weak<Inner>, mut subscription: workbench_core::broadcast::Subscription) {
    while let Some(delivery) = subscription.recv().await {
        let Some(hub) = hub.upgrade() else { return };
        match delivery {
            Delivery::Message(message) => {
                if let Some((target, frame)) = route::decode(&message.topic, &message.payload) {
                    hub.deliver(&target, &frame);
                }
            }
            // Clients that reconnect, or ask for history `after` the last message they saw,
            // recover what the link lost; nothing here was derived from the messages.
            Delivery::Lost => tracing::warn!("realtime deliveries may have been missed (broadcast link lost)"),
            Delivery::Restored => tracing::info!("realtime deliveries flow again"),
        }
    }
}

/// One registered connection, held by the task that runs its socket. Dropping it unregisters it.
#[derive(Debug)]
pub struct Connection {
    pub id: ConnectionId,
    pub user: UserId,
    /// Frames to write to the socket, in order.
    pub queue: mpsc::Receiver<ByteString>,
    /// Set when the hub wants the socket closed.
    pub closing: Arc<Closing>,
    hub: Weak<Inner>,
    removed: bool,
}

impl Connection {
    /// Unregisters the connection; `true` when it was its user's last one on this instance
    /// (they just went offline here).
    pub fn unregister(mut self) -> bool {
        self.removed = true;
        self.hub.upgrade().is_some_and(|hub| hub.remove(self.id))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if !self.removed
            && let Some(hub) = self.hub.upgrade()
        {
            hub.remove(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use workbench_broadcast::LocalBroadcast;

    use super::*;
    use crate::event_frame;

    fn hub(queue: usize) -> Hub {
        Hub::new(Arc::new(LocalBroadcast::new()), HubConfig { queue })
    }

    async fn next(connection: &mut Connection) -> ByteString {
        tokio::time::timeout(Duration::from_secs(2), connection.queue.recv())
            .await
            .expect("a frame in time")
            .expect("the queue is open")
    }

    fn quiet(connection: &mut Connection) -> bool {
        connection.queue.try_recv().is_err()
    }

    #[tokio::test]
    async fn frames_reach_every_connection_of_their_users_and_rooms_only() {
        let hub = hub(8);
        let (mut a1, first) = hub.register(UserId(1), 0);
        assert!(first);
        let (mut a2, first) = hub.register(UserId(1), 0);
        assert!(!first);
        let (mut b, _) = hub.register(UserId(2), 0);

        hub.publish(&Target::Users(vec![UserId(1)]), r#"{"type":"chat.dm","data":{}}"#).await;
        assert_eq!(&*next(&mut a1).await, r#"{"type":"chat.dm","data":{}}"#);
        assert_eq!(&*next(&mut a2).await, r#"{"type":"chat.dm","data":{}}"#);

        hub.join(b.id, "ops");
        hub.publish(&Target::Room("ops".into()), "room").await;
        assert_eq!(&*next(&mut b).await, "room");
        assert!(hub.leave(b.id, "ops"));
        hub.publish(&Target::Room("ops".into()), "again").await;
        hub.publish(&Target::Users(vec![UserId(2)]), "direct").await;
        assert_eq!(&*next(&mut b).await, "direct", "a room left is silent");
        assert!(quiet(&mut a1) && quiet(&mut a2));
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_is_closed_and_the_others_still_get_everything() {
        let hub = hub(4);
        let (slow, _) = hub.register(UserId(1), 0);
        let (mut reader, _) = hub.register(UserId(2), 0);
        for (id, _) in [(slow.id, ()), (reader.id, ())] {
            hub.join(id, "busy");
        }
        for n in 0..20 {
            hub.publish(&Target::Room("busy".into()), &n.to_string()).await;
            assert_eq!(&*next(&mut reader).await, n.to_string().as_str());
        }
        let reason = tokio::time::timeout(Duration::from_secs(1), slow.closing.wait()).await.expect("closed");
        assert_eq!(reason, CloseReason::SlowConsumer);
        assert_eq!(reason.code(), 4008);
    }

    #[tokio::test]
    async fn unregistering_tells_when_a_user_has_no_connection_left() {
        let hub = hub(4);
        let (a1, _) = hub.register(UserId(1), 0);
        let (a2, _) = hub.register(UserId(1), 0);
        hub.join(a1.id, "ops");
        hub.subscribe(a2.id, "system");
        assert!(hub.has_subscribers("system"));
        assert!(!a1.unregister());
        assert_eq!(hub.users(), vec![UserId(1)]);
        drop(a2);
        assert!(!hub.is_connected(UserId(1)));
        assert!(!hub.has_subscribers("system"));
        assert_eq!(hub.connections(), 0);
    }

    #[tokio::test]
    async fn topics_are_local_and_closing_a_user_closes_each_connection() {
        let hub = hub(4);
        let (mut watcher, _) = hub.register(UserId(1), 0);
        let (mut other, _) = hub.register(UserId(2), 0);
        hub.subscribe(watcher.id, "system");
        let frame = event_frame("system.metrics", &serde_json::json!({"cpu_percent": 3.5}));
        hub.deliver_topic("system", &frame);
        assert_eq!(next(&mut watcher).await, frame);
        assert!(quiet(&mut other));

        hub.close_user(UserId(1), CloseReason::Revoked);
        assert_eq!(watcher.closing.reason(), Some(CloseReason::Revoked));
        assert_eq!(other.closing.reason(), None);

        // Tokens of generation 0 revoked: a socket opened with generation 1 stays.
        let (newer, _) = hub.register(UserId(2), 1);
        hub.close_user_before(UserId(2), 1, CloseReason::Revoked);
        assert_eq!(other.closing.reason(), Some(CloseReason::Revoked));
        assert_eq!(newer.closing.reason(), None);
    }

    #[tokio::test]
    async fn task_events_from_the_relay_reach_their_audience() {
        let bus = Arc::new(LocalBroadcast::new());
        let hub = Hub::new(bus.clone(), HubConfig::default());
        let (mut owner, _) = hub.register(UserId(1), 0);
        let (mut stranger, _) = hub.register(UserId(3), 0);
        let envelope = br#"{"id":"evt_1","type":"task.created","timestamp":"2026-01-15T10:30:00Z","data":{"id":5},"audience":[1,2]}"#;
        bus.publish("event.task.created", envelope.to_vec()).await;
        assert_eq!(&*next(&mut owner).await, r#"{"type":"task.created","data":{"id":5}}"#);
        tokio::task::yield_now().await;
        assert!(quiet(&mut stranger));
    }
}
