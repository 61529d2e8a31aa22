//! What the chat domain needs from the outside world. Each method's doc says what an adapter
//! MUST do; the store's tests hold it to that on both engines.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_users::UserId;

use crate::{
    AttachedFile, Conversation, ConversationSummary, Emoji, FoundMessage, HistoryPage, Marked, Message, MessageContent,
    MessageId, MessageSearch, NewMessage, NewRoom, Reacted, Reaction, Room, RoomId, RoomSlug,
};

/// Where rooms, their members and messages live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ChatStore: Send + Sync {
    /// Stores the room and makes its creator a member, atomically. A taken slug is
    /// `Conflict { field: "name" }`.
    async fn create_room(&self, room: NewRoom) -> Result<Room, RepositoryError>;

    /// The room named `slug`, if it exists.
    async fn find_room(&self, slug: &RoomSlug) -> Result<Option<Room>, RepositoryError>;

    /// Every public room and every private room `user` is a member of (every room when
    /// `user` is `None`), by slug.
    async fn rooms_visible_to(&self, user: Option<UserId>) -> Result<Vec<Room>, RepositoryError>;

    /// Makes `user` a member of `room`; `false` when they already were. A user that does not
    /// exist is `MissingReference`.
    async fn add_member(&self, room: RoomId, user: UserId, at: DateTime<Utc>) -> Result<bool, RepositoryError>;

    /// Whether `user` is a member of `room`.
    async fn is_member(&self, room: RoomId, user: UserId) -> Result<bool, RepositoryError>;

    /// The users who share a room with `user`, or with whom `user` has exchanged direct messages
    /// both ways (each has written to the other), by id, `user` excluded: who hears when they
    /// come online or go offline, and whose presence they are told of. A message nobody answered
    /// makes no contact, or writing to someone would be enough to watch them. One query, however
    /// many contacts.
    async fn contacts(&self, user: UserId) -> Result<Vec<UserId>, RepositoryError>;

    /// The messages `search.reader` may read (those of the rooms they are a member of, and the
    /// direct messages they sent or received) whose content contains `search.text` without regard
    /// to case, newest first, each with its room's slug, and how many match, counted up to
    /// [`MessageSearch::COUNT_CAP`] (that many when more match). MUST find them through an index
    /// of the text, never by reading every message, and MUST answer a page past the cap.
    async fn search(&self, search: MessageSearch) -> Result<Page<FoundMessage>, RepositoryError>;

    /// The message with this id, tombstone or not.
    async fn find_message(&self, id: MessageId) -> Result<Option<Message>, RepositoryError>;

    /// The room with this id.
    async fn room_by_id(&self, id: RoomId) -> Result<Option<Room>, RepositoryError>;

    /// Replaces a message's content (and its search text) and sets `edited_at`, unless it was
    /// deleted meanwhile; the message as stored after, `None` when there is none to change.
    async fn edit_message(
        &self,
        id: MessageId,
        content: MessageContent,
        at: DateTime<Utc>,
    ) -> Result<Option<Message>, RepositoryError>;

    /// Makes a message a tombstone: content and search text emptied, `deleted_at` set (kept from
    /// a first deletion). The message as stored after, `None` when there is none.
    async fn delete_message(&self, id: MessageId, at: DateTime<Utc>) -> Result<Option<Message>, RepositoryError>;

    /// The reactions to each of `messages` (those that have any), most used first, `me` telling
    /// whether `reader` is among those who reacted so. One query, however many messages.
    async fn reactions(
        &self,
        reader: UserId,
        messages: Vec<MessageId>,
    ) -> Result<HashMap<MessageId, Vec<Reaction>>, RepositoryError>;

    /// Records `user`'s reaction, unless the message already carries [`Emoji::MAX_PER_MESSAGE`]
    /// other emoji. MUST decide that limit and the insert together, so that racing reactions
    /// cannot pass it.
    async fn react(
        &self,
        message: MessageId,
        user: UserId,
        emoji: Emoji,
        at: DateTime<Utc>,
    ) -> Result<Reacted, RepositoryError>;

    /// Takes `user`'s reaction back: how many still react with that emoji, `None` when the user
    /// had not.
    async fn unreact(&self, message: MessageId, user: UserId, emoji: Emoji) -> Result<Option<u64>, RepositoryError>;

    /// `user`'s conversations (the rooms they are a member of and the direct conversations they
    /// took part in, each with at least one message), latest activity first, with their unread
    /// counts, and how many there are. MUST cost what the user's conversations do, never a
    /// count over their messages.
    async fn conversations(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<ConversationSummary>, RepositoryError>;

    /// Moves `user`'s read mark in `conversation` (a room, or a direct conversation of theirs)
    /// forward to `up_to` (never back).
    async fn mark_read(
        &self,
        user: UserId,
        conversation: Conversation,
        up_to: MessageId,
    ) -> Result<Marked, RepositoryError>;

    /// Of `files`, those `owner` owns, as summaries, in no particular order (ids that name no
    /// file of theirs are left out).
    async fn files_owned(&self, owner: UserId, files: Vec<i64>) -> Result<Vec<AttachedFile>, RepositoryError>;

    /// The files each of `messages` carries (those that carry any), in the order sent. One query,
    /// however many messages. A message carries a file only while its sender owns it: a file
    /// that changed hands (an item's file moving with a trade) MUST be left out, even when a
    /// message sent while the file moved still names it.
    async fn attachments(
        &self,
        messages: Vec<MessageId>,
    ) -> Result<HashMap<MessageId, Vec<AttachedFile>>, RepositoryError>;

    /// Whether a message `reader` may read carries the file: a direct message they sent or
    /// received, or a message of a public room, of a room they are a member of, or of any room
    /// when `every_room` (moderators). Tombstones carry nothing, and no message carries a file
    /// its sender no longer owns (as for [`Self::attachments`]). One query.
    async fn carries_readable(&self, reader: UserId, every_room: bool, file: i64) -> Result<bool, RepositoryError>;

    /// Stores a message with its attachments; its id is above every id stored before. A file
    /// deleted meanwhile, or a recipient, is `MissingReference`.
    async fn insert_message(&self, message: NewMessage) -> Result<Message, RepositoryError>;

    /// One page of a conversation, oldest first (see [`HistoryPage`]).
    async fn history(&self, conversation: Conversation, page: HistoryPage) -> Result<Vec<Message>, RepositoryError>;
}

