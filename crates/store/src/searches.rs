//! Saved searches (the search domain's `SavedSearchRepository`).
//!
//! The per-user limit is decided in the insert's transaction, after taking the user's row (on
//! PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serialises writers), so racing saves cannot
//! pass it.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_search::{NewSavedSearch, SavedSearch, SavedSearchId, SavedSearchRepository};
use workbench_users::UserId;

use crate::database::{stored, write_transaction};
use crate::error::{db, map_db_error};
use crate::paging::counted_page;
use crate::schema::users;
use crate::{AnyConnection, Database};

diesel::table! {
    /// Saved searches (see the migration).
    saved_searches (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        /// The query of the search language (`q` on the wire).
        query -> Text,
        created_at -> Timestamp,
    }
}

/// `SavedSearchRepository` on the shared database.
#[derive(Debug, Clone)]
pub struct DieselSavedSearchRepository {
    db: Database,
}

impl DieselSavedSearchRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Debug, Queryable)]
struct SearchRow {
    id: i64,
    user_id: i64,
    name: String,
    q: String,
    created_at: NaiveDateTime,
}

impl From<SearchRow> for SavedSearch {
    fn from(row: SearchRow) -> Self {
        Self {
            id: SavedSearchId(row.id),
            user_id: UserId(row.user_id),
            name: row.name,
            q: row.q,
            created_at: row.created_at.and_utc(),
        }
    }
}

const COLUMNS: (
    saved_searches::id,
    saved_searches::user_id,
    saved_searches::name,
    saved_searches::query,
    saved_searches::created_at,
) = (
    saved_searches::id,
    saved_searches::user_id,
    saved_searches::name,
    saved_searches::query,
    saved_searches::created_at,
);

fn count_of(conn: &mut AnyConnection, user: UserId) -> Result<i64, RepositoryError> {
    saved_searches::table.filter(saved_searches::user_id.eq(user.0)).count().get_result(conn).map_err(db)
}

#[async_trait]
impl SavedSearchRepository for DieselSavedSearchRepository {
    async fn insert(&self, search: NewSavedSearch, limit: u64) -> Result<Option<SavedSearch>, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    if let AnyConnection::Postgresql(pg) = conn {
                        // `NO KEY`: the lock other tables' foreign keys take on the row still passes.
                        users::table
                            .filter(users::id.eq(search.user_id.0))
                            .select(users::id)
                            .for_no_key_update()
                            .first::<i64>(pg)
                            .optional()
                            .map_err(db)?;
                    }
                    if u64::try_from(count_of(conn, search.user_id)?).unwrap_or_default() >= limit {
                        return Ok(None);
                    }
                    let row: SearchRow = diesel::insert_into(saved_searches::table)
                        .values((
                            saved_searches::user_id.eq(search.user_id.0),
                            saved_searches::name.eq(&search.name),
                            saved_searches::query.eq(&search.q),
                            saved_searches::created_at.eq(stored(search.created_at)),
                        ))
                        .returning(COLUMNS)
                        .get_result(conn)
                        .map_err(|e| match map_db_error(e, &[]) {
                            RepositoryError::MissingReference { .. } => {
                                RepositoryError::MissingReference { field: "user_id" }
                            }
                            other => other,
                        })?;
                    Ok(Some(row.into()))
                })
            })
            .await
    }

    async fn list(&self, user: UserId, page: PageRequest) -> Result<Page<SavedSearch>, RepositoryError> {
        self.db
            .run(move |conn| {
                let total = count_of(conn, user)?;
                counted_page(page, total, || {
                    let rows: Vec<SearchRow> = saved_searches::table
                        .filter(saved_searches::user_id.eq(user.0))
                        .order((saved_searches::created_at.desc(), saved_searches::id.desc()))
                        .offset(page.offset())
                        .limit(page.limit())
                        .select(COLUMNS)
                        .load(conn)
                        .map_err(db)?;
                    Ok(rows.into_iter().map(Into::into).collect())
                })
            })
            .await
    }

    async fn delete(&self, user: UserId, id: SavedSearchId) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                let deleted = diesel::delete(
                    saved_searches::table
                        .filter(saved_searches::id.eq(id.0))
                        .filter(saved_searches::user_id.eq(user.0)),
                )
                .execute(conn)
                .map_err(db)?;
                Ok(deleted > 0)
            })
            .await
    }
}
