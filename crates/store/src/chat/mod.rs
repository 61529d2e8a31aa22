//! Chat rooms, members and messages (the chat domain's `ChatStore`).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::count_star;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamp};
use std::collections::HashMap;
use std::sync::Arc;
use workbench_chat::{
    AttachedFile, ChatStore, Conversation, ConversationSummary, Counterpart, Emoji, FoundMessage, HistoryPage, Marked,
    Message, MessageContent, MessageId, MessageSearch, NewMessage, NewRoom, Reacted, Reaction, Room, RoomId, RoomSlug,
};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_users::UserId;

use crate::database::{stored, write_transaction};
use crate::error::{corrupt, db, map_db_error};
use crate::group_commit::{Batching, GroupCommit, Write};
use crate::like::contains_pattern;
use crate::schema::{
    chat_attachments, chat_members, chat_messages, chat_reactions, chat_reads, chat_rooms, files, users,
};
use crate::{AnyConnection, Database};

mod search;

use search::SearchIndexer;
pub use search::{DERIVED_TABLES, rebuild_search_index};

type Db = <AnyConnection as Connection>::Backend;

/// A user's contacts for presence, in one statement on either engine: whoever shares a room with
/// them, and whoever they have exchanged direct messages with both ways. One message is not
/// enough: anyone may write to anyone, and a stranger's unanswered message must not let them
/// watch the recipient come and go. Each part is found along an index (`chat_members_user`; a
/// direct conversation's row by either of its users, where each side's mark says whether they
/// have written).
const CONTACTS: &str = "SELECT mate.user_id AS id
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
struct Contact {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// `ChatStore` on the shared database.
///
/// Messages are written by one writer per store, a batch at a time (`group_commit`): what
/// arrives while a batch is being written goes in the next one, a single statement and one
/// commit. Alone, a message is written at once; under load, thousands a second cost tens of
/// commits instead of thousands. A message is still answered only once it is stored, and a batch
/// that fails is retried message by message, so one bad message never fails another.
#[derive(Debug, Clone)]
pub struct DieselChatStore {
    db: Database,
    messages: Arc<GroupCommit<NewMessage>>,
    search_index: Option<Arc<SearchIndexer>>,
}

impl DieselChatStore {
    pub fn new(db: Database) -> Self {
        // One writer, so that messages are stored (and numbered) in the order they arrived; 512
        // messages of 7 parameters each are far under either engine's limit for one statement.
        let messages = GroupCommit::new(db.clone(), Batching { runners: 1, max_batch: 512 });
        let search_index = SearchIndexer::new(&db);
        Self { db, messages, search_index }
    }

    /// Messages were written: on PostgreSQL the search index follows them (see [`SearchIndexer`]).
    fn written(&self) {
        if let Some(indexer) = &self.search_index {
            indexer.written();
        }
    }

    /// Puts every message written so far into the search index at once, whatever the pace of
    /// writes (on PostgreSQL; SQLite's is always up to date). Searches find every message
    /// either way; this is for seeding a benchmark, or a test of the index itself.
    pub async fn catch_up_search_index(&self) -> Result<(), RepositoryError> {
        match &self.search_index {
            Some(indexer) => indexer.catch_up().await,
            None => Ok(()),
        }
    }
}

impl Write for NewMessage {
    type Output = Message;

    fn apply(&self, conn: &mut AnyConnection) -> Result<Message, RepositoryError> {
        let mut one = Self::apply_together(conn, std::slice::from_ref(self))?;
        one.pop().ok_or_else(|| RepositoryError::Unavailable(anyhow::anyhow!("a chat message was not written")))
    }

    /// On PostgreSQL one statement per batch ([`PostMessages`]): the messages, their
    /// conversations' totals and the senders' read marks, so that a batch of direct messages
    /// costs one round trip and, with no attachments, no transaction around it. On SQLite, where
    /// a statement costs no round trip, one insert per message and the bookkeeping after them.
    fn apply_together(conn: &mut AnyConnection, messages: &[Self]) -> Result<Vec<Message>, RepositoryError> {
        let mut stored: Vec<MessageRow> = match conn {
            AnyConnection::Postgresql(pg) => PostMessages::new(messages).get_results(pg).map_err(db)?,
            AnyConnection::Sqlite(sqlite) => messages
                .iter()
                .map(|message| {
                    diesel::insert_into(chat_messages::table)
                        .values((
                            chat_messages::conversation.eq(message.conversation().key()),
                            chat_messages::room_id.eq(message.room.map(|r| r.0)),
                            chat_messages::sender_id.eq(message.sender_id.0),
                            chat_messages::recipient_id.eq(message.recipient_id.map(|r| r.0)),
                            chat_messages::content.eq(message.content.as_str()),
                            chat_messages::created_at.eq(stored(message.created_at)),
                            chat_messages::search_text.eq(message.content.as_str().to_lowercase()),
                        ))
                        .returning(MESSAGE_COLUMNS)
                        .get_result(sqlite)
                })
                .collect::<Result<Vec<MessageRow>, _>>()
                .map_err(db)?,
        };
        // Ids are drawn in the order of the rows written; RETURNING's order is not promised.
        stored.sort_unstable_by_key(|row| row.id);
        let mut stored: Vec<Message> = stored.into_iter().map(Message::from).collect();
        for (message, sent) in stored.iter_mut().zip(messages) {
            message.attachments.clone_from(&sent.attachments);
        }
        attach(conn, &stored)?;
        if let AnyConnection::Sqlite(_) = conn {
            record_conversations(conn, &stored)?;
        }
        Ok(stored)
    }

    /// Attachments are a statement of their own, and SQLite's bookkeeping several: those need a
    /// transaction; a batch of messages without attachments on PostgreSQL is one statement.
    fn one_statement(conn: &AnyConnection, messages: &[Self]) -> bool {
        matches!(conn, AnyConnection::Postgresql(_)) && messages.iter().all(|m| m.attachments.is_empty())
    }

    fn apply_alone(&self, conn: &mut AnyConnection) -> Result<Message, RepositoryError> {
        match Self::one_statement(conn, std::slice::from_ref(self)) {
            true => self.apply(conn),
            false => write_transaction(conn, |c| self.apply(c)),
        }
    }

