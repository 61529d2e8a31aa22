//! Chat search on PostgreSQL: a trigram index kept behind the writers.
//!
//! A trigram index costs each message dozens of entries. Kept on `chat_messages`, every batch of
//! messages paid for it on the one core PostgreSQL shares with the server: at 5,000 direct
//! messages a second (`make ws-bench`, `dm`) delivery's p99 went from 4 ms to 13-30 ms, and no
//! pace of merging its pending list brought it back (small merges keep the core busy, large ones
//! stall it). So the index lives on a copy of what search reads (`chat_message_search`), filled
//! by the [`SearchIndexer`] in large batches, when messages are not arriving fast. What the copy
//! does not hold yet, the newest messages (ids above `chat_search_progress.indexed_through`), a
//! search reads from `chat_messages` by id: found at once, never a scan of all messages. How far
//! behind the index may fall is bounded ([`SearchIndexer::MOST_BEHIND`]), and so is what that tail
//! costs a search.
//!
//! SQLite keeps its FTS5 table with triggers, in the writer's own transaction.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use workbench_chat::{Message, MessageSearch};
use workbench_core::RepositoryError;
use workbench_users::UserId;

use crate::database::write_transaction;
use crate::error::db;
use crate::users::contains_pattern;
use crate::{AnyConnection, Database};

type Db = <AnyConnection as Connection>::Backend;

/// Copies new messages into the search index, from any instance, one at a time.
#[derive(Debug)]
pub(crate) struct SearchIndexer {
    db: Database,
    /// Whether a task is following the writers.
    following: AtomicBool,
    /// The newest message id seen, and when: how fast messages arrive, on every instance.
    last_seen: Mutex<Option<(i64, Instant)>>,
}

/// What one turn of the indexer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// Every message is in the index.
    CaughtUp,
    /// Indexed a batch; more are waiting.
    Indexed,
    /// Messages are arriving fast and the index is not too far behind: left for later.
    Waiting,
    /// Another instance is indexing, or the writers could not be waited for.
    Busy,
}

impl SearchIndexer {
    /// How often the indexer looks again while it has something to do.
    const TURN: Duration = Duration::from_secs(1);
    /// Messages a second above which indexing waits: a merge of the index's entries takes the
    /// core from delivery for as long as it runs. People writing to each other come nowhere near
    /// this; a burst of traffic, an import or a load test does.
    const FAST: i64 = 1_000;
    /// The most messages the index may be behind before it catches up whatever the pace: a
    /// search reads these from `chat_messages` by id. At 100,000 behind over a million messages
    /// (`make bench-chat`), a common word's search took p50 15 ms instead of 10, a three-word
    /// phrase's 100 ms instead of 40: the price of a burst, paid by searches, not by delivery.
    const MOST_BEHIND: i64 = 100_000;
    /// The most messages copied in one turn: one transaction, one merge of the pending entries.
    const BATCH: i64 = 20_000;

    /// The indexer of a PostgreSQL store; none on SQLite.
    pub(crate) fn new(db: &Database) -> Option<Arc<Self>> {
        (db.backend() == crate::Backend::Postgres)
            .then(|| Arc::new(Self { db: db.clone(), following: AtomicBool::new(false), last_seen: Mutex::new(None) }))
    }

    /// Messages were written (or the index was found behind): follows them unless already.
    pub(crate) fn written(self: &Arc<Self>) {
        if self.following.swap(true, Ordering::AcqRel) {
            return;
        }
        let indexer = self.clone();
        tokio::spawn(async move { indexer.follow().await });
    }

