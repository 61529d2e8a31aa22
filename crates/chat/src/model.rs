//! Rooms, messages and the values they are made of.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use workbench_core::{BoundedText, FieldErrors, PageRequest, TypeFailures, Validator, at_most_chars};
use workbench_users::UserId;

/// A room's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoomId(pub i64);

/// A message's id: grows with every message stored, across every conversation, so that "what came
/// after the last message I saw" is a comparison of ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(pub i64);

/// A room's name: 1 to 64 of `a-z`, `0-9` and `-`. It names the room in URLs and on the socket,
/// so it is never trimmed or folded: anything else is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoomSlug(String);

impl RoomSlug {
    /// The most characters of a slug.
    pub const MAX_CHARS: usize = 64;

    /// A slug from what a client sent, exactly; the message a `422` carries otherwise.
    pub fn parse(raw: impl Into<String>) -> Result<Self, String> {
        let raw = raw.into();
        if raw.is_empty() || raw.len() > Self::MAX_CHARS {
            return Err(format!("must be 1 to {} characters", Self::MAX_CHARS));
        }
        if !raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err("may hold only lower-case letters a-z, digits and '-'".to_owned());
        }
        Ok(Self(raw))
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a message says: 1 to 4 000 characters once trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageContent(BoundedText<{ MessageContent::MAX_CHARS }>);

impl MessageContent {
    /// The most characters of a message.
    pub const MAX_CHARS: usize = 4000;

    /// A message's text from what a client sent, trimmed; the message a `422` carries otherwise.
    pub fn parse(raw: &str) -> Result<Self, String> {
        Ok(Self(BoundedText::parse(raw)?))
    }

    /// The text, trimmed.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The text, trimmed, as an owned `String`.
    pub fn into_string(self) -> String {
        self.0.into_inner()
    }
}

/// A room as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    /// The room's id.
    pub id: RoomId,
    /// Its name, in URLs and on the socket.
    pub slug: RoomSlug,
    /// What it is for, if said (at most 500 characters).
    pub description: Option<String>,
    /// Whether only its members may read and join it.
    pub is_private: bool,
    /// Who made it: they (and moderators) add members.
    pub created_by: UserId,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// What a client asks for when it creates a room.
#[derive(Debug, Clone, Default)]
pub struct RoomDraft {
    /// The room's name: its slug; required.
    pub name: Option<String>,
    /// What it is for, at most 500 characters; blank means none.
    pub description: Option<String>,
    /// Whether only members may read and join it; public when missing.
    pub is_private: Option<bool>,
    /// Fields sent with a value of the wrong type: absent above, and reported as they failed.
    pub type_failures: TypeFailures,
}

/// A room to store; its creator becomes its first member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRoom {
    /// Its name.
    pub slug: RoomSlug,
    /// What it is for, trimmed; `None` when blank.
    pub description: Option<String>,
    /// Whether only members may read and join it.
    pub is_private: bool,
    /// Who makes it: its first member.
    pub created_by: UserId,
    /// When it is made.
    pub created_at: DateTime<Utc>,
}

/// The longest room description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 500;

impl RoomDraft {
    /// Checks every field at once (those that could not be read first).
    pub fn parse(self, created_by: UserId, created_at: DateTime<Utc>) -> Result<NewRoom, FieldErrors> {
        let mut v = Validator::seeded(self.type_failures);
        let slug = v.required("name", self.name, RoomSlug::parse);
        // Counted as sent, as the published schema's `maxLength` counts, then trimmed.
        if let Some(description) = self.description.as_deref() {
            v.check("description", at_most_chars(description, DESCRIPTION_MAX_CHARS));
        }
        let description = self.description.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
        let is_private = self.is_private.unwrap_or(false);
        v.finish_with(slug.map(|slug| NewRoom { slug, description, is_private, created_by, created_at }))
    }
}

/// Where a message was said: in a room, or between two users.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Conversation {
    /// A room.
    Room(RoomId),
    /// Two users, the lower id first (see [`Conversation::direct`]).
    Direct(UserId, UserId),
}

impl Conversation {
    /// The conversation of two users, the same whichever of them is named first.
    pub fn direct(a: UserId, b: UserId) -> Self {
        if a <= b { Conversation::Direct(a, b) } else { Conversation::Direct(b, a) }
    }

