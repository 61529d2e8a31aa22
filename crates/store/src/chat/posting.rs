//! Posting messages: a batch of them written at once (group commit), with their conversations'
//! totals and their senders' read marks, each engine's way side by side: one statement on
//! PostgreSQL ([`PostMessages`]), the inserts and then two statements on SQLite
//! ([`record_conversations`]); and their attachments.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
use workbench_chat::{Conversation, Message, NewMessage};
use workbench_core::RepositoryError;

use super::greatest;
use super::reads::{MESSAGE_COLUMNS, MessageRow};
use crate::AnyConnection;
use crate::database::{stored, write_transaction};
use crate::error::db;
use crate::group_commit::Write;
use crate::schema::{chat_attachments, chat_messages};

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

#[derive(QueryableByName)]
struct ConversationCount {
    #[diesel(sql_type = Text)]
    conversation: String,
    #[diesel(sql_type = BigInt)]
    messages: i64,
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
