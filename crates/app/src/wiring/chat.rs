//! Chat and the realtime side of the instance: rooms and messages in the database, presence in
//! Redis (or in process), the hub of this instance's sockets, and the system topic's relay.

use std::sync::Arc;

use workbench_chat::{ChatActivity, ChatService, Presence};
use workbench_core::broadcast::Broadcast;
use workbench_events::{TaskEvent, TradeEvent};
use workbench_presence::{MemoryPresence, RedisPresence};
use workbench_realtime::{Hub, HubConfig, PRESENCE_TTL, Realtime};
use workbench_store::{Database, DieselChatStore};
use workbench_users::{Authenticator, UserRepository};

use crate::config::Settings;

/// This instance's hub of sockets: what notifications push through, made before the chat that
/// notifies through them.
pub fn hub(settings: &Settings, bus: Arc<dyn Broadcast>) -> Hub {
    let config = HubConfig {
        max_per_user: usize::try_from(settings.limits.ws_max_sockets_per_user).unwrap_or(usize::MAX),
        // The domains whose events reach their audience's sockets.
        event_topics: &[TaskEvent::BUS_PREFIX, TradeEvent::BUS_PREFIX],
        ..HubConfig::default()
    };
    Hub::new(bus, config)
}

/// Chat (telling `activity`, made from the plain service, of what is said in rooms) and the
/// realtime side around `hub`.
pub fn services(
    settings: &Settings,
    db: &Database,
    redis: Option<&deadpool_redis::Pool>,
    hub: Hub,
    authenticator: &Authenticator,
    users: Arc<dyn UserRepository>,
    activity: impl FnOnce(ChatService) -> Arc<dyn ChatActivity>,
) -> (ChatService, Realtime) {
    let plain = ChatService::new(Arc::new(DieselChatStore::new(db.clone())), Arc::new(authenticator.clone()));
    let chat = plain.clone().with_activity(activity(plain));
    let presence: Arc<dyn Presence> = match redis {
        Some(pool) => Arc::new(RedisPresence::new(pool.clone(), settings.redis.prefix.clone(), PRESENCE_TTL)),
        None => Arc::new(MemoryPresence::new()),
    };
    let realtime =
        Realtime::new(hub, presence, chat.clone(), users, format!("instance-{}", uuid::Uuid::new_v4().simple()));
    (chat, realtime)
}
