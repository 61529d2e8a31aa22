//! PostgreSQL: a group-commit batch of task creates, or of task updates, written by one
//! statement with their events.
//!
//! A batch already shares one transaction and one flush (see `group_commit`), but written one
//! statement per task, PostgreSQL pays per statement what does not depend on the rows: starting
//! the executor, reading the constraints' and triggers' expressions again, one result sent back.
//! Profiled under `create_task` and `patch_task`, that was about a quarter of the database's CPU,
//! and one statement for eight rows (`UPDATE ... FROM unnest(...)`) wrote twice the rows per
//! second in `pgbench`. The batch's values are bound as one array per column, so the statement's
//! text is the same for any number of rows and is prepared once per connection.

use std::collections::HashSet;

use chrono::{NaiveDateTime, SubsecRound};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Text, Timestamp};
use workbench_core::RepositoryError;
use workbench_events::TaskEvent;
use workbench_tasks::Task;

use super::{EventValues, TaskColumns, TaskRow, TaskRowSqlType, TaskValues};
use crate::error::db;

/// The outbox rows of a batch, one array per column; the event's name is the batch's.
struct EventColumns<'a> {
    audience: Vec<&'a str>,
    payload: Vec<&'a str>,
    occurred_at: Vec<NaiveDateTime>,
}

impl<'a> EventColumns<'a> {
    fn with_capacity(rows: usize) -> Self {
        Self {
            audience: Vec::with_capacity(rows),
            payload: Vec::with_capacity(rows),
            occurred_at: Vec::with_capacity(rows),
        }
    }

    fn push(&mut self, event: &'a EventValues) {
        self.audience.push(&event.audience);
        self.payload.push(&event.payload);
        self.occurred_at.push(event.occurred_at);
    }

    /// `, audience[], payload[], occurred_at[]`: the arrays after a row's own.
    fn walk<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.audience)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.payload)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Timestamp>, _>(&self.occurred_at)?;
        Ok(())
    }
}

/// `INSERT INTO outbox ... SELECT '<event>', <id>, v.audience, v.payload, v.occurred_at`.
fn push_outbox_insert(out: &mut AstPass<'_, '_, Pg>, event: TaskEvent, id: &str) {
    out.push_sql("INSERT INTO outbox (event, subject_id, audience, payload, occurred_at) SELECT '");
    // A constant of ours, not input: safe to write into the statement.
    out.push_sql(event.name());
    out.push_sql("', ");
    out.push_sql(id);
    out.push_sql(", v.audience, v.payload, v.occurred_at");
}

/// New tasks and their `task.created` events. The rows are inserted in the batch's order, so
/// their ids (from the sequence, one `nextval` per row as inserted) grow in that order: the
/// outbox rows are matched to them by rank, and they are returned ordered by id.
struct InsertTasks<'a> {
    values: TaskColumns<'a>,
    created_at: Vec<NaiveDateTime>,
    events: EventColumns<'a>,
}

impl QueryId for InsertTasks<'_> {
    type QueryId = InsertTasks<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for InsertTasks<'_> {
    type SqlType = TaskRowSqlType;
}

impl RunQueryDsl<PgConnection> for InsertTasks<'_> {}

impl QueryFragment<Pg> for InsertTasks<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH v AS (SELECT * FROM unnest(");
        self.values.walk(&mut out)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Timestamp>, _>(&self.created_at)?;
        self.events.walk(&mut out)?;
        out.push_sql(") WITH ORDINALITY AS v(");
        out.push_sql(TaskValues::COLUMNS);
        out.push_sql(", created_at, audience, payload, occurred_at, ord)), t AS (INSERT INTO tasks (");
        out.push_sql(TaskValues::COLUMNS);
        out.push_sql(", created_at) SELECT ");
        out.push_sql(TaskValues::COLUMNS);
        out.push_sql(", created_at FROM v ORDER BY ord RETURNING ");
        out.push_sql(TaskRow::COLUMNS);
        out.push_sql("), e AS (");
        push_outbox_insert(&mut out, TaskEvent::Created, "n.id");
        out.push_sql(
            " FROM (SELECT id, row_number() OVER (ORDER BY id) AS ord FROM t) AS n \
             JOIN v ON v.ord = n.ord ORDER BY n.ord) SELECT ",
        );
        out.push_sql(TaskRow::COLUMNS);
        out.push_sql(" FROM t ORDER BY id");
        Ok(())
    }
}

/// Conditional updates (each applies if its task's stored version is still the one it expects)
/// and a `task.updated` event for each that applied; the ids of those. Every task in `locked` is
/// locked first, in id order, so that two batches never each hold a row the other waits for.
/// No task may appear twice in one statement: it would be updated once, by either row.
struct UpdateTasks<'a> {
    locked: Vec<i64>,
    ids: Vec<i64>,
    expected_versions: Vec<i64>,
    values: TaskColumns<'a>,
    events: EventColumns<'a>,
}