    /// Turns until every message is indexed; a write or a search after that starts it again.
    /// One follower per instance: a turn that waits (another instance's, a lock) holds one
    /// connection, never one per message written meanwhile.
    async fn follow(self: Arc<Self>) {
        loop {
            tokio::time::sleep(Self::TURN).await;
            match self.turn(false).await {
                Ok(Turn::CaughtUp) => break,
                Ok(Turn::Indexed | Turn::Waiting | Turn::Busy) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not index chat messages for search; the next write tries again");
                    break;
                }
            }
        }
        // A message written after this turn looked is left to the next write or search, which
        // start another follower; search reads it by id meanwhile.
        self.following.store(false, Ordering::Release);
    }

    /// Indexes every message written so far, whatever the pace (tests, benchmarks' seeding).
    pub(crate) async fn catch_up(self: &Arc<Self>) -> Result<(), RepositoryError> {
        loop {
            match self.turn(true).await? {
                Turn::CaughtUp => return Ok(()),
                Turn::Busy => tokio::time::sleep(Duration::from_millis(20)).await,
                Turn::Indexed | Turn::Waiting => {}
            }
        }
    }

    /// One turn: copies the next batch of messages into the index, unless messages arrive fast
    /// and it is not far behind. The copy is one transaction holding `chat_search_progress`'s
    /// row, so that instances take turns.
    async fn turn(self: &Arc<Self>, regardless: bool) -> Result<Turn, RepositoryError> {
        let me = self.clone();
        let turn = self
            .db
            .run(move |conn| {
                let (through, newest) = progress(conn)?;
                let per_second = me.pace(newest);
                let behind = newest - through;
                if behind <= 0 {
                    return Ok(Turn::CaughtUp);
                }
                if !regardless && per_second.is_none_or(|rate| rate >= Self::FAST) && behind < Self::MOST_BEHIND {
                    return Ok(Turn::Waiting);
                }
                let Some(newest) = settled_newest(conn)? else {
                    return Ok(Turn::Busy);
                };
                write_transaction(conn, |conn| {
                    // Nothing else locks the progress row's table; if something ever does, the
                    // turn gives up rather than hold a connection for as long.
                    diesel::sql_query("SET LOCAL lock_timeout = '1s'").execute(conn).map_err(db)?;
                    let claimed = diesel::sql_query(
                        "SELECT indexed_through AS id FROM chat_search_progress WHERE id = 1 FOR UPDATE SKIP LOCKED",
                    )
                    .get_result::<Id>(conn)
                    .optional()
                    .map_err(db)?;
                    let Some(Id { id: from }) = claimed else {
                        return Ok(Turn::Busy);
                    };
                    if from >= newest {
                        return Ok(Turn::CaughtUp);
                    }
                    let through = newest.min(from + Self::BATCH);
                    diesel::sql_query(
                        "INSERT INTO chat_message_search \
                         (message_id, conversation, room_id, sender_id, recipient_id, search_text) \
                         SELECT id, conversation, room_id, sender_id, recipient_id, search_text FROM chat_messages \
                         WHERE id > $1 AND id <= $2 AND search_text <> '' \
                         ON CONFLICT (message_id) DO NOTHING",
                    )
                    .bind::<BigInt, _>(from)
                    .bind::<BigInt, _>(through)
                    .execute(conn)
                    .map_err(db)?;
                    diesel::sql_query("UPDATE chat_search_progress SET indexed_through = $1 WHERE id = 1")
                        .bind::<BigInt, _>(through)
                        .execute(conn)
                        .map_err(db)?;
                    Ok(if through < newest { Turn::Indexed } else { Turn::CaughtUp })
                })
            })
            .await?;
        if matches!(turn, Turn::Indexed | Turn::CaughtUp) {
            // The batch's entries wait in the index's pending list, which every search reads
            // through; merged now, in bulk, while the indexer has the core anyway. Refused (not
            // the index's owner), they are merged by autovacuum or the next insert that fills it.
            let merged = self
                .db
                .run(|conn| {
                    diesel::sql_query("SELECT gin_clean_pending_list('chat_message_search_trgm') AS id")
                        .get_result::<Id>(conn)
                        .map_err(db)
                })
                .await;
            if let Err(e) = merged {
                tracing::debug!(error = %e, "could not merge the chat search index's pending entries");
            }
        }
        Ok(turn)
    }

    /// Messages a second since the last look, on every instance (ids are shared); `None` the
    /// first time.
    fn pace(&self, newest: i64) -> Option<i64> {
        let now = Instant::now();
        let mut last = self.last_seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let pace = last.map(|(id, at)| {
            let millis = i64::try_from(now.duration_since(at).as_millis()).unwrap_or(i64::MAX).max(1);
            (newest - id).max(0).saturating_mul(1_000) / millis
        });
        *last = Some((newest, now));
        pace
    }
}

