//! Loading an archive into an empty database of either engine.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde_json::{Map, Value};
use workbench_files::{BlobKey, BlobStore};
use workbench_store::{AnyConnection, Backend, Database, PoolOptions};

use crate::catalogue::{self, Catalogue, Table, quoted};
use crate::error::{lift, lower};
use crate::format::{FORMAT, Header, VERSION};
use crate::value::{Kind, for_engine};
use crate::{ArchiveError, Summary, TableSummary};

/// Rows per INSERT: one statement and one parameter per batch, few enough that a batch of wide
/// rows stays a few megabytes in memory.
const BATCH_ROWS: usize = 1_000;
const BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Where to put the blobs an archive made `--with-files` carries.
#[derive(Clone, Default)]
pub struct ImportOptions {
    /// The target's blob store; without one, blob bytes in the archive are read past, not
    /// restored (the file rows then refer to a blob store shared by both databases).
    pub blobs: Option<Arc<dyn BlobStore>>,
}

impl std::fmt::Debug for ImportOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportOptions").field("blobs", &self.blobs.is_some()).finish()
    }
}

/// Loads the archive read from `input` into `db`.
///
/// Migrates `db` first, then refuses an archive of another format version or migration level,
/// and a database that holds any row in a table the archive carries (beyond the rows a fresh
/// migration makes). Everything is written in one transaction, so a failed import leaves the
/// database as empty as it found it and can simply be run again. Inside it, triggers are off
/// (PostgreSQL `DISABLE TRIGGER USER`; SQLite's are dropped and created again from their own
/// text before the commit): the tables they keep (`task_tags`, `task_counts`,
/// `task_count_changes`, `market_counts`, `users.last_seen_at`) come from the archive exactly as
/// they were, rather than recomputed, which could differ (a counter at zero, a last-seen time
/// later than any token). SQLite's FTS indexes and PostgreSQL's chat search index, never
/// carried, are rebuilt from their content. Foreign keys stay checked (tables arrive in dependency order; SQLite defers its
/// checks to the commit). Every id sequence is then moved past both the largest imported id
/// and where the source's sequence stood.
pub async fn import<R>(db: &Database, input: R, options: ImportOptions) -> Result<Summary, ArchiveError>
where
    R: Read + Send + 'static,
{
    let started = Instant::now();
    let target = db.clone();
    tokio::task::spawn_blocking(move || target.migrate())
        .await
        .map_err(|e| ArchiveError::Io(std::io::Error::other(e)))??;
    let seeds = migration_seeds().await?;
    let slot = Arc::new(Mutex::new(Some(input)));
    let handle = tokio::runtime::Handle::current();
    let mut summary = db
        .run(move |conn| {
            let input = slot.lock().ok().and_then(|mut s| s.take()).ok_or_else(|| {
                lift(ArchiveError::Io(std::io::Error::other("the import's connection was lost before it began")))
            })?;
            in_transaction(conn, |conn| load(conn, input, &seeds, &options, &handle)).map_err(lift)
        })
        .await
        .map_err(lower)?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// How many rows a freshly migrated database holds per table (`outbox_relay`'s lease row, the
/// market's total at zero): those are not data, and the import replaces them. Counted on a
/// scratch SQLite database, since both engines' migrations are kept in step.
async fn migration_seeds() -> Result<BTreeMap<String, i64>, ArchiveError> {
    let dir = tempfile::tempdir()?;
    let url = dir.path().join("seeds.db").display().to_string();
    let scratch = tokio::task::spawn_blocking(move || -> Result<Database, ArchiveError> {
        let options = PoolOptions { max_size: 1, ..PoolOptions::default_for(Backend::Sqlite) };
        let db = Database::connect(&url, options)?;
        db.migrate()?;
        Ok(db)
    })
    .await
    .map_err(|e| ArchiveError::Io(std::io::Error::other(e)))??;
    let seeds = scratch
        .run(|conn| {
            let catalogue = catalogue::read(conn).map_err(lift)?;
            let mut seeds = BTreeMap::new();
            for table in &catalogue.tables {
                let n = catalogue::count(conn, &table.name).map_err(lift)?;
                if n > 0 {
                    seeds.insert(table.name.clone(), n);
                }
            }
            Ok(seeds)
        })
        .await
        .map_err(lower)?;
    drop(scratch);
    drop(dir);
    Ok(seeds)
}

fn in_transaction<T>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, ArchiveError>,
) -> Result<T, ArchiveError> {
    let begin = match catalogue::backend_of(conn) {
        Backend::Postgres => "BEGIN",
        // Immediate: the write lock is taken now, so the emptiness check and the load see one
        // state, and a concurrent writer waits instead of failing the commit.
        Backend::Sqlite => "BEGIN IMMEDIATE",
    };
    diesel::sql_query(begin).execute(conn)?;
    match work(conn) {
        Ok(value) => {
            diesel::sql_query("COMMIT").execute(conn)?;
            Ok(value)
        }
        Err(e) => {
            let _ = diesel::sql_query("ROLLBACK").execute(conn);
            Err(e)
        }
    }
}