    /// A new row locks nothing that exists.
    fn lock_order(&self) -> i64 {
        0
    }
}

/// A batch of messages on PostgreSQL, in one statement: the messages (numbered in the order
/// given), each conversation's new total and latest message, and the read marks. A sender's mark
/// moves to what they sent (one's own messages are never unread) and records that they have
/// written (what makes two users contacts, see [`CONTACTS`]). A direct conversation keeps both
/// sides' marks in its own row, so one upsert a conversation does it all: the recipient's side is
/// locked with it (what makes a message to a user being deleted fail, see the
/// `direct_marks_in_their_conversation` migration). A room sender's mark is a row of `chat_reads`,
/// written only where it would move. Conversations, then room marks, are locked in key order, so
/// that two instances' batches never wait on each other in a cycle. The same bookkeeping as
/// [`record_conversations`] (SQLite's), which the store's tests hold both engines to.
///
/// A side's `read_seq` counts the messages up to its mark: for a sender, the conversation's total
/// before the batch plus the place of their last message in it (`pos`). The new row of a
/// conversation takes that place as it is; an existing one adds its total (`messages` before this
/// update) to it.
///
/// One text with seven array parameters (its `?`s) whatever the batch's size, so PostgreSQL plans it once
/// per connection (a statement built with the batch's values would be parsed and planned for
/// every batch: a thousand times a second under load).
struct PostMessages {
    conversations: Vec<String>,
    rooms: Vec<Option<i64>>,
    senders: Vec<i64>,
    recipients: Vec<Option<i64>>,
    contents: Vec<String>,
    created_at: Vec<NaiveDateTime>,
    search_texts: Vec<String>,
}

impl PostMessages {
    const SQL: &'static str = "WITH m AS (
    INSERT INTO chat_messages (conversation, room_id, sender_id, recipient_id, content, created_at, search_text)
    SELECT conversation, room_id, sender_id, recipient_id, content, created_at, search_text
    FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::timestamp[], ?::text[])
        WITH ORDINALITY AS new(conversation, room_id, sender_id, recipient_id, content, created_at, search_text, ord)
    ORDER BY ord
    RETURNING id, conversation, room_id, sender_id, recipient_id, content, created_at, edited_at, deleted_at
), placed AS (
    SELECT id, conversation, room_id, sender_id, recipient_id,
        ROW_NUMBER() OVER (PARTITION BY conversation ORDER BY id) AS pos
    FROM m
), batch AS (
    SELECT conversation, MAX(room_id) AS room_id, MAX(id) AS last_id, COUNT(*) AS n,
        MIN(LEAST(sender_id, recipient_id)) FILTER (WHERE recipient_id IS NOT NULL) AS low,
        MAX(GREATEST(sender_id, recipient_id)) FILTER (WHERE recipient_id IS NOT NULL) AS high,
        COALESCE(MAX(id) FILTER (WHERE sender_id < recipient_id), 0) AS low_up_to,
        COALESCE(MAX(pos) FILTER (WHERE sender_id < recipient_id), 0) AS low_pos,
        COALESCE(MAX(id) FILTER (WHERE sender_id > recipient_id), 0) AS high_up_to,
        COALESCE(MAX(pos) FILTER (WHERE sender_id > recipient_id), 0) AS high_pos
    FROM placed GROUP BY conversation
), totals AS (
    INSERT INTO chat_conversations AS c (conversation, room_id, last_message_id, messages, low_user_id, high_user_id,
        low_read_up_to, low_read_seq, low_written, high_read_up_to, high_read_seq, high_written)
    SELECT conversation, room_id, last_id, n, low, high,
        low_up_to, low_pos, low_up_to > 0, high_up_to, high_pos, high_up_to > 0
    FROM batch ORDER BY conversation
    ON CONFLICT (conversation) DO UPDATE SET
        last_message_id = GREATEST(c.last_message_id, excluded.last_message_id),
        messages = c.messages + excluded.messages,
        low_read_up_to = GREATEST(c.low_read_up_to, excluded.low_read_up_to),
        low_read_seq = CASE WHEN excluded.low_written
            THEN GREATEST(c.low_read_seq, c.messages + excluded.low_read_seq) ELSE c.low_read_seq END,
        low_written = c.low_written OR excluded.low_written,
        high_read_up_to = GREATEST(c.high_read_up_to, excluded.high_read_up_to),
        high_read_seq = CASE WHEN excluded.high_written
            THEN GREATEST(c.high_read_seq, c.messages + excluded.high_read_seq) ELSE c.high_read_seq END,
        high_written = c.high_written OR excluded.high_written
    RETURNING conversation, messages
), marked AS (
    INSERT INTO chat_reads (user_id, conversation, read_up_to, read_seq, has_written)
    SELECT p.sender_id, p.conversation, MAX(p.id), MAX(t.messages - b.n + p.pos), TRUE
    FROM placed p JOIN batch b USING (conversation) JOIN totals t USING (conversation)
    WHERE p.room_id IS NOT NULL
    GROUP BY p.sender_id, p.conversation ORDER BY p.sender_id, p.conversation
    ON CONFLICT (user_id, conversation) DO UPDATE SET
        read_up_to = GREATEST(chat_reads.read_up_to, excluded.read_up_to),
        read_seq = GREATEST(chat_reads.read_seq, excluded.read_seq),
        has_written = TRUE
    WHERE chat_reads.read_up_to < excluded.read_up_to OR chat_reads.read_seq < excluded.read_seq
        OR NOT chat_reads.has_written
)
SELECT id, conversation, room_id, sender_id, recipient_id, content, created_at, edited_at, deleted_at FROM m";

    fn new(messages: &[NewMessage]) -> Self {
        Self {
            conversations: messages.iter().map(|m| m.conversation().key()).collect(),
            rooms: messages.iter().map(|m| m.room.map(|r| r.0)).collect(),
            senders: messages.iter().map(|m| m.sender_id.0).collect(),
            recipients: messages.iter().map(|m| m.recipient_id.map(|r| r.0)).collect(),
            contents: messages.iter().map(|m| m.content.as_str().to_owned()).collect(),
            created_at: messages.iter().map(|m| stored(m.created_at)).collect(),
            search_texts: messages.iter().map(|m| m.content.as_str().to_lowercase()).collect(),
        }
    }
}