    /// A stable key for the conversation (`room:7`, `dm:3:9`): what the store indexes history by.
    pub fn key(&self) -> String {
        match self {
            Conversation::Room(id) => format!("room:{}", id.0),
            Conversation::Direct(a, b) => format!("dm:{}:{}", a.0, b.0),
        }
    }
}

/// A message to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The room it was said in, or `None` for a direct message.
    pub room: Option<RoomId>,
    /// Who says it.
    pub sender_id: UserId,
    /// The other party of a direct message.
    pub recipient_id: Option<UserId>,
    /// What it says.
    pub content: MessageContent,
    /// When it is said.
    pub created_at: DateTime<Utc>,
    /// Files of the sender's it carries, in the order given (checked by the service).
    pub attachments: Vec<AttachedFile>,
}

/// A file a message carries, as its readers see it: a summary of the file, whose bytes anyone
/// who may read the message may download (the files domain asks [`crate::ChatStore`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedFile {
    /// The file's id.
    pub id: i64,
    /// Its sanitised name.
    pub filename: String,
    /// Its media type.
    pub content_type: String,
    /// Its length in bytes.
    pub size: i64,
    /// What it is for (`image`, `manual`, ...).
    pub kind: String,
}

impl AttachedFile {
    /// The most files one message carries.
    pub const MAX_PER_MESSAGE: usize = 10;
}

impl NewMessage {
    /// The conversation the message belongs to.
    pub fn conversation(&self) -> Conversation {
        match (self.room, self.recipient_id) {
            (Some(room), _) => Conversation::Room(room),
            (None, Some(to)) => Conversation::direct(self.sender_id, to),
            // A message is built by the service with one or the other.
            (None, None) => Conversation::direct(self.sender_id, self.sender_id),
        }
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message's id: messages are ordered by it.
    pub id: MessageId,
    /// The room it was said in, or `None` for a direct message.
    pub room: Option<RoomId>,
    /// Who said it.
    pub sender_id: UserId,
    /// The other party of a direct message.
    pub recipient_id: Option<UserId>,
    /// Empty once deleted.
    pub content: String,
    /// When it was said.
    pub created_at: DateTime<Utc>,
    /// When its author last corrected it.
    pub edited_at: Option<DateTime<Utc>>,
    /// When it was taken back: it stays in history as a tombstone, its text gone.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Its reactions as the reader sees them (who read it decides `me`), most used first; empty
    /// where no reader was asked for (a message just sent has none).
    pub reactions: Vec<Reaction>,
    /// The files it carries, in the order sent; none once deleted.
    pub attachments: Vec<AttachedFile>,
}

/// How many people reacted to a message with one emoji, and whether the reader is one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    /// The emoji.
    pub emoji: String,
    /// How many people reacted with it.
    pub count: u64,
    /// Whether the reader is one of them.
    pub me: bool,
}

/// One emoji, as a reaction names it: a single extended grapheme cluster (a flag, a skin tone or
/// a family are one), neither blank nor a control, nor a lone ASCII character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emoji(String);

impl Emoji {
    /// The most distinct emoji one message may carry.
    pub const MAX_PER_MESSAGE: u64 = 20;

    /// An emoji from what a client sent (one grapheme); the message a `422` carries otherwise.
    pub fn parse(raw: &str) -> Result<Self, String> {
        use unicode_segmentation::UnicodeSegmentation;
        let one = raw.graphemes(true).count() == 1;
        let printable = !raw.chars().any(|c| c.is_whitespace() || c.is_control());
        let ascii_letter = raw.len() == 1 && raw.is_ascii();
        if !one || !printable || ascii_letter || raw.len() > 32 {
            return Err("must be one emoji".to_owned());
        }
        Ok(Self(raw.to_owned()))
    }

    /// The emoji as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What adding a reaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reacted {
    /// Added; `count` people now react with that emoji.
    Added {
        /// How many people now react with that emoji.
        count: u64,
    },
    /// The user had already reacted so.
    Already {
        /// How many people react with that emoji.
        count: u64,
    },
    /// The message carries [`Emoji::MAX_PER_MESSAGE`] other emoji already.
    Full,
}

