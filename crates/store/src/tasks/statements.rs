//! The statements that write one task with its event, each engine's way, and the read of one task.

use std::borrow::Cow;

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Nullable, SmallInt, Text, Timestamp};
use workbench_core::RepositoryError;
use workbench_events::TaskEvent;
use workbench_tasks::Task;

use super::row::{TaskRow, TaskRowSqlType};
use crate::AnyConnection;
use crate::columns::values;
use crate::connection::Db;
use crate::database::write_transaction;
use crate::error::db;
use crate::outbox::{NewEventRow, audience_json, record_in};
use crate::schema::tasks;

pub(super) mod batch;

/// The lower-cased text that the `q` filter matches against. Folded here rather than in SQL
/// because SQLite's `lower()` only folds ASCII.
fn search_text(title: &str, description: Option<&str>) -> String {
    match description {
        Some(description) => format!("{title}\n{description}").to_lowercase(),
        None => title.to_lowercase(),
    }
}

/// The stored form of a task's tags: a JSON array, which the `task_tags` triggers mirror.
fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}

/// The stored form of a task's custom field values: a JSON object by field id, which the
/// `task_field_values` triggers mirror.
pub(super) fn fields_json(fields: &workbench_tasks::FieldValues) -> String {
    serde_json::to_string(fields).unwrap_or_else(|_| "{}".to_owned())
}

values! {
    /// What a task's row holds besides its id and `created_at`: written whole by both the insert
    /// and the update.
    struct TaskValues<'a> {
        title: &'a str => Text,
        description: Option<&'a str> => Nullable<Text>,
        status: &'a str => Text,
        priority: &'a str => Text,
        priority_rank: i16 => SmallInt,
        due_date: Option<NaiveDateTime> => Nullable<Timestamp>,
        owner_id: i64 => BigInt,
        assignee_id: Option<i64> => Nullable<BigInt>,
        completed_at: Option<NaiveDateTime> => Nullable<Timestamp>,
        version: i64 => BigInt,
        search_text: String => Text,
        updated_at: NaiveDateTime => Timestamp,
        tags: String => Text,
        project_id: Option<i64> => Nullable<BigInt>,
        recurrence: Option<&'a str> => Nullable<Text>,
        previous_id: Option<i64> => Nullable<BigInt>,
        parent_id: Option<i64> => Nullable<BigInt>,
        bucket_id: Option<i64> => Nullable<BigInt>,
        position: Option<i64> => Nullable<BigInt>,
        fields: String => Text,
    }
    /// Many tasks' values, a batch's: see [`batch`].
    columns TaskColumns;
}

impl<'a> TaskValues<'a> {
    fn of(task: &'a Task) -> Self {
        Self {
            title: &task.title,
            description: task.description.as_deref(),
            status: task.status.as_str(),
            priority: task.priority.as_str(),
            priority_rank: task.priority.rank(),
            due_date: task.due_date.map(|t| t.naive_utc()),
            owner_id: task.owner_id.0,
            assignee_id: task.assignee_id.map(|a| a.0),
            completed_at: task.completed_at.map(|t| t.naive_utc()),
            version: task.version,
            search_text: search_text(&task.title, task.description.as_deref()),
            updated_at: task.updated_at.naive_utc(),
            tags: tags_json(&task.tags),
            project_id: task.project_id.map(|p| p.0),
            recurrence: task.recurrence.as_deref(),
            previous_id: task.previous_id.map(|p| p.0),
            parent_id: task.parent_id.map(|p| p.0),
            bucket_id: task.bucket_id.map(|b| b.0),
            position: task.position,
            fields: fields_json(&task.fields),
        }
    }
}

/// `INSERT ... RETURNING` of a task, written out so that Diesel prepares it once per connection:
/// its own single-row insert writes `DEFAULT` for absent values, varies its text, and so is
/// parsed and planned again on every call (as is every `UPDATE` it builds).
struct InsertTask<'a> {
    values: TaskValues<'a>,
    created_at: NaiveDateTime,
}

impl<'a> InsertTask<'a> {
    fn of(task: &'a Task) -> Self {
        Self { values: TaskValues::of(task), created_at: task.created_at.naive_utc() }
    }
}

/// The next occurrence of a recurring task: inserted unless its predecessor already has one
/// (`tasks_previous`), in which case nothing is inserted and nothing returned.
struct InsertFollowUp<'a>(InsertTask<'a>);