impl QueryFragment<Pg> for PostMessages {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // The text's placeholders (`?`), in order.
        let mut text = Self::SQL.split('?');
        let mut upto_next = move || text.next().unwrap_or_default();
        out.push_sql(upto_next());
        out.push_bind_param::<Array<Text>, _>(&self.conversations)?;
        out.push_sql(upto_next());
        out.push_bind_param::<Array<Nullable<BigInt>>, _>(&self.rooms)?;
        out.push_sql(upto_next());
        out.push_bind_param::<Array<BigInt>, _>(&self.senders)?;
        out.push_sql(upto_next());
        out.push_bind_param::<Array<Nullable<BigInt>>, _>(&self.recipients)?;
        out.push_sql(upto_next());
        out.push_bind_param::<Array<Text>, _>(&self.contents)?;
        out.push_sql(upto_next());
        out.push_bind_param::<Array<Timestamp>, _>(&self.created_at)?;
        out.push_sql(upto_next());
        out.push_bind_param::<Array<Text>, _>(&self.search_texts)?;
        out.push_sql(upto_next());
        Ok(())
    }
}

impl QueryId for PostMessages {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for PostMessages {
    type SqlType = (
        BigInt,
        Text,
        Nullable<BigInt>,
        BigInt,
        Nullable<BigInt>,
        Text,
        Timestamp,
        Nullable<Timestamp>,
        Nullable<Timestamp>,
    );
}

impl RunQueryDsl<PgConnection> for PostMessages {}

#[derive(Debug, Queryable)]
struct RoomRow {
    id: i64,
    slug: String,
    description: Option<String>,
    is_private: bool,
    created_by: i64,
    created_at: NaiveDateTime,
}

impl RoomRow {
    fn into_room(self) -> Result<Room, RepositoryError> {
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

fn into_rooms(rows: Vec<RoomRow>) -> Result<Vec<Room>, RepositoryError> {
    rows.into_iter().map(RoomRow::into_room).collect()
}

/// A message's columns as read (its search text never is).
const MESSAGE_COLUMNS: (
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
struct MessageRow {
    id: i64,
    _conversation: String,
    room_id: Option<i64>,
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

#[async_trait]
impl ChatStore for DieselChatStore {
    async fn create_room(&self, room: NewRoom) -> Result<Room, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let created = diesel::insert_into(chat_rooms::table)
                        .values((
                            chat_rooms::slug.eq(room.slug.as_str()),
                            chat_rooms::description.eq(room.description.as_deref()),
                            chat_rooms::is_private.eq(room.is_private),
                            chat_rooms::created_by.eq(room.created_by.0),
                            chat_rooms::created_at.eq(stored(room.created_at)),
                        ))
                        .returning(chat_rooms::all_columns)
                        .get_result::<RoomRow>(conn)
                        .map_err(|e| map_db_error(e, &[("slug", "name")]))?;
                    diesel::insert_into(chat_members::table)
                        .values((
                            chat_members::room_id.eq(created.id),
                            chat_members::user_id.eq(room.created_by.0),
                            chat_members::added_at.eq(stored(room.created_at)),
                        ))
                        .execute(conn)
                        .map_err(db)?;
                    created.into_room()
                })
            })
            .await
    }

    async fn find_room(&self, slug: &RoomSlug) -> Result<Option<Room>, RepositoryError> {
        let slug = slug.as_str().to_owned();
        self.db
            .run(move |conn| {
                chat_rooms::table
                    .filter(chat_rooms::slug.eq(&slug))
                    .first::<RoomRow>(conn)
                    .optional()
                    .map_err(db)?
                    .map(RoomRow::into_room)
                    .transpose()
            })
            .await
    }

    async fn room_by_id(&self, id: RoomId) -> Result<Option<Room>, RepositoryError> {
        self.db
            .run(move |conn| {
                chat_rooms::table
                    .find(id.0)
                    .first::<RoomRow>(conn)
                    .optional()
                    .map_err(db)?
                    .map(RoomRow::into_room)
                    .transpose()
            })
            .await
    }

    async fn find_message(&self, id: MessageId) -> Result<Option<Message>, RepositoryError> {
        self.db
            .run(move |conn| {
                let row: Option<MessageRow> =
                    chat_messages::table.find(id.0).select(MESSAGE_COLUMNS).first(conn).optional().map_err(db)?;
                Ok(row.map(Message::from))
            })
            .await
    }

