//! The chat use cases.

use std::sync::Arc;

use workbench_core::{FieldErrors, Page, PageRequest, Validator};
use workbench_users::{Accounts, Principal, UserId, now};

use crate::{
    AttachedFile, ChatActivity, ChatError, ChatStore, Conversation, ConversationSummary, Counterpart, Emoji,
    FoundMessage, HistoryPage, Marked, Message, MessageContent, MessageId, MessageSearch, NewMessage, Reacted, Room,
    RoomDraft, RoomSlug, Typing,
};

/// Rooms, their members, messages and history, with who may see and say what.
#[derive(Clone)]
pub struct ChatService {
    store: Arc<dyn ChatStore>,
    /// Who exists and is active, from the principal cache: a direct message costs no read of
    /// its recipient's account.
    accounts: Arc<dyn Accounts>,
    /// Told of each message said in a room (its mentions).
    activity: Option<Arc<dyn ChatActivity>>,
}

impl std::fmt::Debug for ChatService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatService").finish_non_exhaustive()
    }
}

/// A room name that cannot name a room is simply not found (a path or socket value, not a field).
fn slug(raw: &str) -> Result<RoomSlug, ChatError> {
    RoomSlug::parse(raw).map_err(|_| ChatError::RoomNotFound)
}

fn content(raw: &str) -> Result<MessageContent, ChatError> {
    MessageContent::parse(raw).map_err(|why| FieldErrors::single("content", why).into())
}

impl ChatService {
    /// The service over the rooms and messages in `store`, checking that a recipient or new member
    /// exists and is active through `accounts`.
    pub fn new(store: Arc<dyn ChatStore>, accounts: Arc<dyn Accounts>) -> Self {
        Self { store, accounts, activity: None }
    }

    /// The service telling `activity` of each message said in a room.
    pub fn with_activity(mut self, activity: Arc<dyn ChatActivity>) -> Self {
        self.activity = Some(activity);
        self
    }

    /// Whether `user` may read message `id` now: a direct message its two parties, a room's
    /// message whoever may read the room; a deleted one nobody.
    pub async fn may_read_message(&self, user: &Principal, id: MessageId) -> Result<bool, ChatError> {
        let Some(message) = self.store.find_message(id).await?.filter(|m| m.deleted_at.is_none()) else {
            return Ok(false);
        };
        match message.room {
            None => Ok(message.sender_id == user.id || message.recipient_id == Some(user.id)),
            Some(room) => match self.store.room_by_id(room).await? {
                Some(room) => self.may_read_room(user, &room).await,
                None => Ok(false),
            },
        }
    }

    /// Whether `user` may read `room`: a public room anyone, a private one its members (and
    /// moderators).
    pub async fn may_read_room(&self, user: &Principal, room: &Room) -> Result<bool, ChatError> {
        Ok(!room.is_private || user.role.is_moderator() || self.store.is_member(room.id, user.id).await?)
    }

    /// Creates a room; the caller becomes its creator and first member.
    pub async fn create_room(&self, caller: &Principal, draft: RoomDraft) -> Result<Room, ChatError> {
        let room = draft.parse(caller.id, now())?;
        Ok(self.store.create_room(room).await?)
    }

    /// The rooms the caller may see: public ones, private ones they belong to (every room for
    /// moderators and admins).
    pub async fn rooms(&self, caller: &Principal) -> Result<Vec<Room>, ChatError> {
        let whose = (!caller.role.is_moderator()).then_some(caller.id);
        Ok(self.store.rooms_visible_to(whose).await?)
    }

    /// The room if the caller may see it: public, or private with the caller a member (or a
    /// moderator). Otherwise `RoomNotFound`, whether it exists or not.
    pub async fn visible_room(&self, caller: &Principal, room: &str) -> Result<Room, ChatError> {
        let room = self.store.find_room(&slug(room)?).await?.ok_or(ChatError::RoomNotFound)?;
        if room.is_private && !caller.role.is_moderator() && !self.store.is_member(room.id, caller.id).await? {
            return Err(ChatError::RoomNotFound);
        }
        Ok(room)
    }

