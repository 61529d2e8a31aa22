//! The pooled database handle every repository shares.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::{Connection, RunQueryDsl};
use scheduled_thread_pool::ScheduledThreadPool;
use workbench_core::RepositoryError;

use crate::connection::{Manager, Retired, sqlite_path};
use crate::error::db;
use crate::{AnyConnection, Backend, StoreError, migrations};

/// A timestamp as stored: microseconds (PostgreSQL keeps no more; SQLite would keep what it is
/// given), so that both engines give back the same value.
pub(crate) fn stored(at: DateTime<Utc>) -> NaiveDateTime {
    at.trunc_subsecs(6).naive_utc()
}

/// Pool sizing. SQLite serialises writers anyway, so a few connections suffice there; PostgreSQL
/// benefits from more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    pub max_size: u32,
    /// Connections kept open and unused: r2d2 opens one more whenever a checkout leaves fewer.
    /// One on PostgreSQL, where opening one is a round trip and a backend process; none on
    /// SQLite, where it is a file's open and each spare kept its own schema and page cache (a
    /// server's start, whose steps each take one, left four to eight open at idle).
    pub min_idle: Option<u32>,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
}

impl PoolOptions {
    pub fn default_for(backend: Backend) -> Self {
        let (max_size, min_idle) = match backend {
            Backend::Postgres => (16, 1),
            Backend::Sqlite => (8, 0),
        };
        Self { max_size, min_idle: Some(min_idle), acquire_timeout: Duration::from_secs(5) }
    }
}

/// Connections in the pool, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    pub in_use: u32,
    pub idle: u32,
    pub max_size: u32,
}

/// A pool of connections to one database, PostgreSQL or SQLite. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<Manager>,
    /// One permit per pooled connection, taken before moving work to the blocking pool, so that
    /// requests beyond the pool's size wait as cheap async tasks instead of as blocked threads
    /// contending for the pool's lock.
    permits: Arc<tokio::sync::Semaphore>,
    backend: Backend,
    /// The manager's epoch (see `Manager::epoch_handle`), bumped when a connection is found lost.
    epoch: Arc<AtomicU64>,
    /// Cleared while the database cannot be reached (see `Manager::reachable_handle`).
    reachable: Arc<AtomicBool>,
    acquire_timeout: Duration,
    url: Arc<str>,
    /// The threads that open connections and close idle ones, shared with the pools made by
    /// [`Database::dedicated`]: r2d2 would give each pool three of its own, idle almost always.
    threads: Arc<ScheduledThreadPool>,
}

/// Threads a pool and its dedicated pools share for opening connections and closing idle ones
/// (r2d2's own default for one pool).
const POOL_THREADS: usize = 3;

/// How long a request waits for a connection while the last attempt to open one failed. The
/// pool keeps trying in the background (every 0.2 s, backing off to half the acquire timeout), so
/// service resumes within seconds of the database's return; meanwhile each request fails fast
/// with a 503 instead of holding its client for the whole acquire timeout.
const UNREACHABLE_WAIT: Duration = Duration::from_millis(250);

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// Makes a SQLite database's directory and file private before SQLite first opens it: they hold
/// password hashes and TOTP and webhook secrets. A directory the store creates is `0700`; a new
/// database file is created empty (a valid empty database) with mode `0600`, since SQLite would
/// make it `0644` less the umask, and it gives its `-wal` and `-shm` files the database file's
/// mode. What already exists keeps its mode: that is the operator's choice. `:memory:` and
/// `file:` URIs are left to SQLite.
fn prepare_sqlite_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let raw = path.as_os_str();
    if raw.is_empty() || raw == ":memory:" || path.starts_with("file:") {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| StoreError::DataDir { path: dir.display().to_string(), source })?;
    }
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::DataDir { path: path.display().to_string(), source }),
    }
}

impl Database {
    /// Opens a pool on `url`, creating a SQLite file's directory when needed (the directory
    /// `0700`, the file `0600`: only the server's user reads them). Blocks while the first
    /// connection is made, and fails with the engine's own reason when it cannot be.
    pub fn connect(url: &str, options: PoolOptions) -> Result<Self, StoreError> {
        let threads = ScheduledThreadPool::builder().num_threads(POOL_THREADS).thread_name_pattern("r2d2-worker-{}");
        let threads = Arc::new(threads.build());
        Self::connect_with(url, options, threads)
    }

