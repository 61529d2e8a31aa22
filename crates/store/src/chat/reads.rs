//! What the chat store reads: rooms, messages and their attachments as rows, a user's
//! conversations and contacts.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};
use workbench_chat::{AttachedFile, ConversationSummary, Counterpart, Message, MessageId, Room, RoomId, RoomSlug};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_users::UserId;

use crate::AnyConnection;
use crate::error::{corrupt, db};
use crate::paging::counted_page;
use crate::schema::{chat_messages, chat_rooms, files, users};

#[derive(Debug, Queryable)]
pub(super) struct RoomRow {
    pub(super) id: i64,
    slug: String,
    description: Option<String>,
    is_private: bool,
    created_by: i64,
    created_at: NaiveDateTime,
}

impl RoomRow {
    pub(super) fn into_room(self) -> Result<Room, RepositoryError> {
        Ok(Room {
            id: RoomId(self.id),
            slug: RoomSlug::parse(self.slug).map_err(|e| {
                RepositoryError::Unavailable(anyhow::anyhow!("unexpected value in chat_rooms.slug: {e}"))
            })?,
            description: self.description,
            is_private: self.is_private,
            created_by: UserId(self.created_by),
            created_at: self.created_at.and_utc(),
        })
    }
}

pub(super) fn into_rooms(rows: Vec<RoomRow>) -> Result<Vec<Room>, RepositoryError> {
    rows.into_iter().map(RoomRow::into_room).collect()
}

/// A message's columns as read (its search text never is).
pub(super) const MESSAGE_COLUMNS: (
    chat_messages::id,
    chat_messages::conversation,
    chat_messages::room_id,
    chat_messages::sender_id,
    chat_messages::recipient_id,
    chat_messages::content,
    chat_messages::created_at,
    chat_messages::edited_at,
    chat_messages::deleted_at,
) = (
    chat_messages::id,
    chat_messages::conversation,
    chat_messages::room_id,
    chat_messages::sender_id,
    chat_messages::recipient_id,
    chat_messages::content,
    chat_messages::created_at,
    chat_messages::edited_at,
    chat_messages::deleted_at,
);

#[derive(Debug, Queryable)]
pub(super) struct MessageRow {
    pub(super) id: i64,
    _conversation: String,
    pub(super) room_id: Option<i64>,
    sender_id: i64,
    recipient_id: Option<i64>,
    content: String,
    created_at: NaiveDateTime,
    edited_at: Option<NaiveDateTime>,
    deleted_at: Option<NaiveDateTime>,
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        Message {
            id: MessageId(row.id),
            room: row.room_id.map(RoomId),
            sender_id: UserId(row.sender_id),
            recipient_id: row.recipient_id.map(UserId),
            content: row.content,
            created_at: row.created_at.and_utc(),
            edited_at: row.edited_at.map(|at| at.and_utc()),
            deleted_at: row.deleted_at.map(|at| at.and_utc()),
            reactions: Vec::new(),
            attachments: Vec::new(),
        }
    }
}

/// A file summary as a message carries it.
pub(super) const ATTACHMENT_COLUMNS: (files::id, files::filename, files::content_type, files::size, files::kind) =
    (files::id, files::filename, files::content_type, files::size, files::kind);

#[derive(Debug, Queryable)]
pub(super) struct AttachmentRow {
    id: i64,
    filename: String,
    content_type: String,
    size: i64,
    kind: String,
}

impl From<AttachmentRow> for AttachedFile {
    fn from(row: AttachmentRow) -> Self {
        AttachedFile {
            id: row.id,
            filename: row.filename,
            content_type: row.content_type,
            size: row.size,
            kind: row.kind,
        }
    }
}

/// A user's contacts for presence, in one statement on either engine: whoever shares a room with
/// them, and whoever they have exchanged direct messages with both ways. One message is not
/// enough: anyone may write to anyone, and a stranger's unanswered message must not let them
/// watch the recipient come and go. Each part is found along an index (`chat_members_user`; a
/// direct conversation's row by either of its users, where each side's mark says whether they
/// have written).
pub(super) const CONTACTS: &str = "SELECT mate.user_id AS id
    FROM chat_members mine
    JOIN chat_members mate ON mate.room_id = mine.room_id
    WHERE mine.user_id = $1 AND mate.user_id <> $1
UNION
SELECT high_user_id FROM chat_conversations
    WHERE low_user_id = $1 AND high_user_id <> $1 AND low_written AND high_written
UNION
SELECT low_user_id FROM chat_conversations
    WHERE high_user_id = $1 AND low_user_id <> $1 AND low_written AND high_written
ORDER BY id";

#[derive(QueryableByName)]
pub(super) struct Contact {
    #[diesel(sql_type = BigInt)]
    pub(super) id: i64,
}