/// Who is online, counted per instance so that several instances agree: a user is online while
/// at least one instance has a connection of theirs. An instance that dies stops renewing its
/// entries, which then expire: its users go offline without anyone telling the store.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Presence: Send + Sync {
    /// `user` has a connection on `instance` (the first one there). Answers `true` when the
    /// user was offline everywhere before: they just came online.
    async fn connected(&self, user: UserId, instance: &str) -> Result<bool, RepositoryError>;

    /// `user` has no connection on `instance` any more. Answers `true` when no other instance
    /// has one either: they just went offline.
    async fn disconnected(&self, user: UserId, instance: &str) -> Result<bool, RepositoryError>;

    /// Renews the entries of `users` on `instance`: they are still connected there. MUST also
    /// (re)create missing entries, so that a store that lost them (a restarted Redis) recovers.
    async fn heartbeat(&self, instance: &str, users: &[UserId]) -> Result<(), RepositoryError>;

    /// Removes entries that were not renewed in time and answers the users who thereby went
    /// offline everywhere. Each such user is answered once, to one caller, however many
    /// instances sweep at the same time.
    async fn sweep(&self) -> Result<Vec<UserId>, RepositoryError>;

    /// Which of `users` are online now.
    async fn online(&self, users: &[UserId]) -> Result<Vec<UserId>, RepositoryError>;
}

/// Who hears of messages as they are said (the notifications domain): told after each is
/// stored; what it does cannot undo it.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ChatActivity: Send + Sync {
    /// `message` was said in `room`.
    async fn said(&self, room: &Room, message: &Message);
}