impl Message {
    /// How long after sending its author may still correct a message.
    pub const EDITABLE_FOR: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

    /// The conversation it belongs to.
    pub fn conversation(&self) -> Conversation {
        match (self.room, self.recipient_id) {
            (Some(room), _) => Conversation::Room(room),
            (None, Some(to)) => Conversation::direct(self.sender_id, to),
            (None, None) => Conversation::direct(self.sender_id, self.sender_id),
        }
    }
}

/// Which part of a conversation's history to read. `before` pages back through older messages
/// (the newest `limit` below it); `after` reads forward from the last message a client saw (the
/// oldest `limit` above it); both together read the window between them, forward from `after`.
/// Either way the page comes oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryPage {
    /// Read the messages older than this one.
    pub before: Option<MessageId>,
    /// Read the messages newer than this one.
    pub after: Option<MessageId>,
    /// How many messages to read, 1 to [`Self::MAX_LIMIT`].
    pub limit: u32,
}

impl HistoryPage {
    /// How many messages a page holds when the client names no limit.
    pub const DEFAULT_LIMIT: u32 = 50;
    /// The most a page holds: a larger limit is read as this.
    pub const MAX_LIMIT: u32 = 100;

    /// Checks the values a client sent: `limit` at least 1 (50 when absent; more than 100 is read
    /// as 100, as `per_page` is on every list), ids positive.
    pub fn parse(before: Option<i64>, after: Option<i64>, limit: Option<i64>) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        let id = |raw: i64| if raw >= 1 { Ok(MessageId(raw)) } else { Err("must be a positive message id") };
        let before = v.optional("before", before, id).ok().flatten();
        let after = v.optional("after", after, id).ok().flatten();
        let limit = v
            .optional("limit", limit, |n| match n {
                ..=0 => Err("must be at least 1"),
                n => Ok(u32::try_from(n).unwrap_or(u32::MAX).min(Self::MAX_LIMIT)),
            })
            .ok()
            .flatten()
            .unwrap_or(Self::DEFAULT_LIMIT);
        v.finish()?;
        Ok(Self { before, after, limit })
    }

    /// The newest page.
    pub fn latest(limit: u32) -> Self {
        Self { before: None, after: None, limit }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lower_case_letters_digits_and_dashes() {
        assert!(RoomSlug::parse("general").is_ok());
        assert!(RoomSlug::parse("team-42").is_ok());
        assert!(RoomSlug::parse("a".repeat(64)).is_ok());
        for bad in ["", "General", "with space", "café", "a_b", &"a".repeat(65)] {
            assert!(RoomSlug::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn content_is_trimmed_and_bounded() {
        assert_eq!(MessageContent::parse("  hi  ").unwrap().as_str(), "hi");
        assert_eq!(MessageContent::parse(" \n ").unwrap_err(), "must not be blank");
        assert!(MessageContent::parse(&"é".repeat(4000)).is_ok());
        assert_eq!(MessageContent::parse(&"é".repeat(4001)).unwrap_err(), "must be at most 4000 characters");
    }

    #[test]
    fn a_direct_conversation_is_the_same_from_both_ends() {
        assert_eq!(Conversation::direct(UserId(9), UserId(3)), Conversation::direct(UserId(3), UserId(9)));
        assert_eq!(Conversation::direct(UserId(9), UserId(3)).key(), "dm:3:9");
        assert_eq!(Conversation::Room(RoomId(7)).key(), "room:7");
    }

    #[test]
    fn history_pages_are_checked_field_by_field() {
        assert_eq!(HistoryPage::parse(None, None, None).unwrap(), HistoryPage::latest(50));
        let errors = HistoryPage::parse(Some(0), Some(3), Some(0)).unwrap_err();
        assert!(errors.contains("before") && errors.contains("limit"));
        assert_eq!(HistoryPage::parse(None, None, Some(500)).unwrap().limit, 100, "clamped like per_page");
        let window = HistoryPage::parse(Some(5), Some(3), Some(10)).unwrap();
        assert_eq!((window.before, window.after, window.limit), (Some(MessageId(5)), Some(MessageId(3)), 10));
    }

    #[test]
    fn a_draft_without_a_slug_names_the_field() {
        let at = Utc::now();
        let errors = RoomDraft { name: Some("Not A Slug".into()), ..Default::default() }.parse(UserId(1), at);
        assert!(errors.unwrap_err().contains("name"));
        let errors = RoomDraft::default().parse(UserId(1), at).unwrap_err();
        assert!(errors.contains("name"));
        let room = RoomDraft {
            name: Some("ops".into()),
            description: Some("  ".into()),
            is_private: Some(true),
            type_failures: TypeFailures::default(),
        }
        .parse(UserId(1), at)
        .unwrap();
        assert_eq!((room.slug.as_str(), room.description, room.is_private), ("ops", None, true));
    }

    #[test]
    fn a_field_that_could_not_be_read_is_reported_as_such_with_the_others() {
        let mut type_failures = TypeFailures::default();
        type_failures.record("is_private", "invalid type: string \"yes\", expected a boolean");
        let draft = RoomDraft { name: None, type_failures, ..Default::default() };
        let errors = draft.parse(UserId(1), Utc::now()).unwrap_err();
        let fields: Vec<_> = errors.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["is_private", "name"]);

        let mut type_failures = TypeFailures::default();
        type_failures.record("is_private", "must not be null");
        let draft = RoomDraft { name: Some("ops".into()), type_failures, ..Default::default() };
        assert!(draft.parse(UserId(1), Utc::now()).unwrap_err().contains("is_private"), "valid otherwise");
    }
}

/// A search of the messages one user may read (see [`crate::ChatStore::search`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSearch {
    /// Whose messages to search: those they may read.
    pub reader: UserId,
    /// What the content must contain, lower-cased; empty for anything.
    pub text: String,
    /// Only this conversation of the reader's.
    pub within: Option<Conversation>,
    /// Only messages older than this one.
    pub before: Option<MessageId>,
    /// Which page of the matches, newest first.
    pub page: PageRequest,
}

impl MessageSearch {
    /// The fewest and most characters `q` may have on `GET /chat/search`.
    pub const MIN_CHARS: usize = 2;
    /// The most characters of `q`.
    pub const MAX_CHARS: usize = 200;

    /// The most matches a search counts: its total is exact up to this many, and this many when
    /// more match. Counting every match of a common word means reading every row it matches (an
    /// index of trigrams only narrows; each candidate is checked on its row), which grows with
    /// the store; counting up to the cap costs what reading that many does.
    pub const COUNT_CAP: u64 = 1_000;

    /// Checks the text a client looks for (trimmed: 2 to 200 characters), naming `q`.
    pub fn text(q: Option<&str>) -> Result<String, String> {
        let q = q.map(str::trim).unwrap_or_default();
        let chars = q.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            return Err(format!("must be {} to {} characters once trimmed", Self::MIN_CHARS, Self::MAX_CHARS));
        }
        Ok(q.to_lowercase())
    }
}

/// A message a search found, with the slug of the room it was said in (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundMessage {
    /// The message.
    pub message: Message,
    /// The slug of the room it was said in, if any.
    pub room: Option<RoomSlug>,
}

/// Where a typing indicator goes (it is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typing {
    /// To the other side of a direct conversation.
    Direct(UserId),
    /// To the others in a room.
    Room(RoomSlug),
}

/// Who a conversation is with, as its list and its read receipts name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counterpart {
    /// A room the reader belongs to.
    Room(RoomSlug),
    /// The other side of a direct conversation.
    Direct(UserId),
}

/// One of a user's conversations: its latest message and how many messages of others came after
/// the user's read mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    /// Who the conversation is with: a room, or the other side of a direct conversation.
    pub with: Counterpart,
    /// The other side's username, for a direct conversation.
    pub partner_name: Option<String>,
    /// Its latest message.
    pub last_message: Message,
    /// How many messages of others came after the reader's read mark.
    pub unread: u64,
}

/// What moving a read mark did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marked {
    /// The mark moved forward to the message.
    Moved,
    /// The mark was at or past it already: marks never move back.
    Unchanged,
    /// The message is not one of that conversation.
    NotInConversation,
}