    fn connect_with(url: &str, options: PoolOptions, threads: Arc<ScheduledThreadPool>) -> Result<Self, StoreError> {
        let backend = Backend::from_url(url);
        if backend == Backend::Sqlite {
            prepare_sqlite_file(Path::new(sqlite_path(url)))?;
        }
        // Try one connection by hand first: r2d2 would retry until its timeout and then report
        // only "timed out", hiding the reason.
        let manager = Manager::new(url);
        r2d2::ManageConnection::connect(&manager).map_err(|e| StoreError::connect(backend, e))?;
        let epoch = manager.epoch_handle();
        let reachable = manager.reachable_handle();
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(options.min_idle)
            .connection_timeout(options.acquire_timeout)
            // The checkout test costs no round trip: it only retires connections opened before
            // the last one found lost (see `Manager`).
            .test_on_check_out(true)
            .error_handler(Box::new(PoolErrors))
            .thread_pool(Arc::clone(&threads))
            .build(manager)
            .map_err(|e| StoreError::connect(backend, e))?;
        let permits = Arc::new(tokio::sync::Semaphore::new(options.max_size as usize));
        let acquire_timeout = options.acquire_timeout;
        Ok(Self { pool, permits, backend, epoch, reachable, acquire_timeout, url: url.into(), threads })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The most connections the pool opens.
    pub fn max_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// A pool of its own on the same database, `max_size` connections, for work that must not
    /// queue behind requests: the outbox relay, which under a write load would otherwise wait its
    /// turn behind hundreds of them for each statement and fall seconds behind. Blocks while the
    /// first connection is made. It shares this pool's threads.
    pub fn dedicated(&self, max_size: u32) -> Result<Self, StoreError> {
        let options =
            PoolOptions { max_size, acquire_timeout: self.acquire_timeout, ..PoolOptions::default_for(self.backend) };
        Self::connect_with(&self.url, options, Arc::clone(&self.threads))
    }

    /// Applies pending migrations (see `migrations::run_pending`); returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool.get().map_err(|e| StoreError::connect(self.backend, e))?;
        migrations::run_pending(conn.checked_out())
    }

    /// Runs `work` with a pooled connection on the blocking thread pool.
    ///
    /// When the connection turns out to have lost its server before any statement of `work`
    /// succeeded (the database restarted while it sat idle), nothing was applied: every
    /// connection opened before that moment is retired and `work` runs once more on a new one.
    /// A loss after a statement succeeded is reported, never retried, since part of the work
    /// may have been applied.
    ///
    /// No connection to be had, or one lost for good, is [`RepositoryError::unreachable`]: a
    /// `503`, at once while the database is known to be down.
    pub async fn run<T, F>(&self, work: F) -> Result<T, RepositoryError>
    where
        F: Fn(&mut AnyConnection) -> Result<T, RepositoryError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let epoch = self.epoch.clone();
        let reachable = self.reachable.clone();
        let acquire_timeout = self.acquire_timeout;
        let _permit = self.permits.acquire().await.map_err(|e| RepositoryError::Unavailable(e.into()))?;
        tokio::task::spawn_blocking(move || {
            let mut retried = false;
            loop {
                let wait = if reachable.load(Ordering::Relaxed) { acquire_timeout } else { UNREACHABLE_WAIT };
                let mut conn = pool.get_timeout(wait).map_err(|e| RepositoryError::unreachable(e.to_string()))?;
                let result = work(conn.checked_out());
                if let Err(error) = &result
                    && conn.health.lost()
                {
                    // Connections opened before this moment are likely dead too (a restart
                    // kills them all): retire them rather than fail one request per connection,
                    // and wait only briefly for a new one until one opens.
                    epoch.fetch_add(1, Ordering::Relaxed);
                    reachable.store(false, Ordering::Relaxed);
                    if !retried && conn.health.lost_before_any_success() {
                        retried = true;
                        tracing::warn!("a database connection was lost; retrying once on a new connection");
                        continue;
                    }
                    return Err(RepositoryError::unreachable(format!("connection lost: {error}")));
                }
                return result;
            }
        })
        .await
        .map_err(|e| RepositoryError::Unavailable(e.into()))?
    }

    /// Whether the database answers a trivial query, for `/ready`.
    pub async fn ping(&self) -> Result<(), RepositoryError> {
        self.run(|conn| diesel::sql_query("SELECT 1").execute(conn).map(drop).map_err(db)).await
    }

    /// Runs raw SQL. For tests and operator tooling only: application code uses repositories.
    #[cfg(feature = "testing")]
    pub async fn execute_sql(&self, sql: &str) -> Result<(), RepositoryError> {
        let sql = sql.to_owned();
        self.run(move |conn| diesel::sql_query(sql.as_str()).execute(conn).map(drop).map_err(db)).await
    }

    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            in_use: state.connections - state.idle_connections,
            idle: state.idle_connections,
            max_size: self.pool.max_size(),
        }
    }
}

