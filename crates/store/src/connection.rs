//! Connections to either engine, and an r2d2 manager that picks the engine from the URL.

use diesel::connection::SimpleConnection;
use diesel::{Connection, ConnectionError, PgConnection, RunQueryDsl, SqliteConnection};

/// A connection to PostgreSQL or SQLite. Queries written against it run on both.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for AnyConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AnyConnection::Postgresql(_) => "AnyConnection::Postgresql",
            AnyConnection::Sqlite(_) => "AnyConnection::Sqlite",
        })
    }
}

/// The database engine behind a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The engine a URL names: `postgres://` and `postgresql://` are PostgreSQL; `sqlite://`,
    /// `sqlite:` and anything else (a plain path) is a SQLite file.
    pub fn from_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// The file path of a SQLite URL.
pub(crate) fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url)
}

/// Opens connections for the pool. Unlike `MultiConnection::establish`, which tries each engine in
/// turn and then reports only "invalid connection url", this one opens exactly the engine the URL
/// names, so an operator sees the real cause (wrong password, unknown host, unreadable file).
#[derive(Debug)]
pub(crate) struct Manager {
    url: String,
    backend: Backend,
}

impl Manager {
    pub(crate) fn new(url: &str) -> Self {
        Self { url: url.to_owned(), backend: Backend::from_url(url) }
    }
}

/// Settings applied to every new SQLite connection: write-ahead logging so readers never block
/// the writer, a busy timeout so concurrent writers wait instead of failing, and foreign keys,
/// which SQLite leaves off unless asked.
const SQLITE_SETUP: &str = "PRAGMA journal_mode = WAL;
PRAGMA busy_timeout = 5000;
PRAGMA foreign_keys = ON;
PRAGMA synchronous = NORMAL;";

impl r2d2::ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<AnyConnection, ConnectionError> {
        match self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url)?;
                // Columns are TIMESTAMP holding UTC; pin the session zone so that SQL-side
                // date arithmetic agrees with the application's.
                conn.batch_execute("SET TIME ZONE 'UTC'").map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(AnyConnection::Postgresql(conn))
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(sqlite_path(&self.url))?;
                conn.batch_execute(SQLITE_SETUP).map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), ConnectionError> {
        diesel::sql_query("SELECT 1")
            .execute(conn)
            .map(|_| ())
            .map_err(|e| ConnectionError::BadConnection(e.to_string()))
    }

    /// A connection returned mid-panic, still inside a transaction or with a failed rollback is
    /// discarded rather than reused.
    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        std::thread::panicking() || diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}
