//! Wire shapes of chat: rooms, members and messages, as the REST routes and the socket show them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use workbench_chat::{ConversationSummary, Counterpart, Message, Room, RoomDraft, RoomSlug};
use workbench_core::TypeFailures;

use crate::body::{Lenient, component, lenient, nullable, patterned, trimmed_text};

/// The schema of a room name as `RoomSlug::parse` reads it.
#[derive(Debug)]
pub struct RoomSlugSchema;

component!(
    RoomSlugSchema,
    "RoomSlug",
    patterned(
        format!("^[a-z0-9-]{{1,{}}}$", RoomSlug::MAX_CHARS),
        "A room's name: 1 to 64 lower-case letters a-z, digits and '-'"
    )
    .examples(["general"])
);

/// A chat room.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomResponse {
    pub id: i64,
    /// The room's slug: what names it in paths and on the socket.
    #[schema(value_type = RoomSlugSchema)]
    pub name: String,
    pub description: Option<String>,
    /// Private rooms are seen, joined and read by their members only.
    pub is_private: bool,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
}

impl From<Room> for RoomResponse {
    fn from(r: Room) -> Self {
        Self {
            id: r.id.0,
            name: r.slug.to_string(),
            description: r.description,
            is_private: r.is_private,
            created_by: r.created_by.0,
            created_at: r.created_at,
        }
    }
}

/// `POST /chat/rooms`. Fields are read leniently so that every failing one is reported at once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateRoomRequest {
    #[schema(value_type = RoomSlugSchema, required = true)]
    #[serde(default)]
    pub name: Lenient<String>,
    /// At most 500 characters; stored trimmed (blank means none).
    #[schema(value_type = Option<String>, max_length = 500)]
    #[serde(default)]
    pub description: Lenient<String>,
    /// Default `false`.
    #[schema(value_type = Option<bool>, nullable = false)]
    #[serde(default)]
    pub is_private: Lenient<bool>,
}

impl CreateRoomRequest {
    /// The draft, with the fields whose JSON type was wrong.
    pub fn into_draft(self) -> RoomDraft {
        let mut failures = TypeFailures::default();
        let name = lenient("name", self.name, &mut failures);
        let description = nullable("description", self.description, &mut failures);
        let is_private = lenient("is_private", self.is_private, &mut failures);
        RoomDraft { name, description, is_private, type_failures: failures }
    }
}

/// `POST /chat/rooms/{room}/members`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddMemberRequest {
    /// An existing user; any other id is refused with `422` naming this field.
    #[schema(value_type = i64, minimum = 1, required = true)]
    #[serde(default)]
    pub user_id: Lenient<i64>,
}

/// A member added to a room.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipResponse {
    #[schema(value_type = RoomSlugSchema)]
    pub room: String,
    pub user_id: i64,
}

/// A chat message: to a room (`room` set) or directly to a user (`recipient_id` set).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageResponse {
    /// Grows with every message: pass the last one seen as `after` to fetch what was missed.
    pub id: i64,
    #[schema(value_type = Option<RoomSlugSchema>)]
    pub room: Option<String>,
    pub sender_id: i64,
    pub recipient_id: Option<i64>,
    /// `null` once the message was deleted.
    pub content: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When its author last corrected it.
    pub edited_at: Option<DateTime<Utc>>,
    /// When it was taken back; it stays in history as this tombstone.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Reactions, most used first; `me` when the reader is among those who reacted so (a message
    /// as an event delivers it shows none).
    pub reactions: Vec<ReactionResponse>,
    /// The files it carries, in the order sent (none once deleted): anyone who may read the
    /// message may read and download them.
    pub attachments: Vec<AttachmentResponse>,
}

/// A file a message carries: a summary of the file, and where its bytes are.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttachmentResponse {
    pub id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    #[schema(example = "document")]
    pub kind: String,
    /// `GET` it with the reader's token (`Range` works as on any download).
    #[schema(example = "/api/v1/files/7/download")]
    pub download_url: String,
}

/// How many reacted to a message with one emoji, and whether the reader did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReactionResponse {
    #[schema(example = "👍")]
    pub emoji: String,
    pub count: u64,
    pub me: bool,
}

/// `chat.reaction`: someone reacted to a message, or took a reaction back.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReactionEvent {
    pub message_id: i64,
    #[schema(value_type = Option<RoomSlugSchema>)]
    pub room: Option<String>,
    pub emoji: String,
    /// How many react with that emoji now.
    pub count: u64,
    /// Who reacted or took it back.
    pub user_id: i64,
    /// `true` when added, `false` when taken back.
    pub added: bool,
}

impl MessageResponse {
    /// A message as shown, naming its room by slug (`room` is the room it was said in, if any).
    pub fn new(m: Message, room: Option<&RoomSlug>) -> Self {
        Self {
            id: m.id.0,
            room: room.map(ToString::to_string),
            sender_id: m.sender_id.0,
            recipient_id: m.recipient_id.map(|r| r.0),
            content: m.deleted_at.is_none().then_some(m.content),
            created_at: m.created_at,
            edited_at: m.edited_at,
            deleted_at: m.deleted_at,
            reactions: m
                .reactions
                .into_iter()
                .map(|r| ReactionResponse { emoji: r.emoji, count: r.count, me: r.me })
                .collect(),
            attachments: m
                .attachments
                .into_iter()
                .map(|f| AttachmentResponse {
                    download_url: format!("/api/v1/files/{}/download", f.id),
                    id: f.id,
                    filename: f.filename,
                    content_type: f.content_type,
                    size: f.size,
                    kind: f.kind,
                })
                .collect(),
        }
    }
}