/// Logs the pool's errors through `tracing` (r2d2's default handler uses `log`): retirements of
/// connections opened before a loss are routine; failures to connect are not.
#[derive(Debug)]
struct PoolErrors;

impl r2d2::HandleError<diesel::ConnectionError> for PoolErrors {
    fn handle_error(&self, error: diesel::ConnectionError) {
        match error {
            diesel::ConnectionError::BadConnection(message) if message == Retired.to_string() => {
                tracing::debug!("{message}");
            }
            other => tracing::warn!(error = %other, "database pool"),
        }
    }
}

/// Runs `work` in a transaction that may write.
///
/// On SQLite the transaction starts with `BEGIN IMMEDIATE`, taking the write lock up front: a
/// deferred transaction that reads first and writes later can fail with `SQLITE_BUSY` at once
/// (the busy timeout cannot help it), which concurrent requests would hit constantly.
pub(crate) fn write_transaction<T>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, RepositoryError>,
) -> Result<T, RepositoryError> {
    write_transaction_begun_by(conn, "BEGIN", work)
}

/// Runs `work` in a transaction that may write, whose statements PostgreSQL plans to find rows
/// through their indexes whatever the tables' statistics say (sequential scans ruled out), for
/// statements written to reach a bounded number of rows by key. Statistics taken while a table
/// was empty, as a queue's is between bursts, otherwise make a join look free that reads every
/// row once for each row taken. SQLite as [`write_transaction`].
pub(crate) fn write_by_key<T>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, RepositoryError>,
) -> Result<T, RepositoryError> {
    write_transaction_begun_by(conn, "BEGIN; SET LOCAL enable_seqscan = off", work)
}

/// As [`write_transaction`], begun on PostgreSQL with `begin` (`BEGIN` and the `SET LOCAL`s the
/// work relies on) in one round trip. The one place a writing transaction is begun: the callers
/// above only name what they begin with.
pub(crate) fn write_transaction_begun_by<T>(
    conn: &mut AnyConnection,
    begin: &'static str,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, RepositoryError>,
) -> Result<T, RepositoryError> {
    transaction(
        conn,
        |conn| match conn {
            AnyConnection::Sqlite(sqlite) => AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE"),
            AnyConnection::Postgresql(pg) => AnsiTransactionManager::begin_transaction_sql(pg, begin),
        },
        work,
    )
}

/// Runs `work` in a read-only transaction that sees one snapshot of the database throughout, so
/// that what several statements read belongs together (a total and its page, a creation order and
/// its total), for statements written to walk an index in its order and stop at a limit.
///
/// PostgreSQL: `REPEATABLE READ READ ONLY` (its snapshot is taken at the first statement), with
/// bitmap and sequential scans ruled out, so that those statements are planned as written whatever
/// the table's statistics say. Without statistics (a table that grew faster than autovacuum's
/// analyze caught up, or a server where it is off, as on the machines the load tests run on), the
/// planner took a user's 100,000 tasks for 191 and read them all, sorted on disk, for one page:
/// 100 ms alone, 460 ms under load, where the walk reads the page (`mixed` at 100,000 tasks: 278
/// answers a second against 1,302 once analysed). Every statement run this way has an index that
/// serves it in order. Begun in one round trip.
/// SQLite: a deferred transaction, whose first read fixes what it sees until it ends (WAL); its
/// planner goes by the indexes without statistics.
pub(crate) fn read_in_index_order<T>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, RepositoryError>,
) -> Result<T, RepositoryError> {
    transaction(
        conn,
        |conn| match conn {
            AnyConnection::Sqlite(sqlite) => AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN DEFERRED"),
            AnyConnection::Postgresql(pg) => AnsiTransactionManager::begin_transaction_sql(
                pg,
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL enable_bitmapscan = off; \
                 SET LOCAL enable_seqscan = off",
            ),
        },
        work,
    )
}

