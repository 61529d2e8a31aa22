//! The connections of this instance and the delivery of frames to them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Instant;

use std::num::NonZeroU32;

use bytestring::ByteString;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use workbench_core::broadcast::{Broadcast, Delivery};
use workbench_users::{Principal, Role, UserId};

use crate::closing::{CloseReason, Closing};
use crate::mailbox::{CloseSignal, Mailbox, Offered, Outbox, Sender, mailbox};
use crate::route::{self, TOPIC, Target};

/// How the hub treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct HubConfig {
    /// Frames a connection may have waiting before it counts as a slow consumer and is closed.
    pub queue: usize,
    /// Connections one account may hold here at once (`WS_MAX_SOCKETS_PER_USER`).
    pub max_per_user: usize,
    /// What one account's connections together may ask per second, and in a burst: plenty for a
    /// person typing or a client catching up, while a runaway client cannot turn its sockets into
    /// a stream of database writes (nor multiply its allowance by opening more of them).
    pub messages_per_second: NonZeroU32,
    pub messages_burst: NonZeroU32,
    /// The bus topics of domain events delivered to their audience, by prefix (`event.task.`):
    /// each domain with such events names its own (`workbench_events::TaskEvent::BUS_PREFIX`),
    /// and the app lists them. None by default.
    pub event_topics: &'static [&'static str],
}

impl Default for HubConfig {
    fn default() -> Self {
        // A burst of a few hundred events is normal (a busy room, a page of history); a client
        // that lets more pile up has stopped reading.
        Self {
            queue: 256,
            max_per_user: 16,
            messages_per_second: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            messages_burst: NonZeroU32::new(60).unwrap_or(NonZeroU32::MIN),
            event_topics: &[],
        }
    }
}

/// Why a connection was not registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The account holds as many connections as it may.
    #[error("this account already holds {0} open sockets, the most it may")]
    TooMany(usize),
}

/// One connection's id, unique within this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

struct Peer {
    user: UserId,
    /// The token generation and role the connection authenticated with: when the account's move
    /// on, the connection closes.
    generation: i64,
    role: Role,
    /// The session (refresh-token family) its token was issued under: when that session ends
    /// (signed out, or ended by the identity provider), the connection closes.
    session: Option<Arc<str>>,
    outgoing: Outbox,
    rooms: HashSet<String>,
    topics: HashSet<String>,
}

impl Peer {
    /// Queues `frame` without waiting; a full queue closes the connection.
    fn offer(&self, frame: &ByteString) -> bool {
        let closing = self.outgoing.closing();
        !closing.is_asked() && settle(self.outgoing.offer(frame), closing)
    }

    fn recipient(&self, id: ConnectionId) -> Recipient {
        Recipient { id, user: self.user, outgoing: self.outgoing.sender() }
    }

    fn close(&self, reason: CloseReason) {
        self.outgoing.closing().close(reason);
    }
}

/// A connection a frame is for, found under the hub's lock and written to after it.
#[derive(Clone)]
struct Recipient {
    id: ConnectionId,
    user: UserId,
    outgoing: Sender,
}

impl Recipient {
    fn offer(&self, frame: &ByteString) -> bool {
        let closing = self.outgoing.closing();
        !closing.is_asked() && settle(self.outgoing.offer(frame), closing)
    }
}

/// Whether a frame offered was taken; a full queue closes its connection.
fn settle(offered: Offered, closing: &Closing) -> bool {
    match offered {
        Offered::Queued => true,
        Offered::Full => {
            closing.close(CloseReason::SlowConsumer);
            false
        }
        Offered::Gone => false,
    }
}

/// The recipients of one delivery: a user's few connections, listed for it, or a room's, shared
/// with the room.
enum Found {
    Listed(Vec<Recipient>),
    Room(Arc<Vec<Recipient>>),
}

impl std::ops::Deref for Found {
    type Target = [Recipient];

    fn deref(&self) -> &[Recipient] {
        match self {
            Found::Listed(listed) => listed,
            Found::Room(room) => room,
        }
    }
}

/// A topic's connections (and a room's, see [`Room`]), in the order they registered: a fan-out
/// writes to their sockets in about the order the kernel allocated them, which measured 15–20%
/// quicker over 5,000 sockets than a hash set's order (fewer cache and TLB misses on each
/// socket's structures).
type Members = BTreeSet<ConnectionId>;

