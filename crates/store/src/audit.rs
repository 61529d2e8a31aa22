//! The audit trail in the database.
//!
//! [`append`] writes entries on a connection the caller holds, so that a repository records an
//! action inside the transaction that makes the change. [`DieselAuditLog`] appends the entries
//! of actions that change nothing and reads the trail.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::Value;
use workbench_core::{Page, RepositoryError};
use workbench_users::{AuditAction, AuditEntry, AuditLog, AuditQuery, NewAuditEntry, UserId};

use crate::connection::Db;
use crate::error::db;
use crate::paging::counted_page;
use crate::schema::audit_log;
use crate::{AnyConnection, Database};

#[derive(Insertable)]
#[diesel(table_name = audit_log)]
struct NewAuditRow<'a> {
    actor_id: Option<i64>,
    action: &'static str,
    target_id: Option<i64>,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    details: String,
    created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_log)]
struct AuditRow {
    id: i64,
    actor_id: Option<i64>,
    action: String,
    target_id: Option<i64>,
    ip: Option<String>,
    user_agent: Option<String>,
    details: String,
    created_at: NaiveDateTime,
}

impl AuditRow {
    fn into_entry(self) -> Result<AuditEntry, RepositoryError> {
        let corrupt = |what: String| RepositoryError::Unavailable(anyhow::anyhow!("unexpected audit_log row: {what}"));
        let action = AuditAction::parse(&self.action).map_err(corrupt)?;
        let details = match serde_json::from_str::<Value>(&self.details) {
            Ok(Value::Object(map)) => map,
            Ok(other) => return Err(corrupt(format!("details is not an object: {other}"))),
            Err(e) => return Err(corrupt(format!("details is not JSON: {e}"))),
        };
        Ok(AuditEntry {
            id: self.id,
            action,
            actor_id: self.actor_id.map(UserId),
            target_id: self.target_id.map(UserId),
            ip: self.ip,
            user_agent: self.user_agent,
            details,
            created_at: self.created_at.and_utc(),
        })
    }
}

/// Appends `entries` on `conn`, inside whatever transaction the caller has open.
pub(crate) fn append(conn: &mut AnyConnection, entries: &[NewAuditEntry]) -> Result<(), RepositoryError> {
    // One statement per entry: batch inserts of a Vec do not compile for a MultiConnection, and
    // an action records one or two entries.
    for entry in entries {
        let row = NewAuditRow {
            actor_id: entry.actor_id.map(|id| id.0),
            action: entry.action.as_str(),
            target_id: entry.target_id.map(|id| id.0),
            ip: entry.ip.as_deref(),
            user_agent: entry.user_agent.as_deref(),
            details: Value::Object(entry.details.clone()).to_string(),
            created_at: entry.at.naive_utc(),
        };
        diesel::insert_into(audit_log::table).values(row).execute(conn).map_err(db)?;
    }
    Ok(())
}

/// `entries`, with the actor and target that are not set yet filled in by `id`: for entries
/// written with the account they are about, before that account had an id.
pub(crate) fn naming(entries: &[NewAuditEntry], id: UserId) -> Vec<NewAuditEntry> {
    entries
        .iter()
        .cloned()
        .map(|mut e| {
            e.actor_id.get_or_insert(id);
            e.target_id.get_or_insert(id);
            e
        })
        .collect()
}

/// [`AuditLog`] on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselAuditLog {
    db: Database,
}

impl DieselAuditLog {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn filtered(query: &AuditQuery) -> audit_log::BoxedQuery<'static, Db> {
    let mut q = audit_log::table.into_boxed();
    if let Some(actor) = query.actor_id {
        q = q.filter(audit_log::actor_id.eq(actor.0));
    }
    if let Some(action) = query.action {
        q = q.filter(audit_log::action.eq(action.as_str()));
    }
    if let Some(since) = query.since {
        q = q.filter(audit_log::created_at.ge(since.naive_utc()));
    }
    q
}

#[async_trait]
impl AuditLog for DieselAuditLog {
    async fn record(&self, entry: NewAuditEntry) -> Result<(), RepositoryError> {
        self.db.run(move |conn| append(conn, std::slice::from_ref(&entry))).await
    }

    async fn list(&self, query: AuditQuery) -> Result<Page<AuditEntry>, RepositoryError> {
        self.db
            .run(move |conn| {
                let total: i64 = filtered(&query).count().get_result(conn).map_err(db)?;
                counted_page(query.page, total, || {
                    let rows: Vec<AuditRow> = filtered(&query)
                        .select(AuditRow::as_select())
                        .order(audit_log::id.desc())
                        .limit(query.page.limit())
                        .offset(query.page.offset())
                        .load(conn)
                        .map_err(db)?;
                    rows.into_iter().map(AuditRow::into_entry).collect()
                })
            })
            .await
    }
}
