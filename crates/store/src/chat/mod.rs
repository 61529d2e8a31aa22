//! Chat rooms, members and messages (the chat domain's `ChatStore`).
//!
//! The store is here; beside it, posting messages with each engine's bookkeeping ([`posting`]),
//! the rows and reads ([`reads`]) and search ([`search`]).

mod posting;
mod reads;
mod search;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Timestamp};
use workbench_chat::{
    AttachedFile, ChatStore, Conversation, ConversationSummary, Emoji, FoundMessage, HistoryPage, Marked, Message,
    MessageContent, MessageId, MessageSearch, NewMessage, NewRoom, Reacted, Reaction, Room, RoomId, RoomSlug,
};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_users::UserId;

use reads::{
    ATTACHMENT_COLUMNS, AttachmentRow, CONTACTS, Contact, MESSAGE_COLUMNS, MessageRow, ReadMark, RoomRow,
    conversations_page, into_rooms, reversed,
};
pub use search::{DERIVED_TABLES, rebuild_search_index};
use search::{SearchIndexer, reindex, search_page};

use crate::connection::Db;
use crate::database::{stored, write_transaction};
use crate::error::{db, map_db_error};
use crate::group_commit::{Batching, GroupCommit};
use crate::schema::{chat_attachments, chat_members, chat_messages, chat_reactions, chat_reads, chat_rooms, files};
use crate::{AnyConnection, Database};

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
        self.db.run(move |conn| conversations_page(conn, user, page)).await
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
        let (found, behind) = self.db.run(move |conn| search_page(conn, &search)).await?;
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