/// The schema of a message's text as `MessageContent::parse` reads it.
#[derive(Debug)]
pub struct MessageContentSchema;

component!(
    MessageContentSchema,
    "MessageContent",
    trimmed_text(1, workbench_chat::MessageContent::MAX_CHARS, "1 to 4000 characters once trimmed")
);

/// `PATCH /chat/messages/{id}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct EditMessageRequest {
    /// The corrected text: 1 to 4,000 characters once trimmed.
    #[schema(value_type = MessageContentSchema, required = true)]
    #[serde(default)]
    pub content: Lenient<String>,
}

/// A page of history: `before` pages back, `after` reads forward from the last id a client saw.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only messages older than this id (the newest `limit` of them).
    #[param(minimum = 1, nullable = false)]
    pub before: Option<i64>,
    /// Only messages newer than this id (the oldest `limit` of them); with `before`, the window
    /// between the two.
    #[param(minimum = 1, nullable = false)]
    pub after: Option<i64>,
    /// At least 1, default 50; more than 100 is read as 100.
    #[param(minimum = 1, nullable = false)]
    pub limit: Option<i64>,
}

/// The schema of `GET /chat/search`'s `q`: 2 to 200 characters once trimmed.
#[derive(Debug)]
pub struct ChatSearchTextSchema;

component!(ChatSearchTextSchema, "ChatSearchText", {
    let w = crate::body::WHITESPACE_CLASS;
    patterned(format!("^[{w}]*[^{w}][\\s\\S]{{0,198}}[^{w}][{w}]*$"), "2 to 200 characters once trimmed")
        .examples(["kettle"])
});

/// `GET /chat/search`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChatSearchQuery {
    /// What a message's content must contain, without regard to case: 2 to 200 characters once
    /// trimmed.
    #[param(required = true, value_type = ChatSearchTextSchema, inline)]
    pub q: Option<String>,
    /// Only the direct conversation with this user.
    #[param(minimum = 1, nullable = false)]
    pub with: Option<i64>,
    /// Only this room (one the caller is a member of).
    #[param(value_type = Option<RoomSlugSchema>, inline, nullable = false)]
    pub room: Option<String>,
    /// Only messages older than this id.
    #[param(minimum = 1, nullable = false)]
    pub before: Option<i64>,
    /// Page number, from 1.
    #[param(minimum = 1, nullable = false)]
    pub page: Option<i64>,
    /// Items per page, from 1; more than 100 is read as 100. Default 20.
    #[param(minimum = 1, nullable = false)]
    pub per_page: Option<i64>,
}

/// The other side of a direct conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationUser {
    pub id: i64,
    pub username: Option<String>,
}

/// The room of a room conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationRoom {
    #[schema(value_type = RoomSlugSchema)]
    pub slug: String,
    /// The room's name (its slug).
    #[schema(value_type = RoomSlugSchema)]
    pub name: String,
}

/// One of the caller's conversations.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationResponse {
    /// `dm` or `room`.
    #[schema(example = "dm")]
    pub kind: &'static str,
    /// The other side, for `dm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with: Option<ConversationUser>,
    /// The room, for `room`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<ConversationRoom>,
    pub last_message: MessageResponse,
    /// Others' messages after the caller's read mark (one's own are never unread).
    pub unread_count: u64,
}

impl From<ConversationSummary> for ConversationResponse {
    fn from(c: ConversationSummary) -> Self {
        match c.with {
            Counterpart::Room(slug) => Self {
                kind: "room",
                with: None,
                room: Some(ConversationRoom { slug: slug.to_string(), name: slug.to_string() }),
                last_message: MessageResponse::new(c.last_message, Some(&slug)),
                unread_count: c.unread,
            },
            Counterpart::Direct(user) => Self {
                kind: "dm",
                with: Some(ConversationUser { id: user.0, username: c.partner_name }),
                room: None,
                last_message: MessageResponse::new(c.last_message, None),
                unread_count: c.unread,
            },
        }
    }
}

/// `POST /chat/read`: one of `with` and `room`, and `up_to`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct MarkReadRequest {
    /// The other side of a direct conversation.
    #[schema(value_type = Option<i64>, minimum = 1)]
    #[serde(default)]
    pub with: Lenient<i64>,
    /// A room the caller is a member of.
    #[schema(value_type = Option<RoomSlugSchema>)]
    #[serde(default)]
    pub room: Lenient<String>,
    /// The last message read (of that conversation): the mark moves forward to it, never back.
    #[schema(value_type = i64, minimum = 1, required = true)]
    #[serde(default)]
    pub up_to: Lenient<i64>,
}

/// `chat.read`: someone's read mark moved.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadReceipt {
    /// Who read.
    pub by: i64,
    /// The direct conversation's other side (the receipt's recipient).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RoomSlugSchema>)]
    pub room: Option<String>,
    pub up_to: i64,
}
