//! Chat search: what a search reads on either engine, and on PostgreSQL a trigram index kept
//! behind the writers.
//!
//! A trigram index costs each message dozens of entries. Kept on `chat_messages`, every batch of
//! messages paid for it on the one core PostgreSQL shares with the server: at 5,000 direct
//! messages a second (`make ws-bench`, `dm`) delivery's p99 went from 4 ms to 13-30 ms, and no
//! pace of merging its pending list brought it back (small merges keep the core busy, large ones
//! stall it). So the index lives on a copy of what search reads (`chat_message_search`), filled
//! by the [`SearchIndexer`] behind the writers. What the copy does not hold yet, the newest
//! messages (ids above `chat_search_progress.indexed_through`), a search reads from
//! `chat_messages` by id: found at once, never a scan of all messages. How far behind the index
//! may fall is bounded ([`SearchIndexer::MOST_BEHIND`]), and so is what that tail costs a search.
//!
//! The copy is made in steps of a few milliseconds, and mostly while no message arrives: a copy
//! of 20,000 messages at once held the core for 0.3-0.9 s, and whatever was delivered meanwhile
//! (a room's message to 5,000 sockets, DMs) shared the core with it and took up to twice as long
//! (`make ws-bench` after a burst: a room's last member at 64 ms instead of 47, DM p99 38 ms).
//!
//! SQLite keeps its FTS5 table with triggers, in the writer's own transaction.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use workbench_chat::{FoundMessage, Message, MessageSearch, RoomSlug};
use workbench_core::{Page, RepositoryError};
use workbench_users::UserId;

use super::reads::{MESSAGE_COLUMNS, MessageRow};
use crate::connection::Db;
use crate::database::write_transaction;
use crate::error::{corrupt, db};
use crate::like::contains_pattern;
use crate::schema::{chat_messages, chat_rooms};
use crate::{AnyConnection, Database};

/// Copies new messages into the search index, from any instance, one at a time.
#[derive(Debug)]
pub(super) struct SearchIndexer {
    db: Database,
    /// Whether a task is following the writers.
    following: AtomicBool,
    /// What the indexer has seen of the writers, and when it last copied.
    pace: Mutex<Pace>,
    /// Messages copied in one step, adjusted after each so that a step takes about
    /// [`Self::STEP_TIME`].
    step: AtomicI64,
    /// An id below which every message is committed (or never will be): no need to wait for the
    /// writers again while copying up to it.
    settled: AtomicI64,
}

/// The newest message id seen (on every instance: ids are shared), when it was first seen and
/// last looked at; when the chat was last found quiet, and when a step last copied.
#[derive(Debug, Default)]
struct Pace {
    seen: Option<(i64, Instant)>,
    looked: Option<Instant>,
    quiet_at: Option<Instant>,
    stepped_at: Option<Instant>,
}

impl Pace {
    /// Records a look at the newest message id, and says why a step should copy now, if it
    /// should: the chat has been quiet for [`SearchIndexer::QUIET`] (then steps follow each
    /// other); the index is [`SearchIndexer::MOST_BEHIND`] and no look found the chat quiet for a
    /// [`SearchIndexer::TURN`] (steady traffic); messages arrive slower than
    /// [`SearchIndexer::FAST`] and no step copied for a turn. Otherwise the delivery of what just
    /// arrived has the core.
    fn why(&mut self, newest: i64, behind: i64, now: Instant) -> Option<Why> {
        type Indexer = SearchIndexer;
        let ago = |at: Option<Instant>| at.map_or(Duration::MAX, |at| now.duration_since(at));
        let (quiet, slow) = match self.seen {
            Some((seen, since)) if seen == newest => (now.duration_since(since) >= Indexer::QUIET, true),
            Some((seen, _)) => {
                let millis = i64::try_from(ago(self.looked).as_millis()).unwrap_or(i64::MAX).max(1);
                self.seen = Some((newest, now));
                (false, (newest - seen).max(0).saturating_mul(1_000) / millis < Indexer::FAST)
            }
            // The first look: the pace is not known yet.
            None => {
                self.seen = Some((newest, now));
                (false, false)
            }
        };
        self.looked = Some(now);
        if quiet {
            self.quiet_at = Some(now);
        }
        let why = if quiet {
            Some(Why::Quiet)
        } else if behind >= Indexer::MOST_BEHIND && ago(self.quiet_at) >= Indexer::TURN {
            Some(Why::FarBehind)
        } else if slow && ago(self.stepped_at) >= Indexer::TURN {
            Some(Why::Slow)
        } else {
            None
        };
        if why.is_some() && behind > 0 {
            self.stepped_at = Some(now);
        }
        why
    }
}

