//! What the scheduled jobs need from the database: expired refresh tokens, inactive accounts,
//! the daily task report's figures, warranties ending soon, and the online backup of a SQLite
//! database.

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use diesel::dsl::{exists, not, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text, Timestamp};
use workbench_core::RepositoryError;
use workbench_scheduled::{
    AccountHousekeeping, DatabaseBackup, ITEMS_PER_REMINDER, TaskDigest, TaskDigests, TaskLine, WarrantyDigest,
    WarrantyLine, WarrantyReminders,
};
use workbench_tasks::Status;
use workbench_users::UserId;

use crate::error::db;
use crate::schema::{products, tasks, user_products, users, warranty_reminders};
use crate::{AnyConnection, Database};

/// Tokens deleted per statement, so that a large purge holds no lock for long.
const PURGE_CHUNK: i64 = 5_000;
/// Tasks listed per section of a report.
const REPORT_LINES: i64 = 20;

const PG_PURGE: &str =
    "DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens WHERE expires_at < $1 LIMIT $2)";
const SQLITE_PURGE: &str =
    "DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens WHERE expires_at < ? LIMIT ?)";
/// The provider session of a family whose tokens are all gone (OpenID Connect sign-ins).
const ORPHANED_PROVIDER_SESSIONS: &str = "DELETE FROM provider_sessions WHERE NOT EXISTS \
     (SELECT 1 FROM refresh_tokens WHERE refresh_tokens.family_id = provider_sessions.family_id)";

/// `last_seen_at` is kept by a trigger on `refresh_tokens` (see the migration) and is not part of
/// the `users` schema the application maps, so it is read here in SQL.
const PG_INACTIVE: &str = "SELECT id FROM users WHERE status = 'active' AND role IN ('user', 'moderator')
    AND COALESCE(last_seen_at, created_at) < $1 ORDER BY id LIMIT $2";
const SQLITE_INACTIVE: &str = "SELECT id FROM users WHERE status = 'active' AND role IN ('user', 'moderator')
    AND COALESCE(last_seen_at, created_at) < ? ORDER BY id LIMIT ?";

const PG_RECIPIENTS: &str = "SELECT u.id FROM users u WHERE u.status = 'active' AND u.id > $1
    AND EXISTS (SELECT 1 FROM tasks t WHERE t.status <> 'completed' AND (t.owner_id = u.id OR t.assignee_id = u.id))
    ORDER BY u.id LIMIT $2";
const SQLITE_RECIPIENTS: &str = "SELECT u.id FROM users u WHERE u.status = 'active' AND u.id > ?
    AND EXISTS (SELECT 1 FROM tasks t WHERE t.status <> 'completed' AND (t.owner_id = u.id OR t.assignee_id = u.id))
    ORDER BY u.id LIMIT ?";

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

fn ids(rows: Vec<Id>) -> Vec<UserId> {
    rows.into_iter().map(|r| UserId(r.id)).collect()
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Runs a statement written per engine (placeholders differ) with a timestamp and a limit.
fn with_time_and_limit<T: QueryableByName<diesel::pg::Pg> + QueryableByName<diesel::sqlite::Sqlite> + 'static>(
    conn: &mut AnyConnection,
    (pg, sqlite): (&str, &str),
    at: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<T>> {
    match conn {
        AnyConnection::Postgresql(c) => diesel::sql_query(pg).bind::<Timestamp, _>(at).bind::<BigInt, _>(limit).load(c),
        AnyConnection::Sqlite(c) => diesel::sql_query(sqlite).bind::<Timestamp, _>(at).bind::<BigInt, _>(limit).load(c),
    }
}

/// The scheduled jobs' queries on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselHousekeeping {
    db: Database,
}

