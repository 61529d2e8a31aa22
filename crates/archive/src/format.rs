//! The archive's layout.
//!
//! A zstd stream of lines (JSON Lines): the header, then per table a `{"@table": …}` marker, its
//! rows as JSON objects (column name to canonical value, see [`crate::value`]) and a
//! `{"@end": …, "rows": n}` marker; with files, per blob a `{"@blob": key}` marker, its bytes as
//! `{"@data": base64}` lines of at most [`BLOB_CHUNK`] bytes each and `{"@end_blob": key,
//! "bytes": n}`; last `{"@end_archive": true, …}`. Markers are told from rows by their first key,
//! which starts with `@`: no column name can (both engines would need it quoted, and no migration
//! does that). Lines, rather than a tar, because every part is then readable with `zstdcat | head`
//! and a reader needs no lookahead; the end markers with counts make a truncated or spliced
//! archive an error instead of a smaller database.

use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "workbench-archive";
/// Bumped whenever a reader of the previous version would misread what this one writes.
pub const VERSION: u64 = 1;
/// Bytes of a blob per `@data` line: 48 KiB, a multiple of 3 so that chunks are base64 without
/// padding but the last.
pub const BLOB_CHUNK: usize = 48 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u64,
    /// The engine that wrote it, `sqlite` or `postgres` (informative: the values are canonical).
    pub engine: String,
    /// The last migration of the exported database; import needs the same.
    pub schema_version: String,
    /// When the export started (UTC, RFC 3339).
    pub created_at: String,
    /// Whether operational tables (audit log, jobs, outbox) are included.
    pub all: bool,
    /// Whether blob bytes follow the tables.
    pub with_files: bool,
    pub tables: Vec<TableHeader>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableHeader {
    pub name: String,
    pub columns: Vec<ColumnHeader>,
    /// Where the table's id sequence stood (PostgreSQL's serial, SQLite's AUTOINCREMENT), so that
    /// an import never hands out an id the source had already used, even one whose row is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<Sequence>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnHeader {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sequence {
    pub column: String,
    /// The last value handed out.
    pub last: i64,
}
