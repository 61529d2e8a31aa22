//! The tables to carry, read from the database's own catalogue, so that a table a later
//! migration adds is carried without a change here.

use std::collections::{BTreeMap, BTreeSet};

use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use workbench_store::{AnyConnection, Backend, DERIVED_TABLES};

use crate::ArchiveError;
use crate::value::Kind;

/// Diesel's record of applied migrations: the target's own migrations write it.
const MIGRATIONS_TABLE: &str = "__diesel_schema_migrations";

/// Operational state, carried only with `--all`: the audit log (who did what, not what is), the
/// job queue with its schedule runs (which cron slot fired, which job ran: a scheduler on the
/// new database at worst fires the current slot once more), the outbox (events already relayed
/// or about to be) and its relay lease (the holder of a lease on another server means nothing
/// here). Everything else is data, including the short-lived tables (refresh tokens, OAuth
/// states, idempotency keys): they are small, and carrying them keeps sessions and retried
/// requests working across the move.
pub const OPERATIONAL: &[&str] = &["audit_log", "jobs", "schedule_runs", "outbox", "outbox_relay"];

/// One column: its name and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
}

/// One table to carry, its columns in the engine's order and the columns rows are ordered by.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// The primary key's columns; every column when it has none, so that order is still total.
    pub order_by: Vec<String>,
    /// Tables its foreign keys refer to (itself excluded).
    pub refers_to: BTreeSet<String>,
}

/// What the catalogue says about the database as a whole.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// In an order that satisfies foreign keys: a table comes after every table it refers to.
    pub tables: Vec<Table>,
    /// The last migration applied (its version), or empty before any.
    pub schema_version: String,
    /// Virtual tables (SQLite's FTS5 index of tasks): never carried, rebuilt from their content.
    pub virtual_tables: Vec<String>,
}

impl Catalogue {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(diesel::QueryableByName)]
struct MaybeName {
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
}

#[derive(diesel::QueryableByName)]
struct SqliteMaster {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    sql: Option<String>,
}

#[derive(diesel::QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    declared: String,
    /// Position in the primary key, 1-based; 0 when not part of it.
    #[diesel(sql_type = Integer)]
    pk: i32,
}

#[derive(diesel::QueryableByName)]
struct Reference {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    refers: String,
}

/// `"name"`, safe whatever the name holds.
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Reads the catalogue on `conn` (inside the caller's transaction when it has one).
pub fn read(conn: &mut AnyConnection) -> Result<Catalogue, ArchiveError> {
    let backend = backend_of(conn);
    let mut virtual_tables = Vec::new();
    let names: Vec<String> = match backend {
        Backend::Postgres => diesel::sql_query(
            "SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1",
        )
        .load::<Name>(conn)?
        .into_iter()
        .map(|n| n.name)
        .collect(),
        Backend::Sqlite => {
            let rows = diesel::sql_query("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .load::<SqliteMaster>(conn)?;
            virtual_tables = rows
                .iter()
                .filter(|r| {
                    r.sql.as_deref().is_some_and(|s| s.trim_start().to_ascii_uppercase().starts_with("CREATE VIRTUAL"))
                })
                .map(|r| r.name.clone())
                .collect();
            // A virtual table keeps its data in shadow tables named after it (`tasks_fts_data`,
            // `tasks_fts_idx`, ...): the virtual table is rebuilt from its content on import,
            // so neither is carried.
            rows.into_iter()
                .map(|r| r.name)
                .filter(|name| !name.starts_with("sqlite_"))
                .filter(|name| !virtual_tables.iter().any(|v| name == v || name.starts_with(&format!("{v}_"))))
                .collect()
        }
    };
    let mut tables = Vec::new();
    // Derived tables (PostgreSQL's chat search index) are made again from what is carried.
    for name in names.into_iter().filter(|n| n != MIGRATIONS_TABLE && !DERIVED_TABLES.contains(&n.as_str())) {
        tables.push(describe(conn, backend, name)?);
    }
    let references = references(conn, backend, &tables)?;
    for table in &mut tables {
        if let Some(refers) = references.get(&table.name) {
            table.refers_to = refers.iter().filter(|r| **r != table.name).cloned().collect();
        }
    }
    Ok(Catalogue { tables: in_dependency_order(tables)?, schema_version: schema_version(conn)?, virtual_tables })
}

pub fn backend_of(conn: &AnyConnection) -> Backend {
    match conn {
        AnyConnection::Postgresql(_) => Backend::Postgres,
        AnyConnection::Sqlite(_) => Backend::Sqlite,
    }
}

/// The last migration applied, the archive's "migration level".
pub fn schema_version(conn: &mut AnyConnection) -> Result<String, ArchiveError> {
    let row = diesel::sql_query(format!("SELECT MAX(version) AS name FROM {MIGRATIONS_TABLE}"))
        .get_result::<MaybeName>(conn)?;
    Ok(row.name.unwrap_or_default())
}

fn describe(conn: &mut AnyConnection, backend: Backend, name: String) -> Result<Table, ArchiveError> {
    let rows: Vec<ColumnRow> = match backend {
        Backend::Postgres => diesel::sql_query(
            "SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS declared, \
                    COALESCE((SELECT k.ord::int FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
                              WHERE i.indrelid = a.attrelid AND i.indisprimary AND k.attnum = a.attnum), 0) AS pk \
             FROM pg_attribute a \
             WHERE a.attrelid = to_regclass(quote_ident($1)) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
        )
        .bind::<Text, _>(&name)
        .load(conn)?,
        Backend::Sqlite => {
            diesel::sql_query("SELECT name, type AS declared, pk FROM pragma_table_info(?) ORDER BY cid")
                .bind::<Text, _>(&name)
                .load(conn)?
        }
    };
    let mut key: Vec<(i32, String)> = rows.iter().filter(|c| c.pk > 0).map(|c| (c.pk, c.name.clone())).collect();
    key.sort();
    let columns: Vec<Column> =
        rows.into_iter().map(|c| Column { kind: Kind::of_declared(&c.declared), name: c.name }).collect();
    let order_by = if key.is_empty() {
        columns.iter().map(|c| c.name.clone()).collect()
    } else {
        key.into_iter().map(|(_, n)| n).collect()
    };
    Ok(Table { name, columns, order_by, refers_to: BTreeSet::new() })
}

