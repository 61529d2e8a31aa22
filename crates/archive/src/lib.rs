//! Export and import of a whole Workbench database, between engines.
//!
//! [`export`] writes every table the migrations make (the operational ones only when asked, see
//! [`OPERATIONAL`]) from one consistent snapshot of a running database, as one versioned,
//! zstd-compressed stream of JSON Lines (see [`format`](mod@format) for the layout and [`value`] for the
//! canonical form of values); [`import`] loads such an archive into an empty database of either
//! engine, keeping ids, timestamps, versions and password hashes, and moves id sequences past
//! the imported ids. Both stream: memory stays flat whatever the database's size.
//!
//! Nothing here names a table to carry: the list, the columns and their types, the primary keys
//! and the foreign keys' order come from the database's own catalogue, so a table a later
//! migration adds is carried without a change. What is named: the operational tables left out
//! by default, and the `files` columns that hold blob keys (`--with-files`).

mod catalogue;
mod error;
mod export;
pub mod format;
mod import;
pub mod value;

use std::time::Duration;

pub use catalogue::OPERATIONAL;
pub use error::ArchiveError;
pub use export::{ExportOptions, export, export_to_file};
pub use import::{ImportOptions, import};

/// What an export or an import moved.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Per table, in the archive's order.
    pub tables: Vec<TableSummary>,
    pub rows: u64,
    /// Blobs copied, and their bytes (`--with-files`).
    pub blobs: u64,
    pub blob_bytes: u64,
    /// File rows whose blob the store did not have at export.
    pub missing_blobs: u64,
    pub elapsed: Duration,
}

impl Summary {
    /// Rows per second over the whole run.
    pub fn rows_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 { self.rows as f64 / seconds } else { self.rows as f64 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    pub name: String,
    pub rows: u64,
}