/// A room's connections, as the recipients its frames go to, in the order they registered (see
/// [`Members`]). Kept as they join and leave rather than found per frame (finding 5,000 members
/// measured 4–6 ms of a 50 ms fan-out, and 7 ms when built once on the first frame after the
/// joins). A delivery shares the list; a join or leave while a delivery still holds it copies it.
#[derive(Default)]
struct Room {
    recipients: Arc<Vec<Recipient>>,
}

impl Room {
    fn join(&mut self, recipient: Recipient) {
        if let Err(at) = self.recipients.binary_search_by_key(&recipient.id, |r| r.id) {
            Arc::make_mut(&mut self.recipients).insert(at, recipient);
        }
    }

    fn leave(&mut self, id: ConnectionId) {
        if let Ok(at) = self.recipients.binary_search_by_key(&id, |r| r.id) {
            Arc::make_mut(&mut self.recipients).remove(at);
        }
    }

    fn len(&self) -> usize {
        self.recipients.len()
    }
}

#[derive(Default)]
struct State {
    peers: HashMap<ConnectionId, Peer>,
    by_user: HashMap<UserId, Vec<ConnectionId>>,
    rooms: HashMap<String, Room>,
    topics: HashMap<String, Members>,
    /// How many times [`Hub::unsubscribe_unless`] has swept topics: a subscription checked
    /// against the store before a sweep is checked again (see [`Hub::subscribe_unless_swept`]).
    sweeps: u64,
}

struct Inner {
    state: RwLock<State>,
    next_id: AtomicU64,
    bus: Arc<dyn Broadcast>,
    config: HubConfig,
    /// Each account's allowance of client messages, shared by its connections here.
    budgets: DefaultKeyedRateLimiter<UserId>,
    /// Typing indicators let through, per sender and conversation (its key): one every
    /// [`TYPING_EVERY`].
    typing: DefaultKeyedRateLimiter<(UserId, String)>,
}

/// How often one sender's typing indicator in one conversation is passed on; more are dropped.
pub const TYPING_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

impl Inner {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        // The state is only changed by code that cannot panic half-way, so a poisoned lock
        // still guards consistent data.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `frame` to every connection `target` names. For a user's or a room's frame the lock
    /// is held only to find them: a frame may be written to the socket right away (see
    /// [`Outbox::offer`]), and a room's thousands of writes must not keep connections from coming
    /// and going meanwhile. A topic's frame is handed over under the lock: a topic's subscribers
    /// are swept under the write lock the moment they may no longer see it (a station turned
    /// private), and none may hear of it after that sweep.
    fn deliver(&self, target: &Target, frame: &ByteString) {
        let started = Instant::now();
        let recipients = {
            let state = self.read();
            match target {
                Target::Users(users) => Found::Listed(
                    users
                        .iter()
                        .flat_map(|user| state.by_user.get(user).into_iter().flatten())
                        .filter_map(|id| state.peers.get(id).map(|peer| peer.recipient(*id)))
                        .collect(),
                ),
                Target::Room(room) | Target::RoomExcept { room, .. } => match state.rooms.get(room) {
                    Some(room) => Found::Room(room.recipients.clone()),
                    None => return,
                },
                Target::Topic(topic) => {
                    let mut offered = 0;
                    for peer in state.topics.get(topic).into_iter().flatten().filter_map(|id| state.peers.get(id)) {
                        peer.offer(frame);
                        offered += 1;
                    }
                    traced(target, offered, started, started);
                    return;
                }
            }
        };
        let found = Instant::now();
        let except = match target {
            Target::RoomExcept { except, .. } => Some(*except),
            _ => None,
        };
        for recipient in recipients.iter().filter(|r| Some(r.user) != except) {
            recipient.offer(frame);
        }
        traced(target, recipients.len(), started, found);
    }