/// Why a step copies now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// No message has arrived for [`SearchIndexer::QUIET`].
    Quiet,
    /// Messages arrive, slower than [`SearchIndexer::FAST`]: a step a turn.
    Slow,
    /// The index is [`SearchIndexer::MOST_BEHIND`] and the chat has not been quiet for a turn.
    FarBehind,
    /// Asked to catch up ([`SearchIndexer::catch_up`]).
    Asked,
}

/// What one turn of the indexer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// Every message is in the index.
    CaughtUp,
    /// Copied a step's messages in `took`, for the reason given; more are waiting.
    Indexed { took: Duration, why: Why },
    /// What just arrived is being delivered, and the index is not too far behind: left for a
    /// quiet moment.
    Waiting,
    /// Another instance is indexing, or the writers could not be waited for.
    Busy,
}

impl SearchIndexer {
    /// How often the indexer looks again while messages arrive, or another instance indexes.
    const TURN: Duration = Duration::from_secs(1);
    /// How long no new message must have arrived for the chat to count as quiet, and how soon
    /// the indexer looks again when it is not: a message's delivery (its room's thousands of
    /// writes) is over by then.
    const QUIET: Duration = Duration::from_millis(100);
    /// Messages a second below which the index follows them even when the chat is never quiet
    /// for long, a step a [`Self::TURN`]; above it, only once [`Self::MOST_BEHIND`] behind.
    const FAST: i64 = 1_000;
    /// The most messages the index may be behind before it copies whatever the pace: a search
    /// reads these from `chat_messages` by id. At 100,000 behind over a million messages
    /// (`make bench-chat`), a common word's search took p50 15 ms instead of 10, a three-word
    /// phrase's 100 ms instead of 40: the price of a burst, paid by searches, not by delivery.
    /// Beyond it, while the chat is never quiet, steps take a tenth of the time.
    const MOST_BEHIND: i64 = 100_000;
    /// What one step should take: a delivery that starts during one shares the core with it
    /// for at most this long.
    const STEP_TIME: Duration = Duration::from_millis(2);
    /// Bounds of a step, in messages; the first has [`Self::FIRST_STEP`]. Catching up at once
    /// ([`Self::catch_up`]) copies the most each time.
    const STEPS: std::ops::RangeInclusive<i64> = 10..=20_000;
    const FIRST_STEP: i64 = 100;

    /// The indexer of a PostgreSQL store; none on SQLite.
    pub(super) fn new(db: &Database) -> Option<Arc<Self>> {
        (db.backend() == crate::Backend::Postgres).then(|| {
            Arc::new(Self {
                db: db.clone(),
                following: AtomicBool::new(false),
                pace: Mutex::new(Pace::default()),
                step: AtomicI64::new(Self::FIRST_STEP),
                settled: AtomicI64::new(0),
            })
        })
    }

    /// Messages were written (or the index was found behind): follows them unless already.
    pub(super) fn written(self: &Arc<Self>) {
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
        let mut pause = Self::QUIET;
        loop {
            tokio::time::sleep(pause).await;
            pause = match self.turn(false).await {
                Ok(Turn::CaughtUp) => break,
                // Half the core while the chat is quiet; a tenth when far behind and never quiet;
                // a step a turn when messages arrive slowly (the turn's rule).
                Ok(Turn::Indexed { took, why: Why::Quiet | Why::Asked }) => took,
                Ok(Turn::Indexed { took, why: Why::FarBehind }) => (took * 9).min(Self::TURN),
                Ok(Turn::Indexed { why: Why::Slow, .. } | Turn::Waiting) => Self::QUIET,
                Ok(Turn::Busy) => Self::TURN,
                Err(e) => {
                    tracing::warn!(error = %e, "could not index chat messages for search; the next write tries again");
                    break;
                }
            };
        }
        // A message written after this turn looked is left to the next write or search, which
        // start another follower; search reads it by id meanwhile.
        self.following.store(false, Ordering::Release);
    }

    /// Indexes every message written so far, whatever the pace (tests, benchmarks' seeding).
    pub(super) async fn catch_up(self: &Arc<Self>) -> Result<(), RepositoryError> {
        loop {
            match self.turn(true).await? {
                Turn::CaughtUp => return Ok(()),
                Turn::Busy => tokio::time::sleep(Duration::from_millis(20)).await,
                Turn::Indexed { .. } | Turn::Waiting => {}
            }
        }
    }

