//! The chat domain of Workbench.
//!
//! Rooms are named by a slug (`[a-z0-9-]{1,64}`) and are public (anyone may join, read and post)
//! or private (only members, added by the room's creator or a moderator). Messages go to a room
//! or directly to one user; every message is stored before anyone is told of it, and history is
//! read by message id (`before` for older pages, `after` for what a reconnecting client missed).
//! [`ChatService`] holds the rules; [`ChatStore`] is the port the store implements, [`Presence`]
//! the one that says who is online across instances.

#![warn(missing_docs)]

mod error;
mod model;
mod ports;
mod service;

pub use error::ChatError;
pub use model::{
    AttachedFile, Conversation, ConversationSummary, Counterpart, Emoji, FoundMessage, HistoryPage, Marked, Message,
    MessageContent, MessageId, MessageSearch, NewMessage, NewRoom, Reacted, Reaction, Room, RoomDraft, RoomId,
    RoomSlug, Typing,
};
pub use ports::{ChatActivity, ChatStore, Presence};
pub use service::ChatService;

#[cfg(feature = "mock")]
pub use ports::{MockChatActivity, MockChatStore, MockPresence};