/// `UPDATE tasks SET ... WHERE id = ? AND version = ?`: the conditional write, written out for the
/// same reason as [`InsertTask`].
struct UpdateTask<'a> {
    id: i64,
    expected_version: i64,
    values: TaskValues<'a>,
}

impl QueryId for InsertTask<'_> {
    type QueryId = InsertTask<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryId for UpdateTask<'_> {
    type QueryId = UpdateTask<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for InsertTask<'_> {
    type SqlType = TaskRowSqlType;
}

impl QueryId for InsertFollowUp<'_> {
    type QueryId = InsertFollowUp<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for InsertFollowUp<'_> {
    type SqlType = TaskRowSqlType;
}

impl RunQueryDsl<AnyConnection> for InsertTask<'_> {}
impl RunQueryDsl<AnyConnection> for InsertFollowUp<'_> {}
impl RunQueryDsl<AnyConnection> for UpdateTask<'_> {}

/// Implements `QueryFragment` with one body for the two-engine backend (the SQLite path) and for
/// PostgreSQL's own. PostgreSQL's single-statement writes run on the inner `PgConnection`: binds
/// go straight into its wire format instead of through the two-engine collector first, which
/// measured about 25,000 instructions per task write, a tenth of a create.
macro_rules! query_fragment_on_both_backends {
    ($ty:ty, |$this:ident, $out:ident| $body:block) => {
        impl QueryFragment<Db> for $ty {
            fn walk_ast<'b>(&'b self, mut $out: AstPass<'_, 'b, Db>) -> QueryResult<()> {
                let $this = self;
                $body
            }
        }
        impl QueryFragment<Pg> for $ty {
            fn walk_ast<'b>(&'b self, mut $out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                let $this = self;
                $body
            }
        }
    };
}

query_fragment_on_both_backends!(InsertTask<'_>, |this, out| {
    out.push_sql("INSERT INTO tasks (");
    out.push_sql(TaskValues::COLUMNS);
    out.push_sql(", created_at) VALUES (");
    this.values.walk(&mut out, false)?;
    out.push_sql(", ");
    out.push_bind_param::<Timestamp, _>(&this.created_at)?;
    out.push_sql(") RETURNING ");
    out.push_sql(TaskRow::COLUMNS);
    Ok(())
});

query_fragment_on_both_backends!(InsertFollowUp<'_>, |this, out| {
    out.push_sql("INSERT INTO tasks (");
    out.push_sql(TaskValues::COLUMNS);
    out.push_sql(", created_at) VALUES (");
    this.0.values.walk(&mut out, false)?;
    out.push_sql(", ");
    out.push_bind_param::<Timestamp, _>(&this.0.created_at)?;
    out.push_sql(") ON CONFLICT (previous_id) WHERE previous_id IS NOT NULL DO NOTHING RETURNING ");
    out.push_sql(TaskRow::COLUMNS);
    Ok(())
});

query_fragment_on_both_backends!(UpdateTask<'_>, |this, out| {
    out.push_sql("UPDATE tasks SET ");
    this.values.walk(&mut out, true)?;
    out.push_sql(" WHERE id = ");
    out.push_bind_param::<BigInt, _>(&this.id)?;
    out.push_sql(" AND version = ");
    out.push_bind_param::<BigInt, _>(&this.expected_version)?;
    Ok(())
});

/// The outbox row of a task event, bound into the statements below.
#[derive(Clone)]
pub(super) struct EventValues {
    event: &'static str,
    audience: String,
    payload: String,
    occurred_at: NaiveDateTime,
}

impl EventValues {
    /// The event `event` about `task`, at `at`, for its owner and assignee: the audience of a
    /// personal task. A project task's is its members' (see [`Self::for_members`]).
    pub(super) fn of(event: TaskEvent, task: &Task, at: NaiveDateTime) -> Self {
        Self {
            event: event.name(),
            audience: audience_json(task.involved()),
            // A task always serialises; the id is filled in from `subject_id` when read.
            payload: serde_json::to_string(task).unwrap_or_else(|_| "{}".to_owned()),
            occurred_at: at,
        }
    }