    /// One turn: copies the next step's messages into the index when [`Self::why`] says so;
    /// `regardless`, always, the most at once. The copy is one transaction holding
    /// `chat_search_progress`'s row, so that instances take turns.
    async fn turn(self: &Arc<Self>, regardless: bool) -> Result<Turn, RepositoryError> {
        let me = self.clone();
        let started = Instant::now();
        let turn = self
            .db
            .run(move |conn| {
                let (through, newest) = progress(conn)?;
                let behind = newest - through;
                let why = match regardless {
                    true => Some(Why::Asked),
                    false => me.why(newest, behind, Instant::now()),
                };
                if behind <= 0 {
                    return Ok(Turn::CaughtUp);
                }
                let Some(why) = why else {
                    return Ok(Turn::Waiting);
                };
                let step = if regardless { *Self::STEPS.end() } else { me.step.load(Ordering::Relaxed) };
                let upto = newest.min(through + step);
                let settled = if me.settled.load(Ordering::Relaxed) >= upto {
                    upto
                } else {
                    let Some(settled) = settled_newest(conn)? else {
                        return Ok(Turn::Busy);
                    };
                    me.settled.fetch_max(settled, Ordering::Relaxed);
                    settled.min(upto)
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
                    if from >= settled {
                        return Ok(if from >= newest { Turn::CaughtUp } else { Turn::Busy });
                    }
                    let through = settled.min(from + step);
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
                    Ok(if through < newest { Turn::Indexed { took: Duration::ZERO, why } } else { Turn::CaughtUp })
                })
            })
            .await?;
        if matches!(turn, Turn::Indexed { .. } | Turn::CaughtUp) {
            // The step's entries wait in the index's pending list, which every search reads
            // through; merged now, a step's worth at a time, rather than by the insert that
            // finds the list full (megabytes at once). Refused (not the index's owner), they are
            // merged by autovacuum or that insert.
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
        Ok(match turn {
            Turn::Indexed { why, .. } => {
                let took = started.elapsed();
                if !regardless {
                    self.adjust_step(took);
                }
                Turn::Indexed { took, why }
            }
            other => other,
        })
    }

    /// Records a look at the newest message id; why a step should copy now, if it should
    /// (see [`Pace::why`]).
    fn why(&self, newest: i64, behind: i64, now: Instant) -> Option<Why> {
        self.pace.lock().unwrap_or_else(std::sync::PoisonError::into_inner).why(newest, behind, now)
    }