    async fn edit_message(
        &self,
        id: MessageId,
        content: MessageContent,
        at: DateTime<Utc>,
    ) -> Result<Option<Message>, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let row: Option<MessageRow> =
                        diesel::update(chat_messages::table.find(id.0).filter(chat_messages::deleted_at.is_null()))
                            .set((
                                chat_messages::search_text.eq(content.as_str().to_lowercase()),
                                chat_messages::content.eq(content.as_str()),
                                chat_messages::edited_at.eq(Some(stored(at))),
                            ))
                            .returning(MESSAGE_COLUMNS)
                            .get_result(conn)
                            .optional()
                            .map_err(db)?;
                    let edited = row.map(Message::from);
                    reindex(conn, edited.as_ref())?;
                    Ok(edited)
                })
            })
            .await
    }

    async fn delete_message(&self, id: MessageId, at: DateTime<Utc>) -> Result<Option<Message>, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // A tombstone keeps no reactions either, nor attachments: whoever could
                    // download its files through it no longer can.
                    diesel::delete(chat_reactions::table.filter(chat_reactions::message_id.eq(id.0)))
                        .execute(conn)
                        .map_err(db)?;
                    diesel::delete(chat_attachments::table.filter(chat_attachments::message_id.eq(id.0)))
                        .execute(conn)
                        .map_err(db)?;
                    let row: Option<MessageRow> = diesel::update(chat_messages::table.find(id.0))
                        .set((
                            chat_messages::content.eq(""),
                            chat_messages::search_text.eq(""),
                            chat_messages::deleted_at.eq(diesel::dsl::sql::<Nullable<Timestamp>>(
                                "COALESCE(chat_messages.deleted_at, ",
                            )
                            .bind::<Timestamp, _>(stored(at))
                            .sql(")")),
                        ))
                        .returning(MESSAGE_COLUMNS)
                        .get_result(conn)
                        .optional()
                        .map_err(db)?;
                    let deleted = row.map(Message::from);
                    reindex(conn, deleted.as_ref())?;
                    Ok(deleted)
                })
            })
            .await
    }

    async fn reactions(
        &self,
        reader: UserId,
        messages: Vec<MessageId>,
    ) -> Result<HashMap<MessageId, Vec<Reaction>>, RepositoryError> {
        self.db
            .run(move |conn| {
                let ids: Vec<i64> = messages.iter().map(|m| m.0).collect();
                let rows: Vec<(i64, String, i64, Option<i64>)> = chat_reactions::table
                    .filter(chat_reactions::message_id.eq_any(ids))
                    .group_by((chat_reactions::message_id, chat_reactions::emoji))
                    .select((
                        chat_reactions::message_id,
                        chat_reactions::emoji,
                        count_star(),
                        diesel::dsl::max(diesel::dsl::sql::<BigInt>(&format!(
                            "CAST(CASE WHEN chat_reactions.user_id = {} THEN 1 ELSE 0 END AS BIGINT)",
                            reader.0
                        ))),
                    ))
                    .order((chat_reactions::message_id, count_star().desc(), chat_reactions::emoji))
                    .into_boxed::<Db>()
                    .load(conn)
                    .map_err(db)?;
                let mut by_message: HashMap<MessageId, Vec<Reaction>> = HashMap::new();
                for (message, emoji, count, mine) in rows {
                    by_message.entry(MessageId(message)).or_default().push(Reaction {
                        emoji,
                        count: u64::try_from(count).unwrap_or_default(),
                        me: mine == Some(1),
                    });
                }
                Ok(by_message)
            })
            .await
    }

    async fn react(
        &self,
        message: MessageId,
        user: UserId,
        emoji: Emoji,
        at: DateTime<Utc>,
    ) -> Result<Reacted, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    if let AnyConnection::Postgresql(pg) = conn {
                        // Racing reactions to one message take turns here, so the limit holds.
                        chat_messages::table
                            .find(message.0)
                            .select(chat_messages::id)
                            .for_no_key_update()
                            .first::<i64>(pg)
                            .optional()
                            .map_err(db)?;
                    }
                    let of_message = chat_reactions::table.filter(chat_reactions::message_id.eq(message.0));
                    let count_of = |conn: &mut AnyConnection| -> Result<u64, RepositoryError> {
                        let n: i64 = of_message
                            .filter(chat_reactions::emoji.eq(emoji.as_str()))
                            .count()
                            .get_result(conn)
                            .map_err(db)?;
                        Ok(u64::try_from(n).unwrap_or_default())
                    };
                    let mine: i64 = of_message
                        .filter(chat_reactions::emoji.eq(emoji.as_str()))
                        .filter(chat_reactions::user_id.eq(user.0))
                        .count()
                        .get_result(conn)
                        .map_err(db)?;
                    if mine > 0 {
                        return Ok(Reacted::Already { count: count_of(conn)? });
                    }
                    let emoji_known: i64 = of_message
                        .filter(chat_reactions::emoji.eq(emoji.as_str()))
                        .count()
                        .get_result(conn)
                        .map_err(db)?;
                    if emoji_known == 0 {
                        let distinct: Vec<String> =
                            of_message.select(chat_reactions::emoji).distinct().load(conn).map_err(db)?;
                        if distinct.len() as u64 >= Emoji::MAX_PER_MESSAGE {
                            return Ok(Reacted::Full);
                        }
                    }
                    diesel::insert_into(chat_reactions::table)
                        .values((
                            chat_reactions::message_id.eq(message.0),
                            chat_reactions::emoji.eq(emoji.as_str()),
                            chat_reactions::user_id.eq(user.0),
                            chat_reactions::created_at.eq(stored(at)),
                        ))
                        .execute(conn)
                        .map_err(db)?;
                    Ok(Reacted::Added { count: count_of(conn)? })
                })
            })
            .await
    }

    async fn unreact(&self, message: MessageId, user: UserId, emoji: Emoji) -> Result<Option<u64>, RepositoryError> {
        self.db
            .run(move |conn| {
                let of_emoji = chat_reactions::table
                    .filter(chat_reactions::message_id.eq(message.0))
                    .filter(chat_reactions::emoji.eq(emoji.as_str()));
                let removed =
                    diesel::delete(of_emoji.filter(chat_reactions::user_id.eq(user.0))).execute(conn).map_err(db)?;
                if removed == 0 {
                    return Ok(None);
                }
                let left: i64 = of_emoji.count().get_result(conn).map_err(db)?;
                Ok(Some(u64::try_from(left).unwrap_or_default()))
            })
            .await
    }

    async fn conversations(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<ConversationSummary>, RepositoryError> {
        self.db
            .run(move |conn| {
                let mine = conversations_of(user);
                let total = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {mine}"))
                    .get_result::<Counted>(conn)
                    .map_err(db)?
                    .n;
                if total <= page.offset() {
                    return Ok(Page::new(Vec::new(), u64::try_from(total).unwrap_or_default(), page));
                }
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
                            return Err(corrupt(
                                "chat_conversations.low_user_id",
                                "a direct conversation without its users",
                            ));
                        }
                    };
                    let unread = u64::try_from(row.unread).unwrap_or_default();
                    items.push(ConversationSummary { with, partner_name, last_message, unread });
                }
                Ok(Page::new(items, u64::try_from(total).unwrap_or_default(), page))
            })
            .await
    }

    async fn mark_read(
        &self,
        user: UserId,
        conversation: Conversation,
        up_to: MessageId,
    ) -> Result<Marked, RepositoryError> {
        let key = conversation.key();
        // Where the user's mark is: their side of a direct conversation's row, or their row of
        // the room's marks.
        let side = match conversation {
            Conversation::Direct(low, _) if low == user => Some("low"),
            Conversation::Direct(_, high) if high == user => Some("high"),
            Conversation::Direct(..) => return Ok(Marked::NotInConversation),
            Conversation::Room(_) => None,
        };
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let of: Option<String> = chat_messages::table
                        .find(up_to.0)
                        .select(chat_messages::conversation)
                        .first(conn)
                        .optional()
                        .map_err(db)?;
                    if of.as_deref() != Some(key.as_str()) {
                        return Ok(Marked::NotInConversation);
                    }
                    let (read_up_to, read_seq): (i64, i64) = match side {
                        Some(side) => diesel::sql_query(format!(
                            "SELECT {side}_read_up_to AS read_up_to, {side}_read_seq AS read_seq \
                             FROM chat_conversations WHERE conversation = '{key}'"
                        ))
                        .get_result::<ReadMark>(conn)
                        .optional()
                        .map_err(db)?
                        .map(|mark| (mark.read_up_to, mark.read_seq)),
                        None => chat_reads::table
                            .find((user.0, &key))
                            .select((chat_reads::read_up_to, chat_reads::read_seq))
                            .first(conn)
                            .optional()
                            .map_err(db)?,
                    }
                    .unwrap_or((0, 0));
                    if up_to.0 <= read_up_to {
                        return Ok(Marked::Unchanged);
                    }
                    // Only the messages newly read are counted: what came after the old mark.
                    let newly: i64 = chat_messages::table
                        .filter(chat_messages::conversation.eq(&key))
                        .filter(chat_messages::id.gt(read_up_to))
                        .filter(chat_messages::id.le(up_to.0))
                        .count()
                        .get_result(conn)
                        .map_err(db)?;
                    let max = greatest(conn);
                    let (up_to, seq) = (up_to.0, read_seq + newly);
                    let moved = match side {
                        Some(side) => format!(
                            "UPDATE chat_conversations SET \
                             {side}_read_up_to = {max}({side}_read_up_to, {up_to}), \
                             {side}_read_seq = {max}({side}_read_seq, {seq}) \
                             WHERE conversation = '{key}'"
                        ),
                        None => format!(
                            "INSERT INTO chat_reads (user_id, conversation, read_up_to, read_seq) \
                             VALUES ({u}, '{key}', {up_to}, {seq}) \
                             ON CONFLICT (user_id, conversation) DO UPDATE SET \
                             read_up_to = {max}(chat_reads.read_up_to, excluded.read_up_to), \
                             read_seq = {max}(chat_reads.read_seq, excluded.read_seq)",
                            u = user.0,
                        ),
                    };
                    diesel::sql_query(moved).execute(conn).map_err(db)?;
                    Ok(Marked::Moved)
                })
            })
            .await
    }

    async fn rooms_visible_to(&self, user: Option<UserId>) -> Result<Vec<Room>, RepositoryError> {
        self.db
            .run(move |conn| {
                let mut q = chat_rooms::table.order(chat_rooms::slug.asc()).into_boxed();
                if let Some(user) = user {
                    let mine =
                        chat_members::table.filter(chat_members::user_id.eq(user.0)).select(chat_members::room_id);
                    q = q.filter(chat_rooms::is_private.eq(false).or(chat_rooms::id.eq_any(mine)));
                }
                into_rooms(q.load::<RoomRow>(conn).map_err(db)?)
            })
            .await
    }

    async fn add_member(&self, room: RoomId, user: UserId, at: DateTime<Utc>) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                // A second add is a broken primary key, answered as "already a member" (no upsert:
                // `ON CONFLICT` is not expressible on the two-engine connection).
                let added = diesel::insert_into(chat_members::table)
                    .values((
                        chat_members::room_id.eq(room.0),
                        chat_members::user_id.eq(user.0),
                        chat_members::added_at.eq(stored(at)),
                    ))
                    .execute(conn)
                    .map_err(|e| map_db_error(e, &[("chat_members", "membership")]));
                let added = match added {
                    Ok(n) => n,
                    Err(RepositoryError::Conflict { .. }) => 0,
                    Err(RepositoryError::MissingReference { .. }) => {
                        return Err(RepositoryError::MissingReference { field: "user_id" });
                    }
                    Err(e) => return Err(e),
                };
                Ok(added == 1)
            })
            .await
    }

    async fn is_member(&self, room: RoomId, user: UserId) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                diesel::select(diesel::dsl::exists(
                    chat_members::table
                        .filter(chat_members::room_id.eq(room.0))
                        .filter(chat_members::user_id.eq(user.0)),
                ))
                .get_result::<bool>(conn)
                .map_err(db)
            })
            .await
    }

    async fn contacts(&self, user: UserId) -> Result<Vec<UserId>, RepositoryError> {
        self.db
            .run(move |conn| {
                // SQLite reads the repeated `$1` as one parameter: one bind serves every use.
                let query = diesel::sql_query(CONTACTS).bind::<BigInt, _>(user.0);
                let rows: Vec<Contact> = match conn {
                    AnyConnection::Postgresql(c) => query.load(c),
                    AnyConnection::Sqlite(c) => query.load(c),
                }
                .map_err(db)?;
                Ok(rows.into_iter().map(|row| UserId(row.id)).collect())
            })
            .await
    }

    async fn files_owned(&self, owner: UserId, ids: Vec<i64>) -> Result<Vec<AttachedFile>, RepositoryError> {
        self.db
            .run(move |conn| {
                let rows: Vec<AttachmentRow> = files::table
                    .filter(files::owner_id.eq(owner.0))
                    .filter(files::id.eq_any(ids.clone()))
                    .select(ATTACHMENT_COLUMNS)
                    .load(conn)
                    .map_err(db)?;
                Ok(rows.into_iter().map(AttachedFile::from).collect())
            })
            .await
    }

    async fn attachments(
        &self,
        messages: Vec<MessageId>,
    ) -> Result<HashMap<MessageId, Vec<AttachedFile>>, RepositoryError> {
        self.db
            .run(move |conn| {
                let ids: Vec<i64> = messages.iter().map(|m| m.0).collect();
                let rows: Vec<(i64, AttachmentRow)> = chat_attachments::table
                    .inner_join(files::table)
                    .inner_join(chat_messages::table)
                    .filter(chat_attachments::message_id.eq_any(ids))
                    .filter(files::owner_id.eq(chat_messages::sender_id))
                    .order((chat_attachments::message_id, chat_attachments::position))
                    .select((chat_attachments::message_id, ATTACHMENT_COLUMNS))
                    .load(conn)
                    .map_err(db)?;
                let mut by_message: HashMap<MessageId, Vec<AttachedFile>> = HashMap::new();
                for (message, file) in rows {
                    by_message.entry(MessageId(message)).or_default().push(file.into());
                }
                Ok(by_message)
            })
            .await
    }

    async fn carries_readable(&self, reader: UserId, every_room: bool, file: i64) -> Result<bool, RepositoryError> {
        let r = reader.0;
        // Ids are written into the text (the caller's principal, never client text).
        let mut readable = format!(
            "((chat_messages.recipient_id IS NOT NULL AND (chat_messages.sender_id = {r} OR chat_messages.recipient_id = {r})) \
             OR chat_messages.room_id IN (SELECT id FROM chat_rooms WHERE NOT is_private) \
             OR chat_messages.room_id IN (SELECT room_id FROM chat_members WHERE user_id = {r})"
        );
        readable.push_str(if every_room { " OR chat_messages.room_id IS NOT NULL)" } else { ")" });
        self.db
            .run(move |conn| {
                diesel::select(diesel::dsl::exists(
                    chat_attachments::table
                        .inner_join(chat_messages::table)
                        .inner_join(files::table)
                        .filter(chat_attachments::file_id.eq(file))
                        .filter(chat_messages::deleted_at.is_null())
                        .filter(files::owner_id.eq(chat_messages::sender_id))
                        .filter(diesel::dsl::sql::<Bool>(&readable)),
                ))
                .get_result(conn)
                .map_err(db)
            })
            .await
    }

    async fn insert_message(&self, message: NewMessage) -> Result<Message, RepositoryError> {
        let stored = self.messages.submit(message).await?;
        self.written();
        Ok(stored)
    }

    async fn history(&self, conversation: Conversation, page: HistoryPage) -> Result<Vec<Message>, RepositoryError> {
        let key = conversation.key();
        self.db
            .run(move |conn| {
                let q = chat_messages::table
                    .filter(chat_messages::conversation.eq(&key))
                    .limit(i64::from(page.limit))
                    .select(MESSAGE_COLUMNS)
                    .into_boxed();
                let rows = match (page.before, page.after) {
                    (before, Some(after)) => {
                        let mut q = q.filter(chat_messages::id.gt(after.0));
                        if let Some(before) = before {
                            q = q.filter(chat_messages::id.lt(before.0));
                        }
                        q.order(chat_messages::id.asc()).load::<MessageRow>(conn)
                    }
                    (Some(before), None) => q
                        .filter(chat_messages::id.lt(before.0))
                        .order(chat_messages::id.desc())
                        .load::<MessageRow>(conn)
                        .map(reversed),
                    (None, None) => q.order(chat_messages::id.desc()).load::<MessageRow>(conn).map(reversed),
                };
                Ok(rows.map_err(db)?.into_iter().map(Message::from).collect())
            })
            .await
    }

    async fn search(&self, search: MessageSearch) -> Result<Page<FoundMessage>, RepositoryError> {
        let (found, behind) = self
            .db
            .run(move |conn| {
                let sqlite = matches!(conn, AnyConnection::Sqlite(_));
                // On PostgreSQL the index holds the messages up to `through` (see
                // `chat_search`); newer ones are read from `chat_messages` itself, by id.
                let progress = match conn {
                    AnyConnection::Postgresql(_) if !search.text.is_empty() => Some(search::progress(conn)?),
                    _ => None,
                };
                let through = progress.map(|(through, _)| through);
                let recent = || {
                    let mut q = chat_messages::table.filter(readable_by(search.reader)).into_boxed();
                    if let Some(within) = &search.within {
                        q = q.filter(chat_messages::conversation.eq(within.key()));
                    }
                    if let Some(before) = search.before {
                        q = q.filter(chat_messages::id.lt(before.0));
                    }
                    if let Some(through) = through {
                        q = q.filter(chat_messages::id.gt(through));
                    }
                    containing(q, &search.text, sqlite)
                };
                // Counted up to the cap: the planner stops there, walking the newest messages
                // for a common word and the index's few candidates for a rare one.
                let cap = i64::try_from(MessageSearch::COUNT_CAP).unwrap_or(i64::MAX);
                let counted = |ids: Vec<i64>| i64::try_from(ids.len()).unwrap_or(i64::MAX);
                let newer = counted(recent().select(chat_messages::id).limit(cap + 1).load(conn).map_err(db)?);
                // Every newer match comes before every indexed one, newest first.
                let older = match through {
                    Some(through) if newer <= cap => {
                        counted(search::indexed_matches(conn, &search, through, false, 0, cap + 1 - newer)?)
                    }
                    _ => 0,
                };
                let total = (newer + older).min(cap);
                let page = search.page;
                let mut rows: Vec<MessageRow> = if newer > page.offset() {
                    recent()
                        .order(chat_messages::id.desc())
                        .offset(page.offset())
                        .limit(page.limit())
                        .select(MESSAGE_COLUMNS)
                        .load(conn)
                        .map_err(db)?
                } else {
                    Vec::new()
                };
                let wanted = page.limit() - i64::try_from(rows.len()).unwrap_or(i64::MAX);
                if let Some(through) = through.filter(|_| older > 0 && wanted > 0) {
                    let skip = (page.offset() - newer).max(0);
                    let ids = search::indexed_matches(conn, &search, through, true, skip, wanted)?;
                    if !ids.is_empty() {
                        rows.extend(
                            chat_messages::table
                                .filter(chat_messages::id.eq_any(ids))
                                .order(chat_messages::id.desc())
                                .select(MESSAGE_COLUMNS)
                                .load::<MessageRow>(conn)
                                .map_err(db)?,
                        );
                    }
                }
                let mut rooms: Vec<i64> = rows.iter().filter_map(|r| r.room_id).collect();
                rooms.sort_unstable();
                rooms.dedup();
                let slugs: HashMap<i64, String> = if rooms.is_empty() {
                    HashMap::new()
                } else {
                    chat_rooms::table
                        .filter(chat_rooms::id.eq_any(rooms))
                        .select((chat_rooms::id, chat_rooms::slug))
                        .load::<(i64, String)>(conn)
                        .map_err(db)?
                        .into_iter()
                        .collect()
                };
                let found = rows
                    .into_iter()
                    .map(|row| {
                        let room = match row.room_id {
                            None => None,
                            Some(id) => Some(
                                slugs
                                    .get(&id)
                                    .cloned()
                                    .and_then(|slug| RoomSlug::parse(slug).ok())
                                    .ok_or_else(|| corrupt("chat_rooms.slug", "missing or not a slug"))?,
                            ),
                        };
                        Ok(FoundMessage { message: Message::from(row), room })
                    })
                    .collect::<Result<Vec<_>, RepositoryError>>()?;
                let behind = progress.is_some_and(|(through, newest)| newest > through);
                Ok((Page::new(found, u64::try_from(total).unwrap_or_default(), page), behind))
            })
            .await?;
        if behind {
            // Nothing may have been written here since a restart or an import: the index
            // catches up anyway.
            self.written();
        }
        Ok(found)
    }
}

