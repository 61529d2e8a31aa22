//! Connections to either engine, and an r2d2 manager that picks the engine from the URL and
//! notices lost connections without a validation query.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{Connection, ConnectionError, PgConnection, SqliteConnection};

/// A connection to PostgreSQL or SQLite. Queries written against it run on both.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// The backend Diesel sees through [`AnyConnection`]: what boxed queries and `Selectable` rows are
/// built for.
pub(crate) type Db = <AnyConnection as Connection>::Backend;

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

/// What a connection's statements have shown since it was last handed out: how many succeeded,
/// and whether one failed because the server side of the connection was gone.
#[derive(Debug, Default)]
pub(crate) struct Health {
    succeeded: AtomicU32,
    lost: AtomicBool,
}

impl Health {
    fn observe(&self, error: Option<&DieselError>) {
        match error {
            None => {
                self.succeeded.fetch_add(1, Ordering::Relaxed);
            }
            Some(DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)) => {
                self.lost.store(true, Ordering::Relaxed);
            }
            Some(_) => {}
        }
    }

    /// Whether the connection turned out to be dead before any statement succeeded on it: then
    /// nothing the caller sent was applied, and running the work again on another connection is
    /// safe.
    pub(crate) fn lost_before_any_success(&self) -> bool {
        self.lost() && self.succeeded.load(Ordering::Relaxed) == 0
    }

    pub(crate) fn lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    fn reset(&self) {
        self.succeeded.store(0, Ordering::Relaxed);
    }
}

/// A pooled connection, with what the pool knows about it.
pub(crate) struct PooledConnection {
    pub(crate) conn: AnyConnection,
    pub(crate) health: Arc<Health>,
    /// The pool's epoch when the connection was opened: see [`Manager::epoch_handle`].
    epoch: u64,
}

impl PooledConnection {
    /// Starts a fresh account of the connection's statements for a new piece of work.
    pub(crate) fn checked_out(&mut self) -> &mut AnyConnection {
        self.health.reset();
        &mut self.conn
    }
}

/// Opens connections for the pool. Unlike `MultiConnection::establish`, which tries each engine in
/// turn and then reports only "invalid connection url", this one opens exactly the engine the URL
/// names, so an operator sees the real cause (wrong password, unknown host, unreadable file).
///
/// There is no validation query on checkout: a `SELECT 1` per request is a round trip that never
/// changes the answer. Instead each PostgreSQL connection reports its statements' outcomes to a
/// [`Health`] probe; a connection that lost its server is discarded when it comes back, and every
/// connection opened before that moment is retired on its next checkout (a server restart kills
/// them all at once), without a round trip.
#[derive(Debug)]
pub(crate) struct Manager {
    url: String,
    backend: Backend,
    epoch: Arc<AtomicU64>,
    /// Whether the last attempt to open a connection succeeded: see [`Manager::reachable_handle`].
    reachable: Arc<AtomicBool>,
}

impl Manager {
    pub(crate) fn new(url: &str) -> Self {
        let backend = Backend::from_url(url);
        let url = match backend {
            Backend::Postgres => plain_on_loopback(url),
            Backend::Sqlite => url.to_owned(),
        };
        Self { url, backend, epoch: Arc::new(AtomicU64::new(0)), reachable: Arc::new(AtomicBool::new(true)) }
    }

    /// Cleared when opening a connection fails (or one is found lost), set again when one opens:
    /// while it is clear, requests wait only briefly for a connection (see `Database::run`).
    pub(crate) fn reachable_handle(&self) -> Arc<AtomicBool> {
        self.reachable.clone()
    }

    /// The epoch counter: bumping it retires every connection opened before, so that the next
    /// checkout of one discards it and opens a new one.
    pub(crate) fn epoch_handle(&self) -> Arc<AtomicU64> {
        self.epoch.clone()
    }
}