    /// This event with a project task's audience: its members as they are in the transaction
    /// that writes it, and its assignee. A member removed before the write is not told. A
    /// personal task's event is kept as it is, without a copy (the hot path).
    pub(super) fn for_members(&self, conn: &mut AnyConnection, task: &Task) -> Result<Cow<'_, Self>, RepositoryError> {
        let Some(project) = task.project_id else { return Ok(Cow::Borrowed(self)) };
        let mut audience = crate::projects::member_ids(conn, project.0)?;
        audience.extend(task.assignee_id.filter(|a| !audience.contains(a)));
        Ok(Cow::Owned(Self { audience: audience_json(audience), ..self.clone() }))
    }

    pub(super) fn row(&self, subject_id: i64) -> NewEventRow {
        NewEventRow {
            event: self.event,
            subject_id,
            audience: self.audience.clone(),
            payload: self.payload.clone(),
            occurred_at: self.occurred_at,
        }
    }

    /// `INSERT INTO outbox ... SELECT ... FROM t`, `t` being a data-modifying `WITH` that returns
    /// the task's `id`: one row per changed task, none when nothing changed.
    fn walk_insert_from_t<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("INSERT INTO outbox (event, subject_id, audience, payload, occurred_at) SELECT ");
        out.push_bind_param::<Text, _>(&self.event)?;
        out.push_sql(", t.id, ");
        out.push_bind_param::<Text, _>(&self.audience)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.payload)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&self.occurred_at)?;
        out.push_sql(" FROM t");
        Ok(())
    }
}

/// PostgreSQL: the insert and its `task.created` event in one statement,
/// `WITH t AS (INSERT ... RETURNING ...), e AS (INSERT INTO outbox ...) SELECT ... FROM t`.
struct InsertTaskRecorded<'a> {
    insert: InsertTask<'a>,
    event: &'a EventValues,
}

/// PostgreSQL: the conditional update and its `task.updated` event in one statement,
/// `WITH t AS (UPDATE ... RETURNING id) INSERT INTO outbox ... FROM t`; affects one row or none.
struct UpdateTaskRecorded<'a> {
    update: UpdateTask<'a>,
    event: &'a EventValues,
}

/// PostgreSQL: the delete and its `task.deleted` event in one statement. The audience and the
/// payload (`{"id": ...}`) come from the deleted row itself, so that they are those of the
/// task as it was when it went.
pub(super) struct DeleteTaskRecorded {
    pub(super) id: i64,
    pub(super) expected_version: Option<i64>,
    pub(super) occurred_at: NaiveDateTime,
}

impl QueryId for InsertTaskRecorded<'_> {
    type QueryId = InsertTaskRecorded<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryId for UpdateTaskRecorded<'_> {
    type QueryId = UpdateTaskRecorded<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryId for DeleteTaskRecorded {
    type QueryId = DeleteTaskRecorded;
    // The text differs with and without a version: not one statement.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for InsertTaskRecorded<'_> {
    type SqlType = TaskRowSqlType;
}

impl RunQueryDsl<PgConnection> for InsertTaskRecorded<'_> {}
impl RunQueryDsl<PgConnection> for UpdateTaskRecorded<'_> {}
impl RunQueryDsl<AnyConnection> for DeleteTaskRecorded {}

impl QueryFragment<Pg> for InsertTaskRecorded<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH t AS (");
        self.insert.walk_ast(out.reborrow())?;
        out.push_sql("), e AS (");
        self.event.walk_insert_from_t(&mut out)?;
        out.push_sql(") SELECT ");
        out.push_sql(TaskRow::COLUMNS);
        out.push_sql(" FROM t");
        Ok(())
    }
}

impl QueryFragment<Pg> for UpdateTaskRecorded<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH t AS (");
        self.update.walk_ast(out.reborrow())?;
        out.push_sql(" RETURNING id) ");
        self.event.walk_insert_from_t(&mut out)
    }
}

impl QueryFragment<Db> for DeleteTaskRecorded {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Db>) -> QueryResult<()> {
        out.push_sql("WITH t AS (DELETE FROM tasks WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.id)?;
        if let Some(version) = &self.expected_version {
            out.push_sql(" AND version = ");
            out.push_bind_param::<BigInt, _>(version)?;
        }
        out.push_sql(
            " RETURNING id, owner_id, assignee_id, project_id) \
             INSERT INTO outbox (event, subject_id, audience, payload, occurred_at) SELECT '",
        );
        // A constant of ours, not input: safe to write into the statement.
        out.push_sql(TaskEvent::Deleted.name());
        // A personal task's owner and assignee; a project task's members and assignee.
        out.push_sql(
            "', t.id, CASE WHEN t.project_id IS NULL \
                THEN '[' || t.owner_id || COALESCE(',' || t.assignee_id, '') || ']' \
                ELSE (SELECT COALESCE(json_agg(a.u ORDER BY a.u), '[]'::json)::text FROM ( \
                    SELECT m.user_id AS u FROM project_members m WHERE m.project_id = t.project_id \
                    UNION SELECT t.assignee_id WHERE t.assignee_id IS NOT NULL) AS a) END, \
             '{\"id\":' || t.id || '}', ",
        );
        out.push_bind_param::<Timestamp, _>(&self.occurred_at)?;
        out.push_sql(" FROM t");
        Ok(())
    }
}