/// The larger of two values, as each engine spells it.
fn greatest(conn: &AnyConnection) -> &'static str {
    match conn {
        AnyConnection::Postgresql(_) => "GREATEST",
        AnyConnection::Sqlite(_) => "MAX",
    }
}

#[derive(QueryableByName)]
struct ConversationCount {
    #[diesel(sql_type = Text)]
    conversation: String,
    #[diesel(sql_type = BigInt)]
    messages: i64,
}

/// Deletes the messages `user` sent or received, as part of deleting the user, after their row:
/// on PostgreSQL these are not foreign keys of `chat_messages` (see the
/// `messages_checked_by_their_marks` migration). A message being stored for them meanwhile either
/// committed first (its read marks, which do reference the user, held the delete of the user's
/// marks until then), and is seen here, or waits for this transaction and then fails on those
/// marks. On SQLite the foreign keys' cascade has done it already: nothing to read again.
pub(crate) fn forget_messages_of(conn: &mut AnyConnection, user: UserId) -> Result<(), RepositoryError> {
    if matches!(conn, AnyConnection::Sqlite(_)) {
        return Ok(());
    }
    diesel::delete(
        chat_messages::table.filter(chat_messages::sender_id.eq(user.0).or(chat_messages::recipient_id.eq(user.0))),
    )
    .execute(conn)
    .map_err(db)?;
    Ok(())
}