/// Lines of the archive, counted for error messages.
struct Lines<R> {
    reader: R,
    line: String,
    number: u64,
}

impl<R: BufRead> Lines<R> {
    /// The next line as a JSON value, or `None` at the end of the stream.
    fn next_value(&mut self) -> Result<Option<Value>, ArchiveError> {
        self.line.clear();
        if self.reader.read_line(&mut self.line)? == 0 {
            return Ok(None);
        }
        self.number += 1;
        serde_json::from_str(&self.line).map(Some).map_err(|e| ArchiveError::corrupt(self.number, e.to_string()))
    }

    fn expect_value(&mut self, what: &str) -> Result<Value, ArchiveError> {
        self.next_value()?.ok_or_else(|| ArchiveError::Truncated(format!("expected {what} after line {}", self.number)))
    }
}

/// What a line is, by its first key.
enum Line {
    Row(Map<String, Value>),
    Table(String),
    End { table: String, rows: u64 },
    Blob(String),
    MissingBlob,
    Data(String),
    EndBlob { bytes: u64 },
    EndArchive,
}

fn classify(value: Value, number: u64) -> Result<Line, ArchiveError> {
    let Value::Object(map) = value else { return Err(ArchiveError::corrupt(number, "a line that is not an object")) };
    let Some((first, _)) = map.iter().next() else { return Ok(Line::Row(map)) };
    if !first.starts_with('@') {
        return Ok(Line::Row(map));
    }
    let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
    let number_of = |key: &str| map.get(key).and_then(Value::as_u64);
    let bad = |what: &str| ArchiveError::corrupt(number, format!("a malformed {what} marker"));
    Ok(match first.as_str() {
        "@table" => Line::Table(text("@table").ok_or_else(|| bad("table"))?),
        "@end" => Line::End {
            table: text("@end").ok_or_else(|| bad("end"))?,
            rows: number_of("rows").ok_or_else(|| bad("end"))?,
        },
        "@blob" => Line::Blob(text("@blob").ok_or_else(|| bad("blob"))?),
        "@missing_blob" => Line::MissingBlob,
        "@data" => Line::Data(text("@data").ok_or_else(|| bad("data"))?),
        "@end_blob" => Line::EndBlob { bytes: number_of("bytes").ok_or_else(|| bad("blob end"))? },
        "@end_archive" => Line::EndArchive,
        other => return Err(ArchiveError::corrupt(number, format!("an unknown marker {other}"))),
    })
}

/// Reads and checks the header: the first line of the stream.
fn read_header<R: BufRead>(lines: &mut Lines<R>) -> Result<Header, ArchiveError> {
    let first = match lines.next_value() {
        Ok(Some(value)) => value,
        Ok(None) => return Err(ArchiveError::NotAnArchive("the file is empty".to_owned())),
        // Not zstd, or not lines of JSON inside.
        Err(ArchiveError::Io(e)) => return Err(ArchiveError::NotAnArchive(e.to_string())),
        Err(e) => return Err(ArchiveError::NotAnArchive(e.to_string())),
    };
    let format = first.get("format").and_then(Value::as_str).unwrap_or_default();
    if format != FORMAT {
        return Err(ArchiveError::NotAnArchive(format!("its header names the format {format:?}, not {FORMAT:?}")));
    }
    let version = first.get("version").and_then(Value::as_u64).unwrap_or_default();
    if version != VERSION {
        return Err(ArchiveError::Version { found: version, supported: VERSION });
    }
    serde_json::from_value(first).map_err(|e| ArchiveError::corrupt(1, format!("a malformed header: {e}")))
}