    /// Doubles the step when it took under half of [`Self::STEP_TIME`], halves it when over
    /// twice: the messages one step can copy depend on the machine and on what else the core
    /// is doing.
    fn adjust_step(&self, took: Duration) {
        let step = self.step.load(Ordering::Relaxed);
        let next = if took < Self::STEP_TIME / 2 {
            step.saturating_mul(2)
        } else if took > Self::STEP_TIME * 2 {
            step / 2
        } else {
            step
        };
        self.step.store(next.clamp(*Self::STEPS.start(), *Self::STEPS.end()), Ordering::Relaxed);
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
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Up to which id every message is in the index, and the newest message's id.
fn progress(conn: &mut AnyConnection) -> Result<(i64, i64), RepositoryError> {
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
fn rewrite(conn: &mut AnyConnection, message: &Message) -> Result<(), RepositoryError> {
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
fn indexed_matches(
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
    match rarest_words(&search.text) {
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
fn readable_in(table: &str, reader: UserId) -> String {
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

/// The page of messages `search` finds, newest first, and whether the index is behind the
/// messages (PostgreSQL), so that the indexer catches up.
pub(super) fn search_page(
    conn: &mut AnyConnection,
    search: &MessageSearch,
) -> Result<(Page<FoundMessage>, bool), RepositoryError> {
    let sqlite = matches!(conn, AnyConnection::Sqlite(_));
    // On PostgreSQL the index holds the messages up to `through` (see the
    // module's doc); newer ones are read from `chat_messages` itself, by id.
    let progress = match conn {
        AnyConnection::Postgresql(_) if !search.text.is_empty() => Some(progress(conn)?),
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
        Some(through) if newer <= cap => counted(indexed_matches(conn, search, through, false, 0, cap + 1 - newer)?),
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
        let ids = indexed_matches(conn, search, through, true, skip, wanted)?;
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
}

/// An edited or deleted message's text, into PostgreSQL's search index at once, in the same
/// transaction (SQLite's triggers keep its own).
pub(super) fn reindex(conn: &mut AnyConnection, changed: Option<&Message>) -> Result<(), RepositoryError> {
    match (conn, changed) {
        (conn @ AnyConnection::Postgresql(_), Some(message)) => rewrite(conn, message),
        _ => Ok(()),
    }
}

/// The messages `reader` may read: those of the rooms they are a member of, and the direct
/// messages they sent or received. Ids are written into the text (read from the caller's
/// principal, never client text).
fn readable_by(reader: UserId) -> diesel::expression::SqlLiteral<Bool> {
    diesel::dsl::sql::<Bool>(&readable_in("chat_messages", reader))
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
fn rarest_words(text: &str) -> Option<Vec<&str>> {
    let mut words: Vec<&str> = text.split_whitespace().filter(|w| w.chars().count() >= 3).collect();
    if text.split_whitespace().nth(1).is_none() || words.is_empty() {
        return None;
    }
    words.sort_by_key(|w| (std::cmp::Reverse(w.chars().count()), *w));
    words.dedup();
    let second = words.get(1).filter(|w| w.chars().count() >= 4).copied();
    Some(std::iter::once(words[0]).chain(second).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_quiet_chat_is_indexed_step_after_step_and_a_new_message_stops_it() {
        let (mut pace, t0) = (Pace::default(), Instant::now());
        assert_eq!(pace.why(10, 10, t0), None, "the first look knows no pace yet");
        assert_eq!(pace.why(10, 10, t0 + 50 * MS), Some(Why::Slow), "nothing arrived: a step a turn");
        assert_eq!(pace.why(10, 10, t0 + 60 * MS), None, "a turn has not passed since that step");
        assert_eq!(pace.why(10, 10, t0 + 100 * MS), Some(Why::Quiet));
        assert_eq!(pace.why(10, 9, t0 + 103 * MS), Some(Why::Quiet), "quiet: steps follow each other");
        // A message arrives: what delivers it has the core, however far behind the index is.
        assert_eq!(pace.why(11, 200_000, t0 + 106 * MS), None);
        assert_eq!(pace.why(11, 200_000, t0 + 180 * MS), None, "not quiet for long enough yet");
        assert_eq!(pace.why(11, 200_000, t0 + 206 * MS), Some(Why::Quiet));
    }

    #[test]
    fn steady_traffic_is_indexed_a_step_a_turn_and_more_only_when_far_behind() {
        let (mut pace, t0) = (Pace::default(), Instant::now());
        let mut newest = 0;
        // A look every 20 ms, `added` messages since the one before.
        let mut at = |ms: u32, pace: &mut Pace, behind: i64, added: i64| {
            newest += added;
            pace.why(newest, behind, t0 + ms * MS)
        };
        // 50 messages a second (one every 20 ms): never quiet, slow.
        assert_eq!(at(0, &mut pace, 10, 1), None);
        let slow: Vec<_> = (1..=150u32).filter_map(|i| at(i * 20, &mut pace, 10, 1).map(|why| (i * 20, why))).collect();
        assert_eq!(slow, [(20, Why::Slow), (1020, Why::Slow), (2020, Why::Slow)], "one step a turn");
        // 5,000 a second: nothing while the index is near, steps once it is far behind.
        let mut fast = Pace::default();
        let found: Vec<_> = (0..=60u32).map(|i| at(i * 20, &mut fast, 1_000, 100)).collect();
        assert!(found.iter().all(Option::is_none), "{found:?}");
        assert_eq!(at(1220, &mut fast, 100_000, 100), Some(Why::FarBehind));
    }

    #[test]
    fn a_chat_quiet_within_the_last_turn_catches_up_in_its_quiet_moments_only() {
        let (mut pace, t0) = (Pace::default(), Instant::now());
        assert_eq!(pace.why(5, 300_000, t0), Some(Why::FarBehind), "never seen quiet: far behind copies");
        assert_eq!(pace.why(5, 300_000, t0 + 100 * MS), Some(Why::Quiet));
        // A room's message every second: between them the index copies, while it is delivered not.
        for second in 1..5u32 {
            let sent = t0 + second * 1000 * MS;
            let newest = 5 + i64::from(second);
            assert_eq!(pace.why(newest, 300_000, sent + 2 * MS), None, "round {second}");
            assert_eq!(pace.why(newest, 300_000, sent + 102 * MS), Some(Why::Quiet), "round {second}");
        }
    }
}