/// Takes `files` out of every chat message that carries them, in the caller's transaction: the
/// files changed hands (an item's files moving with a trade), and a message carries only files
/// its sender owns. Whoever could read them through a message cannot any more; the messages stay.
/// (A message stored while the files moved, naming them still, is held to the same rule where
/// attachments are read: `attachments` and `carries_readable` leave out a file its sender no
/// longer owns.)
pub(crate) fn forget_attachments_of(conn: &mut AnyConnection, files: &[i64]) -> Result<(), RepositoryError> {
    diesel::delete(chat_attachments::table.filter(chat_attachments::file_id.eq_any(files)))
        .execute(conn)
        .map_err(db)?;
    Ok(())
}

/// A conversation as a batch of messages leaves it: its room, its latest message, how many of the
/// batch's are its, and for a direct one each side's last message in the batch (0 when they sent
/// none) and that message's place among the batch's messages of the conversation.
struct BatchConversation {
    key: String,
    room: Option<i64>,
    last: i64,
    n: i64,
    sides: Option<[Side; 2]>,
}

/// One side of a direct conversation in a batch: who, their last message and its place.
#[derive(Clone, Copy)]
struct Side {
    user: i64,
    up_to: i64,
    pos: i64,
}

/// A room sender's read mark as a batch of messages leaves it.
struct RoomMark {
    user: i64,
    key: String,
    up_to: i64,
    seq: i64,
}

