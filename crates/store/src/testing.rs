//! Fresh, isolated databases for tests.
//!
//! SQLite always works (a file in a temporary directory). PostgreSQL is reached at
//! `TEST_DATABASE_URL` (default: the local server as `postgres`); each test gets a new database,
//! dropped afterwards. When PostgreSQL cannot be reached the test says so loudly and skips —
//! unless `CI=true` or `REQUIRE_SERVICES=1`, where an unreachable service fails the test.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use diesel::{Connection, PgConnection, RunQueryDsl};
use workbench_chat::AttachedFile;
use workbench_core::RepositoryError;
use workbench_users::{Email, NewUser, Role, User, UserRepository, Username};

use crate::{Backend, Database, DieselUserRepository, PoolOptions};

/// For each case, a module with a `sqlite` and a `postgres` test, so that both engines are held
/// to the same contract. Each case is written once:
///
/// - `engine_cases!(case, ...)` calls `async fn case(db: Database)` with a migrated database;
/// - `engine_cases!(fresh: case, ...)` calls `async fn case(t: &TestDatabase)`, for cases that
///   must see a database before its first migration.
///
/// The PostgreSQL test skips (loudly) when the server is unreachable, unless services are required.
#[macro_export]
macro_rules! engine_cases {
    (fresh: $($case:ident),+ $(,)?) => {$(
        mod $case {
            use $crate::testing::TestDatabase;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = TestDatabase::sqlite();
                super::$case(&t).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(t) = TestDatabase::postgres() else { return };
                super::$case(&t).await;
            }
        }
    )+};
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            use $crate::testing::TestDatabase;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = TestDatabase::sqlite();
                super::$case(t.connect()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(t) = TestDatabase::postgres() else { return };
                super::$case(t.connect()).await;
            }
        }
    )+};
}

/// A fixed instant with microseconds (leading zeros included), as both engines keep it: the store
/// suites do not depend on the clock.
pub fn instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap() + TimeDelta::microseconds(1_234)
}

/// Runs one SQL statement on a pooled connection, for tests that must reach past the
/// repositories (to break a rule the schema holds, say); the number of rows it affected.
pub async fn execute_sql(db: &Database, sql: impl Into<String>) -> Result<usize, RepositoryError> {
    let sql = sql.into();
    db.run(move |conn| diesel::sql_query(&sql).execute(conn).map_err(|e| RepositoryError::Unavailable(e.into()))).await
}

/// How many rows `table` holds, for tests that must look past the repositories.
pub async fn count_rows(db: &Database, table: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Counted {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    let counted = db
        .run(move |conn| {
            diesel::sql_query(sql.clone())
                .get_result::<Counted>(conn)
                .map_err(|e| RepositoryError::Unavailable(e.into()))
        })
        .await
        .expect("the table can be counted");
    counted.n
}

/// A user `name` (`name@example.com`, password hash `hash-of-name`) with the role `User`.
pub async fn user(db: &Database, name: &str) -> User {
    user_with_role(db, name, Role::User).await
}

/// A user `name` (`name@example.com`, password hash `hash-of-name`) with `role`, created at [`instant`].
pub async fn user_with_role(db: &Database, name: &str, role: Role) -> User {
    let new = NewUser {
        username: Username::parse(name).expect("a valid test username"),
        email: Email::parse(format!("{name}@example.com")).expect("a valid test email"),
        password_hash: Some(format!("hash-of-{name}")),
        role,
        created_at: instant(),
    };
    DieselUserRepository::new(db.clone()).create(new).await.expect("the user is created")
}

/// Stores the record of a 5-byte text file `f{id}.txt` of `owner`'s with this id (its bytes are
/// not the store's business); what a chat message attaching it carries.
pub async fn file(db: &Database, id: i64, owner: &User) -> AttachedFile {
    let sql = format!(
        "INSERT INTO files (id, owner_id, filename, name_key, content_type, size, kind, sha256, blob_key, created_at) \
         VALUES ({id}, {}, 'f{id}.txt', 'f{id}.txt', 'text/plain', 5, 'document', '{}', 'files/{id}', '2026-01-01 00:00:00')",
        owner.id.0,
        "a".repeat(64)
    );
    execute_sql(db, sql).await.expect("the file record is stored");
    AttachedFile {
        id,
        filename: format!("f{id}.txt"),
        content_type: "text/plain".into(),
        size: 5,
        kind: "document".into(),
    }
}

/// The PostgreSQL server tests use.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Whether a missing service must fail the test run instead of skipping.
pub fn services_required() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    set("CI") || set("REQUIRE_SERVICES")
}

/// Reports a missing service: a panic when services are required, a loud skip otherwise.
pub fn skip_or_fail(service: &str, why: &str) {
    assert!(!services_required(), "{service} is required (CI or REQUIRE_SERVICES is set) but unreachable: {why}");
    #[expect(clippy::print_stderr, reason = "a skipped test must be visible in the test output")]
    {
        eprintln!("\n*** SKIPPED: {service} is not reachable ({why}); set CI=true to make this a failure ***\n");
    }
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDatabase {
    /// A new SQLite file in its own temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        let url = dir.path().join("workbench.db").display().to_string();
        Self { url, backend: Backend::Sqlite, _dir: Some(dir), pg: None }
    }

    /// A new, empty PostgreSQL database, or `None` (after a loud skip) when the server cannot be
    /// reached and services are not required.
    pub fn postgres() -> Option<Self> {
        let admin_url = postgres_admin_url();
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(conn) => conn,
            Err(e) => {
                skip_or_fail("PostgreSQL", &format!("{admin_url}: {e}"));
                return None;
            }
        };
        let name = format!("workbench_test_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("the test role may create databases");
        let url = replace_database(&admin_url, &name);
        Some(Self { url, backend: Backend::Postgres, _dir: None, pg: Some((admin_url, name)) })
    }

    /// The database of `backend`, or `None` when PostgreSQL is skipped.
    pub fn of(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => Self::postgres(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Ends every server session connected to this PostgreSQL database, as a server restart
    /// would; returns how many were ended. Does nothing on SQLite.
    pub fn kill_connections(&self) -> usize {
        let Some((admin_url, name)) = &self.pg else { return 0 };
        #[derive(diesel::QueryableByName)]
        struct Ended {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            ended: i64,
        }
        let mut admin = PgConnection::establish(admin_url).expect("the admin connection opens");
        let row: Ended = diesel::sql_query(
            "SELECT count(pg_terminate_backend(pid)) AS ended FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result(&mut admin)
        .expect("pg_terminate_backend runs");
        usize::try_from(row.ended).unwrap_or(0)
    }

    /// A small pool on this database with every migration applied.
    pub fn connect(&self) -> Database {
        let options = PoolOptions { max_size: 4, ..PoolOptions::default_for(self.backend) };
        let db = Database::connect(&self.url, options).expect("the test database opens");
        db.migrate().expect("migrations apply");
        db
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.pg
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin);
        }
    }
}

/// `url` with its database name replaced by `name`.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_name_is_replaced() {
        assert_eq!(super::replace_database("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
        assert_eq!(
            super::replace_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(super::replace_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
