//! Embedded migrations for both engines.

use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::{AnyConnection, StoreError};

const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// An arbitrary, fixed key for `pg_advisory_lock`: every Workbench instance takes the same one.
const MIGRATION_LOCK_KEY: i64 = 0x5742_4D49_4752; // "WBMIGR"

/// Applies every pending migration and returns the versions applied.
///
/// On PostgreSQL the run holds a session advisory lock, so that several instances starting at
/// once apply each migration exactly once: the others wait, then find nothing pending.
pub(crate) fn run_pending(conn: &mut AnyConnection) -> Result<Vec<String>, StoreError> {
    let applied = match conn {
        AnyConnection::Postgresql(pg) => {
            pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let result = pg.run_pending_migrations(POSTGRES).map(|v| v.iter().map(ToString::to_string).collect());
            // Unlock whatever happened; a failed unlock only matters if the connection lives on,
            // and the lock dies with the session anyway.
            let _ = pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
            result
        }
        AnyConnection::Sqlite(sqlite) => {
            // Migrating a new file writes every table's and index's pages (1.5 MB), which the
            // page cache would then keep for as long as this pooled connection lives. A small
            // cache while migrating lets them go to the file instead.
            sqlite.batch_execute("PRAGMA cache_size = -128")?;
            let result = sqlite.run_pending_migrations(SQLITE).map(|v| v.iter().map(ToString::to_string).collect());
            // SQLite's default: 2,000 KiB.
            sqlite.batch_execute("PRAGMA cache_size = -2000")?;
            result
        }
    };
    applied.map_err(|e| StoreError::Migrate(e.to_string()))
}
