//! What can go wrong, each naming what an operator should look at.

use workbench_core::RepositoryError;

use crate::catalogue::{Column, Table};
use crate::value::BadValue;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error(transparent)]
    Repository(RepositoryError),
    #[error(transparent)]
    Store(#[from] workbench_store::StoreError),
    #[error("archive i/o failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a Workbench archive: {0}")]
    NotAnArchive(String),
    #[error("archive format version {found} is not supported: this build reads version {supported}")]
    Version { found: u64, supported: u64 },
    #[error(
        "the archive was made at migration {archive} but this database is at migration {database}; \
         import it with the Workbench release whose migrations end at {archive}"
    )]
    SchemaMismatch { archive: String, database: String },
    #[error("the target database is not empty: table {table} holds {rows} row(s); import only into an empty database")]
    NotEmpty { table: String, rows: i64 },
    #[error("table {table} of the archive does not exist in this database")]
    UnknownTable { table: String },
    #[error("the columns of {table} differ between the archive and this database: {detail}")]
    Columns { table: String, detail: String },
    #[error("the archive is damaged at line {line}: {why}")]
    Corrupt { line: u64, why: String },
    #[error("the archive ends early (truncated?): {0}")]
    Truncated(String),
    #[error("{table}.{column} holds a value that is not a {kind}: {value}")]
    Value { table: String, column: String, kind: &'static str, value: String },
    #[error("the catalogue cannot order the tables by their foreign keys: {0}")]
    Cycle(String),
    #[error("blob store: {0}")]
    Blob(String),
}

impl ArchiveError {
    /// A value of `table.column` that is not what its column holds, shown in part.
    pub(crate) fn value(table: &Table, column: &Column, bad: &BadValue) -> Self {
        Self::Value {
            table: table.name.clone(),
            column: column.name.clone(),
            kind: bad.kind,
            value: bad.value.to_string().chars().take(80).collect(),
        }
    }

    pub(crate) fn corrupt(line: u64, why: impl Into<String>) -> Self {
        Self::Corrupt { line, why: why.into() }
    }
}

/// `Database::run` speaks `RepositoryError`; the archive's own errors ride through it inside
/// `Unavailable` and are taken out again by [`lower`], so callers see the typed error.
pub(crate) fn lift(e: ArchiveError) -> RepositoryError {
    RepositoryError::Unavailable(anyhow::Error::new(e))
}

pub(crate) fn lower(e: RepositoryError) -> ArchiveError {
    match e {
        RepositoryError::Unavailable(inner) => match inner.downcast::<ArchiveError>() {
            Ok(archive) => archive,
            Err(other) => ArchiveError::Repository(RepositoryError::Unavailable(other)),
        },
        other => ArchiveError::Repository(other),
    }
}