fn load<R: Read>(
    conn: &mut AnyConnection,
    input: R,
    seeds: &BTreeMap<String, i64>,
    options: &ImportOptions,
    handle: &tokio::runtime::Handle,
) -> Result<Summary, ArchiveError> {
    let backend = catalogue::backend_of(conn);
    let decoder = zstd::stream::read::Decoder::new(input)?;
    let mut lines = Lines { reader: BufReader::with_capacity(256 * 1024, decoder), line: String::new(), number: 0 };
    let header = read_header(&mut lines)?;
    let catalogue = catalogue::read(conn)?;
    if header.schema_version != catalogue.schema_version {
        return Err(ArchiveError::SchemaMismatch {
            archive: header.schema_version,
            database: catalogue.schema_version,
        });
    }
    let mut targets: Vec<&Table> = Vec::new();
    for table in &header.tables {
        let target =
            catalogue.table(&table.name).ok_or_else(|| ArchiveError::UnknownTable { table: table.name.clone() })?;
        let archived: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        let missing_here: Vec<&str> =
            archived.iter().copied().filter(|a| !target.columns.iter().any(|c| c.name == *a)).collect();
        let missing_there: Vec<&str> =
            target.columns.iter().map(|c| c.name.as_str()).filter(|c| !archived.contains(c)).collect();
        if !missing_here.is_empty() || !missing_there.is_empty() {
            return Err(ArchiveError::Columns {
                table: table.name.clone(),
                detail: format!(
                    "not in this database: [{}]; not in the archive: [{}]",
                    missing_here.join(", "),
                    missing_there.join(", ")
                ),
            });
        }
        targets.push(target);
    }
    for target in &targets {
        let rows = catalogue::count(conn, &target.name)?;
        if rows > seeds.get(&target.name).copied().unwrap_or(0) {
            return Err(ArchiveError::NotEmpty { table: target.name.clone(), rows });
        }
    }
    // What is left are the rows migrations made; the archive has its own copy of them.
    for target in targets.iter().rev() {
        if seeds.contains_key(&target.name) {
            diesel::sql_query(format!("DELETE FROM {}", quoted(&target.name))).execute(conn)?;
        }
    }
    let triggers = triggers_off(conn, backend, &targets)?;
    let mut summary = Summary::default();
    let mut blob: Option<BlobInProgress> = None;
    let mut tables_seen = 0usize;
    loop {
        let value = lines.expect_value("the end-of-archive marker")?;
        match classify(value, lines.number)? {
            Line::Table(name) => {
                let target = targets
                    .iter()
                    .find(|t| t.name == name)
                    .ok_or_else(|| ArchiveError::corrupt(lines.number, format!("table {name} is not in the header")))?;
                let rows = load_table(conn, backend, target, &mut lines)?;
                tables_seen += 1;
                summary.rows += rows;
                summary.tables.push(TableSummary { name, rows });
            }
            Line::Blob(key) => blob = Some(BlobInProgress::start(&key, options)?),
            Line::Data(chunk) => {
                let current =
                    blob.as_mut().ok_or_else(|| ArchiveError::corrupt(lines.number, "blob data outside a blob"))?;
                current.write(&chunk, lines.number)?;
            }
            Line::EndBlob { bytes } => {
                let current =
                    blob.take().ok_or_else(|| ArchiveError::corrupt(lines.number, "a blob end without a blob"))?;
                if current.finish(bytes, handle, lines.number)? {
                    summary.blobs += 1;
                    summary.blob_bytes += bytes;
                }
            }
            Line::MissingBlob => summary.missing_blobs += 1,
            Line::EndArchive => break,
            Line::Row(_) | Line::End { .. } => {
                return Err(ArchiveError::corrupt(lines.number, "a row outside of any table"));
            }
        }
    }
    if tables_seen != header.tables.len() {
        return Err(ArchiveError::Truncated(format!(
            "the header lists {} tables but {tables_seen} were found",
            header.tables.len()
        )));
    }
    move_sequences(conn, backend, &header, &catalogue)?;
    triggers_on(conn, backend, &targets, triggers, &catalogue)?;
    Ok(summary)
}