/// `url` with `sslmode=disable` when it names a loopback host and no `sslmode` of its own.
///
/// libpq's default (`prefer`) negotiates TLS whenever the server offers it, and on loopback that
/// encrypts every round trip between two processes of one machine for nothing: it measured about
/// 10% of PostgreSQL's time on small writes. An operator who wants TLS anyway says so in the URL.
fn plain_on_loopback(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else { return url.to_owned() };
    // `postgres:` is not a scheme the URL standard knows, so hosts come back as opaque names.
    let loopback = match parsed.host() {
        Some(url::Host::Domain(name)) => {
            name == "localhost"
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if !loopback || parsed.query_pairs().any(|(k, _)| k == "sslmode") {
        return url.to_owned();
    }
    let separator = if parsed.query().is_some() { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

/// Settings applied to every new SQLite connection: write-ahead logging so readers never block
/// the writer, a busy timeout so concurrent writers wait instead of failing, and foreign keys,
/// which SQLite leaves off unless asked.
const SQLITE_SETUP: &str = "PRAGMA journal_mode = WAL;
PRAGMA busy_timeout = 5000;
PRAGMA foreign_keys = ON;
PRAGMA synchronous = NORMAL;";

/// Reports each finished statement to the connection's [`Health`].
struct Probe(Arc<Health>);

impl Instrumentation for Probe {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::FinishQuery { error, .. } = event {
            self.0.observe(error);
        }
    }
}

/// Why a pooled connection was refused at checkout.
#[derive(Debug, thiserror::Error)]
#[error("connection opened before the last lost connection; replaced")]
pub(crate) struct Retired;

impl r2d2::ManageConnection for Manager {
    type Connection = PooledConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<PooledConnection, ConnectionError> {
        let epoch = self.epoch.load(Ordering::Relaxed);
        let health = Arc::new(Health::default());
        let conn = match self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url)
                    .inspect_err(|_| self.reachable.store(false, Ordering::Relaxed))?;
                // Columns are TIMESTAMP holding UTC; pin the session zone so that SQL-side
                // date arithmetic agrees with the application's.
                conn.batch_execute("SET TIME ZONE 'UTC'").map_err(ConnectionError::CouldntSetupConfiguration)?;
                conn.set_instrumentation(Probe(health.clone()));
                AnyConnection::Postgresql(conn)
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(sqlite_path(&self.url))?;
                conn.batch_execute(SQLITE_SETUP).map_err(ConnectionError::CouldntSetupConfiguration)?;
                AnyConnection::Sqlite(conn)
            }
        };
        self.reachable.store(true, Ordering::Relaxed);
        Ok(PooledConnection { conn, health, epoch })
    }

    /// No query: only connections opened before a detected loss are refused (see [`Manager`]).
    fn is_valid(&self, conn: &mut PooledConnection) -> Result<(), ConnectionError> {
        if conn.epoch < self.epoch.load(Ordering::Relaxed) {
            return Err(ConnectionError::BadConnection(Retired.to_string()));
        }
        Ok(())
    }

    /// A connection returned mid-panic, still inside a transaction, with a failed rollback or
    /// whose server went away is discarded rather than reused.
    fn has_broken(&self, conn: &mut PooledConnection) -> bool {
        std::thread::panicking() || conn.health.lost() || diesel::r2d2::R2D2Connection::is_broken(&mut conn.conn)
    }
}

/// Runs `$body` with `$c` bound to the concrete connection, for what `MultiConnection` cannot
/// express (`RETURNING` with `ON CONFLICT`, arrays): the body is written once and type-checked
/// against each engine.
macro_rules! per_engine {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::AnyConnection::Postgresql($c) => $body,
            $crate::AnyConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use per_engine;

#[cfg(test)]
mod tests {
    use super::plain_on_loopback;

    #[test]
    fn tls_is_skipped_only_on_loopback_and_only_when_not_asked_for() {
        assert_eq!(
            plain_on_loopback("postgres://u@127.0.0.1:5432/db"),
            "postgres://u@127.0.0.1:5432/db?sslmode=disable"
        );
        assert_eq!(plain_on_loopback("postgres://u@localhost/db?a=b"), "postgres://u@localhost/db?a=b&sslmode=disable");
        assert_eq!(plain_on_loopback("postgres://u@[::1]/db"), "postgres://u@[::1]/db?sslmode=disable");
        assert_eq!(
            plain_on_loopback("postgres://u@127.0.0.1/db?sslmode=require"),
            "postgres://u@127.0.0.1/db?sslmode=require"
        );
        assert_eq!(plain_on_loopback("postgres://u@db.internal/db"), "postgres://u@db.internal/db");
    }
}