impl QueryId for UpdateTasks<'_> {
    type QueryId = UpdateTasks<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for UpdateTasks<'_> {
    type SqlType = BigInt;
}

impl RunQueryDsl<PgConnection> for UpdateTasks<'_> {}

impl QueryFragment<Pg> for UpdateTasks<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH v AS (SELECT * FROM unnest(");
        out.push_bind_param::<Array<BigInt>, _>(&self.ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.expected_versions)?;
        out.push_sql(", ");
        self.values.walk(&mut out)?;
        self.events.walk(&mut out)?;
        out.push_sql(") WITH ORDINALITY AS v(id, expected_version, ");
        out.push_sql(TaskValues::COLUMNS);
        // `ORDER BY` before the lock: the rows are locked in the order they are returned.
        out.push_sql(", audience, payload, occurred_at, ord)), l AS (SELECT id FROM tasks WHERE id = ANY(");
        out.push_bind_param::<Array<BigInt>, _>(&self.locked)?;
        out.push_sql(") ORDER BY id FOR NO KEY UPDATE), t AS (UPDATE tasks SET ");
        out.push_sql(TaskColumns::ASSIGNED_FROM_V);
        // `tasks.id = ANY(ids)` as well as the join: a plan that reaches the rows through the
        // primary key whatever the statistics say (a table the planner believes small was read
        // whole, once per batch, to join it to `v`).
        out.push_sql(" FROM v WHERE tasks.id = v.id AND tasks.id = ANY(");
        out.push_bind_param::<Array<BigInt>, _>(&self.ids)?;
        out.push_sql(
            ") AND tasks.version = v.expected_version \
             AND tasks.id IN (SELECT id FROM l) RETURNING tasks.id), e AS (",
        );
        push_outbox_insert(&mut out, TaskEvent::Updated, "v.id");
        out.push_sql(" FROM v WHERE v.id IN (SELECT id FROM t) ORDER BY v.ord) SELECT id FROM t");
        Ok(())
    }
}

/// Inserts `creates` (each a new task and its event) in one statement: the tasks as stored, in
/// the same order.
pub(crate) fn insert_tasks(
    conn: &mut PgConnection,
    creates: &[(&Task, &EventValues)],
) -> Result<Vec<Task>, RepositoryError> {
    let mut statement = InsertTasks {
        values: TaskColumns::with_capacity(creates.len()),
        created_at: Vec::with_capacity(creates.len()),
        events: EventColumns::with_capacity(creates.len()),
    };
    for (task, event) in creates {
        statement.values.push(TaskValues::of(task));
        statement.created_at.push(task.created_at.naive_utc());
        statement.events.push(event);
    }
    let rows = statement.load::<TaskRow>(conn).map_err(db)?;
    let stored = rows.into_iter().map(TaskRow::into_task).collect::<Result<Vec<_>, _>>()?;
    // The rows are matched to the creates by their order: checked, so that a caller can never be
    // answered with another's task. Failing rolls the batch back, and each runs again alone.
    let matched = stored.len() == creates.len()
        && stored.iter().zip(creates).all(|(row, (task, _))| {
            // Stored to the microsecond.
            let created_at = task.created_at.trunc_subsecs(6);
            row.title == task.title && row.owner_id == task.owner_id && row.created_at == created_at
        });
    if !matched {
        return Err(RepositoryError::Unavailable(anyhow::anyhow!(
            "a batch of {} task inserts came back as {} rows out of order",
            creates.len(),
            stored.len()
        )));
    }
    Ok(stored)
}

/// Applies `updates` (each a task, the version it expects stored, and its event) in one
/// statement, after locking every task in `locked` (which holds theirs); the ids of the tasks
/// whose update applied. The updates' tasks must differ.
pub(crate) fn update_tasks(
    conn: &mut PgConnection,
    locked: Vec<i64>,
    updates: &[(&Task, i64, &EventValues)],
) -> Result<HashSet<i64>, RepositoryError> {
    let mut statement = UpdateTasks {
        locked,
        ids: Vec::with_capacity(updates.len()),
        expected_versions: Vec::with_capacity(updates.len()),
        values: TaskColumns::with_capacity(updates.len()),
        events: EventColumns::with_capacity(updates.len()),
    };
    for (task, expected_version, event) in updates {
        statement.ids.push(task.id.0);
        statement.expected_versions.push(*expected_version);
        statement.values.push(TaskValues::of(task));
        statement.events.push(event);
    }
    Ok(statement.load::<i64>(conn).map_err(db)?.into_iter().collect())
}