/// Turns off the triggers of the tables about to be loaded; returns what is needed to turn
/// them on again (SQLite's trigger definitions).
fn triggers_off(
    conn: &mut AnyConnection,
    backend: Backend,
    targets: &[&Table],
) -> Result<Vec<(String, String)>, ArchiveError> {
    match backend {
        Backend::Postgres => {
            // The importer ran the migrations, so it owns the tables; `USER` leaves the
            // foreign-key triggers on (turning those off would need a superuser).
            for target in targets {
                diesel::sql_query(format!("ALTER TABLE {} DISABLE TRIGGER USER", quoted(&target.name)))
                    .execute(conn)?;
            }
            Ok(Vec::new())
        }
        Backend::Sqlite => {
            #[derive(diesel::QueryableByName)]
            struct Trigger {
                #[diesel(sql_type = Text)]
                name: String,
                #[diesel(sql_type = Text)]
                sql: String,
            }
            // SQLite cannot switch a trigger off; dropping it inside the transaction and running
            // its own `CREATE TRIGGER` text before the commit is the same, and a rollback brings
            // it back by itself.
            let triggers: Vec<Trigger> =
                diesel::sql_query("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql IS NOT NULL")
                    .load(conn)?;
            for trigger in &triggers {
                diesel::sql_query(format!("DROP TRIGGER {}", quoted(&trigger.name))).execute(conn)?;
            }
            // Rows arrive table by table in dependency order, but a table may refer to itself
            // (a task to the one it follows); checked once, at the commit.
            diesel::sql_query("PRAGMA defer_foreign_keys = ON").execute(conn)?;
            Ok(triggers.into_iter().map(|t| (t.name, t.sql)).collect())
        }
    }
}

fn triggers_on(
    conn: &mut AnyConnection,
    backend: Backend,
    targets: &[&Table],
    triggers: Vec<(String, String)>,
    catalogue: &Catalogue,
) -> Result<(), ArchiveError> {
    match backend {
        Backend::Postgres => {
            for target in targets {
                diesel::sql_query(format!("ALTER TABLE {} ENABLE TRIGGER USER", quoted(&target.name))).execute(conn)?;
            }
            // Its chat search index is derived, never carried: made again from the messages.
            workbench_store::rebuild_search_index(conn)?;
        }
        Backend::Sqlite => {
            for (_, sql) in triggers {
                diesel::sql_query(sql).execute(conn)?;
            }
            // An FTS5 index with external content rebuilds itself from that content.
            for name in &catalogue.virtual_tables {
                #[derive(diesel::QueryableByName)]
                struct Sql {
                    #[diesel(sql_type = Nullable<Text>)]
                    sql: Option<String>,
                }
                let definition = diesel::sql_query("SELECT sql FROM sqlite_master WHERE name = ?")
                    .bind::<Text, _>(name)
                    .get_result::<Sql>(conn)?
                    .sql
                    .unwrap_or_default()
                    .to_ascii_lowercase()
                    .replace(char::is_whitespace, "");
                if definition.contains("fts5") && definition.contains("content=") {
                    diesel::sql_query(format!("INSERT INTO {q} ({q}) VALUES ('rebuild')", q = quoted(name)))
                        .execute(conn)?;
                }
            }
        }
    }
    Ok(())
}

