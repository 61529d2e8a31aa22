//! Errors of opening and migrating the store, and the translation of Diesel's query errors into
//! the domain's `RepositoryError`.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use workbench_core::RepositoryError;

use crate::Backend;

/// Failures of opening or preparing the database. Each says what an operator should look at.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the {backend} database: {source}")]
    Connect {
        backend: &'static str,
        #[source]
        source: anyhow::Error,
    },
    /// The SQLite database's directory or file could not be created.
    #[error("cannot create {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(String),
    #[error("database query failed: {0}")]
    Query(#[from] DieselError),
}

impl StoreError {
    pub(crate) fn connect(backend: Backend, source: impl Into<anyhow::Error>) -> Self {
        StoreError::Connect { backend: backend.as_str(), source: source.into() }
    }
}

/// Maps a Diesel error to the domain's, naming the field of a broken unique index.
///
/// `unique_fields` pairs a fragment of an index name (`email` in `users_email_unique`, which
/// PostgreSQL reports as the constraint and SQLite as `users.email`) with the field a client sent.
pub(crate) fn map_db_error(e: DieselError, unique_fields: &[(&str, &'static str)]) -> RepositoryError {
    if let DieselError::DatabaseError(kind, info) = &e {
        let origin = info.constraint_name().unwrap_or_else(|| info.message());
        match kind {
            DatabaseErrorKind::UniqueViolation => {
                if let Some((_, field)) = unique_fields.iter().find(|(fragment, _)| origin.contains(fragment)) {
                    return RepositoryError::Conflict { field };
                }
            }
            DatabaseErrorKind::ForeignKeyViolation => {
                return RepositoryError::MissingReference { field: "reference" };
            }
            _ => {}
        }
    }
    RepositoryError::Unavailable(e.into())
}

/// A stored value the domain cannot read (a row written by something else, or by hand): the
/// store is not to be trusted for this answer, so it is a server error, named for the logs.
pub(crate) fn corrupt(column: &str, why: impl std::fmt::Display) -> RepositoryError {
    RepositoryError::Unavailable(anyhow::anyhow!("unexpected value in {column}: {why}"))
}

/// A count from SQL (`BIGINT`) as the domain's `u64`: never negative, so never lost.
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A count or attempt number of the domain (`u32`) as SQL's `INTEGER`, saturating (never past
/// `i32::MAX`, which no such number reaches).
pub(crate) fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `map_db_error` for queries that have no unique index a client could break.
pub(crate) fn db(e: DieselError) -> RepositoryError {
    map_db_error(e, &[])
}
