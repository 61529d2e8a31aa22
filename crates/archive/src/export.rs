//! Writing an archive from a running database.

use std::io::{BufWriter, Write};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use diesel::query_builder::SqlQuery;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{QueryResult, RunQueryDsl};
use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use workbench_files::{BlobError, BlobKey, BlobStore};
use workbench_store::{AnyConnection, Backend, Database};

use crate::catalogue::{self, Catalogue, OPERATIONAL, Table, quoted};
use crate::error::{lift, lower};
use crate::format::{BLOB_CHUNK, ColumnHeader, FORMAT, Header, Sequence, TableHeader, VERSION};
use crate::value::{Kind, canonical};
use crate::{ArchiveError, Summary, TableSummary};

/// Rows fetched per round trip from PostgreSQL's cursor: enough to amortise the round trip,
/// few enough that a batch of wide rows stays a few megabytes.
const FETCH: usize = 2_000;
/// zstd level 3 (zstd's default): most of the ratio of higher levels at a speed that keeps up
/// with the database, so compression never becomes the bottleneck of an export.
const LEVEL: i32 = 3;

/// What to put in the archive.
#[derive(Clone, Default)]
pub struct ExportOptions {
    /// Include the operational tables (see [`OPERATIONAL`]).
    pub all: bool,
    /// Copy the bytes of every file's blobs (and thumbnails) from this store into the archive.
    pub blobs: Option<Arc<dyn BlobStore>>,
}

impl std::fmt::Debug for ExportOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportOptions").field("all", &self.all).field("with_files", &self.blobs.is_some()).finish()
    }
}

/// Writes the whole database to the file at `path` as one archive (see [`export`]) and answers
/// what was moved and the archive's size in bytes.
///
/// The archive is written beside `path` (`<path>.partial`), synced, and renamed into place once
/// whole, so a file under the asked name is always a complete archive; a failed export leaves
/// nothing. It holds password hashes and TOTP and webhook secrets, so it is readable and
/// writable by its owner alone (`0600`) from the moment it exists, whatever the umask.
pub async fn export_to_file(
    db: &Database,
    path: &std::path::Path,
    options: ExportOptions,
) -> Result<(Summary, u64), ArchiveError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&partial)?;
    // `mode` applies only to a file this call creates: one an interrupted export left is narrowed too.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    let written = async {
        let (file, summary) = export(db, file, options).await?;
        file.sync_all()?;
        let size = file.metadata()?.len();
        drop(file);
        std::fs::rename(&partial, path)?;
        Ok((summary, size))
    }
    .await;
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// Writes the whole database to `out` as one archive and gives `out` back (finished: every
/// byte of the zstd stream written to it, not synced).
///
/// Runs on one pooled connection, on the blocking pool, inside one read-only snapshot
/// (PostgreSQL `REPEATABLE READ READ ONLY`, SQLite a read transaction, which WAL keeps from
/// blocking or being blocked by writers): the server keeps serving meanwhile, and the archive is
/// the database as it was at one moment. Rows are streamed (PostgreSQL through a cursor, SQLite
/// stepping one statement) and written as they come, so memory stays flat whatever the size.
pub async fn export<W>(db: &Database, out: W, options: ExportOptions) -> Result<(W, Summary), ArchiveError>
where
    W: Write + Send + 'static,
{
    let started = Instant::now();
    let slot = Arc::new(Mutex::new(Some(out)));
    let handle = tokio::runtime::Handle::current();
    let (out, mut summary) = db
        .run(move |conn| {
            let out = slot.lock().ok().and_then(|mut s| s.take()).ok_or_else(|| {
                lift(ArchiveError::Io(std::io::Error::other("the export's connection was lost; nothing was written")))
            })?;
            in_snapshot(conn, |conn| write_archive(conn, out, &options, &handle)).map_err(lift)
        })
        .await
        .map_err(lower)?;
    summary.elapsed = started.elapsed();
    Ok((out, summary))
}

/// Runs `work` in one consistent, read-only snapshot, ended whatever `work` returns.
fn in_snapshot<T>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, ArchiveError>,
) -> Result<T, ArchiveError> {
    let begin = match catalogue::backend_of(conn) {
        Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        // Deferred: the snapshot is taken at the first read, and holds until the end.
        Backend::Sqlite => "BEGIN DEFERRED",
    };
    diesel::sql_query(begin).execute(conn)?;
    let result = work(conn);
    // Nothing was written: ending it either way is the same, and a failed end must not hide
    // the export's own error.
    let ended = diesel::sql_query("ROLLBACK").execute(conn);
    let value = result?;
    ended?;
    Ok(value)
}

