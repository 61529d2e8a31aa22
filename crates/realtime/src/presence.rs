//! Realtime beyond one socket: presence, closing the sockets of accounts that may no longer
//! connect, and the wire shapes of what the hub delivers.
//!
//! Presence is counted per instance ([`Presence`]): an instance tells the store when a user's
//! first connection here opens and their last one closes, renews its users' entries every
//! [`HEARTBEAT_EVERY`], and sweeps expired entries every [`SWEEP_EVERY`], so that the users of an
//! instance that died go offline within [`PRESENCE_TTL`] plus a sweep (under a minute). Changes
//! go to the user's contacts (who share a room or a conversation with them) through the hub, so
//! they reach every instance.

use std::sync::Arc;
use std::time::Duration;

use bytestring::ByteString;
use serde::Serialize;
use tokio::task::JoinHandle;
use workbench_chat::{ChatService, Presence};
use workbench_core::broadcast::{Broadcast, Delivery};
use workbench_users::{PRINCIPAL_CHANGED, Principal, SESSION_ENDED, UserId, UserRepository, UserStatus};

use crate::{CloseReason, Connection, Hub, Target, event_frame};

/// How long a presence entry lives without renewal.
pub const PRESENCE_TTL: Duration = Duration::from_secs(45);
/// How often this instance renews its users' entries (three chances per lifetime).
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(15);
/// How often this instance looks for expired entries (any instance may find them).
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// Contacts told of a user's presence at most. A user in very large rooms would otherwise make
/// every arrival a storm of events (and of lookups) that nobody reads: beyond this many, the
/// contacts that come first (by id) hear of it.
pub const PRESENCE_AUDIENCE_MAX: usize = 1_000;
/// Online contacts a new socket is told of at most: the snapshot must fit well within the socket's
/// outgoing queue, or a reading client with many contacts would be closed as a slow consumer.
pub const PRESENCE_SNAPSHOT_MAX: usize = 128;

/// A `presence` event's data.
#[derive(Debug, Clone, Copy, Serialize)]
struct PresenceChange {
    user_id: i64,
    status: &'static str,
}

fn presence_frame(user: UserId, online: bool) -> ByteString {
    event_frame("presence", &PresenceChange { user_id: user.0, status: if online { "online" } else { "offline" } })
}

/// The realtime side of the application, shared by every socket.
#[derive(Clone)]
pub struct Realtime {
    pub hub: Hub,
    presence: Arc<dyn Presence>,
    chat: ChatService,
    users: Arc<dyn UserRepository>,
    /// This instance's name in the presence store.
    instance: Arc<str>,
}

impl std::fmt::Debug for Realtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Realtime").field("instance", &self.instance).field("hub", &self.hub).finish_non_exhaustive()
    }
}

impl Realtime {
    pub fn new(
        hub: Hub,
        presence: Arc<dyn Presence>,
        chat: ChatService,
        users: Arc<dyn UserRepository>,
        instance: impl Into<Arc<str>>,
    ) -> Self {
        Self { hub, presence, chat, users, instance: instance.into() }
    }

    async fn audience(&self, user: UserId) -> Vec<UserId> {
        match self.chat.contacts(user).await {
            Ok(mut contacts) => {
                contacts.truncate(PRESENCE_AUDIENCE_MAX);
                contacts
            }
            Err(e) => {
                tracing::warn!(user = user.0, error = %e, "cannot read whom to tell of a presence change");
                Vec::new()
            }
        }
    }

    async fn announce(&self, user: UserId, online: bool, audience: Vec<UserId>) {
        if !audience.is_empty() {
            self.hub.publish(&Target::Users(audience), &presence_frame(user, online)).await;
        }
    }

    /// A connection opened: when the user came online, their contacts hear of it; the new
    /// connection hears which of its contacts are online now.
    pub async fn opened(&self, connection: &Connection, first_here: bool) {
        let user = connection.user;
        let contacts = self.audience(user).await;
        if first_here {
            match self.presence.connected(user, &self.instance).await {
                Ok(true) => self.announce(user, true, contacts.clone()).await,
                Ok(false) => {}
                Err(e) => tracing::warn!(user = user.0, error = %e, "presence not recorded; the next heartbeat will"),
            }
        }
        match self.presence.online(&contacts).await {
            Ok(online) => {
                for contact in online.into_iter().take(PRESENCE_SNAPSHOT_MAX) {
                    self.hub.reply(connection.id, &presence_frame(contact, true));
                }
            }
            Err(e) => tracing::warn!(user = user.0, error = %e, "cannot tell a new connection who is online"),
        }
    }

    /// A connection closed: when it was the user's last anywhere, their contacts hear of it.
    pub async fn closed(&self, connection: Connection) {
        let user = connection.user;
        if !connection.unregister() {
            return;
        }
        match self.presence.disconnected(user, &self.instance).await {
            Ok(true) => {
                let contacts = self.audience(user).await;
                self.announce(user, false, contacts).await;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(user = user.0, error = %e, "presence not cleared; the entry will expire"),
        }
    }

    /// Starts the heartbeat, the sweep and the watch on accounts (see [`RealtimeTasks`]).
    pub fn start(&self, bus: &Arc<dyn Broadcast>) -> RealtimeTasks {
        let beat = self.clone();
        let heartbeat = tokio::spawn(async move {
            let mut every = tokio::time::interval(HEARTBEAT_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let users = beat.hub.users();
                beat.hub.forget_idle_budgets();
                if let Err(e) = beat.presence.heartbeat(&beat.instance, &users).await {
                    tracing::warn!(error = %e, "presence heartbeat failed");
                }
            }
        });
        let sweeper = self.clone();
        let sweep = tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match sweeper.presence.sweep().await {
                    Ok(gone) => {
                        for user in gone {
                            let contacts = sweeper.audience(user).await;
                            sweeper.announce(user, false, contacts).await;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "presence sweep failed"),
                }
            }
        });
        let watcher = self.clone();
        let mut changes = bus.subscribe();
        let accounts = tokio::spawn(async move {
            while let Some(delivery) = changes.recv().await {
                let Delivery::Message(message) = delivery else { continue };
                if message.topic == SESSION_ENDED {
                    if let Ok(session) = std::str::from_utf8(&message.payload) {
                        watcher.hub.close_session(session, CloseReason::Revoked);
                    }
                    continue;
                }
                if message.topic != PRINCIPAL_CHANGED {
                    continue;
                }
                let Some(user) = std::str::from_utf8(&message.payload).ok().and_then(|s| s.parse().ok()).map(UserId)
                else {
                    continue;
                };
                if watcher.hub.is_connected(user) {
                    watcher.recheck(user).await;
                }
            }
        });
        RealtimeTasks(vec![heartbeat, sweep, accounts])
    }

    /// An account changed: its sockets close when it was disabled or deleted, and those opened
    /// as anything it no longer is (a token generation ended by a password change or a stolen
    /// refresh token, a role taken away or given) close too; the client signs in again.
    async fn recheck(&self, user: UserId) {
        match self.users.find(user).await {
            Ok(Some(account)) if account.status == UserStatus::Active => {
                self.hub.close_stale(&Principal::from(&account), CloseReason::Revoked);
            }
            Ok(_) => self.hub.close_user(user, CloseReason::Revoked),
            Err(e) => tracing::warn!(user = user.0, error = %e, "cannot recheck an account with open sockets"),
        }
    }
}

/// The background tasks of [`Realtime::start`]; dropping this stops them.
#[derive(Debug)]
pub struct RealtimeTasks(Vec<JoinHandle<()>>);

impl Drop for RealtimeTasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}
