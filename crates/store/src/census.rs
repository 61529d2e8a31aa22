//! The administrators' dashboard figures, in one statement.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp};
use workbench_core::RepositoryError;
use workbench_users::{PlatformCensus, PlatformCounts};

use crate::error::db;
use crate::{AnyConnection, Database};

/// Scalar subqueries, so that every figure comes from one statement (one snapshot on
/// PostgreSQL, one read transaction on SQLite) and one round trip. A family is live while its
/// newest token is neither used, revoked nor expired; rotation leaves at most one such token per
/// family, but `DISTINCT` keeps the count right whatever the history.
const COUNTS: &str = "SELECT
    (SELECT COUNT(*) FROM users) AS users,
    (SELECT COUNT(*) FROM tasks) AS tasks,
    (SELECT COUNT(*) FROM products) AS products,
    (SELECT COUNT(*) FROM files) AS files,
    (SELECT COUNT(*) FROM users WHERE created_at >= $1) AS new_users_today,
    (SELECT COUNT(DISTINCT family_id) FROM refresh_tokens
        WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at > $2) AS active_sessions";

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    users: i64,
    #[diesel(sql_type = BigInt)]
    tasks: i64,
    #[diesel(sql_type = BigInt)]
    products: i64,
    #[diesel(sql_type = BigInt)]
    files: i64,
    #[diesel(sql_type = BigInt)]
    new_users_today: i64,
    #[diesel(sql_type = BigInt)]
    active_sessions: i64,
}

/// [`PlatformCensus`] on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselPlatformCensus {
    db: Database,
}

impl DieselPlatformCensus {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl PlatformCensus for DieselPlatformCensus {
    async fn counts(&self, day_start: DateTime<Utc>, now: DateTime<Utc>) -> Result<PlatformCounts, RepositoryError> {
        let (day_start, now) = (day_start.naive_utc(), now.naive_utc());
        let row: Counts = self
            .db
            .run(move |conn| {
                // SQLite reads `$1`, `$2` as parameters numbered in order of appearance, which is
                // the order of the binds: one statement serves both engines.
                let query = diesel::sql_query(COUNTS).bind::<Timestamp, _>(day_start).bind::<Timestamp, _>(now);
                match conn {
                    AnyConnection::Postgresql(c) => query.get_result(c),
                    AnyConnection::Sqlite(c) => query.get_result(c),
                }
                .map_err(db)
            })
            .await?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(PlatformCounts {
            users: count(row.users),
            tasks: count(row.tasks),
            products: count(row.products),
            files: count(row.files),
            new_users_today: count(row.new_users_today),
            active_sessions: count(row.active_sessions),
        })
    }
}