/// The newest message id, once no writer holds a lower one it has not committed yet: ids are
/// drawn before commit, so the newest visible id does not mean every lower one is visible. A
/// `SHARE` lock on `chat_messages` waits for the statements writing to it and holds the next ones
/// back for as long as it takes to read the id: a few milliseconds, only when the indexer copies
/// (when messages are not arriving fast). `None` when that wait would be longer (a vacuum of the
/// table, a long transaction): the turn is left for later, and search reads those messages by id.
fn settled_newest(conn: &mut AnyConnection) -> Result<Option<i64>, RepositoryError> {
    let mut waited_too_long = false;
    let newest = write_transaction(conn, |conn| {
        diesel::sql_query("SET LOCAL lock_timeout = '20ms'").execute(conn).map_err(db)?;
        if let Err(e) = diesel::sql_query("LOCK TABLE chat_messages IN SHARE MODE").execute(conn) {
            waited_too_long = true;
            return Err(db(e));
        }
        diesel::sql_query("SELECT COALESCE(MAX(id), 0) AS id FROM chat_messages").get_result::<Id>(conn).map_err(db)
    });
    match newest {
        Ok(Id { id }) => Ok(Some(id)),
        Err(_) if waited_too_long => Ok(None),
        Err(e) => Err(e),
    }
}

#[derive(QueryableByName)]
pub(crate) struct Id {
    #[diesel(sql_type = BigInt)]
    pub(crate) id: i64,
}

/// Up to which id every message is in the index, and the newest message's id.
pub(crate) fn progress(conn: &mut AnyConnection) -> Result<(i64, i64), RepositoryError> {
    #[derive(QueryableByName)]
    struct Progress {
        #[diesel(sql_type = BigInt)]
        through: i64,
        #[diesel(sql_type = BigInt)]
        newest: i64,
    }
    let p: Progress = diesel::sql_query(
        "SELECT COALESCE((SELECT indexed_through FROM chat_search_progress WHERE id = 1), 0) AS through, \
         COALESCE((SELECT MAX(id) FROM chat_messages), 0) AS newest",
    )
    .get_result(conn)
    .map_err(db)?;
    Ok((p.through, p.newest))
}

/// Writes a message's current text into the index at once (an edit; a deletion's empty text).
/// An upsert, so that it is right whichever of it and the indexer's copy of the message comes
/// first: the indexer's copy never overwrites a row that exists, and waits on one being written.
pub(crate) fn rewrite(conn: &mut AnyConnection, message: &Message) -> Result<(), RepositoryError> {
    diesel::sql_query(
        "INSERT INTO chat_message_search (message_id, conversation, room_id, sender_id, recipient_id, search_text) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (message_id) DO UPDATE SET search_text = excluded.search_text",
    )
    .bind::<BigInt, _>(message.id.0)
    .bind::<Text, _>(message.conversation().key())
    .bind::<diesel::sql_types::Nullable<BigInt>, _>(message.room.map(|r| r.0))
    .bind::<BigInt, _>(message.sender_id.0)
    .bind::<diesel::sql_types::Nullable<BigInt>, _>(message.recipient_id.map(|r| r.0))
    .bind::<Text, _>(message.content.to_lowercase())
    .execute(conn)
    .map_err(db)?;
    Ok(())
}