    /// Adds `user` to the room: only its creator or a moderator may. Returns whether they were
    /// new to it. A user that does not exist is a `user_id` validation error.
    pub async fn add_member(&self, caller: &Principal, room: &str, user: i64) -> Result<(Room, bool), ChatError> {
        let room = self.visible_room(caller, room).await?;
        if room.created_by != caller.id && !caller.role.is_moderator() {
            return Err(ChatError::Forbidden("Only the room's creator or a moderator may add members."));
        }
        let unknown = || ChatError::Validation(FieldErrors::single("user_id", "is not an existing user"));
        if user < 1 || self.accounts.account(UserId(user)).await?.is_none() {
            return Err(unknown());
        }
        match self.store.add_member(room.id, UserId(user), now()).await {
            Ok(added) => Ok((room, added)),
            // Deleted between the check and the insert.
            Err(workbench_core::RepositoryError::MissingReference { .. }) => Err(unknown()),
            Err(e) => Err(e.into()),
        }
    }

    /// Joins a room on the socket: a public room records the caller as a member (so that they
    /// share presence with it); a private one must already count them in.
    pub async fn join(&self, caller: &Principal, room: &str) -> Result<Room, ChatError> {
        let room = self.store.find_room(&slug(room)?).await?.ok_or(ChatError::RoomNotFound)?;
        let member = self.store.is_member(room.id, caller.id).await?;
        if !member {
            if room.is_private && !caller.role.is_moderator() {
                return Err(ChatError::Forbidden("This room is private: only its members may join."));
            }
            self.store.add_member(room.id, caller.id, now()).await?;
        }
        Ok(room)
    }

    /// Stores a message to a room the caller may see (joining a public one by saying something),
    /// carrying `attachments` (files of the caller's).
    pub async fn say(
        &self,
        caller: &Principal,
        room: &str,
        text: &str,
        attachments: &[i64],
    ) -> Result<(Room, Message), ChatError> {
        let content = content(text)?;
        let attachments = self.attachable(caller, attachments).await?;
        let room = self.join(caller, room).await?;
        let message = NewMessage {
            room: Some(room.id),
            sender_id: caller.id,
            recipient_id: None,
            content,
            created_at: now(),
            attachments,
        };
        let message = self.store_message(message, ChatError::RoomNotFound).await?;
        if let Some(activity) = &self.activity {
            activity.said(&room, &message).await;
        }
        Ok((room, message))
    }

    /// Where the caller's typing indicator goes, never stored: an active user other than the
    /// caller (`to`), or a room the caller may see (`room`); exactly one of the two.
    pub async fn typing_in(
        &self,
        caller: &Principal,
        to: Option<i64>,
        room: Option<&str>,
    ) -> Result<Typing, ChatError> {
        match (to, room) {
            (Some(to), None) => {
                if to == caller.id.0 {
                    return Err(FieldErrors::single("to", "cannot be yourself").into());
                }
                self.active_user(to).await?;
                Ok(Typing::Direct(UserId(to)))
            }
            (None, Some(room)) => Ok(Typing::Room(self.visible_room(caller, room).await?.slug)),
            _ => Err(FieldErrors::single("to", "give `to` (a user) or `room`, one of them").into()),
        }
    }

    /// Stores a direct message to an active user other than the caller, carrying `attachments`
    /// (files of the caller's).
    pub async fn send_direct(
        &self,
        caller: &Principal,
        to: i64,
        text: &str,
        attachments: &[i64],
    ) -> Result<Message, ChatError> {
        let content = content(text)?;
        if to == caller.id.0 {
            return Err(FieldErrors::single("to", "cannot be yourself").into());
        }
        let attachments = self.attachable(caller, attachments).await?;
        self.active_user(to).await?;
        let message = NewMessage {
            room: None,
            sender_id: caller.id,
            recipient_id: Some(UserId(to)),
            content,
            created_at: now(),
            attachments,
        };
        self.store_message(message, ChatError::UserNotFound).await
    }

    /// The files a message may carry: at most [`AttachedFile::MAX_PER_MESSAGE`] (a file named
    /// twice counts once), every one the caller's own. Anything else names `attachments`, and
    /// nothing is stored.
    async fn attachable(&self, caller: &Principal, ids: &[i64]) -> Result<Vec<AttachedFile>, ChatError> {
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        let wanted: Vec<i64> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        if wanted.len() > AttachedFile::MAX_PER_MESSAGE {
            let why = format!("may hold at most {} files", AttachedFile::MAX_PER_MESSAGE);
            return Err(FieldErrors::single("attachments", why).into());
        }
        let not_yours = || FieldErrors::single("attachments", "must be ids of files you own").into();
        if wanted.iter().any(|id| *id < 1) {
            return Err(not_yours());
        }
        let mut owned = self.store.files_owned(caller.id, wanted.clone()).await?;
        if owned.len() != wanted.len() {
            return Err(not_yours());
        }
        owned.sort_by_key(|file| wanted.iter().position(|id| *id == file.id));
        Ok(owned)
    }

