//! The figures of docs/export-import.md: 1,000,000 tasks exported and imported, SQLite to PostgreSQL and
//! back, rows per second and the peak resident memory of each step. Ignored by default (minutes,
//! and a PostgreSQL server): `cargo test --release -p workbench-archive --test million --
//! --ignored --nocapture`. Set `MILLION_TASKS` for another size.

use std::io::{BufWriter, Write};
use std::time::Instant;

use workbench_archive::{ExportOptions, ImportOptions, Summary, export, import};
use workbench_store::testing::{TestDatabase, count_rows, execute_sql};
use workbench_store::{Backend, Database};

/// Peak resident memory since the last reset, in MiB (Linux: `VmHWM`).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Starts a new peak: the kernel sets `VmHWM` back to the current resident size.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

async fn fill(db: &Database, backend: Backend, tasks: u64) {
    execute_sql(
        db,
        "INSERT INTO users (id, username, username_key, email, password_hash, role, status, totp_enabled, search_text, \
         created_at, updated_at, token_generation) \
         SELECT i, 'user' || i, 'user' || i, 'user' || i || '@example.com', '$2b$12$hash', 'user', 'active', FALSE, \
         'user' || i, '2026-03-04 05:06:07.001234', '2026-03-04 05:06:07.001234', 0 \
         FROM (SELECT 1 AS i UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4) AS n",
    )
    .await
    .expect("users");
    let numbers = match backend {
        Backend::Postgres => format!("SELECT generate_series(1, {tasks}) AS i"),
        Backend::Sqlite => {
            format!("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {tasks}) SELECT i FROM n")
        }
    };
    let sql = format!(
        "INSERT INTO tasks (id, title, description, status, priority, priority_rank, owner_id, assignee_id, version, \
         search_text, created_at, updated_at, tags) \
         SELECT i, 'Task number ' || i, CASE WHEN i % 3 = 0 THEN 'Something to do, at length, ' || i END, \
         CASE WHEN i % 5 = 0 THEN 'completed' ELSE 'pending' END, 'medium', 2, 1 + i % 4, \
         CASE WHEN i % 7 = 0 THEN 1 + (i + 1) % 4 END, 1 + i % 9, 'task number ' || i, \
         '2026-03-04 05:06:07.001234', '2026-03-05 05:06:07.000001', \
         CASE WHEN i % 4 = 0 THEN '[\"work\",\"q' || (i % 13) || '\"]' ELSE '[]' END \
         FROM ({numbers}) AS n"
    );
    execute_sql(db, sql).await.expect("tasks");
}

async fn export_to(db: &Database, path: &std::path::Path, label: &str) -> Summary {
    reset_peak();
    let file = BufWriter::new(std::fs::File::create(path).expect("the archive file"));
    let (_, summary) = export(db, file, ExportOptions { all: true, blobs: None }).await.expect("export");
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    say(&format!(
        "export {label}: {} rows in {:.1} s = {:.0} rows/s; archive {:.1} MiB; peak RSS {:.0} MiB",
        summary.rows,
        summary.elapsed.as_secs_f64(),
        summary.rows_per_second(),
        size as f64 / 1048576.0,
        peak_rss_mib()
    ));
    summary
}

async fn import_from(db: &Database, path: &std::path::Path, label: &str) -> Summary {
    reset_peak();
    let file = std::fs::File::open(path).expect("the archive file");
    let summary = import(db, file, ImportOptions::default()).await.expect("import");
    say(&format!(
        "import {label}: {} rows in {:.1} s = {:.0} rows/s; peak RSS {:.0} MiB",
        summary.rows,
        summary.elapsed.as_secs_f64(),
        summary.rows_per_second(),
        peak_rss_mib()
    ));
    summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fills 1,000,000 tasks: run with --release -- --ignored --nocapture"]
async fn a_million_tasks_there_and_back() {
    let tasks: u64 = std::env::var("MILLION_TASKS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("a directory");
    let source = TestDatabase::sqlite();
    let source_db = source.connect();
    let started = Instant::now();
    fill(&source_db, Backend::Sqlite, tasks).await;
    say(&format!("filled {tasks} tasks on SQLite in {:.1} s", started.elapsed().as_secs_f64()));

    let first = dir.path().join("sqlite.wba");
    let exported = export_to(&source_db, &first, "SQLite").await;
    let Some(pg) = TestDatabase::postgres() else { return };
    let pg_db = pg.connect();
    let imported = import_from(&pg_db, &first, "into PostgreSQL").await;
    assert_eq!(imported.rows, exported.rows);
    assert_eq!(count_rows(&pg_db, "tasks").await as u64, tasks);

    let second = dir.path().join("postgres.wba");
    let exported = export_to(&pg_db, &second, "PostgreSQL").await;
    let back = TestDatabase::sqlite();
    let back_db = back.connect();
    let imported = import_from(&back_db, &second, "into SQLite").await;
    assert_eq!(imported.rows, exported.rows);
    assert_eq!(count_rows(&back_db, "tasks").await as u64, tasks);
}