/// Stores `task` if the stored version is still `expected_version`, with its `task.updated`
/// event; whether it did. One conditional statement is the race arbiter: on PostgreSQL a
/// concurrent writer waits for the row lock, then finds the version moved on and changes
/// nothing; SQLite serialises writers. The tags trigger runs inside it. The event goes with it:
/// in the same statement on PostgreSQL, the same transaction on SQLite; a lost race writes neither.
/// With `follow_up` (the next occurrence of a recurring task it completes), that goes in with it,
/// in one transaction; what was stored of it is answered beside whether the update applied.
pub(super) fn store_update(
    conn: &mut AnyConnection,
    task: &Task,
    expected_version: i64,
    follow_up: Option<&Task>,
) -> Result<(bool, Option<Task>), RepositoryError> {
    let event = EventValues::of(TaskEvent::Updated, task, task.updated_at.naive_utc());
    let event = event.for_members(conn, task)?;
    match (&*conn, follow_up) {
        (AnyConnection::Postgresql(_), None) => Ok((update_recorded(conn, task, expected_version, &event)?, None)),
        _ => write_transaction(conn, |c| {
            let applied = update_recorded(c, task, expected_version, &event)?;
            let follow_up = match follow_up.filter(|_| applied) {
                Some(next) => insert_follow_up(c, next)?,
                None => None,
            };
            Ok((applied, follow_up))
        }),
    }
}

/// Inserts `next`, the next occurrence of a recurring task, with its `task.created` event, unless
/// its predecessor has one already (then nothing): the task as stored, if inserted.
pub(super) fn insert_follow_up(conn: &mut AnyConnection, next: &Task) -> Result<Option<Task>, RepositoryError> {
    let event = EventValues::of(TaskEvent::Created, next, next.created_at.naive_utc());
    let event = event.for_members(conn, next)?;
    let inserted = InsertFollowUp(InsertTask::of(next)).get_result::<TaskRow>(conn).optional().map_err(db)?;
    let Some(row) = inserted else { return Ok(None) };
    let created = row.into_task()?;
    record_in(conn, &event.row(created.id.0))?;
    Ok(Some(created))
}

/// Inserts `task` with its `task.created` event: one statement on PostgreSQL, two on SQLite for
/// the caller's transaction. The task as stored, with its id.
pub(super) fn insert_recorded(
    conn: &mut AnyConnection,
    task: &Task,
    event: &EventValues,
) -> Result<Task, RepositoryError> {
    // The tags go in with the row (the trigger fills `task_tags`), the event with it.
    let insert = InsertTask::of(task);
    match conn {
        AnyConnection::Postgresql(pg) => {
            InsertTaskRecorded { insert, event }.get_result::<TaskRow>(pg).map_err(db)?.into_task()
        }
        AnyConnection::Sqlite(_) => {
            let created = insert.get_result::<TaskRow>(conn).map_err(db)?.into_task()?;
            record_in(conn, &event.row(created.id.0))?;
            Ok(created)
        }
    }
}

/// Stores `task` if the stored version is still `expected_version`, and then its `task.updated`
/// event: one statement on PostgreSQL, two on SQLite for the caller's transaction. Whether it
/// applied.
pub(super) fn update_recorded(
    conn: &mut AnyConnection,
    task: &Task,
    expected_version: i64,
    event: &EventValues,
) -> Result<bool, RepositoryError> {
    let update = UpdateTask { id: task.id.0, expected_version, values: TaskValues::of(task) };
    match conn {
        AnyConnection::Postgresql(pg) => Ok(UpdateTaskRecorded { update, event }.execute(pg).map_err(db)? == 1),
        AnyConnection::Sqlite(_) => {
            let updated = update.execute(conn).map_err(db)? == 1;
            if updated {
                record_in(conn, &event.row(task.id.0))?;
            }
            Ok(updated)
        }
    }
}

pub(super) fn find_task(conn: &mut AnyConnection, id: i64) -> Result<Option<Task>, RepositoryError> {
    tasks::table
        .find(id)
        .select(TaskRow::as_select())
        .first::<TaskRow>(conn)
        .optional()
        .map_err(db)?
        .map(TaskRow::into_task)
        .transpose()
}