    /// Stores the message; a reference gone meanwhile is an attachment deleted (when it carries
    /// any) or `gone` (its room or recipient).
    async fn store_message(&self, message: NewMessage, gone: ChatError) -> Result<Message, ChatError> {
        let carries = !message.attachments.is_empty();
        match self.store.insert_message(message).await {
            Ok(message) => Ok(message),
            Err(workbench_core::RepositoryError::MissingReference { .. }) if carries => {
                Err(FieldErrors::single("attachments", "must be ids of files you own").into())
            }
            Err(workbench_core::RepositoryError::MissingReference { .. }) => Err(gone),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the caller may read the file because a message they may read carries it: the
    /// chat's part of the file-access rule.
    pub async fn may_read_attachment(&self, caller: &Principal, file: i64) -> Result<bool, ChatError> {
        Ok(self.store.carries_readable(caller.id, caller.role.is_moderator(), file).await?)
    }

    /// A page of a room's history, for whoever may see the room.
    pub async fn room_history(
        &self,
        caller: &Principal,
        room: &str,
        page: HistoryPage,
    ) -> Result<(Room, Vec<Message>), ChatError> {
        let room = self.visible_room(caller, room).await?;
        let messages = self.store.history(Conversation::Room(room.id), page).await?;
        Ok((room, self.as_read(caller, messages).await?))
    }

    /// A page of the caller's direct messages with `other` (an existing user).
    pub async fn direct_history(
        &self,
        caller: &Principal,
        other: i64,
        page: HistoryPage,
    ) -> Result<Vec<Message>, ChatError> {
        if other < 1 || self.accounts.account(UserId(other)).await?.is_none() {
            return Err(ChatError::UserNotFound);
        }
        let messages = self.store.history(Conversation::direct(caller.id, UserId(other)), page).await?;
        self.as_read(caller, messages).await
    }

    /// The messages the caller may read whose content contains `q` (2 to 200 characters), newest
    /// first: in one conversation of theirs when `with` (a DM partner) or `room` (a room they are
    /// a member of) names it, else in all of them.
    pub async fn search(
        &self,
        caller: &Principal,
        q: Option<&str>,
        with: Option<i64>,
        room: Option<&str>,
        before: Option<i64>,
        page: PageRequest,
    ) -> Result<Page<FoundMessage>, ChatError> {
        let mut v = Validator::default();
        let text = v.check("q", MessageSearch::text(q));
        if with.is_some() && room.is_some() {
            v.fail("room", "give `with` or `room`, not both");
        }
        if with.is_some_and(|w| w < 1) {
            v.fail("with", "must be a user id (at least 1)");
        }
        if before.is_some_and(|b| b < 1) {
            v.fail("before", "must be a message id (at least 1)");
        }
        let text = v.finish_with(text)?;
        let within = match (with, room) {
            (Some(other), _) => Some(Conversation::direct(caller.id, UserId(other))),
            (None, Some(room)) => {
                let slug = RoomSlug::parse(room.to_owned()).map_err(|_| ChatError::RoomNotFound)?;
                let room = self.store.find_room(&slug).await?.ok_or(ChatError::RoomNotFound)?;
                // A conversation of the caller's: a room they belong to, whatever its kind.
                if !self.store.is_member(room.id, caller.id).await? {
                    return Err(ChatError::RoomNotFound);
                }
                Some(Conversation::Room(room.id))
            }
            (None, None) => None,
        };
        let search = MessageSearch { reader: caller.id, text, within, before: before.map(MessageId), page };
        self.found_as_read(caller, self.store.search(search).await?).await
    }

    /// Messages in any of the caller's conversations containing `text` (already lower-cased, any
    /// length: what `GET /search` asks), newest first.
    pub async fn search_everywhere(
        &self,
        caller: &Principal,
        text: String,
        page: PageRequest,
    ) -> Result<Page<FoundMessage>, ChatError> {
        let search = MessageSearch { reader: caller.id, text, within: None, before: None, page };
        self.found_as_read(caller, self.store.search(search).await?).await
    }

    /// Who hears of the user's presence.
    pub async fn contacts(&self, user: UserId) -> Result<Vec<UserId>, ChatError> {
        Ok(self.store.contacts(user).await?)
    }

    /// A message the caller may read, with its room (if any): a direct message they sent or
    /// received, or one of a room they may see.
    async fn readable(&self, caller: &Principal, id: i64) -> Result<(Message, Option<Room>), ChatError> {
        let message = match id {
            1.. => self.store.find_message(MessageId(id)).await?.ok_or(ChatError::MessageNotFound)?,
            _ => return Err(ChatError::MessageNotFound),
        };
        let Some(room) = message.room else {
            let party = message.sender_id == caller.id || message.recipient_id == Some(caller.id);
            return if party { Ok((message, None)) } else { Err(ChatError::MessageNotFound) };
        };
        let room = self.store.room_by_id(room).await?.ok_or(ChatError::MessageNotFound)?;
        if room.is_private && !caller.role.is_moderator() && !self.store.is_member(room.id, caller.id).await? {
            return Err(ChatError::MessageNotFound);
        }
        Ok((message, Some(room)))
    }

    /// Corrects a message: only its author, within [`Message::EDITABLE_FOR`] of sending, and not
    /// once deleted. The message as stored after, with its room.
    pub async fn edit(&self, caller: &Principal, id: i64, text: &str) -> Result<(Message, Option<Room>), ChatError> {
        let content = content(text)?;
        let (message, room) = self.readable(caller, id).await?;
        if message.sender_id != caller.id {
            return Err(ChatError::Forbidden("Only its author edits a message."));
        }
        if message.deleted_at.is_some() {
            return Err(ChatError::TooLate("The message was deleted."));
        }
        let at = now();
        if at - message.created_at > Message::EDITABLE_FOR {
            return Err(ChatError::TooLate("A message can be edited for 15 minutes after it was sent."));
        }
        let edited = self.store.edit_message(message.id, content, at).await?;
        let edited = edited.ok_or(ChatError::TooLate("The message was deleted."))?;
        let mut edited = self.as_read(caller, vec![edited]).await?;
        Ok((edited.pop().ok_or(ChatError::MessageNotFound)?, room))
    }

    /// Takes a message back, leaving a tombstone: its author, the room's creator or a moderator.
    /// Deleting a tombstone again changes nothing.
    pub async fn delete(&self, caller: &Principal, id: i64) -> Result<(Message, Option<Room>), ChatError> {
        let (message, room) = self.readable(caller, id).await?;
        let allowed = message.sender_id == caller.id
            || caller.role.is_moderator()
            || room.as_ref().is_some_and(|room| room.created_by == caller.id);
        if !allowed {
            return Err(ChatError::Forbidden("Only its author, the room's creator or a moderator deletes a message."));
        }
        let deleted = self.store.delete_message(message.id, now()).await?.ok_or(ChatError::MessageNotFound)?;
        Ok((deleted, room))
    }

    /// Adds the caller's reaction `emoji` to a message they may read (not a tombstone); the
    /// message, its room, and how many now react so. Reacting twice changes nothing.
    pub async fn react(
        &self,
        caller: &Principal,
        id: i64,
        emoji: &str,
    ) -> Result<(Message, Option<Room>, u64), ChatError> {
        let emoji = Emoji::parse(emoji).map_err(|why| FieldErrors::single("emoji", why))?;
        let (message, room) = self.readable(caller, id).await?;
        if message.deleted_at.is_some() {
            return Err(ChatError::TooLate("The message was deleted."));
        }
        match self.store.react(message.id, caller.id, emoji, now()).await? {
            Reacted::Added { count } | Reacted::Already { count } => Ok((message, room, count)),
            Reacted::Full => Err(ChatError::Full("A message carries at most 20 different reactions.")),
        }
    }

    /// Takes the caller's reaction back; the message, its room, and how many still react so, or
    /// `None` when the caller had not reacted so (nothing changed).
    pub async fn unreact(
        &self,
        caller: &Principal,
        id: i64,
        emoji: &str,
    ) -> Result<(Message, Option<Room>, Option<u64>), ChatError> {
        let emoji = Emoji::parse(emoji).map_err(|why| FieldErrors::single("emoji", why))?;
        let (message, room) = self.readable(caller, id).await?;
        let left = self.store.unreact(message.id, caller.id, emoji).await?;
        Ok((message, room, left))
    }

    /// `messages` as the caller reads them: their reactions (`me` for the caller) and attachments.
    async fn as_read(&self, caller: &Principal, mut messages: Vec<Message>) -> Result<Vec<Message>, ChatError> {
        if messages.is_empty() {
            return Ok(messages);
        }
        let ids: Vec<MessageId> = messages.iter().map(|m| m.id).collect();
        let mut reactions = self.store.reactions(caller.id, ids.clone()).await?;
        let mut attachments = self.store.attachments(ids).await?;
        for message in &mut messages {
            message.reactions = reactions.remove(&message.id).unwrap_or_default();
            message.attachments = attachments.remove(&message.id).unwrap_or_default();
        }
        Ok(messages)
    }

    async fn found_as_read(
        &self,
        caller: &Principal,
        found: Page<FoundMessage>,
    ) -> Result<Page<FoundMessage>, ChatError> {
        let Page { items, total, request } = found;
        let (messages, rooms): (Vec<Message>, Vec<Option<RoomSlug>>) =
            items.into_iter().map(|f| (f.message, f.room)).unzip();
        let messages = self.as_read(caller, messages).await?;
        let items = messages.into_iter().zip(rooms).map(|(message, room)| FoundMessage { message, room }).collect();
        Ok(Page::new(items, total, request))
    }

    /// The caller's conversations, latest activity first, with unread counts.
    pub async fn conversations(
        &self,
        caller: &Principal,
        page: PageRequest,
    ) -> Result<Page<ConversationSummary>, ChatError> {
        let found = self.store.conversations(caller.id, page).await?;
        let Page { items, total, request } = found;
        let messages = self.as_read(caller, items.iter().map(|c| c.last_message.clone()).collect()).await?;
        let items = items
            .into_iter()
            .zip(messages)
            .map(|(summary, last_message)| ConversationSummary { last_message, ..summary })
            .collect();
        Ok(Page::new(items, total, request))
    }

    /// Moves the caller's read mark forward to `up_to` in a conversation of theirs: with `with`
    /// (a user) or in `room` (one they belong to). Where the receipt goes, or `None` when the
    /// mark was already there or past it (marks never move back, and nobody is told).
    pub async fn mark_read(
        &self,
        caller: &Principal,
        with: Option<i64>,
        room: Option<&str>,
        up_to: Option<i64>,
    ) -> Result<Option<Counterpart>, ChatError> {
        let mut v = Validator::default();
        let up_to = v.check(
            "up_to",
            match up_to {
                Some(id) if id >= 1 => Ok(MessageId(id)),
                Some(_) => Err("must be a message id (at least 1)"),
                None => Err("is required"),
            },
        );
        match (with, room) {
            (Some(_), Some(_)) => v.fail("room", "give `with` or `room`, not both"),
            (None, None) => v.fail("with", "give `with` (a user) or `room`"),
            (Some(w), None) if w < 1 => v.fail("with", "must be a user id (at least 1)"),
            (Some(w), None) if w == caller.id.0 => v.fail("with", "cannot be yourself"),
            _ => {}
        }
        let up_to = v.finish_with(up_to)?;
        let (conversation, counterpart) = match (with, room) {
            (Some(other), _) => {
                self.active_user(other).await?;
                let other = UserId(other);
                (Conversation::direct(caller.id, other), Counterpart::Direct(other))
            }
            (None, Some(room)) => {
                let slug = RoomSlug::parse(room.to_owned()).map_err(|_| ChatError::RoomNotFound)?;
                let room = self.store.find_room(&slug).await?.ok_or(ChatError::RoomNotFound)?;
                if !self.store.is_member(room.id, caller.id).await? {
                    return Err(ChatError::RoomNotFound);
                }
                (Conversation::Room(room.id), Counterpart::Room(room.slug))
            }
            (None, None) => unreachable!("checked above"),
        };
        match self.store.mark_read(caller.id, conversation, up_to).await? {
            Marked::Moved => Ok(Some(counterpart)),
            Marked::Unchanged => Ok(None),
            Marked::NotInConversation => {
                Err(FieldErrors::single("up_to", "is not a message of that conversation").into())
            }
        }
    }

    async fn active_user(&self, id: i64) -> Result<(), ChatError> {
        match self.accounts.account(UserId(id)).await? {
            Some(account) if account.is_active() => Ok(()),
            _ => Err(ChatError::UserNotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use std::collections::HashMap;

    use workbench_core::TypeFailures;
    use workbench_users::{MockAccounts, Role, UserStatus};

    use super::*;
    use crate::{MockChatStore, RoomId};

    fn principal(id: i64, role: Role) -> Principal {
        Principal { id: UserId(id), role, status: UserStatus::Active, token_generation: 0 }
    }

    fn room(private: bool, creator: i64) -> Room {
        Room {
            id: RoomId(1),
            slug: RoomSlug::parse("ops").unwrap(),
            description: None,
            is_private: private,
            created_by: UserId(creator),
            created_at: Utc::now(),
        }
    }

    fn service(store: MockChatStore, accounts: MockAccounts) -> ChatService {
        ChatService::new(Arc::new(store), Arc::new(accounts))
    }

    #[tokio::test]
    async fn only_the_creator_or_a_moderator_adds_members() {
        let mut store = MockChatStore::new();
        store.expect_find_room().returning(|_| Ok(Some(room(false, 1))));
        store.expect_add_member().times(1).returning(|_, _, _| Ok(true));
        let mut accounts = MockAccounts::new();
        accounts.expect_account().returning(|id| Ok(Some(principal(id.0, Role::User))));
        let chat = service(store, accounts);

        let refused = chat.add_member(&principal(2, Role::User), "ops", 3).await;
        assert!(matches!(refused, Err(ChatError::Forbidden(_))), "{refused:?}");
        let (_, added) = chat.add_member(&principal(1, Role::User), "ops", 3).await.unwrap();
        assert!(added);
    }

    #[tokio::test]
    async fn a_private_room_is_hidden_from_outsiders_and_closed_to_them() {
        let mut store = MockChatStore::new();
        store.expect_find_room().returning(|_| Ok(Some(room(true, 1))));
        store.expect_is_member().returning(|_, user| Ok(user == UserId(1)));
        store.expect_history().returning(|_, _| Ok(vec![]));
        let chat = service(store, MockAccounts::new());

        let outsider = principal(2, Role::User);
        assert!(matches!(
            chat.room_history(&outsider, "ops", HistoryPage::latest(5)).await,
            Err(ChatError::RoomNotFound)
        ));
        assert!(matches!(chat.join(&outsider, "ops").await, Err(ChatError::Forbidden(_))));
        assert!(chat.room_history(&principal(1, Role::User), "ops", HistoryPage::latest(5)).await.is_ok());
        assert!(chat.room_history(&principal(9, Role::Moderator), "ops", HistoryPage::latest(5)).await.is_ok());
    }

    #[tokio::test]
    async fn a_blank_message_or_one_to_oneself_stores_nothing() {
        let mut store = MockChatStore::new();
        store.expect_insert_message().never();
        let chat = service(store, MockAccounts::new());
        let me = principal(1, Role::User);
        let blank = chat.send_direct(&me, 2, "  ", &[]).await.unwrap_err();
        assert!(matches!(blank, ChatError::Validation(ref e) if e.contains("content")), "{blank:?}");
        let to_self = chat.send_direct(&me, 1, "hi", &[]).await.unwrap_err();
        assert!(matches!(to_self, ChatError::Validation(ref e) if e.contains("to")), "{to_self:?}");
    }

    fn file(id: i64) -> AttachedFile {
        AttachedFile {
            id,
            filename: format!("f{id}.txt"),
            content_type: "text/plain".into(),
            size: 1,
            kind: "document".into(),
        }
    }

    #[tokio::test]
    async fn attachments_are_the_senders_own_files_at_most_ten_in_the_order_sent() {
        let mut store = MockChatStore::new();
        // The store knows files 1 to 3 as the sender's, answered in no particular order.
        store.expect_files_owned().returning(|_, ids| {
            let mut owned: Vec<_> = ids.into_iter().filter(|id| (1..=3).contains(id)).map(file).collect();
            owned.reverse();
            Ok(owned)
        });
        store.expect_insert_message().times(1).returning(|m| {
            let ids: Vec<i64> = m.attachments.iter().map(|f| f.id).collect();
            assert_eq!(ids, [3, 1], "in the order sent, a file named twice once");
            Ok(Message { attachments: m.attachments, ..direct(1, 2, chrono::TimeDelta::zero()) })
        });
        let mut accounts = MockAccounts::new();
        accounts.expect_account().returning(|id| Ok(Some(principal(id.0, Role::User))));
        let chat = service(store, accounts);
        let me = principal(1, Role::User);

        for refused in [vec![1, 4], vec![0], (1..=11).collect()] {
            let err = chat.send_direct(&me, 2, "see attached", &refused).await.unwrap_err();
            assert!(matches!(err, ChatError::Validation(ref e) if e.contains("attachments")), "{refused:?}: {err:?}");
        }
        let sent = chat.send_direct(&me, 2, "see attached", &[3, 1, 3]).await.unwrap();
        assert_eq!(sent.attachments.len(), 2);
    }

    #[tokio::test]
    async fn a_room_with_a_field_that_could_not_be_read_stores_nothing() {
        let mut store = MockChatStore::new();
        store.expect_create_room().never();
        let chat = service(store, MockAccounts::new());
        let mut type_failures = TypeFailures::default();
        type_failures.record("is_private", "must not be null");
        let draft = RoomDraft { name: Some("ops".into()), type_failures, ..Default::default() };
        let refused = chat.create_room(&principal(1, Role::User), draft).await;
        assert!(matches!(refused, Err(ChatError::Validation(ref e)) if e.contains("is_private")), "{refused:?}");
    }

    #[tokio::test]
    async fn a_disabled_recipient_is_not_found() {
        let mut accounts = MockAccounts::new();
        accounts
            .expect_account()
            .returning(|id| Ok(Some(Principal { status: UserStatus::Disabled, ..principal(id.0, Role::User) })));
        let chat = service(MockChatStore::new(), accounts);
        assert!(matches!(
            chat.send_direct(&principal(1, Role::User), 2, "hi", &[]).await,
            Err(ChatError::UserNotFound)
        ));
    }

    fn direct(from: i64, to: i64, sent_ago: chrono::TimeDelta) -> Message {
        Message {
            id: MessageId(5),
            room: None,
            sender_id: UserId(from),
            recipient_id: Some(UserId(to)),
            content: "helo".into(),
            created_at: Utc::now() - sent_ago,
            edited_at: None,
            deleted_at: None,
            reactions: Vec::new(),
            attachments: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_message_is_edited_by_its_author_for_fifteen_minutes() {
        let mut store = MockChatStore::new();
        let old = direct(1, 2, chrono::TimeDelta::minutes(16));
        store.expect_find_message().returning(move |_| Ok(Some(old.clone())));
        store.expect_edit_message().never();
        let chat = service(store, MockAccounts::new());
        let late = chat.edit(&principal(1, Role::User), 5, "hello").await;
        assert!(matches!(late, Err(ChatError::TooLate(_))), "{late:?}");
        let other = chat.edit(&principal(2, Role::User), 5, "hello").await;
        assert!(matches!(other, Err(ChatError::Forbidden(_))), "the recipient reads it but did not write it");
        let stranger = chat.edit(&principal(3, Role::Admin), 5, "hello").await;
        assert!(matches!(stranger, Err(ChatError::MessageNotFound)), "not a party: not found");

        let mut store = MockChatStore::new();
        let fresh = direct(1, 2, chrono::TimeDelta::minutes(14));
        store.expect_find_message().returning(move |_| Ok(Some(fresh.clone())));
        store.expect_reactions().returning(|_, _| Ok(HashMap::new()));
        store.expect_attachments().returning(|_| Ok(HashMap::new()));
        store.expect_edit_message().times(1).returning(|id, content, at| {
            let mut edited = direct(1, 2, chrono::TimeDelta::minutes(14));
            (edited.id, edited.content, edited.edited_at) = (id, content.into_string(), Some(at));
            Ok(Some(edited))
        });
        let chat = service(store, MockAccounts::new());
        let (edited, room) = chat.edit(&principal(1, Role::User), 5, " hello ").await.unwrap();
        assert_eq!((edited.content.as_str(), room), ("hello", None));
        assert!(edited.edited_at.is_some());
    }
}