/// The rows of one table, up to its end marker, inserted in batches.
fn load_table<R: BufRead>(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &Table,
    lines: &mut Lines<R>,
) -> Result<u64, ArchiveError> {
    let columns = table.columns.iter().map(|c| quoted(&c.name)).collect::<Vec<_>>().join(", ");
    let insert = match backend {
        // `OVERRIDING SYSTEM VALUE`: ids are kept even where a later migration declares an
        // identity column `GENERATED ALWAYS`.
        Backend::Postgres => format!(
            "INSERT INTO {q} ({columns}) OVERRIDING SYSTEM VALUE SELECT {columns} FROM json_populate_recordset(NULL::{q}, $1::json)",
            q = quoted(&table.name)
        ),
        Backend::Sqlite => {
            let values: Vec<String> = table
                .columns
                .iter()
                .map(|c| {
                    let path = format!("'$.\"{}\"'", c.name.replace('\'', "''").replace('"', "\\\""));
                    match c.kind {
                        Kind::Blob => format!("unhex(value ->> {path})"),
                        _ => format!("value ->> {path}"),
                    }
                })
                .collect();
            format!("INSERT INTO {} ({columns}) SELECT {} FROM json_each(?)", quoted(&table.name), values.join(", "))
        }
    };
    let mut batch = String::with_capacity(BATCH_BYTES + 64 * 1024);
    let mut in_batch = 0usize;
    let mut rows = 0u64;
    loop {
        let value = lines.expect_value(&format!("the end of table {}", table.name))?;
        match classify(value, lines.number)? {
            Line::Row(mut row) => {
                let mut converted = Map::with_capacity(table.columns.len());
                for column in &table.columns {
                    let value = row.remove(&column.name).unwrap_or(Value::Null);
                    let value = for_engine(column.kind, backend, value)
                        .map_err(|bad| ArchiveError::value(table, column, &bad))?;
                    converted.insert(column.name.clone(), value);
                }
                batch.push(if in_batch == 0 { '[' } else { ',' });
                // Writing into a String cannot fail.
                let mut bytes = std::mem::take(&mut batch).into_bytes();
                serde_json::to_writer(&mut bytes, &converted).map_err(std::io::Error::from)?;
                batch = String::from_utf8(bytes).map_err(std::io::Error::other)?;
                in_batch += 1;
                rows += 1;
                if in_batch >= BATCH_ROWS || batch.len() >= BATCH_BYTES {
                    flush(conn, &insert, &mut batch, &mut in_batch)?;
                }
            }
            Line::End { table: name, rows: expected } if name == table.name => {
                flush(conn, &insert, &mut batch, &mut in_batch)?;
                if expected != rows {
                    return Err(ArchiveError::corrupt(
                        lines.number,
                        format!("table {name} ends after {rows} rows but says it has {expected}"),
                    ));
                }
                return Ok(rows);
            }
            _ => return Err(ArchiveError::corrupt(lines.number, format!("table {} has no end", table.name))),
        }
    }
}