impl DieselHousekeeping {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl AccountHousekeeping for DieselHousekeeping {
    async fn purge_expired_refresh_tokens(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError> {
        let now = now.naive_utc();
        let mut purged = 0u64;
        loop {
            let deleted = self
                .db
                .run(move |conn| {
                    match conn {
                        AnyConnection::Postgresql(c) => diesel::sql_query(PG_PURGE)
                            .bind::<Timestamp, _>(now)
                            .bind::<BigInt, _>(PURGE_CHUNK)
                            .execute(c),
                        AnyConnection::Sqlite(c) => diesel::sql_query(SQLITE_PURGE)
                            .bind::<Timestamp, _>(now)
                            .bind::<BigInt, _>(PURGE_CHUNK)
                            .execute(c),
                    }
                    .map_err(db)
                })
                .await?;
            purged += deleted as u64;
            if (deleted as i64) < PURGE_CHUNK {
                // The provider sessions of families with no token left go with them.
                self.db.run(|conn| diesel::sql_query(ORPHANED_PROVIDER_SESSIONS).execute(conn).map_err(db)).await?;
                return Ok(purged);
            }
        }
    }

    async fn inactive_users(&self, cutoff: DateTime<Utc>, n: usize) -> Result<Vec<UserId>, RepositoryError> {
        let cutoff = cutoff.naive_utc();
        self.db
            .run(move |conn| {
                with_time_and_limit::<Id>(conn, (PG_INACTIVE, SQLITE_INACTIVE), cutoff, limit(n)).map(ids).map_err(db)
            })
            .await
    }
}

/// The condition of [`open_of`], named so that its query can be returned as a type.
type OpenOf = diesel::dsl::And<
    diesel::dsl::Or<diesel::dsl::Eq<tasks::owner_id, i64>, diesel::dsl::Eq<tasks::assignee_id, i64>>,
    diesel::dsl::NotEq<tasks::status, &'static str>,
>;

/// The tasks a user owns or is assigned to, not completed.
fn open_of(user: i64) -> diesel::dsl::Filter<tasks::table, OpenOf> {
    tasks::table.filter(
        tasks::owner_id.eq(user).or(tasks::assignee_id.eq(user)).and(tasks::status.ne(Status::Completed.as_str())),
    )
}

fn lines(rows: Vec<(i64, String, Option<NaiveDateTime>)>) -> Vec<TaskLine> {
    rows.into_iter().map(|(id, title, due)| TaskLine { id, title, due_date: due.map(|d| d.and_utc()) }).collect()
}

#[async_trait]
impl TaskDigests for DieselHousekeeping {
    async fn recipients(&self, after: Option<UserId>, n: usize) -> Result<Vec<UserId>, RepositoryError> {
        let after = after.map_or(0, |u| u.0);
        self.db
            .run(move |conn| {
                let rows: Vec<Id> = match conn {
                    AnyConnection::Postgresql(c) => {
                        diesel::sql_query(PG_RECIPIENTS).bind::<BigInt, _>(after).bind::<BigInt, _>(limit(n)).load(c)
                    }
                    AnyConnection::Sqlite(c) => diesel::sql_query(SQLITE_RECIPIENTS)
                        .bind::<BigInt, _>(after)
                        .bind::<BigInt, _>(limit(n))
                        .load(c),
                }
                .map_err(db)?;
                Ok(ids(rows))
            })
            .await
    }

    async fn digest(&self, user: UserId, now: DateTime<Utc>) -> Result<Option<TaskDigest>, RepositoryError> {
        let (now, soon, day_ago) =
            (now.naive_utc(), (now + TimeDelta::hours(24)).naive_utc(), (now - TimeDelta::hours(24)).naive_utc());
        self.db
            .run(move |conn| {
                let account: Option<(String, String, String)> = users::table
                    .find(user.0)
                    .select((users::username, users::email, users::status))
                    .first(conn)
                    .optional()
                    .map_err(db)?;
                let Some((username, email, _)) = account.filter(|(_, _, status)| status == "active") else {
                    return Ok(None);
                };
                let columns = (tasks::id, tasks::title, tasks::due_date);
                let open: i64 = open_of(user.0).count().get_result(conn).map_err(db)?;
                let overdue = open_of(user.0)
                    .filter(tasks::due_date.lt(now))
                    .order((tasks::due_date.asc(), tasks::id.asc()))
                    .select(columns)
                    .limit(REPORT_LINES)
                    .load(conn)
                    .map_err(db)?;
                let due_soon = open_of(user.0)
                    .filter(tasks::due_date.ge(now))
                    .filter(tasks::due_date.lt(soon))
                    .order((tasks::due_date.asc(), tasks::id.asc()))
                    .select(columns)
                    .limit(REPORT_LINES)
                    .load(conn)
                    .map_err(db)?;
                let completed: i64 = tasks::table
                    .filter(tasks::owner_id.eq(user.0).or(tasks::assignee_id.eq(user.0)))
                    .filter(tasks::status.eq(Status::Completed.as_str()))
                    .filter(tasks::completed_at.ge(day_ago))
                    .count()
                    .get_result(conn)
                    .map_err(db)?;
                Ok(Some(TaskDigest {
                    username,
                    email,
                    open: u64::try_from(open).unwrap_or(0),
                    overdue: lines(overdue),
                    due_soon: lines(due_soon),
                    completed_last_day: u64::try_from(completed).unwrap_or(0),
                }))
            })
            .await
    }
}

#[async_trait]
impl DatabaseBackup for DieselHousekeeping {
    async fn backup_into(&self, path: PathBuf) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| match conn {
                AnyConnection::Postgresql(_) => Ok(false),
                // An online, consistent copy: VACUUM INTO reads in one transaction while writers go on
                // (WAL), and writes a compact file.
                AnyConnection::Sqlite(c) => diesel::sql_query("VACUUM INTO ?")
                    .bind::<Text, _>(path.to_string_lossy().into_owned())
                    .execute(c)
                    .map(|_| true)
                    .map_err(db),
            })
            .await
    }
}