fn write_archive<W: Write>(
    conn: &mut AnyConnection,
    out: W,
    options: &ExportOptions,
    handle: &tokio::runtime::Handle,
) -> Result<(W, Summary), ArchiveError> {
    let backend = catalogue::backend_of(conn);
    let catalogue = catalogue::read(conn)?;
    let tables: Vec<&Table> =
        catalogue.tables.iter().filter(|t| options.all || !OPERATIONAL.contains(&t.name.as_str())).collect();
    let header = header(conn, backend, &catalogue, &tables, options)?;
    let encoder = zstd::stream::write::Encoder::new(out, LEVEL)?;
    let mut w = BufWriter::with_capacity(256 * 1024, encoder);
    serde_json::to_writer(&mut w, &header).map_err(std::io::Error::from)?;
    w.write_all(b"\n")?;
    let mut summary = Summary::default();
    for table in tables {
        line(&mut w, &json!({ "@table": table.name }))?;
        let rows = match backend {
            Backend::Postgres => postgres_rows(conn, table, &mut w)?,
            Backend::Sqlite => sqlite_rows(conn, table, &mut w)?,
        };
        line(&mut w, &json!({ "@end": table.name, "rows": rows }))?;
        summary.rows += rows;
        summary.tables.push(TableSummary { name: table.name.clone(), rows });
    }
    if let Some(store) = &options.blobs {
        write_blobs(conn, backend, &catalogue, store.as_ref(), handle, &mut w, &mut summary)?;
    }
    line(
        &mut w,
        &json!({ "@end_archive": true, "tables": summary.tables.len(), "rows": summary.rows, "blobs": summary.blobs }),
    )?;
    let encoder = w.into_inner().map_err(|e| e.into_error())?;
    let out = encoder.finish()?;
    Ok((out, summary))
}

fn line(w: &mut impl Write, value: &Value) -> Result<(), ArchiveError> {
    serde_json::to_writer(&mut *w, value).map_err(std::io::Error::from)?;
    w.write_all(b"\n")?;
    Ok(())
}

fn header(
    conn: &mut AnyConnection,
    backend: Backend,
    catalogue: &Catalogue,
    tables: &[&Table],
    options: &ExportOptions,
) -> Result<Header, ArchiveError> {
    let sequences = sequences(conn, backend, catalogue)?;
    Ok(Header {
        format: FORMAT.to_owned(),
        version: VERSION,
        engine: backend.as_str().to_owned(),
        schema_version: catalogue.schema_version.clone(),
        created_at: chrono::Utc::now().to_rfc3339(),
        all: options.all,
        with_files: options.blobs.is_some(),
        tables: tables
            .iter()
            .map(|t| TableHeader {
                name: t.name.clone(),
                columns: t
                    .columns
                    .iter()
                    .map(|c| ColumnHeader { name: c.name.clone(), kind: c.kind.as_str().to_owned() })
                    .collect(),
                sequence: sequences.iter().find(|(name, _)| *name == t.name).map(|(_, s)| s.clone()),
            })
            .collect(),
    })
}

#[derive(diesel::QueryableByName)]
struct SequenceRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    column: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    last: Option<i64>,
}

