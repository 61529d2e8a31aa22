//! Export and import on the real engines: SQLite and PostgreSQL (127.0.0.1:5432, or
//! `TEST_DATABASE_URL`; required when `CI=true`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Cursor, Write};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use workbench_archive::{ArchiveError, ExportOptions, ImportOptions, OPERATIONAL, export, import};
use workbench_files::{BlobKey, BlobStore};
use workbench_store::Database;
use workbench_store::testing::{TestDatabase, count_rows, execute_sql};

const FILL: &str = include_str!("fill.sql");

/// Every table's rows, by table then by their archive line, parsed: what two databases must
/// share to be equal. Rows are compared as maps, so the engines' column orders do not matter.
type Tables = BTreeMap<String, Vec<BTreeMap<String, Value>>>;

async fn filled_sqlite() -> (TestDatabase, Database) {
    let t = TestDatabase::sqlite();
    let db = t.connect();
    fill(&db).await;
    (t, db)
}

async fn fill(db: &Database) {
    for statement in split_statements(FILL) {
        execute_sql(db, statement.clone()).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

/// The fill script's statements (each ends with `;` at a line's end; none holds one inside).
fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        if line.trim_start().starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.trim_end().ends_with(';') {
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

async fn archive_of(db: &Database, all: bool) -> Vec<u8> {
    let (bytes, _) = export(db, Vec::new(), ExportOptions { all, blobs: None }).await.expect("the export succeeds");
    bytes
}

/// The archive's header and its tables' rows.
fn read_archive(bytes: &[u8]) -> (Value, Tables) {
    let reader = BufReader::new(zstd::stream::read::Decoder::new(bytes).expect("zstd"));
    let mut lines = reader.lines();
    let header: Value = serde_json::from_str(&lines.next().expect("a header").expect("a line")).expect("json");
    let mut tables = Tables::new();
    let mut current: Option<String> = None;
    for line in lines {
        let value: Map<String, Value> = serde_json::from_str(&line.expect("a line")).expect("json");
        if let Some(name) = value.get("@table").and_then(Value::as_str) {
            current = Some(name.to_owned());
            tables.entry(name.to_owned()).or_default();
        } else if value.keys().next().is_some_and(|k| k.starts_with('@')) {
            current = None;
        } else {
            let table = current.clone().expect("a row inside a table");
            tables.entry(table).or_default().push(value.into_iter().collect());
        }
    }
    (header, tables)
}

/// Differences between two databases' tables, one line each; empty when equal.
fn differences(left: &Tables, right: &Tables) -> Vec<String> {
    let mut out = Vec::new();
    for name in left.keys().chain(right.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (Some(a), Some(b)) = (left.get(name), right.get(name)) else {
            out.push(format!("{name}: only on one side"));
            continue;
        };
        if a.len() != b.len() {
            out.push(format!("{name}: {} rows against {}", a.len(), b.len()));
        }
        for (i, (ra, rb)) in a.iter().zip(b).enumerate() {
            for column in ra.keys().chain(rb.keys()).collect::<std::collections::BTreeSet<_>>() {
                if ra.get(column) != rb.get(column) {
                    out.push(format!(
                        "{name} row {i} column {column}: {:?} against {:?}",
                        ra.get(column),
                        rb.get(column)
                    ));
                }
            }
        }
    }
    out
}

async fn import_bytes(db: &Database, bytes: Vec<u8>) -> Result<workbench_archive::Summary, ArchiveError> {
    import(db, Cursor::new(bytes), ImportOptions::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_to_sqlite_gives_back_an_equal_database() {
    let (_source, source) = filled_sqlite().await;
    let first = archive_of(&source, true).await;
    let (header, original) = read_archive(&first);
    assert_eq!(header["engine"], "sqlite");

    // The fill reaches every table: a table no row tests is a table the round trip may lose.
    let empty: Vec<&String> = original.iter().filter(|(_, rows)| rows.is_empty()).map(|(n, _)| n).collect();
    assert!(
        empty.iter().all(|n| *n == "task_count_changes"),
        "tables the fill leaves empty (add rows to tests/fill.sql): {empty:?}"
    );
    assert!(original.len() >= 35, "the catalogue lists {} tables", original.len());
    assert!(!original.contains_key("tasks_fts"), "virtual tables are rebuilt, not carried");

    let Some(pg) = TestDatabase::postgres() else { return };
    let middle = pg.connect();
    let summary = import_bytes(&middle, first).await.expect("SQLite's archive loads into PostgreSQL");
    assert_eq!(summary.rows, original.values().map(|rows| rows.len() as u64).sum::<u64>());
    let second = archive_of(&middle, true).await;
    let (header, on_postgres) = read_archive(&second);
    assert_eq!(header["engine"], "postgres");
    assert_eq!(differences(&original, &on_postgres), Vec::<String>::new(), "SQLite against PostgreSQL");

    let back = TestDatabase::sqlite();
    let last = back.connect();
    import_bytes(&last, second).await.expect("PostgreSQL's archive loads into SQLite");
    let third = archive_of(&last, true).await;
    let (_, round_tripped) = read_archive(&third);
    assert_eq!(differences(&original, &round_tripped), Vec::<String>::new(), "SQLite against SQLite");

    // Looked at past the archive: what the store reads back.
    let (hash,): (String,) = first_text(&last, "SELECT password_hash AS t FROM users WHERE id = 1").await;
    assert_eq!(hash, "$2b$12$abcdefghijklmnopqrstuv0123456789ABCDEFGHIJKLMNOPQRSTu");
    let (at,): (String,) = first_text(&last, "SELECT created_at AS t FROM tasks WHERE id = 1").await;
    assert_eq!(at, "2026-03-04 05:30:00.000001", "timestamps are stored as Diesel writes them");
    assert_eq!(count_rows(&last, "task_tags").await, 4);
    // The FTS index was rebuilt from its content: it checks out against it, and the store's
    // trigram search finds the task.
    execute_sql(&last, "INSERT INTO tasks_fts (tasks_fts, rank) VALUES ('integrity-check', 1)")
        .await
        .expect("the trigram index matches the tasks");
    let (found,): (String,) =
        first_text(&last, "SELECT CAST(rowid AS TEXT) AS t FROM tasks_fts WHERE search_text LIKE '%ship%'").await;
    assert_eq!(found, "3");
    // Triggers are back: a new task is mirrored and counted.
    execute_sql(
        &last,
        "INSERT INTO tasks (title, status, priority, priority_rank, owner_id, version, search_text, created_at, updated_at, tags) \
         VALUES ('new', 'pending', 'low', 1, 2, 1, 'new', '2026-03-06 00:00:00', '2026-03-06 00:00:00', '[\"fresh\"]')",
    )
    .await
    .expect("a task can be added after the import");
    assert_eq!(count_rows(&last, "task_tags").await, 5);
    let (id,): (String,) = first_text(&last, "SELECT CAST(MAX(id) AS TEXT) AS t FROM tasks").await;
    assert_eq!(id, "5", "the deleted task's id 4 is never handed out again");

    // The comparison sees a lost column: drop one and compare again.
    execute_sql(&last, "ALTER TABLE users DROP COLUMN avatar_url").await.expect("the column drops");
    let (_, lossy) = read_archive(&archive_of(&last, true).await);
    let found = differences(&original, &lossy);
    assert!(found.iter().any(|d| d.contains("users row 0 column avatar_url")), "{found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_sqlite_to_postgres_gives_back_an_equal_database() {
    let Some(pg) = TestDatabase::postgres() else { return };
    let source = pg.connect();
    fill(&source).await;
    // PostgreSQL's triggers append count changes for the store to fold later: carried unfolded.
    assert!(count_rows(&source, "task_count_changes").await > 0);
    let first = archive_of(&source, true).await;
    let (_, original) = read_archive(&first);

    let lite = TestDatabase::sqlite();
    let middle = lite.connect();
    import_bytes(&middle, first).await.expect("PostgreSQL's archive loads into SQLite");
    let (_, on_sqlite) = read_archive(&archive_of(&middle, true).await);
    assert_eq!(differences(&original, &on_sqlite), Vec::<String>::new(), "PostgreSQL against SQLite");

    let Some(back) = TestDatabase::postgres() else { return };
    let last = back.connect();
    import_bytes(&last, archive_of(&middle, true).await).await.expect("SQLite's archive loads into PostgreSQL");
    let (_, round_tripped) = read_archive(&archive_of(&last, true).await);
    assert_eq!(differences(&original, &round_tripped), Vec::<String>::new(), "PostgreSQL against PostgreSQL");
}

/// Writers keep writing while the export runs; the archive is one moment of the database: every
/// task's tags are there with it, and the counters add up to the tasks it holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_is_one_snapshot_while_writes_go_on() {
    for backend in [workbench_store::Backend::Sqlite, workbench_store::Backend::Postgres] {
        let Some(t) = TestDatabase::of(backend) else { return };
        let db = t.connect();
        fill(&db).await;
        if backend == workbench_store::Backend::Postgres {
            // The fill gives its ids by hand, which PostgreSQL's sequences do not follow.
            execute_sql(&db, "SELECT setval(pg_get_serial_sequence('tasks', 'id'), 100)").await.expect("setval");
        }
        let writer = {
            let db = db.clone();
            tokio::spawn(async move {
                for i in 0..300 {
                    execute_sql(
                        &db,
                        format!(
                            "INSERT INTO tasks (title, status, priority, priority_rank, owner_id, version, search_text, \
                             created_at, updated_at, tags) VALUES ('w{i}', 'pending', 'low', 1, 2, 1, 'w{i}', \
                             '2026-03-06 00:00:00', '2026-03-06 00:00:00', '[\"a\",\"b\"]')"
                        ),
                    )
                    .await
                    .expect("a concurrent write");
                }
            })
        };
        let mut archives = Vec::new();
        for _ in 0..5 {
            archives.push(archive_of(&db, false).await);
        }
        writer.await.expect("the writer finishes");
        for bytes in archives {
            let (_, tables) = read_archive(&bytes);
            let tasks = &tables["tasks"];
            let tags = &tables["task_tags"];
            let tagged: usize = tasks
                .iter()
                .map(|t| serde_json::from_str::<Vec<String>>(t["tags"].as_str().expect("text")).expect("json").len())
                .sum();
            assert_eq!(tagged, tags.len(), "{backend:?}: tags of the same moment as their tasks");
            let counted: i64 = tables["task_counts"]
                .iter()
                .filter(|c| c["user_id"] == json!(0))
                .map(|c| c["n"].as_i64().expect("a count"))
                .sum::<i64>()
                + tables["task_count_changes"]
                    .iter()
                    .filter(|c| c["user_id"] == json!(0))
                    .map(|c| c["delta"].as_i64().expect("a delta"))
                    .sum::<i64>();
            assert_eq!(counted, tasks.len() as i64, "{backend:?}: counters of the same moment");
        }
    }
}

async fn first_text(db: &Database, sql: &str) -> (String,) {
    #[derive(diesel::QueryableByName)]
    struct Text {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    let sql = sql.to_owned();
    let row = db
        .run(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(sql.clone())
                .get_result::<Text>(conn)
                .map_err(|e| workbench_core::RepositoryError::Unavailable(e.into()))
        })
        .await
        .expect("the query runs");
    (row.t,)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sequences_move_past_the_imported_ids() {
    let (_source, source) = filled_sqlite().await;
    let bytes = archive_of(&source, false).await;
    let Some(pg) = TestDatabase::postgres() else { return };
    let target = pg.connect();
    import_bytes(&target, bytes).await.expect("the import succeeds");
    execute_sql(
        &target,
        "INSERT INTO tasks (title, status, priority, priority_rank, owner_id, version, search_text, created_at, updated_at, tags) \
         VALUES ('new', 'pending', 'low', 1, 2, 1, 'new', '2026-03-06 00:00:00', '2026-03-06 00:00:00', '[\"fresh\"]')",
    )
    .await
    .expect("a task can be added after the import");
    let (id,): (String,) = first_text(&target, "SELECT MAX(id)::text AS t FROM tasks").await;
    assert_eq!(id, "5", "past the largest id (3) and the deleted one (4)");
    execute_sql(&target, "INSERT INTO categories (name, name_key, slug, version, created_at, updated_at) VALUES ('B', 'b', 'b', 1, now(), now())")
        .await
        .expect("a category can be added");
    let (id,): (String,) = first_text(&target, "SELECT MAX(id)::text AS t FROM categories").await;
    assert_eq!(id, "2");
    // The triggers are back on: the new task's tag is mirrored.
    assert_eq!(count_rows(&target, "task_tags").await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_empty_target_is_refused_and_named() {
    let (_source, source) = filled_sqlite().await;
    let bytes = archive_of(&source, false).await;
    let t = TestDatabase::sqlite();
    let target = t.connect();
    workbench_store::testing::user(&target, "someone").await;
    let error = import_bytes(&target, bytes.clone()).await.expect_err("a database with a user is refused");
    assert!(matches!(&error, ArchiveError::NotEmpty { table, rows: 1 } if table == "users"), "{error}");
    assert!(error.to_string().contains("users"), "{error}");
    // Nothing was written.
    assert_eq!(count_rows(&target, "tasks").await, 0);

    // A freshly migrated database is empty, though migrations seed a few rows.
    let fresh = TestDatabase::sqlite();
    let fresh = fresh.connect();
    import_bytes(&fresh, bytes.clone()).await.expect("a fresh database takes the archive");
    // And once loaded, it is no longer empty.
    let again = import_bytes(&fresh, bytes).await.expect_err("a second import is refused");
    assert!(matches!(again, ArchiveError::NotEmpty { .. }), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_empty_postgres_target_is_refused() {
    let (_source, source) = filled_sqlite().await;
    let bytes = archive_of(&source, false).await;
    let Some(pg) = TestDatabase::postgres() else { return };
    let target = pg.connect();
    execute_sql(&target, "INSERT INTO categories (name, name_key, slug, version, created_at, updated_at) VALUES ('B', 'b', 'b', 1, now(), now())")
        .await
        .expect("a category is added");
    let error = import_bytes(&target, bytes).await.expect_err("refused");
    assert!(matches!(&error, ArchiveError::NotEmpty { table, .. } if table == "categories"), "{error}");
    assert_eq!(count_rows(&target, "users").await, 0, "nothing was written");
}

/// `bytes` with its header line replaced by `edit` of it.
fn with_header(bytes: &[u8], edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut plain = Vec::new();
    std::io::copy(&mut zstd::stream::read::Decoder::new(bytes).expect("zstd"), &mut plain).expect("decompress");
    let split = plain.iter().position(|b| *b == b'\n').expect("a header line");
    let mut header: Value = serde_json::from_slice(&plain[..split]).expect("json");
    edit(&mut header);
    let mut out = zstd::stream::write::Encoder::new(Vec::new(), 3).expect("zstd");
    serde_json::to_writer(&mut out, &header).expect("json");
    out.write_all(&plain[split..]).expect("write");
    out.finish().expect("finish")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_format_version_or_migration_level_is_refused() {
    let (_source, source) = filled_sqlite().await;
    let bytes = archive_of(&source, false).await;

    let t = TestDatabase::sqlite();
    let target = t.connect();
    let newer = with_header(&bytes, |h| h["version"] = json!(2));
    let error = import_bytes(&target, newer).await.expect_err("version 2 is refused");
    assert!(matches!(error, ArchiveError::Version { found: 2, supported: 1 }), "{error}");

    let older = with_header(&bytes, |h| h["schema_version"] = json!("20261121000001"));
    let error = import_bytes(&target, older).await.expect_err("another migration level is refused");
    let text = error.to_string();
    assert!(matches!(error, ArchiveError::SchemaMismatch { .. }), "{text}");
    assert!(text.contains("20261121000001"), "names the archive's level: {text}");

    let error = import_bytes(&target, b"not an archive at all".to_vec()).await.expect_err("garbage is refused");
    assert!(matches!(error, ArchiveError::NotAnArchive(_)), "{error}");

    // A truncated archive is an error, not a smaller database.
    let mut plain = Vec::new();
    std::io::copy(&mut zstd::stream::read::Decoder::new(bytes.as_slice()).expect("zstd"), &mut plain).expect("raw");
    let cut = plain.len() * 2 / 3;
    let cut = plain[..cut].iter().rposition(|b| *b == b'\n').expect("a line") + 1;
    let truncated = zstd::stream::encode_all(&plain[..cut], 3).expect("zstd");
    let error = import_bytes(&target, truncated).await.expect_err("a truncated archive is refused");
    assert!(matches!(error, ArchiveError::Truncated(_)), "{error}");
    assert_eq!(count_rows(&target, "users").await, 0, "and nothing of it stays");

    // The refusals left the target empty: the real archive still loads.
    import_bytes(&target, bytes).await.expect("the archive loads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operational_tables_are_carried_only_with_all() {
    let (_source, source) = filled_sqlite().await;
    let (header, tables) = read_archive(&archive_of(&source, false).await);
    for name in OPERATIONAL {
        assert!(!tables.contains_key(*name), "{name} is left out without --all");
        assert!(header["tables"].as_array().expect("tables").iter().all(|t| t["name"] != *name));
    }
    assert_eq!(header["all"], false);

    let bytes = archive_of(&source, true).await;
    let (_, tables) = read_archive(&bytes);
    for name in ["audit_log", "jobs", "schedule_runs", "outbox"] {
        assert_eq!(tables.get(name).map(Vec::len), Some(1), "{name} is carried with --all");
    }
    let t = TestDatabase::sqlite();
    let target = t.connect();
    import_bytes(&target, bytes).await.expect("the import succeeds");
    assert_eq!(count_rows(&target, "jobs").await, 1);
    assert_eq!(count_rows(&target, "audit_log").await, 1);
    let (holder,): (String,) = first_text(&target, "SELECT holder AS t FROM outbox_relay").await;
    assert_eq!(holder, "instance-a", "the migration's seed row was replaced by the archive's");

    let without = TestDatabase::sqlite();
    let without = without.connect();
    import_bytes(&without, archive_of(&source, false).await).await.expect("the import succeeds");
    assert_eq!(count_rows(&without, "jobs").await, 0);
    assert_eq!(count_rows(&without, "outbox").await, 0);
    assert_eq!(count_rows(&without, "outbox_relay").await, 1, "the migration's own lease row stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_bytes_travel_with_files() {
    let (_source, source) = filled_sqlite().await;
    let from_dir = tempfile::tempdir().expect("a directory");
    let from: Arc<dyn BlobStore> =
        Arc::new(workbench_storage::LocalBlobStore::open(from_dir.path()).expect("a blob store"));
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    for (key, bytes) in [("files/plan", big.as_slice()), ("thumbs/plan", b"thumb".as_slice())] {
        // A file of its own per blob: the local store hard-links what it is given.
        let staged = from_dir.path().join(key.replace('/', "-"));
        std::fs::write(&staged, bytes).expect("write");
        from.put_file(&BlobKey::parse(key).expect("a key"), &staged).await.expect("stored");
    }
    // files/receipt is missing from the store: said, not fatal.
    let (bytes, summary) = export(&source, Vec::new(), ExportOptions { all: false, blobs: Some(from) })
        .await
        .expect("the export succeeds");
    assert_eq!((summary.blobs, summary.missing_blobs), (2, 1));
    assert_eq!(summary.blob_bytes, big.len() as u64 + 5);

    let to_dir = tempfile::tempdir().expect("a directory");
    let to: Arc<dyn BlobStore> =
        Arc::new(workbench_storage::LocalBlobStore::open(to_dir.path()).expect("a blob store"));
    let t = TestDatabase::sqlite();
    let target = t.connect();
    let summary = import(&target, Cursor::new(bytes), ImportOptions { blobs: Some(to.clone()) })
        .await
        .expect("the import succeeds");
    assert_eq!(summary.blobs, 2);
    let mut read = Vec::new();
    let mut body = to.get(&BlobKey::parse("files/plan").expect("a key"), None).await.expect("restored").body;
    while let Some(chunk) = futures_util::StreamExt::next(&mut body).await {
        read.extend_from_slice(&chunk.expect("a chunk"));
    }
    assert_eq!(read, big);
}
