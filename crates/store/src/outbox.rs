//! The outbox of domain events (the `Outbox` port of `workbench-events`), and the rows that
//! repositories write into it in the same transaction as their changes.
//!
//! Task changes write their event in the very statement that changes the task on PostgreSQL (a
//! data-modifying `WITH`; see `tasks.rs`), and in the same `BEGIN IMMEDIATE` transaction on
//! SQLite, which has no such statements. Either way a change that does not happen (a lost
//! version race, a rollback) leaves no event, and an event exists as soon as its change does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde_json::value::RawValue;
use workbench_core::RepositoryError;
use workbench_events::{EventId, Outbox, OutboxEvent};
use workbench_users::UserId;

use crate::Database;
use crate::database::due;
use crate::error::db;
use crate::schema::{outbox, outbox_relay};
use crate::{AnyConnection, Backend};

/// The relay lease's row.
const RELAY: &str = "outbox";
/// Ids per `DELETE ... IN (...)`.
const ID_CHUNK: usize = 1_000;
/// Removed events between two `VACUUM`s of the outbox on PostgreSQL (see [`DieselOutbox::remove`]).
const VACUUM_EVERY: usize = 2_000;
/// Removed events between two merges of the tasks' trigram index's pending list on PostgreSQL
/// (see [`DieselOutbox::remove`]). A task's entries take well under 1 kB of the list for a title
/// and a short description, so 500 tasks stay far below the 4 MB at which a writer merges.
const MERGE_SEARCH_EVERY: usize = 500;

/// An event to write next to a change.
#[derive(Debug, Insertable)]
#[diesel(table_name = outbox)]
pub(crate) struct NewEventRow {
    pub(crate) event: &'static str,
    pub(crate) subject_id: i64,
    pub(crate) audience: String,
    pub(crate) payload: String,
    pub(crate) occurred_at: NaiveDateTime,
}

/// The stored form of an audience: a JSON array of user ids.
pub(crate) fn audience_json(users: impl IntoIterator<Item = UserId>) -> String {
    let ids: Vec<i64> = users.into_iter().map(|u| u.0).collect();
    serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned())
}

/// Appends `event` in the caller's transaction.
pub(crate) fn record_in(conn: &mut AnyConnection, event: &NewEventRow) -> Result<(), RepositoryError> {
    diesel::insert_into(outbox::table).values(event).execute(conn).map(drop).map_err(db)
}

#[derive(Debug, Queryable)]
struct EventRow {
    id: i64,
    event: String,
    subject_id: i64,
    audience: String,
    payload: String,
    occurred_at: NaiveDateTime,
}

impl EventRow {
    fn into_event(self) -> Result<OutboxEvent, RepositoryError> {
        let corrupt =
            |what: &str, e: serde_json::Error| RepositoryError::Unavailable(anyhow::anyhow!("outbox.{what}: {e}"));
        let audience: Vec<i64> = serde_json::from_str(&self.audience).map_err(|e| corrupt("audience", e))?;
        let payload = RawValue::from_string(self.payload).map_err(|e| corrupt("payload", e))?;
        Ok(OutboxEvent {
            id: EventId(self.id),
            name: self.event,
            subject_id: self.subject_id,
            audience: audience.into_iter().map(UserId).collect(),
            payload,
            occurred_at: self.occurred_at.and_utc(),
        })
    }
}

/// [`Outbox`] on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselOutbox {
    db: Database,
    /// Events removed since the outbox was last vacuumed.
    removed: Arc<AtomicUsize>,
    /// Events removed since the tasks' trigram index last had its pending list merged.
    unmerged: Arc<AtomicUsize>,
    /// Cleared when PostgreSQL refused a merge (only the index's owner may ask for one, and the
    /// app may run under a role that did not migrate the database): writers merge from then on.
    merging: Arc<AtomicBool>,
}

impl DieselOutbox {
    pub fn new(db: Database) -> Self {
        Self {
            db,
            removed: Arc::new(AtomicUsize::new(0)),
            unmerged: Arc::new(AtomicUsize::new(0)),
            merging: Arc::new(AtomicBool::new(true)),
        }
    }

    /// How many events wait in the outbox, for `/metrics` and tests.
    pub async fn len(&self) -> Result<u64, RepositoryError> {
        self.db
            .run(|conn| {
                outbox::table.count().get_result::<i64>(conn).map(|n| u64::try_from(n).unwrap_or(0)).map_err(db)
            })
            .await
    }

    /// Whether the outbox is empty.
    pub async fn is_empty(&self) -> Result<bool, RepositoryError> {
        Ok(self.len().await? == 0)
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }
}

