//! Stored responses of requests sent with an `Idempotency-Key`.
//!
//! A row per (user, key) is claimed before the request runs (`in_progress`) and holds the
//! response once it has (`completed`), until it expires. The primary key arbitrates races: of
//! two requests claiming the same key, exactly one inserts the row.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use workbench_core::RepositoryError;

use crate::error::{corrupt, db};
use crate::schema::idempotency_keys;
use crate::{AnyConnection, Database};

const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

/// How often a claim starts over when the row it saw vanished (released or purged) or was
/// replaced by a concurrent claim in between. Each retry means another request made progress, so
/// a handful is plenty.
const CLAIM_ATTEMPTS: usize = 5;

pub use workbench_core::idempotency::IdempotencyClaim;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
struct KeyRow {
    request_hash: String,
    state: String,
    response_status: Option<i32>,
    response_body: Option<String>,
    response_location: Option<String>,
    expires_at: NaiveDateTime,
}

impl KeyRow {
    fn into_claim(self) -> Result<IdempotencyClaim, RepositoryError> {
        match self.state.as_str() {
            IN_PROGRESS => Ok(IdempotencyClaim::InProgress { request_hash: self.request_hash }),
            COMPLETED => {
                let status = self
                    .response_status
                    .and_then(|s| u16::try_from(s).ok())
                    .ok_or_else(|| corrupt("idempotency_keys.response_status", "missing or out of range"))?;
                Ok(IdempotencyClaim::Completed {
                    request_hash: self.request_hash,
                    status,
                    body: self.response_body.unwrap_or_default(),
                    location: self.response_location,
                })
            }
            other => Err(corrupt("idempotency_keys.state", other)),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = idempotency_keys)]
struct NewKeyRow<'a> {
    user_id: i64,
    key: &'a str,
    request_hash: &'a str,
    state: &'static str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

/// Idempotency keys on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselIdempotencyStore {
    db: Database,
}

impl DieselIdempotencyStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Claims (user, key) for a request whose canonical body hashes to `request_hash`. Inserting
    /// the row (or replacing an expired one, `expires_at <= now`) is [`IdempotencyClaim::Claimed`];
    /// otherwise the existing row's state. Race-free: of concurrent claims exactly one is
    /// `Claimed`, because the primary key lets only one insert through, and the replacement of an
    /// expired row is conditional on it still being expired.
    pub async fn claim(
        &self,
        user_id: i64,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<IdempotencyClaim, RepositoryError> {
        let (key, request_hash) = (key.to_owned(), request_hash.to_owned());
        let (now, expires_at) = (now.naive_utc(), expires_at.naive_utc());
        self.db
            .run(move |conn| {
                let row = NewKeyRow {
                    user_id,
                    key: &key,
                    request_hash: &request_hash,
                    state: IN_PROGRESS,
                    created_at: now,
                    expires_at,
                };
                for _ in 0..CLAIM_ATTEMPTS {
                    // Single statements in autocommit: no transaction to abort on PostgreSQL, and
                    // no read-then-write upgrade to fail with SQLITE_BUSY.
                    match diesel::insert_into(idempotency_keys::table).values(&row).execute(conn) {
                        Ok(_) => return Ok(IdempotencyClaim::Claimed),
                        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {}
                        Err(e) => return Err(db(e)),
                    }
                    let Some(existing) = find(conn, user_id, &key)? else {
                        continue; // released or purged since: try inserting again
                    };
                    if existing.expires_at > now {
                        return existing.into_claim();
                    }
                    // Expired: take it over, unless a concurrent claim already has.
                    let replaced = diesel::update(
                        idempotency_keys::table.find((user_id, &key)).filter(idempotency_keys::expires_at.le(now)),
                    )
                    .set((
                        idempotency_keys::request_hash.eq(&request_hash),
                        idempotency_keys::state.eq(IN_PROGRESS),
                        idempotency_keys::response_status.eq(None::<i32>),
                        idempotency_keys::response_body.eq(None::<String>),
                        idempotency_keys::response_location.eq(None::<String>),
                        idempotency_keys::created_at.eq(now),
                        idempotency_keys::expires_at.eq(expires_at),
                    ))
                    .execute(conn)
                    .map_err(db)?;
                    if replaced > 0 {
                        return Ok(IdempotencyClaim::Claimed);
                    }
                }
                Err(RepositoryError::Unavailable(anyhow::anyhow!(
                    "idempotency key kept changing under {CLAIM_ATTEMPTS} claims"
                )))
            })
            .await
    }

    /// Stores the response of a claimed key.
    pub async fn complete(
        &self,
        user_id: i64,
        key: &str,
        status: u16,
        body: String,
        location: Option<String>,
    ) -> Result<(), RepositoryError> {
        let key = key.to_owned();
        self.db
            .run(move |conn| {
                diesel::update(idempotency_keys::table.find((user_id, &key)))
                    .set((
                        idempotency_keys::state.eq(COMPLETED),
                        idempotency_keys::response_status.eq(Some(i32::from(status))),
                        idempotency_keys::response_body.eq(Some(body.as_str())),
                        idempotency_keys::response_location.eq(location.as_deref()),
                    ))
                    .execute(conn)
                    .map(drop)
                    .map_err(db)
            })
            .await
    }

    /// Forgets a claim (after a server error, so that the client may retry). A completed key keeps
    /// its response.
    pub async fn release(&self, user_id: i64, key: &str) -> Result<(), RepositoryError> {
        let key = key.to_owned();
        self.db
            .run(move |conn| {
                diesel::delete(
                    idempotency_keys::table.find((user_id, &key)).filter(idempotency_keys::state.eq(IN_PROGRESS)),
                )
                .execute(conn)
                .map(drop)
                .map_err(db)
            })
            .await
    }

    /// Deletes expired rows (`expires_at <= now`); returns how many.
    pub async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError> {
        let now = now.naive_utc();
        self.db
            .run(move |conn| {
                diesel::delete(idempotency_keys::table.filter(idempotency_keys::expires_at.le(now)))
                    .execute(conn)
                    .map(|n| n as u64)
                    .map_err(db)
            })
            .await
    }
}

fn find(conn: &mut AnyConnection, user_id: i64, key: &str) -> Result<Option<KeyRow>, RepositoryError> {
    idempotency_keys::table.find((user_id, key)).select(KeyRow::as_select()).first(conn).optional().map_err(db)
}

/// The port every creating route uses, over the inherent methods above.
#[async_trait::async_trait]
impl workbench_core::idempotency::IdempotencyStore for DieselIdempotencyStore {
    async fn claim(
        &self,
        user_id: i64,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<IdempotencyClaim, RepositoryError> {
        DieselIdempotencyStore::claim(self, user_id, key, request_hash, now, expires_at).await
    }

    async fn complete(
        &self,
        user_id: i64,
        key: &str,
        status: u16,
        body: String,
        location: Option<String>,
    ) -> Result<(), RepositoryError> {
        DieselIdempotencyStore::complete(self, user_id, key, status, body, location).await
    }

    async fn release(&self, user_id: i64, key: &str) -> Result<(), RepositoryError> {
        DieselIdempotencyStore::release(self, user_id, key).await
    }
}