/// Counts a batch of stored messages into their conversations and moves their senders' read
/// marks to what they sent (one's own messages are never unread): in a direct conversation's own
/// row (both sides' marks live there, so that its first message puts it in both users' lists), in
/// `chat_reads` for a room. SQLite's way (PostgreSQL's is part of [`PostMessages`], the same
/// rules in one statement with the messages). Two statements per batch, however many messages
/// and conversations: the conversations with their new totals and direct marks, then the room
/// marks. Conversation keys are made by the store (`room:7`, `dm:3:9`), never client text.
fn record_conversations(conn: &mut AnyConnection, messages: &[Message]) -> Result<(), RepositoryError> {
    // Per conversation, in the order first seen; found by key through `index`, so that a batch
    // of hundreds of conversations costs no quadratic search.
    let mut batch: Vec<BatchConversation> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for message in messages {
        let conversation = message.conversation();
        let key = conversation.key();
        let i = match index.get(&key) {
            Some(&i) => i,
            None => {
                index.insert(key.clone(), batch.len());
                let sides = match conversation {
                    Conversation::Direct(low, high) => {
                        Some([Side { user: low.0, up_to: 0, pos: 0 }, Side { user: high.0, up_to: 0, pos: 0 }])
                    }
                    Conversation::Room(_) => None,
                };
                batch.push(BatchConversation { key, room: message.room.map(|r| r.0), last: 0, n: 0, sides });
                batch.len() - 1
            }
        };
        let counted = &mut batch[i];
        counted.last = counted.last.max(message.id.0);
        counted.n += 1;
        let pos = counted.n;
        if let Some(side) = counted.sides.iter_mut().flatten().find(|side| side.user == message.sender_id.0) {
            side.up_to = side.up_to.max(message.id.0);
            side.pos = pos;
        }
    }
    if batch.is_empty() {
        return Ok(());
    }
    let max = greatest(conn);
    let values = batch
        .iter()
        .map(|BatchConversation { key, room, last, n, sides }| {
            let room = room.map_or_else(|| "NULL".to_owned(), |r| r.to_string());
            match sides {
                Some([low, high]) => format!(
                    "('{key}', {room}, {last}, {n}, {}, {}, {}, {}, {}, {}, {}, {})",
                    low.user,
                    high.user,
                    low.up_to,
                    low.pos,
                    low.up_to > 0,
                    high.up_to,
                    high.pos,
                    high.up_to > 0
                ),
                None => format!("('{key}', {room}, {last}, {n}, NULL, NULL, 0, 0, FALSE, 0, 0, FALSE)"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    // As PostgreSQL's: a side's new seq is the total before the batch plus its place in it.
    let side = |side: &str| {
        format!(
            "{side}_read_up_to = {max}(chat_conversations.{side}_read_up_to, excluded.{side}_read_up_to), \
             {side}_read_seq = CASE WHEN excluded.{side}_written \
                 THEN {max}(chat_conversations.{side}_read_seq, chat_conversations.messages + excluded.{side}_read_seq) \
                 ELSE chat_conversations.{side}_read_seq END, \
             {side}_written = chat_conversations.{side}_written OR excluded.{side}_written"
        )
    };
    let totals: Vec<ConversationCount> = diesel::sql_query(format!(
        "INSERT INTO chat_conversations (conversation, room_id, last_message_id, messages, low_user_id, high_user_id, \
             low_read_up_to, low_read_seq, low_written, high_read_up_to, high_read_seq, high_written) VALUES {values} \
         ON CONFLICT (conversation) DO UPDATE SET \
         last_message_id = {max}(chat_conversations.last_message_id, excluded.last_message_id), \
         messages = chat_conversations.messages + excluded.messages, {low}, {high} \
         RETURNING conversation, messages",
        low = side("low"),
        high = side("high"),
    ))
    .load(conn)
    .map_err(db)?;
    // A room's place before this batch's first message: the batch's are the last.
    let mut place: HashMap<String, i64> = totals
        .into_iter()
        .filter_map(|t| {
            let counted = &batch[*index.get(&t.conversation)?];
            counted.sides.is_none().then(|| (t.conversation, t.messages - counted.n))
        })
        .collect();
    // Per (room sender, room), the mark to keep: the furthest of this batch's.
    let mut marks: Vec<RoomMark> = Vec::new();
    let mut mark_index: HashMap<(i64, String), usize> = HashMap::new();
    for message in messages.iter().filter(|m| m.room.is_some()) {
        let key = message.conversation().key();
        let Some(seq) = place.get_mut(&key).map(|p| {
            *p += 1;
            *p
        }) else {
            continue;
        };
        let user = message.sender_id.0;
        match mark_index.get(&(user, key.clone())) {
            Some(&i) => {
                marks[i].up_to = marks[i].up_to.max(message.id.0);
                marks[i].seq = marks[i].seq.max(seq);
            }
            None => {
                mark_index.insert((user, key.clone()), marks.len());
                marks.push(RoomMark { user, key, up_to: message.id.0, seq });
            }
        }
    }
    if marks.is_empty() {
        return Ok(());
    }
    let values = marks
        .iter()
        .map(|RoomMark { user, key, up_to, seq }| format!("({user}, '{key}', {up_to}, {seq}, TRUE)"))
        .collect::<Vec<_>>()
        .join(", ");
    diesel::sql_query(format!(
        "INSERT INTO chat_reads (user_id, conversation, read_up_to, read_seq, has_written) VALUES {values} \
         ON CONFLICT (user_id, conversation) DO UPDATE SET \
         read_up_to = {max}(chat_reads.read_up_to, excluded.read_up_to), \
         read_seq = {max}(chat_reads.read_seq, excluded.read_seq), \
         has_written = TRUE \
         WHERE chat_reads.read_up_to < excluded.read_up_to OR chat_reads.read_seq < excluded.read_seq \
         OR NOT chat_reads.has_written"
    ))
    .execute(conn)
    .map_err(db)?;
    Ok(())
}

#[derive(QueryableByName)]
struct ReadMark {
    #[diesel(sql_type = BigInt)]
    read_up_to: i64,
    #[diesel(sql_type = BigInt)]
    read_seq: i64,
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

/// An edited or deleted message's text, into PostgreSQL's search index at once, in the same
/// transaction (SQLite's triggers keep its own).
fn reindex(conn: &mut AnyConnection, changed: Option<&Message>) -> Result<(), RepositoryError> {
    match (conn, changed) {
        (conn @ AnyConnection::Postgresql(_), Some(message)) => search::rewrite(conn, message),
        _ => Ok(()),
    }
}

/// The messages `reader` may read: those of the rooms they are a member of, and the direct
/// messages they sent or received. Ids are written into the text (read from the caller's
/// principal, never client text).
fn readable_by(reader: UserId) -> diesel::expression::SqlLiteral<Bool> {
    diesel::dsl::sql::<Bool>(&search::readable_in("chat_messages", reader))
}

/// The messages whose search text contains `text`, through the engine's trigram index: SQLite's
/// FTS5 table needs three characters and a pattern without `LIKE` wildcards (with an `ESCAPE` it
/// reads every row); PostgreSQL's GIN index answers the plain `LIKE`, and a phrase through its
/// longest words (see [`rarest_words`]).
fn containing(
    q: chat_messages::BoxedQuery<'static, Db>,
    text: &str,
    sqlite: bool,
) -> chat_messages::BoxedQuery<'static, Db> {
    if text.is_empty() {
        return q;
    }
    match sqlite {
        true if text.chars().count() >= 3 && !text.contains(['%', '_', '\\']) => q.filter(
            diesel::dsl::sql::<Bool>(
                "chat_messages.id IN (SELECT rowid FROM chat_messages_fts WHERE chat_messages_fts.search_text LIKE ",
            )
            .bind::<Text, _>(format!("%{text}%"))
            .sql(")"),
        ),
        false => match rarest_words(text) {
            // The words narrow through the index; the phrase itself is checked on the rows left.
            Some(words) => {
                let mut q = q;
                for word in words {
                    q = q.filter(chat_messages::search_text.like(contains_pattern(word)).escape('\\'));
                }
                q.filter(
                    diesel::dsl::sql::<Bool>("strpos(chat_messages.search_text, ")
                        .bind::<Text, _>(text.to_owned())
                        .sql(") > 0"),
                )
            }
            None => q.filter(chat_messages::search_text.like(contains_pattern(text)).escape('\\')),
        },
        true => q.filter(chat_messages::search_text.like(contains_pattern(text)).escape('\\')),
    }
}

/// The words of a phrase that PostgreSQL's trigram index narrows to first: the longest one, and
/// the next longest when it has four characters or more. `None` for a single word. A phrase's
/// own trigrams include those across its spaces (` th`, `the`, `he `), present in nearly every
/// row: intersecting their entries cost 60 ms of a 100 ms count over a million messages, the
/// longest words' 16 ms.
pub(crate) fn rarest_words(text: &str) -> Option<Vec<&str>> {
    let mut words: Vec<&str> = text.split_whitespace().filter(|w| w.chars().count() >= 3).collect();
    if text.split_whitespace().nth(1).is_none() || words.is_empty() {
        return None;
    }
    words.sort_by_key(|w| (std::cmp::Reverse(w.chars().count()), *w));
    words.dedup();
    let second = words.get(1).filter(|w| w.chars().count() >= 4).copied();
    Some(std::iter::once(words[0]).chain(second).collect())
}

/// A file summary as a message carries it.
const ATTACHMENT_COLUMNS: (files::id, files::filename, files::content_type, files::size, files::kind) =
    (files::id, files::filename, files::content_type, files::size, files::kind);

#[derive(Debug, Queryable)]
struct AttachmentRow {
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

/// Writes the attachments of freshly stored messages: one multi-row insert on PostgreSQL, one
/// insert a row on SQLite (where a statement costs no round trip).
fn attach(conn: &mut AnyConnection, messages: &[Message]) -> Result<(), RepositoryError> {
    let rows: Vec<_> = messages
        .iter()
        .flat_map(|message| {
            message.attachments.iter().zip(0_i16..).map(move |(file, position)| {
                (
                    chat_attachments::message_id.eq(message.id.0),
                    chat_attachments::file_id.eq(file.id),
                    chat_attachments::position.eq(position),
                )
            })
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    match conn {
        AnyConnection::Postgresql(pg) => {
            diesel::insert_into(chat_attachments::table).values(&rows).execute(pg).map_err(db)?;
        }
        AnyConnection::Sqlite(sqlite) => {
            for row in rows {
                diesel::insert_into(chat_attachments::table).values(row).execute(sqlite).map_err(db)?;
            }
        }
    }
    Ok(())
}

fn reversed<T>(mut rows: Vec<T>) -> Vec<T> {
    rows.reverse();
    rows
}