#[async_trait]
impl Outbox for DieselOutbox {
    async fn acquire(&self, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, RepositoryError> {
        let holder = holder.to_owned();
        let (now, until) = (now.naive_utc(), until.naive_utc());
        self.db
            .run(move |conn| {
                let free = outbox_relay::holder
                    .is_null()
                    .or(outbox_relay::holder.eq(&holder))
                    .or(outbox_relay::lease_until.lt(now).assume_not_null());
                let taken = diesel::update(outbox_relay::table.find(RELAY).filter(free))
                    .set((outbox_relay::holder.eq(&holder), outbox_relay::lease_until.eq(until)))
                    .execute(conn)
                    .map_err(db)?;
                Ok(taken == 1)
            })
            .await
    }

    async fn release(&self, holder: &str) -> Result<(), RepositoryError> {
        let holder = holder.to_owned();
        self.db
            .run(move |conn| {
                diesel::update(outbox_relay::table.find(RELAY).filter(outbox_relay::holder.eq(&holder)))
                    .set((outbox_relay::holder.eq(None::<String>), outbox_relay::lease_until.eq(None::<NaiveDateTime>)))
                    .execute(conn)
                    .map(drop)
                    .map_err(db)
            })
            .await
    }

    async fn pending(&self, limit: usize) -> Result<Vec<OutboxEvent>, RepositoryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .run(move |conn| {
                let rows: Vec<EventRow> = outbox::table.order(outbox::id.asc()).limit(limit).load(conn).map_err(db)?;
                rows.into_iter().map(EventRow::into_event).collect()
            })
            .await
    }

    /// Deletes the published events; on PostgreSQL, also vacuums the table every
    /// `VACUUM_EVERY` events and merges the tasks' search index every `MERGE_SEARCH_EVERY`.
    ///
    /// The outbox is a queue: each row lives a few milliseconds, and under a write load thousands
    /// are deleted a second. Autovacuum visits a table at most once a minute (and not at all where
    /// it is turned off), and until a vacuum the dead rows' pages stay, new rows go to new pages,
    /// and every read of the oldest events walks them: after a 10 s load, 1.5 ms a round against
    /// 0.02 ms for the same read on a vacuumed table. Vacuuming a table of a few hundred pages
    /// takes a few milliseconds. SQLite reuses a deleted row's space by itself.
    /// The vacuum keeps the emptied pages for the next events rather than truncating the file
    /// (migration 000020): truncating locks out every writer of an event, and so every task write.
    ///
    /// Every event here is a task change, and the relay sees each once, on one instance, off the
    /// request path: the place to fold the new entries of the tasks' trigram index (its pending
    /// list, which every search also reads) into the index proper. Left to the writers, the
    /// writer that finds the list full merges it while its own request waits. Merged here in
    /// batches of a few hundred tasks, which cost less per task than the small, frequent merges
    /// of the 128 kB list that migration 000018 set to bound that wait, `POST /tasks` under load
    /// went from 2,834 to 3,130 requests a second (`compare.sh`, one core), and no request pays
    /// for a merge (see migration 000019).
    async fn remove(&self, ids: Vec<EventId>) -> Result<(), RepositoryError> {
        let postgres = self.db.backend() == Backend::Postgres;
        let vacuum = postgres && due(&self.removed, ids.len(), VACUUM_EVERY);
        let merge =
            postgres && self.merging.load(Ordering::Relaxed) && due(&self.unmerged, ids.len(), MERGE_SEARCH_EVERY);
        let merging = self.merging.clone();
        self.db
            .run(move |conn| {
                for chunk in ids.chunks(ID_CHUNK) {
                    let chunk: Vec<i64> = chunk.iter().map(|id| id.0).collect();
                    diesel::delete(outbox::table.filter(outbox::id.eq_any(chunk))).execute(conn).map_err(db)?;
                }
                if vacuum && let Err(e) = diesel::sql_query("VACUUM outbox").execute(conn) {
                    // Only ever a slower read: autovacuum, where it runs, does the same later.
                    tracing::warn!(error = %e, "could not vacuum the outbox");
                }
                if merge
                    && let Err(e) =
                        diesel::sql_query("SELECT gin_clean_pending_list('tasks_search_trgm')").execute(conn)
                {
                    // The deletes just went through on this connection, so this is a refusal
                    // rather than a lost connection, and asking again every 500 events would
                    // only repeat it in the log. The next writer to find the list full, or
                    // autovacuum, merges it instead.
                    merging.store(false, Ordering::Relaxed);
                    tracing::warn!(error = %e, "could not merge the tasks' search index; writers will from now on");
                }
                Ok(())
            })
            .await
    }
}