/// The ids of indexed messages (up to `through`) that `search` finds, newest first: `offset`
/// and `limit` as given, or every one up to `limit` when counting.
pub(crate) fn indexed_matches(
    conn: &mut AnyConnection,
    search: &MessageSearch,
    through: i64,
    ordered: bool,
    offset: i64,
    limit: i64,
) -> Result<Vec<i64>, RepositoryError> {
    let mut sql = format!(
        "SELECT s.message_id AS id FROM chat_message_search s WHERE s.message_id <= $1 AND {}",
        readable_in("s", search.reader)
    );
    let mut texts: Vec<String> = Vec::new();
    let mut next = |sql: &mut String, clause: &str, value: String| {
        texts.push(value);
        sql.push_str(&clause.replace('#', &format!("${}", texts.len() + 1)));
    };
    if let Some(within) = &search.within {
        next(&mut sql, " AND s.conversation = #", within.key());
    }
    match super::chat::rarest_words(&search.text) {
        // As on `chat_messages`: the longest words narrow through the index, the phrase is
        // checked on the rows left.
        Some(words) => {
            for word in words {
                next(&mut sql, " AND s.search_text LIKE # ESCAPE '\\'", contains_pattern(word));
            }
            next(&mut sql, " AND strpos(s.search_text, #) > 0", search.text.clone());
        }
        None => next(&mut sql, " AND s.search_text LIKE # ESCAPE '\\'", contains_pattern(&search.text)),
    }
    if let Some(before) = search.before {
        sql.push_str(&format!(" AND s.message_id < {}", before.0));
    }
    if ordered {
        sql.push_str(&format!(" ORDER BY s.message_id DESC OFFSET {offset}"));
    }
    sql.push_str(&format!(" LIMIT {limit}"));
    let mut query = diesel::sql_query(sql).into_boxed::<Db>().bind::<BigInt, _>(through);
    for text in texts {
        query = query.bind::<Text, _>(text);
    }
    Ok(query.load::<Id>(conn).map_err(db)?.into_iter().map(|row| row.id).collect())
}

/// Whether `reader` may read the message of a row of `table` (which has its readers' columns):
/// a member of its room, or either side of a direct message. The id is a number, written in.
pub(crate) fn readable_in(table: &str, reader: UserId) -> String {
    let r = reader.0;
    format!(
        "({table}.room_id IN (SELECT m.room_id FROM chat_members m WHERE m.user_id = {r}) \
         OR ({table}.recipient_id IS NOT NULL AND ({table}.sender_id = {r} OR {table}.recipient_id = {r})))"
    )
}

/// Tables that hold only what others say (PostgreSQL's chat search index and how far it has
/// come): an archive never carries them, and [`rebuild_search_index`] makes them again.
pub const DERIVED_TABLES: &[&str] = &["chat_message_search", "chat_search_progress"];

/// Fills PostgreSQL's chat search index from the messages themselves, all at once (after an
/// import, inside its transaction). Nothing to do on SQLite, whose FTS5 table rebuilds itself.
pub fn rebuild_search_index(conn: &mut AnyConnection) -> Result<(), diesel::result::Error> {
    if let AnyConnection::Postgresql(_) = conn {
        diesel::sql_query("DELETE FROM chat_message_search").execute(conn)?;
        diesel::sql_query(
            "INSERT INTO chat_message_search (message_id, conversation, room_id, sender_id, recipient_id, search_text) \
             SELECT id, conversation, room_id, sender_id, recipient_id, search_text FROM chat_messages \
             WHERE search_text <> ''",
        )
        .execute(conn)?;
        diesel::sql_query(
            "UPDATE chat_search_progress \
             SET indexed_through = (SELECT COALESCE(MAX(id), 0) FROM chat_messages) WHERE id = 1",
        )
        .execute(conn)?;
    }
    Ok(())
}