/// Where each table's id sequence stands.
fn sequences(
    conn: &mut AnyConnection,
    backend: Backend,
    catalogue: &Catalogue,
) -> Result<Vec<(String, Sequence)>, ArchiveError> {
    let rows: Vec<SequenceRow> = match backend {
        Backend::Postgres => diesel::sql_query(
            "SELECT t.relname::text AS name, a.attname::text AS column, s.last_value AS last \
             FROM pg_depend d \
             JOIN pg_class seq ON seq.oid = d.objid AND seq.relkind = 'S' \
             JOIN pg_namespace n ON n.oid = seq.relnamespace AND n.nspname = 'public' \
             JOIN pg_class t ON t.oid = d.refobjid \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid \
             JOIN pg_sequences s ON s.schemaname = n.nspname AND s.sequencename = seq.relname \
             WHERE d.deptype IN ('a', 'i')",
        )
        .load(conn)?,
        Backend::Sqlite => {
            // `sqlite_sequence` exists once a table with AUTOINCREMENT does; its one key
            // column is the rowid alias.
            if catalogue::count_where(conn, "sqlite_master", "type = 'table' AND name = 'sqlite_sequence'")? == 0 {
                Vec::new()
            } else {
                #[derive(diesel::QueryableByName)]
                struct Seq {
                    #[diesel(sql_type = Text)]
                    name: String,
                    #[diesel(sql_type = Nullable<BigInt>)]
                    seq: Option<i64>,
                }
                diesel::sql_query("SELECT name, seq FROM sqlite_sequence")
                    .load::<Seq>(conn)?
                    .into_iter()
                    .filter_map(|s| {
                        let table = catalogue.table(&s.name)?;
                        let column = table.order_by.first()?.clone();
                        Some(SequenceRow { name: s.name, column, last: s.seq })
                    })
                    .collect()
            }
        }
    };
    Ok(rows.into_iter().filter_map(|r| Some((r.name, Sequence { column: r.column, last: r.last? }))).collect())
}

#[derive(diesel::QueryableByName)]
struct RowText {
    #[diesel(sql_type = Text)]
    r: String,
}

fn order_by(table: &Table) -> String {
    table.order_by.iter().map(|c| quoted(c)).collect::<Vec<_>>().join(", ")
}

/// PostgreSQL: `row_to_json` makes each row one text value whatever the table, read through a
/// cursor `FETCH` rows at a time: a plain query would hand the whole result to libpq at once.
fn postgres_rows(conn: &mut AnyConnection, table: &Table, w: &mut impl Write) -> Result<u64, ArchiveError> {
    diesel::sql_query(format!(
        "DECLARE workbench_export NO SCROLL CURSOR FOR SELECT row_to_json(t)::text AS r FROM {} t ORDER BY {}",
        quoted(&table.name),
        order_by(table)
    ))
    .execute(conn)?;
    let mut rows = 0;
    let fetch: SqlQuery = diesel::sql_query(format!("FETCH FORWARD {FETCH} FROM workbench_export"));
    loop {
        let batch: Vec<RowText> = fetch.clone().load(conn)?;
        if batch.is_empty() {
            break;
        }
        for row in batch {
            write_row(table, Backend::Postgres, &row.r, w)?;
            rows += 1;
        }
    }
    diesel::sql_query("CLOSE workbench_export").execute(conn)?;
    Ok(rows)
}

/// SQLite: `json_object` built from the column list (blobs as `hex`, since JSON cannot hold
/// them), one statement stepped row by row: SQLite never materialises the result.
fn sqlite_rows(conn: &mut AnyConnection, table: &Table, w: &mut impl Write) -> Result<u64, ArchiveError> {
    let pairs: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let key = c.name.replace('\'', "''");
            match c.kind {
                Kind::Blob => format!("'{key}', hex({})", quoted(&c.name)),
                _ => format!("'{key}', {}", quoted(&c.name)),
            }
        })
        .collect();
    let sql = format!(
        "SELECT json_object({}) AS r FROM {} ORDER BY {}",
        pairs.join(", "),
        quoted(&table.name),
        order_by(table)
    );
    let mut rows = 0;
    let iter = diesel::sql_query(sql).load_iter::<RowText, diesel::connection::DefaultLoadingMode>(conn)?;
    for row in iter {
        let row: QueryResult<RowText> = row;
        write_row(table, Backend::Sqlite, &row?.r, w)?;
        rows += 1;
    }
    Ok(rows)
}

/// One row, normalised to the canonical form, in the catalogue's column order.
fn write_row(table: &Table, backend: Backend, text: &str, w: &mut impl Write) -> Result<(), ArchiveError> {
    let mut read: Map<String, Value> = serde_json::from_str(text).map_err(|e| ArchiveError::Value {
        table: table.name.clone(),
        column: "*".to_owned(),
        kind: "row",
        value: e.to_string(),
    })?;
    let mut row = Map::with_capacity(table.columns.len());
    for column in &table.columns {
        let value = read.remove(&column.name).unwrap_or(Value::Null);
        let value = canonical(column.kind, backend, value).map_err(|bad| ArchiveError::value(table, column, &bad))?;
        row.insert(column.name.clone(), value);
    }
    serde_json::to_writer(&mut *w, &row).map_err(std::io::Error::from)?;
    w.write_all(b"\n")?;
    Ok(())
}