fn flush(conn: &mut AnyConnection, insert: &str, batch: &mut String, in_batch: &mut usize) -> Result<(), ArchiveError> {
    if *in_batch == 0 {
        return Ok(());
    }
    batch.push(']');
    diesel::sql_query(insert).bind::<Text, _>(batch.as_str()).execute(conn)?;
    batch.clear();
    *in_batch = 0;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Serial {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    column: String,
    #[diesel(sql_type = Text)]
    seq: String,
}

#[derive(diesel::QueryableByName)]
struct Largest {
    #[diesel(sql_type = Nullable<BigInt>)]
    n: Option<i64>,
}

/// Moves every id sequence of a loaded table past its largest id and past where the source's
/// stood: ids written explicitly do not advance a PostgreSQL sequence, and the next insert would
/// collide. SQLite's AUTOINCREMENT follows explicit ids by itself (`sqlite_sequence` keeps the
/// largest); only the source's position, when ahead (rows deleted at the end), is set here.
fn move_sequences(
    conn: &mut AnyConnection,
    backend: Backend,
    header: &Header,
    catalogue: &Catalogue,
) -> Result<(), ArchiveError> {
    match backend {
        Backend::Postgres => {
            let serials: Vec<Serial> = diesel::sql_query(
                "SELECT t.relname::text AS name, a.attname::text AS column, \
                        quote_ident(n.nspname) || '.' || quote_ident(seq.relname) AS seq \
                 FROM pg_depend d \
                 JOIN pg_class seq ON seq.oid = d.objid AND seq.relkind = 'S' \
                 JOIN pg_namespace n ON n.oid = seq.relnamespace AND n.nspname = 'public' \
                 JOIN pg_class t ON t.oid = d.refobjid \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid \
                 WHERE d.deptype IN ('a', 'i')",
            )
            .load(conn)?;
            for serial in serials {
                let Some(table) = header.tables.iter().find(|t| t.name == serial.name) else { continue };
                let largest = diesel::sql_query(format!(
                    "SELECT MAX({})::bigint AS n FROM {}",
                    quoted(&serial.column),
                    quoted(&serial.name)
                ))
                .get_result::<Largest>(conn)?
                .n
                .unwrap_or(0);
                let archived = table.sequence.as_ref().filter(|s| s.column == serial.column).map_or(0, |s| s.last);
                let last = largest.max(archived);
                if last >= 1 {
                    diesel::sql_query("SELECT setval($1::regclass, $2) IS NOT NULL AS n")
                        .bind::<Text, _>(&serial.seq)
                        .bind::<BigInt, _>(last)
                        .execute(conn)?;
                }
            }
        }
        Backend::Sqlite => {
            if catalogue::count_where(conn, "sqlite_master", "type = 'table' AND name = 'sqlite_sequence'")? == 0 {
                return Ok(());
            }
            for table in &header.tables {
                let Some(sequence) = &table.sequence else { continue };
                let autoincrement = catalogue
                    .table(&table.name)
                    .is_some_and(|t| t.order_by.len() == 1 && t.order_by[0] == sequence.column);
                if !autoincrement {
                    continue;
                }
                diesel::sql_query("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?")
                    .bind::<BigInt, _>(sequence.last)
                    .bind::<Text, _>(&table.name)
                    .execute(conn)?;
                diesel::sql_query(
                    "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? \
                     WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)",
                )
                .bind::<Text, _>(&table.name)
                .bind::<BigInt, _>(sequence.last)
                .bind::<Text, _>(&table.name)
                .execute(conn)?;
            }
        }
    }
    Ok(())
}

/// A blob being restored: its bytes go to a temporary file, handed to the store whole (its
/// `put_file` is atomic), so memory holds one chunk at a time.
struct BlobInProgress {
    key: BlobKey,
    target: Option<(Arc<dyn BlobStore>, tempfile::NamedTempFile)>,
    written: u64,
}

impl BlobInProgress {
    fn start(key: &str, options: &ImportOptions) -> Result<Self, ArchiveError> {
        let key = BlobKey::parse(key).map_err(|e| ArchiveError::Blob(format!("{key}: {e}")))?;
        let target = match &options.blobs {
            Some(store) => Some((store.clone(), tempfile::NamedTempFile::new()?)),
            None => None,
        };
        Ok(Self { key, target, written: 0 })
    }

    fn write(&mut self, chunk: &str, line: u64) -> Result<(), ArchiveError> {
        let bytes = BASE64.decode(chunk).map_err(|e| ArchiveError::corrupt(line, format!("blob data: {e}")))?;
        self.written += bytes.len() as u64;
        if let Some((_, file)) = &mut self.target {
            file.write_all(&bytes)?;
        }
        Ok(())
    }

    /// Stores the blob; `false` when there is no store to put it in.
    fn finish(self, expected: u64, handle: &tokio::runtime::Handle, line: u64) -> Result<bool, ArchiveError> {
        if expected != self.written {
            return Err(ArchiveError::corrupt(
                line,
                format!("blob {} ends after {} bytes but says it has {expected}", self.key.as_str(), self.written),
            ));
        }
        let Some((store, mut file)) = self.target else { return Ok(false) };
        file.flush()?;
        // This thread is one of Tokio's blocking threads, where waiting on the runtime is allowed.
        handle
            .block_on(store.put_file(&self.key, file.path()))
            .map_err(|e| ArchiveError::Blob(format!("{}: {e}", self.key.as_str())))?;
        Ok(true)
    }
}