fn references(
    conn: &mut AnyConnection,
    backend: Backend,
    tables: &[Table],
) -> Result<BTreeMap<String, BTreeSet<String>>, ArchiveError> {
    let rows: Vec<Reference> = match backend {
        Backend::Postgres => diesel::sql_query(
            "SELECT conrelid::regclass::text AS name, confrelid::regclass::text AS refers FROM pg_constraint \
             WHERE contype = 'f' AND connamespace = 'public'::regnamespace",
        )
        .load(conn)?,
        Backend::Sqlite => {
            let mut all = Vec::new();
            for table in tables {
                #[derive(diesel::QueryableByName)]
                struct Target {
                    #[diesel(sql_type = Text)]
                    refers: String,
                }
                let targets: Vec<Target> =
                    diesel::sql_query("SELECT DISTINCT \"table\" AS refers FROM pragma_foreign_key_list(?)")
                        .bind::<Text, _>(&table.name)
                        .load(conn)?;
                all.extend(targets.into_iter().map(|t| Reference { name: table.name.clone(), refers: t.refers }));
            }
            all
        }
    };
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in rows {
        map.entry(r.name.trim_matches('"').to_owned()).or_default().insert(r.refers.trim_matches('"').to_owned());
    }
    Ok(map)
}

/// Kahn's order, ties by name so that two exports of one database list tables alike. Import
/// streams tables in this order and PostgreSQL checks each foreign key as rows arrive, so a cycle
/// (none exists today) is refused at export rather than failing halfway through an import.
fn in_dependency_order(tables: Vec<Table>) -> Result<Vec<Table>, ArchiveError> {
    let known: BTreeSet<String> = tables.iter().map(|t| t.name.clone()).collect();
    let mut pending: BTreeMap<String, Table> = tables.into_iter().map(|t| (t.name.clone(), t)).collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut ordered = Vec::new();
    while !pending.is_empty() {
        let ready: Vec<String> = pending
            .values()
            .filter(|t| t.refers_to.iter().all(|r| done.contains(r) || !known.contains(r)))
            .map(|t| t.name.clone())
            .collect();
        if ready.is_empty() {
            return Err(ArchiveError::Cycle(pending.keys().cloned().collect::<Vec<_>>().join(", ")));
        }
        for name in ready {
            if let Some(table) = pending.remove(&name) {
                done.insert(name);
                ordered.push(table);
            }
        }
    }
    Ok(ordered)
}

/// How many rows each table holds.
pub fn count(conn: &mut AnyConnection, table: &str) -> Result<i64, ArchiveError> {
    #[derive(diesel::QueryableByName)]
    struct Counted {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let counted =
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {}", quoted(table))).get_result::<Counted>(conn)?;
    Ok(counted.n)
}

/// How many rows of `table` match `condition` (a fixed condition written here, never input).
pub fn count_where(conn: &mut AnyConnection, table: &str, condition: &str) -> Result<i64, ArchiveError> {
    #[derive(diesel::QueryableByName)]
    struct Counted {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let counted = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table} WHERE {condition}"))
        .get_result::<Counted>(conn)?;
    Ok(counted.n)
}