/// Columns of `files` that name blobs in the blob store: the file and its thumbnail.
pub(crate) const BLOB_COLUMNS: &[&str] = &["blob_key", "thumbnail_key"];

/// The bytes of every blob a file row names, read in the snapshot's order (a second pass over
/// `files`, streamed like the first, so that keys are never all held at once).
fn write_blobs(
    conn: &mut AnyConnection,
    backend: Backend,
    catalogue: &Catalogue,
    store: &dyn BlobStore,
    handle: &tokio::runtime::Handle,
    w: &mut impl Write,
    summary: &mut Summary,
) -> Result<(), ArchiveError> {
    let Some(files) = catalogue.table("files") else { return Ok(()) };
    let columns: Vec<&str> =
        BLOB_COLUMNS.iter().copied().filter(|c| files.columns.iter().any(|col| col.name == *c)).collect();
    for column in columns {
        let sql = format!(
            "SELECT {c} AS r FROM files WHERE {c} IS NOT NULL ORDER BY {}",
            order_by(files),
            c = quoted(column)
        );
        let mut each = |key: String, w: &mut dyn Write| copy_blob(store, handle, &key, w, summary);
        match backend {
            Backend::Postgres => {
                diesel::sql_query(format!("DECLARE workbench_blobs NO SCROLL CURSOR FOR {sql}")).execute(conn)?;
                loop {
                    let batch: Vec<RowText> =
                        diesel::sql_query(format!("FETCH FORWARD {FETCH} FROM workbench_blobs")).load(conn)?;
                    if batch.is_empty() {
                        break;
                    }
                    for row in batch {
                        each(row.r, w)?;
                    }
                }
                diesel::sql_query("CLOSE workbench_blobs").execute(conn)?;
            }
            Backend::Sqlite => {
                let iter = diesel::sql_query(sql).load_iter::<RowText, diesel::connection::DefaultLoadingMode>(conn)?;
                for row in iter {
                    each(row?.r, w)?;
                }
            }
        }
    }
    Ok(())
}

fn copy_blob(
    store: &dyn BlobStore,
    handle: &tokio::runtime::Handle,
    key: &str,
    w: &mut dyn Write,
    summary: &mut Summary,
) -> Result<(), ArchiveError> {
    let parsed = BlobKey::parse(key).map_err(|e| ArchiveError::Blob(format!("{key}: {e}")))?;
    // The blob store is async; this thread is one of Tokio's blocking threads, where waiting on
    // the runtime is allowed.
    let read = match handle.block_on(store.get(&parsed, None)) {
        Ok(read) => read,
        // A row whose blob is gone (deleted by hand, or a sweep raced the upload): said in the
        // archive and the summary rather than failing the whole export.
        Err(BlobError::NotFound) => {
            write_json(w, &json!({ "@missing_blob": key }))?;
            summary.missing_blobs += 1;
            return Ok(());
        }
        Err(e) => return Err(ArchiveError::Blob(format!("{key}: {e}"))),
    };
    write_json(w, &json!({ "@blob": key, "size": read.size }))?;
    let mut body = read.body;
    let mut pending: Vec<u8> = Vec::with_capacity(BLOB_CHUNK);
    let mut bytes = 0u64;
    while let Some(chunk) = handle.block_on(body.next()) {
        let chunk = chunk.map_err(|e| ArchiveError::Blob(format!("{key}: {e}")))?;
        let mut rest: &[u8] = &chunk;
        while !rest.is_empty() {
            let take = (BLOB_CHUNK - pending.len()).min(rest.len());
            pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if pending.len() == BLOB_CHUNK {
                write_json(w, &json!({ "@data": BASE64.encode(&pending) }))?;
                bytes += pending.len() as u64;
                pending.clear();
            }
        }
    }
    if !pending.is_empty() {
        write_json(w, &json!({ "@data": BASE64.encode(&pending) }))?;
        bytes += pending.len() as u64;
    }
    write_json(w, &json!({ "@end_blob": key, "bytes": bytes }))?;
    summary.blobs += 1;
    summary.blob_bytes += bytes;
    Ok(())
}

fn write_json(w: &mut dyn Write, value: &Value) -> Result<(), ArchiveError> {
    serde_json::to_writer(&mut *w, value).map_err(std::io::Error::from)?;
    w.write_all(b"\n")?;
    Ok(())
}
