//! Task reminders in the database. Triggers of migration 000054 keep a relative reminder's
//! `fire_at` in step with its task's due date, and give every task with a due date its
//! `due_soon`; a sweep claims what is due with one `UPDATE … RETURNING`, which two sweeps at once
//! never both win (PostgreSQL: `FOR UPDATE SKIP LOCKED`, each takes other rows; SQLite: one
//! writer at a time).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use workbench_core::RepositoryError;
use workbench_notifications::{DueKind, DueReminder, Moment, NewReminder, Reminder, ReminderId, ReminderRepository};
use workbench_tasks::TaskId;

use crate::database::{stored, write_transaction};
use crate::error::{corrupt, db};
use crate::{AnyConnection, Database};

diesel::table! {
    /// A task's reminders, and its `due_soon`.
    task_reminders (id) {
        id -> BigInt,
        task_id -> BigInt,
        kind -> Text,
        remind_at -> Nullable<Timestamp>,
        before_due -> Nullable<Text>,
        before_secs -> Nullable<BigInt>,
        fire_at -> Nullable<Timestamp>,
        fired_at -> Nullable<Timestamp>,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

/// The kind of the reminders users set; `due_soon` is the task's own.
const SET_BY_USERS: &str = "reminder";

#[derive(Queryable, Selectable)]
#[diesel(table_name = task_reminders)]
struct ReminderRow {
    id: i64,
    task_id: i64,
    remind_at: Option<NaiveDateTime>,
    before_due: Option<String>,
    fire_at: Option<NaiveDateTime>,
    fired_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

impl From<ReminderRow> for Reminder {
    fn from(row: ReminderRow) -> Self {
        Reminder {
            id: ReminderId(row.id),
            task_id: row.task_id,
            at: row.remind_at.map(|at| at.and_utc()),
            before_due: row.before_due,
            fires_at: row.fire_at.filter(|_| row.fired_at.is_none()).map(|at| at.and_utc()),
            fired_at: row.fired_at.map(|at| at.and_utc()),
            created_at: row.created_at.and_utc(),
        }
    }
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    task_id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
}

const PG_CLAIM: &str = "UPDATE task_reminders SET fired_at = $1
    WHERE id IN (
        SELECT id FROM task_reminders
        WHERE fired_at IS NULL AND fire_at IS NOT NULL AND fire_at <= $1
        ORDER BY fire_at LIMIT $2 FOR UPDATE SKIP LOCKED
    )
    RETURNING id, task_id, kind";

const SQLITE_CLAIM: &str = "UPDATE task_reminders SET fired_at = $1
    WHERE id IN (
        SELECT id FROM task_reminders
        WHERE fired_at IS NULL AND fire_at IS NOT NULL AND fire_at <= $1
        ORDER BY fire_at LIMIT $2
    )
    RETURNING id, task_id, kind";

/// Task reminders in the database.
#[derive(Debug, Clone)]
pub struct DieselReminderRepository {
    db: Database,
}

impl DieselReminderRepository {
    /// The repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ReminderRepository for DieselReminderRepository {
    async fn add(&self, reminder: NewReminder, max: usize) -> Result<Option<Reminder>, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    if let AnyConnection::Postgresql(_) = conn {
                        // Two adds to one task at once count one after the other.
                        diesel::sql_query("SELECT id FROM tasks WHERE id = $1 FOR NO KEY UPDATE")
                            .bind::<BigInt, _>(reminder.task_id.0)
                            .execute(conn)
                            .map_err(db)?;
                    }
                    let held: i64 = task_reminders::table
                        .filter(task_reminders::task_id.eq(reminder.task_id.0))
                        .filter(task_reminders::kind.eq(SET_BY_USERS))
                        .count()
                        .get_result(conn)
                        .map_err(db)?;
                    if held >= max as i64 {
                        return Ok(None);
                    }
                    let (at, before_due, before_secs) = match &reminder.moment {
                        Moment::At(at) => (Some(stored(*at)), None, None),
                        Moment::BeforeDue(text, span) => (None, Some(text.clone()), Some(span.num_seconds())),
                    };
                    let id: i64 = diesel::insert_into(task_reminders::table)
                        .values((
                            task_reminders::task_id.eq(reminder.task_id.0),
                            task_reminders::kind.eq(SET_BY_USERS),
                            task_reminders::remind_at.eq(at),
                            task_reminders::before_due.eq(before_due),
                            task_reminders::before_secs.eq(before_secs),
                            task_reminders::fire_at.eq(reminder.fire_at.map(stored)),
                            task_reminders::created_by.eq(reminder.created_by.0),
                            task_reminders::created_at.eq(stored(reminder.created_at)),
                        ))
                        .returning(task_reminders::id)
                        .get_result(conn)
                        .map_err(db)?;
                    let row =
                        task_reminders::table.find(id).select(ReminderRow::as_select()).first(conn).map_err(db)?;
                    Ok(Some(row.into()))
                })
            })
            .await
    }

    async fn of_task(&self, task: TaskId) -> Result<Vec<Reminder>, RepositoryError> {
        self.db
            .run(move |conn| {
                let rows = task_reminders::table
                    .filter(task_reminders::task_id.eq(task.0))
                    .filter(task_reminders::kind.eq(SET_BY_USERS))
                    .order(task_reminders::id.asc())
                    .select(ReminderRow::as_select())
                    .load(conn)
                    .map_err(db)?;
                Ok(rows.into_iter().map(Reminder::from).collect())
            })
            .await
    }

    async fn remove(&self, task: TaskId, id: ReminderId) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                let gone = diesel::delete(
                    task_reminders::table
                        .filter(task_reminders::id.eq(id.0))
                        .filter(task_reminders::task_id.eq(task.0))
                        .filter(task_reminders::kind.eq(SET_BY_USERS)),
                )
                .execute(conn)
                .map_err(db)?;
                Ok(gone > 0)
            })
            .await
    }

    async fn claim_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<DueReminder>, RepositoryError> {
        let now = stored(now);
        self.db
            .run(move |conn| {
                let sql = match conn {
                    AnyConnection::Postgresql(_) => PG_CLAIM,
                    AnyConnection::Sqlite(_) => SQLITE_CLAIM,
                };
                let claimed: Vec<Claimed> = write_transaction(conn, |conn| {
                    diesel::sql_query(sql)
                        .bind::<Timestamp, _>(now)
                        .bind::<BigInt, _>(i64::from(limit))
                        .load(conn)
                        .map_err(db)
                })?;
                claimed
                    .into_iter()
                    .map(|c| {
                        let kind = match c.kind.as_str() {
                            "reminder" => DueKind::Reminder,
                            "due_soon" => DueKind::DueSoon,
                            other => return Err(corrupt("task_reminders.kind", other)),
                        };
                        Ok(DueReminder { id: ReminderId(c.id), task_id: TaskId(c.task_id), kind })
                    })
                    .collect()
            })
            .await
    }
}