/// Items still owned (`active` or `broken`), spelt as the partial index `user_products_warranty_due`
/// spells it, so that SQLite uses the index.
const STILL_OWNED: &str = "user_products.status IN ('active', 'broken')";

/// Items still owned whose warranty ends between `$from` and `$until` and whose current end
/// date was not reminded of yet. A macro rather than a function: the expression's type is not
/// worth spelling out.
macro_rules! due_items {
    ($from:expr, $until:expr) => {
        sql::<Bool>(STILL_OWNED)
            .and(user_products::warranty_expires.ge($from))
            .and(user_products::warranty_expires.le($until))
            .and(not(exists(
                warranty_reminders::table.filter(
                    warranty_reminders::user_product_id.eq(user_products::id).and(
                        warranty_reminders::warranty_expires.eq(user_products::warranty_expires.assume_not_null()),
                    ),
                ),
            )))
    };
}

#[async_trait]
impl WarrantyReminders for DieselHousekeeping {
    async fn owners_due(
        &self,
        from: NaiveDate,
        until: NaiveDate,
        after: Option<UserId>,
        n: usize,
    ) -> Result<Vec<UserId>, RepositoryError> {
        let after = after.map_or(0, |u| u.0);
        self.db
            .run(move |conn| {
                let ids: Vec<i64> = user_products::table
                    .inner_join(users::table)
                    .filter(due_items!(from, until))
                    .filter(users::status.eq("active"))
                    .filter(users::id.gt(after))
                    .select(users::id)
                    .distinct()
                    .order(users::id.asc())
                    .limit(limit(n))
                    .load(conn)
                    .map_err(db)?;
                Ok(ids.into_iter().map(UserId).collect())
            })
            .await
    }

    async fn items_due(
        &self,
        user: UserId,
        from: NaiveDate,
        until: NaiveDate,
    ) -> Result<Option<WarrantyDigest>, RepositoryError> {
        self.db
            .run(move |conn| {
                let account: Option<(String, String, String)> = users::table
                    .find(user.0)
                    .select((users::username, users::email, users::status))
                    .first(conn)
                    .optional()
                    .map_err(db)?;
                let Some((username, email, _)) = account.filter(|(_, _, status)| status == "active") else {
                    return Ok(None);
                };
                let rows: Vec<(i64, String, String, Option<String>, Option<NaiveDate>)> = user_products::table
                    .inner_join(products::table)
                    .filter(user_products::user_id.eq(user.0))
                    .filter(due_items!(from, until))
                    .select((
                        user_products::id,
                        products::name,
                        products::brand,
                        user_products::serial_number,
                        user_products::warranty_expires,
                    ))
                    .order((user_products::warranty_expires.asc(), user_products::id.asc()))
                    .limit(limit(ITEMS_PER_REMINDER))
                    .load(conn)
                    .map_err(db)?;
                let items = rows
                    .into_iter()
                    .filter_map(|(user_product_id, product, brand, serial_number, expires)| {
                        expires.map(|warranty_expires| WarrantyLine {
                            user_product_id,
                            product,
                            brand,
                            serial_number,
                            warranty_expires,
                        })
                    })
                    .collect();
                Ok(Some(WarrantyDigest { username, email, items }))
            })
            .await
    }

    async fn mark_reminded(&self, items: Vec<(i64, NaiveDate)>, at: DateTime<Utc>) -> Result<(), RepositoryError> {
        if items.is_empty() {
            return Ok(());
        }
        let at = at.naive_utc();
        self.db
            .run(move |conn| {
                let rows: Vec<_> = items
                    .iter()
                    .map(|(id, expires)| {
                        (
                            warranty_reminders::user_product_id.eq(*id),
                            warranty_reminders::warranty_expires.eq(*expires),
                            warranty_reminders::reminded_at.eq(at),
                        )
                    })
                    .collect();
                // One statement per row: `MultiConnection` has no batch insert, and a reminder
                // lists at most ITEMS_PER_REMINDER items.
                crate::database::write_transaction(conn, |c| {
                    for row in &rows {
                        let insert = diesel::insert_into(warranty_reminders::table).values(*row);
                        match c {
                            AnyConnection::Postgresql(pg) => insert.on_conflict_do_nothing().execute(pg),
                            AnyConnection::Sqlite(lite) => insert.on_conflict_do_nothing().execute(lite),
                        }
                        .map_err(db)?;
                    }
                    Ok(())
                })
            })
            .await
    }
}