/// A page of `user`'s conversations, the latest first, with their last message and how many of
/// its messages the user has not read.
pub(super) fn conversations_page(
    conn: &mut AnyConnection,
    user: UserId,
    page: PageRequest,
) -> Result<Page<ConversationSummary>, RepositoryError> {
    let mine = conversations_of(user);
    let total =
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {mine}")).get_result::<Counted>(conn).map_err(db)?.n;
    counted_page(page, total, || summaries(conn, &mine, page))
}

/// The conversations of `page` among `mine`, the latest first.
fn summaries(
    conn: &mut AnyConnection,
    mine: &str,
    page: PageRequest,
) -> Result<Vec<ConversationSummary>, RepositoryError> {
    let rows: Vec<ConversationRow> = diesel::sql_query(format!(
        "SELECT c.room_id, mine.partner_id, c.last_message_id, c.messages - mine.read_seq AS unread \
         FROM {mine} ORDER BY c.last_message_id DESC LIMIT {limit} OFFSET {offset}",
        limit = page.limit(),
        offset = page.offset(),
    ))
    .load(conn)
    .map_err(db)?;
    let last: HashMap<i64, Message> = chat_messages::table
        .filter(chat_messages::id.eq_any(rows.iter().map(|r| r.last_message_id).collect::<Vec<_>>()))
        .select(MESSAGE_COLUMNS)
        .load::<MessageRow>(conn)
        .map_err(db)?
        .into_iter()
        .map(|row| (row.id, Message::from(row)))
        .collect();
    let slugs: HashMap<i64, String> = chat_rooms::table
        .filter(chat_rooms::id.eq_any(rows.iter().filter_map(|r| r.room_id).collect::<Vec<_>>()))
        .select((chat_rooms::id, chat_rooms::slug))
        .load::<(i64, String)>(conn)
        .map_err(db)?
        .into_iter()
        .collect();
    let names: HashMap<i64, String> = users::table
        .filter(users::id.eq_any(rows.iter().filter_map(|r| r.partner_id).collect::<Vec<_>>()))
        .select((users::id, users::username))
        .load::<(i64, String)>(conn)
        .map_err(db)?
        .into_iter()
        .collect();
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let last_message = last
            .get(&row.last_message_id)
            .cloned()
            .ok_or_else(|| corrupt("chat_conversations.last_message_id", "no such message"))?;
        let (with, partner_name) = match (row.room_id, row.partner_id) {
            (Some(room), _) => {
                let slug = slugs.get(&room).cloned().and_then(|s| RoomSlug::parse(s).ok());
                (Counterpart::Room(slug.ok_or_else(|| corrupt("chat_rooms.slug", "missing"))?), None)
            }
            (None, Some(partner)) => (Counterpart::Direct(UserId(partner)), names.get(&partner).cloned()),
            (None, None) => {
                return Err(corrupt("chat_conversations.low_user_id", "a direct conversation without its users"));
            }
        };
        let unread = u64::try_from(row.unread).unwrap_or_default();
        items.push(ConversationSummary { with, partner_name, last_message, unread });
    }
    Ok(items)
}

#[derive(QueryableByName)]
pub(super) struct ReadMark {
    #[diesel(sql_type = BigInt)]
    pub(super) read_up_to: i64,
    #[diesel(sql_type = BigInt)]
    pub(super) read_seq: i64,
}

#[derive(QueryableByName)]
struct ConversationRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    room_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    partner_id: Option<i64>,
    #[diesel(sql_type = BigInt)]
    last_message_id: i64,
    #[diesel(sql_type = BigInt)]
    unread: i64,
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A user's conversations (`mine`, joined to their rows `c`), each with the other side of a
/// direct one (`partner_id`) and how many of its messages the user has read (`read_seq`): their
/// direct conversations, found by either side's index, and their rooms', along theirs.
fn conversations_of(user: UserId) -> String {
    let u = user.0;
    format!(
        "(SELECT conversation, high_user_id AS partner_id, low_read_seq AS read_seq \
          FROM chat_conversations WHERE low_user_id = {u} \
          UNION ALL SELECT conversation, low_user_id, high_read_seq FROM chat_conversations WHERE high_user_id = {u} \
          UNION ALL SELECT 'room:' || m.room_id, NULL, COALESCE(r.read_seq, 0) FROM chat_members m \
          LEFT JOIN chat_reads r ON r.user_id = {u} AND r.conversation = 'room:' || m.room_id \
          WHERE m.user_id = {u}) mine \
         JOIN chat_conversations c ON c.conversation = mine.conversation"
    )
}

pub(super) fn reversed<T>(mut rows: Vec<T>) -> Vec<T> {
    rows.reverse();
    rows
}