/// Runs `work` in a read-only transaction that sees one snapshot of the database throughout, the
/// planner left to its statistics: for reads that must belong together (a calendar's objects and
/// the sync token of the same moment) over statements with no one index order to walk.
/// PostgreSQL: `REPEATABLE READ READ ONLY`; SQLite: a deferred transaction (see
/// [`read_in_index_order`]).
pub(crate) fn read_snapshot<T>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, RepositoryError>,
) -> Result<T, RepositoryError> {
    transaction(
        conn,
        |conn| match conn {
            AnyConnection::Sqlite(sqlite) => AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN DEFERRED"),
            AnyConnection::Postgresql(pg) => {
                AnsiTransactionManager::begin_transaction_sql(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            }
        },
        work,
    )
}

/// Runs `work`, statements that only read, in a transaction (one snapshot) whose statements are
/// each stopped once they have run for `limit`: a failure then is [`RepositoryError::timed_out`].
///
/// PostgreSQL: `READ ONLY`, with `SET LOCAL statement_timeout` (begun in one round trip), so the
/// limit ends with the transaction and never reaches the connection's next user. The server
/// reports the cancellation as SQLSTATE 57014, which Diesel does not surface (and its message is
/// in the server's language): a statement that failed once `limit` had passed since the
/// transaction began was stopped by it, the server's clock for a statement starting later than
/// this one.
///
/// SQLite: a deferred transaction, and no limit. Diesel exposes neither
/// `sqlite3_progress_handler` nor `sqlite3_interrupt` (nor the handle they take), so a statement
/// cannot be stopped; none needs to be. The database is in the process, a reader never waits on a
/// writer (WAL), and what a statement reads is bounded by the caller's rows and the query's terms.
pub(crate) fn read_within<T>(
    conn: &mut AnyConnection,
    limit: Duration,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, RepositoryError>,
) -> Result<T, RepositoryError> {
    let began = std::time::Instant::now();
    let postgres = matches!(conn, AnyConnection::Postgresql(_));
    // At least 1: a `statement_timeout` of 0 is no limit at all.
    let millis = limit.as_millis().clamp(1, i32::MAX as u128);
    let result = transaction(
        conn,
        |conn| match conn {
            AnyConnection::Sqlite(sqlite) => AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN DEFERRED"),
            AnyConnection::Postgresql(pg) => AnsiTransactionManager::begin_transaction_sql(
                pg,
                &format!("BEGIN READ ONLY; SET LOCAL statement_timeout = {millis}"),
            ),
        },
        work,
    );
    result.map_err(|e| match postgres && began.elapsed() >= limit && stopped_by_the_server(&e) {
        true => RepositoryError::timed_out(limit),
        false => e,
    })
}

/// Whether `e` is a statement the server refused or stopped (not the connection failing, nor a
/// rule a write broke): what a statement stopped by `statement_timeout` reads as through Diesel.
fn stopped_by_the_server(e: &RepositoryError) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(e, RepositoryError::Unavailable(cause)
        if matches!(cause.downcast_ref::<Error>(), Some(Error::DatabaseError(DatabaseErrorKind::Unknown, _))))
}

/// `work` in the transaction `begin` opens: committed when it succeeds, rolled back when not.
fn transaction<T>(
    conn: &mut AnyConnection,
    begin: impl FnOnce(&mut AnyConnection) -> diesel::QueryResult<()>,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, RepositoryError>,
) -> Result<T, RepositoryError> {
    type Manager = <AnyConnection as Connection>::TransactionManager;
    begin(conn).map_err(db)?;
    match work(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn).map_err(db)?;
            Ok(value)
        }
        Err(e) => {
            // The work's error is the one worth reporting; a failed rollback leaves the connection
            // broken, which the pool's next validity check discards.
            let _ = Manager::rollback_transaction(conn);
            Err(e)
        }
    }
}

/// Adds `n` to `counter`; whether it reached `every`, in which case it starts again from zero.
pub(crate) fn due(counter: &std::sync::atomic::AtomicUsize, n: usize, every: usize) -> bool {
    use std::sync::atomic::Ordering;
    let due = counter.fetch_add(n, Ordering::Relaxed) + n >= every;
    if due {
        counter.store(0, Ordering::Relaxed);
    }
    due
}