    /// Removes a connection; `true` when it was its user's last one here.
    fn remove(&self, id: ConnectionId) -> bool {
        let mut state = self.write();
        let Some(peer) = state.peers.remove(&id) else { return false };
        for room in &peer.rooms {
            leave_room(&mut state.rooms, room, id);
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

/// The stages of one delivery, for `RUST_LOG=workbench_realtime::fanout=debug`: how long finding
/// the connections took and how long handing them the frame (most of it writing to the sockets),
/// so that a slow fan-out shows where it waits without a profiler.
fn traced(target: &Target, recipients: usize, started: Instant, found: Instant) {
    if tracing::enabled!(target: "workbench_realtime::fanout", tracing::Level::DEBUG) {
        let to = match target {
            Target::Users(_) => "users",
            Target::Room(_) | Target::RoomExcept { .. } => "room",
            Target::Topic(_) => "topic",
        };
        let micros = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        tracing::debug!(
            target: "workbench_realtime::fanout",
            to,
            recipients,
            find_us = micros(found - started),
            hand_us = micros(found.elapsed()),
            "delivered"
        );
    }
}

fn leave_room(rooms: &mut HashMap<String, Room>, slug: &str, id: ConnectionId) {
    if let Some(room) = rooms.get_mut(slug) {
        room.leave(id);
        if room.len() == 0 {
            rooms.remove(slug);
        }
    }
}

fn forget(index: &mut HashMap<String, Members>, key: &str, id: ConnectionId) {
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
        let quota = Quota::per_second(config.messages_per_second).allow_burst(config.messages_burst);
        let inner = Arc::new(Inner {
            state: RwLock::new(State::default()),
            next_id: AtomicU64::new(1),
            bus,
            config,
            budgets: RateLimiter::keyed(quota),
            typing: RateLimiter::keyed(Quota::with_period(TYPING_EVERY).expect("a period above zero")),
        });
        tokio::spawn(route_bus(Arc::downgrade(&inner), subscription));
        Self { inner }
    }

    /// Registers a connection of `principal`'s account. Also answers whether it is the user's
    /// first connection on this instance (they just came online here).
    pub fn register(&self, principal: &Principal) -> Result<(Connection, bool), Refused> {
        self.register_in_session(principal, None)
    }

    /// [`Self::register`], for a connection whose token was issued under `session`: it closes
    /// when that session ends ([`Self::close_session`]).
    pub fn register_in_session(
        &self,
        principal: &Principal,
        session: Option<Arc<str>>,
    ) -> Result<(Connection, bool), Refused> {
        let user = principal.id;
        let (outgoing, queue, closing) = mailbox(self.inner.config.queue);
        let peer = Peer {
            user,
            generation: principal.token_generation,
            role: principal.role,
            session,
            outgoing,
            rooms: HashSet::new(),
            topics: HashSet::new(),
        };
        let max = self.inner.config.max_per_user;
        let (id, first) = {
            let mut state = self.inner.write();
            if state.by_user.get(&user).is_some_and(|ids| ids.len() >= max) {
                return Err(Refused::TooMany(max));
            }
            let id = ConnectionId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
            state.peers.insert(id, peer);
            let ids = state.by_user.entry(user).or_default();
            ids.push(id);
            (id, ids.len() == 1)
        };
        Ok((Connection { id, user, queue, closing, hub: Arc::downgrade(&self.inner), removed: false }, first))
    }

    /// The connection authenticated again, with a newer token of its account: what it is checked
    /// against from now on.
    pub fn reauthenticated(&self, id: ConnectionId, principal: &Principal, session: Option<Arc<str>>) {
        if let Some(peer) = self.inner.write().peers.get_mut(&id).filter(|peer| peer.user == principal.id) {
            peer.generation = principal.token_generation;
            peer.role = principal.role;
            peer.session = session;
        }
    }

    /// Asks every connection here whose token was issued under `session` to close: the session
    /// ended. Rare enough (a sign-out, a provider's logout) to look at every connection.
    pub fn close_session(&self, session: &str, reason: CloseReason) {
        let state = self.inner.read();
        for peer in state.peers.values().filter(|peer| peer.session.as_deref() == Some(session)) {
            peer.close(reason);
        }
    }

    /// Whether `user` may have one more client message handled now, drawn from the allowance all
    /// of the account's connections share.
    pub fn admit_message(&self, user: UserId) -> bool {
        self.inner.budgets.check_key(&user).is_ok()
    }

    /// Whether a typing indicator of `user` in `conversation` (its key) is passed on: one every
    /// `TYPING_EVERY`, whichever of the user's connections here sends it.
    pub fn admit_typing(&self, user: UserId, conversation: String) -> bool {
        self.inner.typing.check_key(&(user, conversation)).is_ok()
    }

    /// Forgets the allowances of accounts that have been quiet long enough to be full again.
    pub fn forget_idle_budgets(&self) {
        self.inner.typing.retain_recent();
        self.inner.budgets.retain_recent();
        self.inner.budgets.shrink_to_fit();
    }

    /// The most client messages one account may send per second, for the refusal's words.
    pub fn messages_per_second(&self) -> NonZeroU32 {
        self.inner.config.messages_per_second
    }

    /// From now on the connection receives what is said in `room`.
    pub fn join(&self, id: ConnectionId, room: &str) {
        let mut state = self.inner.write();
        let Some(peer) = state.peers.get_mut(&id) else { return };
        if peer.rooms.insert(room.to_owned()) {
            let recipient = peer.recipient(id);
            state.rooms.entry(room.to_owned()).or_default().join(recipient);
        }
    }

    /// Stops the connection's delivery from `room`; `false` when it had not joined it.
    pub fn leave(&self, id: ConnectionId, room: &str) -> bool {
        let mut state = self.inner.write();
        let Some(peer) = state.peers.get_mut(&id) else { return false };
        let joined = peer.rooms.remove(room);
        if joined {
            leave_room(&mut state.rooms, room, id);
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

    /// How many sweeps of topics have run here: read it before checking whether a connection
    /// may subscribe, and hand it to [`Hub::subscribe_unless_swept`].
    pub fn sweeps(&self) -> u64 {
        self.inner.read().sweeps
    }

    /// Subscribes `id` to `topic` unless a sweep ran since `sweeps` was read, in which case the
    /// caller's check may predate the change that swept, and it must check again (`false`).
    /// Without this, a right taken away between the check and the subscription would be swept
    /// before the subscription existed, and the socket would keep hearing the topic.
    pub fn subscribe_unless_swept(&self, id: ConnectionId, topic: &str, sweeps: u64) -> bool {
        let mut state = self.inner.write();
        if state.sweeps != sweeps {
            return false;
        }
        let Some(peer) = state.peers.get_mut(&id) else { return true };
        if peer.topics.insert(topic.to_owned()) {
            state.topics.entry(topic.to_owned()).or_default().insert(id);
        }
        true
    }

    pub fn unsubscribe(&self, id: ConnectionId, topic: &str) {
        let mut state = self.inner.write();
        let Some(peer) = state.peers.get_mut(&id) else { return };
        if peer.topics.remove(topic) {
            forget(&mut state.topics, topic, id);
        }
    }

    /// Unsubscribes from the topics `topic` picks the connections here whose account `keep`
    /// refuses (by user and role), queuing `notice(topic)` for each: a topic whose events an
    /// account may no longer see stops reaching it at once. How many were unsubscribed.
    pub fn unsubscribe_unless(
        &self,
        topic: impl Fn(&str) -> bool,
        keep: impl Fn(UserId, Role) -> bool,
        notice: impl Fn(&str) -> ByteString,
    ) -> usize {
        let mut state = self.inner.write();
        state.sweeps += 1;
        let State { peers, topics, .. } = &mut *state;
        let mut dropped = 0;
        topics.retain(|name, ids| {
            if !topic(name) {
                return true;
            }
            ids.retain(|id| {
                let Some(peer) = peers.get_mut(id) else { return false };
                if keep(peer.user, peer.role) {
                    return true;
                }
                peer.topics.remove(name);
                peer.offer(&notice(name));
                dropped += 1;
                false
            });
            !ids.is_empty()
        });
        dropped
    }

    /// Queues a frame for one connection of this instance (an answer to what it asked).
    pub fn reply(&self, id: ConnectionId, frame: &ByteString) -> bool {
        self.inner.read().peers.get(&id).is_some_and(|peer| peer.offer(frame))
    }

    /// Sends `frame` to `target` on every instance, through the broadcast port.
    pub async fn publish(&self, target: &Target, frame: &str) {
        self.inner.bus.publish(TOPIC, route::encode(target, frame)).await;
    }

    /// Sends each user their own frame, on every instance: one bus message per
    /// [`Self::EACH_PER_MESSAGE`] users, however many.
    pub async fn publish_each(&self, frames: &[(UserId, String)]) {
        for chunk in frames.chunks(Self::EACH_PER_MESSAGE) {
            self.inner.bus.publish(TOPIC, route::encode_each(chunk)).await;
        }
    }

    /// How many users' frames one bus message of [`Self::publish_each`] carries (a few hundred
    /// kilobytes at most, under any broker's limit).
    pub const EACH_PER_MESSAGE: usize = 500;

    /// Queues `frame` for this instance's subscribers of `topic` (what is about this instance,
    /// such as its system metrics, goes no further).
    pub fn deliver_topic(&self, topic: &str, frame: &ByteString) {
        self.inner.deliver(&Target::Topic(topic.to_owned()), frame);
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
                peer.close(reason);
            }
        }
    }

    /// Asks the connections of `user` here that authenticated as anything but `current` (an
    /// older token generation: a password change or revoked tokens; another role) to close.
    pub fn close_stale(&self, current: &Principal, reason: CloseReason) {
        let state = self.inner.read();
        for id in state.by_user.get(&current.id).into_iter().flatten() {
            if let Some(peer) = state
                .peers
                .get(id)
                .filter(|peer| peer.generation != current.token_generation || peer.role != current.role)
            {
                peer.close(reason);
            }
        }
    }

    /// Asks every connection here to close (at shutdown).
    pub fn close_all(&self, reason: CloseReason) {
        for peer in self.inner.read().peers.values() {
            peer.close(reason);
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
                for (target, frame) in route::decode_all(&message.topic, &message.payload, hub.config.event_topics) {
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
    pub queue: Mailbox,
    /// Set when the hub wants the socket closed.
    pub closing: CloseSignal,
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
        Hub::new(Arc::new(LocalBroadcast::new()), HubConfig { queue, ..HubConfig::default() })
    }

    /// An active user's principal, of token generation `generation`.
    fn who(id: i64, generation: i64) -> Principal {
        Principal {
            id: UserId(id),
            role: Role::User,
            status: workbench_users::UserStatus::Active,
            token_generation: generation,
        }
    }

    async fn next(connection: &mut Connection) -> ByteString {
        tokio::time::timeout(Duration::from_secs(2), connection.queue.recv())
            .await
            .expect("a frame in time")
            .expect("the queue is open")
    }

    fn quiet(connection: &mut Connection) -> bool {
        connection.queue.try_recv().is_none()
    }

    #[tokio::test]
    async fn frames_reach_every_connection_of_their_users_and_rooms_only() {
        let hub = hub(8);
        let (mut a1, first) = hub.register(&who(1, 0)).unwrap();
        assert!(first);
        let (mut a2, first) = hub.register(&who(1, 0)).unwrap();
        assert!(!first);
        let (mut b, _) = hub.register(&who(2, 0)).unwrap();

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
    async fn a_room_frame_goes_to_the_members_of_the_moment_it_is_sent() {
        let hub = hub(8);
        let (mut a, _) = hub.register(&who(1, 0)).unwrap();
        let (mut b, _) = hub.register(&who(2, 0)).unwrap();
        hub.join(a.id, "ops");
        hub.publish(&Target::Room("ops".into()), "first").await;
        assert_eq!(&*next(&mut a).await, "first");

        // Joining after a frame was sent (its recipients found) counts for the next one.
        hub.join(b.id, "ops");
        let (gone, _) = hub.register(&who(3, 0)).unwrap();
        hub.join(gone.id, "ops");
        drop(gone);
        hub.publish(&Target::RoomExcept { room: "ops".into(), except: UserId(1) }, "typing").await;
        assert_eq!(&*next(&mut b).await, "typing");
        hub.publish(&Target::Room("ops".into()), "second").await;
        assert_eq!(&*next(&mut a).await, "second", "the one excepted got nothing before");
        assert_eq!(&*next(&mut b).await, "second");
        assert_eq!(hub.inner.read().rooms["ops"].len(), 2, "a connection gone is no member");
    }

    #[tokio::test]
    async fn a_delivery_under_way_keeps_the_members_it_started_with() {
        let hub = hub(8);
        let (a, _) = hub.register(&who(1, 0)).unwrap();
        let (b, _) = hub.register(&who(2, 0)).unwrap();
        let (c, _) = hub.register(&who(3, 0)).unwrap();
        hub.join(a.id, "ops");
        hub.join(b.id, "ops");
        let ids = |list: &[Recipient]| list.iter().map(|r| r.id).collect::<Vec<_>>();
        // What a fan-out holds while it writes.
        let held = hub.inner.read().rooms["ops"].recipients.clone();
        hub.join(c.id, "ops");
        hub.leave(a.id, "ops");
        assert_eq!(ids(&held), vec![a.id, b.id], "the list being written is not changed under it");
        assert_eq!(ids(&hub.inner.read().rooms["ops"].recipients), vec![b.id, c.id]);
        drop(held);
        // With nobody holding it, a join changes the list in place, in registration order.
        hub.join(a.id, "ops");
        assert_eq!(ids(&hub.inner.read().rooms["ops"].recipients), vec![a.id, b.id, c.id]);
    }

    #[tokio::test]
    async fn a_connection_asked_to_close_is_sent_nothing_more() {
        let hub = hub(8);
        let (mut closed, _) = hub.register(&who(1, 0)).unwrap();
        let (mut other, _) = hub.register(&who(2, 0)).unwrap();
        hub.close_user(UserId(1), CloseReason::Revoked);
        hub.publish(&Target::Users(vec![UserId(1), UserId(2)]), "after").await;
        assert_eq!(&*next(&mut other).await, "after");
        assert!(quiet(&mut closed), "nothing for a connection on its way out");
        assert!(!hub.reply(closed.id, &"reply".into()));
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_is_closed_and_the_others_still_get_everything() {
        let hub = hub(4);
        let (slow, _) = hub.register(&who(1, 0)).unwrap();
        let (mut reader, _) = hub.register(&who(2, 0)).unwrap();
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
        let (a1, _) = hub.register(&who(1, 0)).unwrap();
        let (a2, _) = hub.register(&who(1, 0)).unwrap();
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
        let (mut watcher, _) = hub.register(&who(1, 0)).unwrap();
        let (mut other, _) = hub.register(&who(2, 0)).unwrap();
        hub.subscribe(watcher.id, "system");
        let frame = event_frame("system.metrics", &serde_json::json!({"cpu_percent": 3.5}));
        hub.deliver_topic("system", &frame);
        assert_eq!(next(&mut watcher).await, frame);
        assert!(quiet(&mut other));

        hub.close_user(UserId(1), CloseReason::Revoked);
        assert_eq!(watcher.closing.reason(), Some(CloseReason::Revoked));
        assert_eq!(other.closing.reason(), None);

        // Tokens of generation 0 revoked: a socket opened with generation 1 stays.
        let (newer, _) = hub.register(&who(2, 1)).unwrap();
        hub.close_stale(&who(2, 1), CloseReason::Revoked);
        assert_eq!(other.closing.reason(), Some(CloseReason::Revoked));
        assert_eq!(newer.closing.reason(), None);
        assert_eq!(CloseReason::Revoked.code(), 4001);
    }

    #[tokio::test]
    async fn a_topic_is_taken_from_the_accounts_that_may_no_longer_see_it() {
        let hub = hub(4);
        let (mut owner, _) = hub.register(&who(1, 0)).unwrap();
        let (mut stranger, _) = hub.register(&who(2, 0)).unwrap();
        let admin = Principal { role: Role::Admin, ..who(3, 0) };
        let (mut watching_admin, _) = hub.register(&admin).unwrap();
        for id in [owner.id, stranger.id, watching_admin.id] {
            hub.subscribe(id, "radio:jazz");
        }
        hub.subscribe(stranger.id, "radio:rock");
        let dropped = hub.unsubscribe_unless(
            |topic| topic == "radio:jazz",
            |user, role| user == UserId(1) || role.is_admin(),
            |topic| ByteString::from(format!("gone {topic}")),
        );
        assert_eq!(dropped, 1);
        assert_eq!(&*next(&mut stranger).await, "gone radio:jazz");
        assert!(quiet(&mut owner) && quiet(&mut watching_admin), "the others are not told anything");
        hub.deliver_topic("radio:jazz", &"now playing".into());
        assert!(quiet(&mut stranger), "no more of the topic's events");
        assert_eq!(&*next(&mut owner).await, "now playing");
        assert_eq!(&*next(&mut watching_admin).await, "now playing");
        hub.deliver_topic("radio:rock", &"rock".into());
        assert_eq!(&*next(&mut stranger).await, "rock", "other topics stay");
    }

    #[tokio::test]
    async fn a_subscription_checked_before_a_sweep_is_checked_again() {
        let hub = hub(4);
        let (mut late, _) = hub.register(&who(2, 0)).unwrap();
        let before = hub.sweeps();
        // The station turns private while `late`'s check reads the store: the sweep finds no
        // subscription of theirs to take.
        hub.unsubscribe_unless(|topic| topic == "radio:jazz", |_, _| false, |topic| ByteString::from(topic));
        assert!(!hub.subscribe_unless_swept(late.id, "radio:jazz", before), "checked before the sweep");
        hub.deliver_topic("radio:jazz", &"now playing".into());
        assert!(quiet(&mut late));
        // Checked again after it: subscribed.
        assert!(hub.subscribe_unless_swept(late.id, "radio:jazz", hub.sweeps()));
        hub.deliver_topic("radio:jazz", &"now playing".into());
        assert_eq!(&*next(&mut late).await, "now playing");
    }

    #[tokio::test]
    async fn a_role_taken_away_closes_the_sockets_opened_with_it() {
        let hub = hub(4);
        let moderator = Principal { role: Role::Moderator, ..who(1, 0) };
        let (opened_as_moderator, _) = hub.register(&moderator).unwrap();
        let (renewed, _) = hub.register(&moderator).unwrap();
        hub.reauthenticated(renewed.id, &who(1, 0), None);
        hub.close_stale(&who(1, 0), CloseReason::Revoked);
        assert_eq!(opened_as_moderator.closing.reason(), Some(CloseReason::Revoked));
        assert_eq!(renewed.closing.reason(), None, "re-authenticated with the role it has now");
    }

    #[tokio::test]
    async fn an_account_s_sockets_share_one_allowance_of_messages() {
        let config = HubConfig {
            messages_per_second: NonZeroU32::new(1).unwrap(),
            messages_burst: NonZeroU32::new(3).unwrap(),
            ..HubConfig::default()
        };
        let hub = Hub::new(Arc::new(LocalBroadcast::new()), config);
        let admitted = (0..10).filter(|_| hub.admit_message(UserId(1))).count();
        assert_eq!(admitted, 3, "one allowance, however many sockets ask");
        assert!(hub.admit_message(UserId(2)), "another account has its own");
    }

    #[tokio::test]
    async fn an_account_holds_at_most_its_share_of_sockets() {
        let hub = Hub::new(Arc::new(LocalBroadcast::new()), HubConfig { max_per_user: 2, ..HubConfig::default() });
        let first = hub.register(&who(1, 0)).unwrap();
        let _second = hub.register(&who(1, 0)).unwrap();
        assert_eq!(hub.register(&who(1, 0)).err(), Some(Refused::TooMany(2)));
        assert!(hub.register(&who(2, 0)).is_ok(), "another account has its own share");
        drop(first);
        assert!(hub.register(&who(1, 0)).is_ok(), "a closed socket frees its place");
    }

    #[tokio::test]
    async fn task_events_from_the_relay_reach_their_audience() {
        let bus = Arc::new(LocalBroadcast::new());
        let hub = Hub::new(bus.clone(), HubConfig { event_topics: &["event.task."], ..HubConfig::default() });
        let (mut owner, _) = hub.register(&who(1, 0)).unwrap();
        let (mut stranger, _) = hub.register(&who(3, 0)).unwrap();
        let envelope = br#"{"id":"evt_1","type":"task.created","timestamp":"2026-01-15T10:30:00Z","data":{"id":5},"audience":[1,2]}"#;
        bus.publish("event.task.created", envelope.to_vec()).await;
        assert_eq!(&*next(&mut owner).await, r#"{"type":"task.created","data":{"id":5}}"#);
        tokio::task::yield_now().await;
        assert!(quiet(&mut stranger));
    }
}
