//! Tasks, their tags and their comments in the database.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{count_star, exists};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Nullable, SmallInt, Text, Timestamp};
use tokio::sync::Notify;
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_projects::ProjectId;
use workbench_tasks::{
    Comment, CommentRepository, CreationKey, CreationOrder, NewComment, NewTaskRecord, Priority, Rebase, SortKey,
    Status, TagUsage, Task, TaskFacets, TaskFilter, TaskId, TaskRepository, TaskScope, TaskStats, UpdateOutcome,
    next_occurrence,
};
use workbench_users::UserId;

use workbench_events::TaskEvent;

use crate::columns::{returning, row, values};
use crate::database::{due, read_in_index_order, read_within, write_by_key, write_transaction};
use crate::error::{corrupt, count, db};
use crate::group_commit::{Batching, GroupCommit, Write};
use crate::like::contains_pattern;
use crate::outbox::{NewEventRow, audience_json, record_in};
use crate::schema::{files, outbox, project_members, task_comments, task_count_changes, task_counts, task_tags, tasks};
use crate::{AnyConnection, Backend, Database};

type Db = <AnyConnection as Connection>::Backend;

row! {
    /// A task as read: every column but the derived ones (`priority_rank`, `search_text`).
    #[derive(Debug)]
    struct TaskRow in tasks {
        id: i64,
        title: String,
        description: Option<String>,
        status: String,
        priority: String,
        due_date: Option<NaiveDateTime>,
        owner_id: i64,
        assignee_id: Option<i64>,
        completed_at: Option<NaiveDateTime>,
        version: i64,
        created_at: NaiveDateTime,
        updated_at: NaiveDateTime,
        tags: String,
        project_id: Option<i64>,
        recurrence: Option<String>,
        previous_id: Option<i64>,
    }
}

/// The SQL types of what a statement returning [`TaskRow::COLUMNS`] answers.
type TaskRowSqlType = diesel::dsl::SqlTypeOf<<TaskRow as Selectable<Db>>::SelectExpression>;

impl TaskRow {
    fn into_task(self) -> Result<Task, RepositoryError> {
        let status = Status::parse(&self.status).map_err(|e| corrupt("tasks.status", &e))?;
        let priority = Priority::parse(&self.priority).map_err(|e| corrupt("tasks.priority", &e))?;
        let tags: Vec<String> = serde_json::from_str(&self.tags).map_err(|e| corrupt("tasks.tags", e))?;
        Ok(Task {
            id: TaskId(self.id),
            title: self.title,
            description: self.description,
            status,
            priority,
            due_date: self.due_date.map(|t| t.and_utc()),
            owner_id: UserId(self.owner_id),
            assignee_id: self.assignee_id.map(UserId),
            tags,
            completed_at: self.completed_at.map(|t| t.and_utc()),
            version: self.version,
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
            project_id: self.project_id.map(ProjectId),
            recurrence: self.recurrence,
            previous_id: self.previous_id.map(TaskId),
        })
    }
}

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
    }
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
struct EventValues {
    event: &'static str,
    audience: String,
    payload: String,
    occurred_at: NaiveDateTime,
}

impl EventValues {
    /// The event `event` about `task`, at `at`, for its owner and assignee: the audience of a
    /// personal task. A project task's is its members' (see [`Self::for_members`]).
    fn of(event: TaskEvent, task: &Task, at: NaiveDateTime) -> Self {
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
    fn for_members(&self, conn: &mut AnyConnection, task: &Task) -> Result<Cow<'_, Self>, RepositoryError> {
        let Some(project) = task.project_id else { return Ok(Cow::Borrowed(self)) };
        let mut audience = crate::projects::member_ids(conn, project.0)?;
        audience.extend(task.assignee_id.filter(|a| !audience.contains(a)));
        Ok(Cow::Owned(Self { audience: audience_json(audience), ..self.clone() }))
    }

    fn row(&self, subject_id: i64) -> NewEventRow {
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
struct DeleteTaskRecorded {
    id: i64,
    expected_version: Option<i64>,
    occurred_at: NaiveDateTime,
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
fn store_update(
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
fn insert_follow_up(conn: &mut AnyConnection, next: &Task) -> Result<Option<Task>, RepositoryError> {
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
fn insert_recorded(conn: &mut AnyConnection, task: &Task, event: &EventValues) -> Result<Task, RepositoryError> {
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
fn update_recorded(
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

/// The `task_counts` counters a task adds one to, for its status: every task's (0), its
/// owner's or its project's (minus the project's id), and its assignee's when it is a personal
/// task of someone else's (the same rule as the `tasks_count_change` trigger).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counted {
    status: Status,
    counters: [Option<i64>; 3],
}

impl Counted {
    fn of(task: &Task) -> Self {
        let home = match task.project_id {
            None => task.owner_id.0,
            Some(project) => -project.0,
        };
        let assignee =
            task.assignee_id.filter(|who| task.project_id.is_none() && *who != task.owner_id).map(|who| who.0);
        Self { status: task.status, counters: [Some(0), Some(home), assignee] }
    }
}

/// What a batch of task writes changed in `task_counts`, summed per counter and status, appended
/// as one statement before the batch commits (PostgreSQL; see the `counted_by_the_writer`
/// migration): a few rows for the whole batch instead of two to four per written row.
#[derive(Debug, Default)]
struct CountChanges(std::collections::BTreeMap<(i64, &'static str), i64>);

impl CountChanges {
    fn add(&mut self, counted: Counted, delta: i64) {
        for counter in counted.counters.into_iter().flatten() {
            *self.0.entry((counter, counted.status.as_str())).or_default() += delta;
        }
    }

    fn append(self, conn: &mut PgConnection) -> Result<(), RepositoryError> {
        let rows: Vec<_> = self
            .0
            .into_iter()
            .filter(|(_, delta)| *delta != 0)
            .map(|((counter, status), delta)| {
                (
                    task_count_changes::user_id.eq(counter),
                    task_count_changes::status.eq(status),
                    task_count_changes::delta.eq(delta),
                )
            })
            .collect();
        if !rows.is_empty() {
            diesel::insert_into(task_count_changes::table).values(rows).execute(conn).map_err(db)?;
        }
        Ok(())
    }
}

/// A task write that may share its transaction with others (see `group_commit`): the creates
/// and the first attempt of each update, which is nearly always the only one.
enum TaskWrite {
    /// A new task (its id not yet known) and its `task.created` event.
    Create { task: Task, event: EventValues },
    /// `task` if the stored version is still `expected_version` (at which it was `before`), and
    /// its `task.updated` event; then `follow_up`, the next occurrence of a recurring task it
    /// completes.
    Update { task: Task, before: Counted, expected_version: i64, event: EventValues, follow_up: Option<Box<Task>> },
}

enum TaskWritten {
    Created(Task),
    /// Whether the version was still the expected one, and the next occurrence stored with it.
    Updated(bool, Option<Task>),
}

impl TaskWrite {
    fn create(task: Task) -> Self {
        let event = EventValues::of(TaskEvent::Created, &task, task.created_at.naive_utc());
        Self::Create { task, event }
    }

    /// `task` written over `before`, and the next occurrence if the change completes a recurring task.
    fn update(task: Task, before: &Task) -> Self {
        let event = EventValues::of(TaskEvent::Updated, &task, task.updated_at.naive_utc());
        let follow_up = next_occurrence(before, &task).map(Box::new);
        Self::Update { task, before: Counted::of(before), expected_version: before.version, event, follow_up }
    }

    /// Adds what the write did, as `written`, to the counters' changes.
    fn count(&self, written: &TaskWritten, changes: &mut CountChanges) {
        match (self, written) {
            (_, TaskWritten::Created(task)) => changes.add(Counted::of(task), 1),
            (Self::Update { task, before, .. }, TaskWritten::Updated(true, follow_up)) => {
                changes.add(*before, -1);
                changes.add(Counted::of(task), 1);
                if let Some(next) = follow_up {
                    changes.add(Counted::of(next), 1);
                }
            }
            (_, TaskWritten::Updated(false, _)) | (Self::Create { .. }, TaskWritten::Updated(..)) => {}
        }
    }
}

impl Write for TaskWrite {
    type Output = TaskWritten;

    fn apply(&self, conn: &mut AnyConnection) -> Result<TaskWritten, RepositoryError> {
        match self {
            Self::Create { task, event } => {
                let event = event.for_members(conn, task)?;
                insert_recorded(conn, task, &event).map(TaskWritten::Created)
            }
            Self::Update { task, expected_version, event, follow_up, .. } => {
                let event = event.for_members(conn, task)?;
                let applied = update_recorded(conn, task, *expected_version, &event)?;
                let follow_up = match follow_up.as_deref().filter(|_| applied) {
                    Some(next) => insert_follow_up(conn, next)?,
                    None => None,
                };
                Ok(TaskWritten::Updated(applied, follow_up))
            }
        }
    }

    /// On PostgreSQL, the batch counts itself (see [`CountChanges`]): the count triggers skip
    /// the rows of a transaction that set `workbench.counted`.
    fn apply_together(conn: &mut AnyConnection, writes: &[Self]) -> Result<Vec<TaskWritten>, RepositoryError> {
        if matches!(conn, AnyConnection::Sqlite(_)) {
            return writes.iter().map(|write| write.apply(conn)).collect();
        }
        diesel::sql_query("SET LOCAL workbench.counted = 'on'").execute(conn).map_err(db)?;
        let mut changes = CountChanges::default();
        let mut written = Vec::with_capacity(writes.len());
        for write in writes {
            let output = write.apply(conn)?;
            write.count(&output, &mut changes);
            written.push(output);
        }
        if let AnyConnection::Postgresql(pg) = conn {
            changes.append(pg)?;
        }
        Ok(written)
    }

    /// As the trait's, but an update that may make a next occurrence takes a transaction on
    /// PostgreSQL too: its two statements commit together.
    fn apply_alone(&self, conn: &mut AnyConnection) -> Result<TaskWritten, RepositoryError> {
        match (&*conn, self) {
            (AnyConnection::Postgresql(_), Self::Create { .. } | Self::Update { follow_up: None, .. }) => {
                self.apply(conn)
            }
            _ => write_transaction(conn, |c| self.apply(c)),
        }
    }

    /// Creates lock no existing row; updates lock their task's.
    fn lock_order(&self) -> i64 {
        match self {
            Self::Create { .. } => 0,
            Self::Update { task, .. } => task.id.0,
        }
    }
}

fn find_task(conn: &mut AnyConnection, id: i64) -> Result<Option<Task>, RepositoryError> {
    tasks::table
        .find(id)
        .select(TaskRow::as_select())
        .first::<TaskRow>(conn)
        .optional()
        .map_err(db)?
        .map(TaskRow::into_task)
        .transpose()
}

/// A [`TaskScope`] with what the statements need read first: a member's projects.
#[derive(Debug, Clone)]
pub(crate) enum Resolved {
    All,
    Project(i64),
    /// A user's personal tasks (owned or assigned) and every task of `projects`.
    User {
        user: i64,
        projects: Vec<i64>,
    },
}

impl Resolved {
    /// The `task_counts` rows whose sum is the scope's total (see the `project_tasks` migration).
    fn counters(&self) -> Vec<i64> {
        match self {
            Resolved::All => vec![0],
            Resolved::Project(project) => vec![-project],
            Resolved::User { user, projects } => std::iter::once(*user).chain(projects.iter().map(|p| -p)).collect(),
        }
    }
}

/// `scope` with the projects of its member read (one indexed read of `project_members`), in the
/// same transaction as the statements that use it.
pub(crate) fn resolve(conn: &mut AnyConnection, scope: TaskScope) -> Result<Resolved, RepositoryError> {
    Ok(match scope {
        TaskScope::All => Resolved::All,
        TaskScope::Project(project) => Resolved::Project(project.0),
        TaskScope::InvolvedUser(user) => Resolved::User {
            user: user.0,
            projects: project_members::table
                .filter(project_members::user_id.eq(user.0))
                .order(project_members::project_id.asc())
                .select(project_members::project_id)
                .load(conn)
                .map_err(db)?,
        },
    })
}

/// The condition that keeps `scope`'s tasks, `None` for every task. Ids are written into the
/// text (integers read from the database, never client text): the number of a member's projects
/// varies, which Diesel's typed binds cannot.
///
/// A user's personal tasks are found on SQLite as id subqueries on the owner and assignee indexes
/// (with the plain OR, SQLite walks the creation-time index through every other user's tasks: 2.4
/// ms per page at 10,000 tasks, under 1 ms this way); PostgreSQL's planner does better with the
/// plain OR (a BitmapOr over the same indexes), and measured 2.4x slower with the subqueries.
fn scope_condition(scope: &Resolved, conn: &AnyConnection) -> Option<diesel::expression::SqlLiteral<Bool>> {
    let in_projects = |projects: &[i64]| match projects {
        [] => String::new(),
        ids => format!(" OR tasks.project_id IN ({})", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")),
    };
    let sql = match (scope, conn) {
        (Resolved::All, _) => return None,
        (Resolved::Project(project), _) => format!("tasks.project_id = {project}"),
        (Resolved::User { user, projects }, AnyConnection::Sqlite(_)) => format!(
            "(tasks.id IN (SELECT t.id FROM tasks t WHERE t.owner_id = {user} AND t.project_id IS NULL) \
             OR tasks.id IN (SELECT t.id FROM tasks t WHERE t.assignee_id = {user} AND t.project_id IS NULL){})",
            in_projects(projects)
        ),
        (Resolved::User { user, projects }, AnyConnection::Postgresql(_)) => format!(
            "((tasks.project_id IS NULL AND (tasks.owner_id = {user} OR tasks.assignee_id = {user})){})",
            in_projects(projects)
        ),
    };
    Some(diesel::dsl::sql::<Bool>(&sql))
}

/// The tasks in `scope`.
fn scoped(scope: &Resolved, conn: &AnyConnection) -> tasks::BoxedQuery<'static, Db> {
    let q = tasks::table.into_boxed();
    match scope_condition(scope, conn) {
        Some(condition) => q.filter(condition),
        None => q,
    }
}

/// The tasks in `scope` matching `filter`, unordered: the one query behind both the count and the
/// page of [`TaskRepository::list`].
fn filtered(scope: &Resolved, filter: &TaskFilter, conn: &AnyConnection) -> tasks::BoxedQuery<'static, Db> {
    narrowed(scoped(scope, conn), filter, conn)
}

/// `$q` (a boxed query of tasks, grouped or not) narrowed by every condition of `$filter` (its
/// scope aside). A macro rather than a function: Diesel types a grouped boxed query apart, and
/// the facets' grouped query must narrow exactly as the lists do.
macro_rules! narrow {
    ($q:expr, $filter:expr, $conn:expr) => {{
        let (mut q, filter, conn): (_, &TaskFilter, &AnyConnection) = ($q, $filter, $conn);
        if !filter.statuses.is_empty() {
            q = q.filter(tasks::status.eq_any(filter.statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
        }
        if !filter.priorities.is_empty() {
            q = q.filter(tasks::priority.eq_any(filter.priorities.iter().map(|p| p.as_str()).collect::<Vec<_>>()));
        }
        if let Some(assignee) = filter.assignee_id {
            q = q.filter(tasks::assignee_id.eq(assignee.0));
        }
        if let Some(owner) = filter.owner_id {
            q = q.filter(tasks::owner_id.eq(owner.0));
        }
        if let Some(tag) = filter.tag.clone() {
            q = q.filter(exists(
                task_tags::table.filter(task_tags::task_id.eq(tasks::id)).filter(task_tags::tag.eq(tag)),
            ));
        }
        if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
            q = match conn {
                AnyConnection::Sqlite(_) if trigram_searchable(text) => q.filter(in_trigram_index(text)),
                // PostgreSQL answers the same `LIKE` from its trigram index (`tasks_search_trgm`).
                _ => q.filter(tasks::search_text.like(contains_pattern(text)).escape('\\')),
            };
        }
        if let Some(before) = filter.due_before {
            q = q.filter(tasks::due_date.lt(before.naive_utc()));
        }
        if let Some(after) = filter.due_after {
            q = q.filter(tasks::due_date.ge(after.naive_utc()));
        }
        if let Some(at) = filter.overdue_at {
            q = q.filter(tasks::due_date.lt(at.naive_utc())).filter(tasks::status.ne(Status::Completed.as_str()));
        }
        let refinement = &filter.refinement;
        // The further words are checked on the rows the first word's index found (SQLite) or on
        // the caller's rows: each through the trigram index, they would each collect every task of
        // the database containing them, which with 31 words found in every task took SQLite 2 s at
        // 110,000 tasks (0.45 s this way, most of it the first word's lookup).
        for text in refinement.contains.iter().filter(|t| !t.is_empty()) {
            q = q.filter(tasks::search_text.like(contains_pattern(text)).escape('\\'));
        }
        for text in refinement.excludes.iter().filter(|t| !t.is_empty()) {
            q = q.filter(tasks::search_text.not_like(contains_pattern(text)).escape('\\'));
        }
        if let Some(tags) = carries_all(&refinement.tags, conn) {
            q = q.filter(tags);
        }
        if !refinement.project_ids.is_empty() {
            q = q.filter(tasks::project_id.eq_any(refinement.project_ids.iter().map(|p| p.0).collect::<Vec<_>>()));
        }
        if refinement.has_attachment {
            q = q.filter(exists(files::table.filter(files::task_id.eq(tasks::id.nullable()))));
        }
        q
    }};
}

/// The tasks carrying every one of `tags` (none: `None`), in one condition on the task's own
/// `tags` column (the JSON list `task_tags` mirrors), whatever their number.
fn carries_all(tags: &[String], conn: &AnyConnection) -> Option<CarriesAll> {
    let tags: std::collections::BTreeSet<&str> = tags.iter().map(String::as_str).collect();
    let wanted = i64::try_from(tags.len()).ok().filter(|n| *n > 0)?;
    let backend = match conn {
        AnyConnection::Postgresql(_) => Backend::Postgres,
        AnyConnection::Sqlite(_) => Backend::Sqlite,
    };
    Some(CarriesAll { list: serde_json::to_string(&tags).expect("a list of strings is JSON"), wanted, backend })
}

/// The condition of [`carries_all`]: the task's tags hold every one of `list` (a JSON array of
/// `wanted` distinct tags). Measured with 10,000 tasks of the caller's beside 100,000 of another
/// user's, on a busy two-core machine:
///
/// - One `EXISTS` per tag, as the first tag of a filter has, made PostgreSQL plan a semi-join per
///   tag: 30 tags took 0.44 to 0.9 s to plan (10 tags 0.1 s, 20 tags 0.3 s) before a row was read,
///   for a user with no task as for one with 10,000.
/// - PostgreSQL: `@>` of the list as `jsonb`, a containment test on each row of the scope: 1 ms of
///   planning, 0.1 ms to run for a user with no task, 5 to 17 ms for 10,000. `id IN (SELECT
///   task_id .. GROUP BY task_id HAVING count(*) = n)` plans as fast but reads every task of the
///   database carrying any of the tags (0.17 to 0.37 s).
/// - SQLite: the task's tags that are among the wanted ones, counted (`json_each`); each list
///   holds a tag once, so the task carries them all when the count is `wanted`. 10 to 35 ms at
///   10,000 tasks, about what one `EXISTS` per tag took (SQLite plans either in no time).
///
/// A filter's first tag keeps its `EXISTS` beside this (`narrow!`): one semi-join plans in no
/// time, can start from the tag's index when the tag is rare, and its estimate keeps PostgreSQL
/// reading the caller's tasks for a page (the figures above) where `@>` alone made it walk every
/// task of the database in creation order (60 to 77 ms).
#[derive(Debug, Clone)]
struct CarriesAll {
    list: String,
    wanted: i64,
    backend: Backend,
}

impl Expression for CarriesAll {
    type SqlType = Bool;
}

impl QueryId for CarriesAll {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Db> for CarriesAll {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Db>) -> QueryResult<()> {
        match self.backend {
            Backend::Postgres => {
                out.push_sql("tasks.tags::jsonb @> ");
                out.push_bind_param::<Text, _>(&self.list)?;
                out.push_sql("::jsonb");
            }
            Backend::Sqlite => {
                out.push_sql(
                    "(SELECT count(*) FROM json_each(tasks.tags) AS carried \
                     WHERE carried.value IN (SELECT wanted.value FROM json_each(",
                );
                out.push_bind_param::<Text, _>(&self.list)?;
                out.push_sql(") AS wanted)) = ");
                out.push_bind_param::<BigInt, _>(&self.wanted)?;
            }
        }
        Ok(())
    }
}

impl<QS> AppearsOnTable<QS> for CarriesAll {}

impl<QS> SelectableExpression<QS> for CarriesAll {}

/// A condition on each row, never an aggregate: it narrows grouped queries (the facets) as it
/// does the lists.
impl<GroupBy> diesel::expression::ValidGrouping<GroupBy> for CarriesAll {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

/// `q` narrowed by every condition of `filter` (its scope aside).
fn narrowed(
    q: tasks::BoxedQuery<'static, Db>,
    filter: &TaskFilter,
    conn: &AnyConnection,
) -> tasks::BoxedQuery<'static, Db> {
    narrow!(q, filter, conn)
}

/// Facets from groups of matching tasks sharing status, priority, project and tags.
fn fold_facets(groups: Vec<(String, String, Option<i64>, String, i64)>) -> Result<TaskFacets, RepositoryError> {
    let mut facets = TaskFacets::default();
    for (status, priority, project, tags, n) in groups {
        let n = u64::try_from(n).unwrap_or_default();
        let status = Status::parse(&status).map_err(|e| corrupt("tasks.status", &e))?;
        let priority = Priority::parse(&priority).map_err(|e| corrupt("tasks.priority", &e))?;
        let tags: Vec<String> = serde_json::from_str(&tags).map_err(|e| corrupt("tasks.tags", e))?;
        facets.total += n;
        *facets.status.entry(status).or_default() += n;
        *facets.priority.entry(priority).or_default() += n;
        if let Some(project) = project {
            *facets.project.entry(ProjectId(project)).or_default() += n;
        }
        for tag in tags {
            *facets.tag.entry(tag).or_default() += n;
        }
    }
    Ok(facets)
}

/// Whether SQLite's trigram index (`tasks_fts`) can answer a search for `text`: it needs three
/// characters to look up, and a `LIKE` without `ESCAPE` (with one, FTS5 reads every row), so the
/// text must hold no `LIKE` wildcard to escape.
fn trigram_searchable(text: &str) -> bool {
    text.chars().count() >= 3 && !text.contains(['%', '_', '\\'])
}

/// The tasks whose `search_text` contains `text`, through SQLite's FTS5 trigram index: the same
/// rows as `search_text LIKE '%text%'` (both sides are folded to lower case in Rust), found
/// without reading every task.
fn in_trigram_index(text: &str) -> diesel::expression::SqlLiteral<Bool, impl QueryFragment<Db> + Send + use<>> {
    diesel::dsl::sql::<Bool>("tasks.id IN (SELECT rowid FROM tasks_fts WHERE tasks_fts.search_text LIKE ")
        .bind::<Text, _>(format!("%{}%", text.to_lowercase()))
        .sql(")")
}

/// `q` ordered by `filter.sort`: tasks without a due date last in both directions (ordering by
/// `due_date IS NULL` first, which both engines sort false before true), ties broken by id in the
/// same direction.
fn sorted(q: tasks::BoxedQuery<'static, Db>, filter: &TaskFilter) -> tasks::BoxedQuery<'static, Db> {
    let desc = filter.sort.descending;
    macro_rules! by {
        ($q:expr, $column:expr) => {
            if desc { $q.then_order_by($column.desc()) } else { $q.then_order_by($column.asc()) }
        };
    }
    let q = match filter.sort.key {
        SortKey::CreatedAt => by!(q, tasks::created_at),
        SortKey::UpdatedAt => by!(q, tasks::updated_at),
        SortKey::Title => by!(q, tasks::title),
        SortKey::Priority => by!(q, tasks::priority_rank),
        SortKey::DueDate => by!(q.then_order_by(tasks::due_date.is_null().asc()), tasks::due_date),
    };
    by!(q, tasks::id)
}

/// Whether `filter` narrows its scope by status alone (or not at all), so that its total is a sum
/// of counters (see [`counted_total`]) rather than a count of rows.
fn counted(filter: &TaskFilter) -> bool {
    // Destructured, so that a new filter cannot be forgotten here.
    let TaskFilter {
        statuses: _,
        priorities,
        assignee_id,
        owner_id,
        tag,
        text,
        due_before,
        due_after,
        overdue_at,
        refinement,
        sort: _,
    } = filter;
    refinement.is_empty()
        && priorities.is_empty()
        && assignee_id.is_none()
        && owner_id.is_none()
        && tag.is_none()
        && text.is_none()
        && due_before.is_none()
        && due_after.is_none()
        && overdue_at.is_none()
}

/// How many tasks of `scope` have one of `statuses` (any when empty): at most three rows of
/// `task_counts`, plus the changes to them not yet folded in (PostgreSQL; see the
/// `task_list_cost` migration and [`fold_counts`]). Exact at every moment, whatever the data.
fn counted_total(conn: &mut AnyConnection, scope: &Resolved, statuses: &[Status]) -> Result<i64, RepositoryError> {
    let keys = scope.counters();
    let statuses = if statuses.is_empty() { &Status::ALL[..] } else { statuses };
    let names: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
    match conn {
        AnyConnection::Sqlite(sqlite) => {
            let counters = task_counts::table
                .filter(task_counts::user_id.eq_any(keys))
                .filter(task_counts::status.eq_any(names))
                .select(task_counts::n);
            Ok(counters.load::<i64>(sqlite).map_err(db)?.into_iter().sum())
        }
        AnyConnection::Postgresql(pg) => {
            let counters = task_counts::table
                .filter(task_counts::user_id.eq_any(keys.clone()))
                .filter(task_counts::status.eq_any(names.clone()))
                .select(task_counts::n);
            let changes = task_count_changes::table
                .filter(task_count_changes::user_id.eq_any(keys))
                .filter(task_count_changes::status.eq_any(names))
                .select(task_count_changes::delta);
            // One statement, so one snapshot: a fold committing between two reads would move
            // changes from the second read into the first, already read.
            Ok(counters.union_all(changes).load::<i64>(pg).map_err(db)?.into_iter().sum())
        }
    }
}

/// Adds the counted changes to `task_counts` (PostgreSQL), in one statement: it takes the changes
/// no other fold holds (`SKIP LOCKED`) and updates their counters in key order, so that folds on
/// several instances never wait on each other in a circle. Writers only ever append changes.
///
/// The changes taken are deleted by their ids, each found through the primary key, whatever the
/// statistics say ([`write_by_key`]): planned from statistics taken while the table was empty (as it is between
/// bursts), `id IN (SELECT .. LIMIT 10000 FOR UPDATE SKIP LOCKED)` became a nested loop that read
/// the 10,000 taken for every row of the table, and a fold of 150,000 changes ran for minutes on
/// the core the server shares (`make ws-bench` after `tasks`: 128 s, beside later scenarios'
/// deliveries); 34 ms this way.
fn fold_counts(conn: &mut AnyConnection) -> Result<usize, RepositoryError> {
    write_by_key(conn, |conn| diesel::sql_query(FOLD).execute(conn).map_err(db))
}

/// The statement of [`fold_counts`].
const FOLD: &str = "WITH taken AS (
    SELECT id FROM task_count_changes ORDER BY id LIMIT 10000 FOR UPDATE SKIP LOCKED
), moved AS (
    DELETE FROM task_count_changes WHERE id = ANY(ARRAY(SELECT id FROM taken))
    RETURNING user_id, status, delta)
INSERT INTO task_counts (user_id, status, n)
SELECT user_id, status, SUM(delta) FROM moved GROUP BY user_id, status ORDER BY user_id, status
ON CONFLICT (user_id, status) DO UPDATE SET n = task_counts.n + EXCLUDED.n";

/// Whether a page of `filter` is read side by side in creation order (see [`PageByCreation`]):
/// sorted by `created_at`, and not narrowed by a tag or text, which their own indexes find faster
/// than a walk in creation order that checks each row.
fn by_creation(filter: &TaskFilter) -> bool {
    filter.sort.key == SortKey::CreatedAt
        && filter.tag.is_none()
        && filter.text.is_none()
        && filter.refinement.contains.is_empty()
        && filter.refinement.tags.is_empty()
}

/// The parts of `scope` a page in creation order reads, each along an index in that order: every
/// task; a project's; or the user's own personal tasks, the personal tasks assigned to them that
/// they do not own, and each of their projects' (disjoint, so a page is their merge), less a
/// personal part that `filter`'s owner or assignee rules out.
fn sides(scope: &Resolved, filter: &TaskFilter) -> Vec<tasks::BoxedQuery<'static, Db>> {
    let (user, projects) = match scope {
        Resolved::All => return vec![tasks::table.into_boxed()],
        Resolved::Project(project) => return vec![tasks::table.filter(tasks::project_id.eq(*project)).into_boxed()],
        Resolved::User { user, projects } => (UserId(*user), projects),
    };
    let owned = filter.owner_id.is_none_or(|owner| owner == user);
    let assigned =
        filter.owner_id.is_none_or(|owner| owner != user) && filter.assignee_id.is_none_or(|who| who == user);
    let mut sides = Vec::with_capacity(2 + projects.len());
    if owned {
        sides.push(tasks::table.filter(tasks::owner_id.eq(user.0)).filter(tasks::project_id.is_null()).into_boxed());
    }
    if assigned {
        sides.push(
            tasks::table
                .filter(tasks::assignee_id.eq(user.0))
                .filter(tasks::owner_id.ne(user.0))
                .filter(tasks::project_id.is_null())
                .into_boxed(),
        );
    }
    for project in projects {
        sides.push(tasks::table.filter(tasks::project_id.eq(*project)).into_boxed());
    }
    sides
}

/// `(created_at, id)` of the rows of one side, in the page's order, up to the page's end.
type SideKeys = tasks::BoxedQuery<'static, Db, (Timestamp, BigInt)>;

/// `tasks.id IN (ids of one page)`, the page merged from [`sides`] that are each cut at the page's
/// end: `SELECT id FROM (side UNION ALL side) ORDER BY created_at, id LIMIT .. OFFSET ..`.
/// PostgreSQL merges the sides' index-only scans (Merge Append) and stops at the page; only the
/// page's rows are read from the table. The cost is the page's end, not the data: a first page
/// reads 20 index entries per side where the plain `OR` sorted every row of the user.
struct PageByCreation {
    sides: Vec<SideKeys>,
    descending: bool,
    limit: i64,
    offset: i64,
}

impl PageByCreation {
    /// The page `page` of a list of `total` tasks. A page in the list's second half is read from
    /// its other end, so that no page walks more than half the list.
    fn of(scope: &Resolved, filter: &TaskFilter, page: PageRequest, total: i64, conn: &AnyConnection) -> Self {
        let (mut descending, mut offset, mut limit) = (filter.sort.descending, page.offset(), page.limit());
        if offset.saturating_mul(2) > total {
            descending = !descending;
            let end = offset.saturating_add(limit).min(total);
            (offset, limit) = (total - end, end - offset);
        }
        let end = offset.saturating_add(limit);
        let sides = sides(scope, filter);
        // A single side is the page itself, cut at both ends (a merge would walk the page's
        // end twice: once in the side, once more in the merge).
        let alone = sides.len() == 1;
        let sides = sides
            .into_iter()
            .map(|side| {
                let side = narrowed(side, filter, conn);
                let side = if descending {
                    side.order((tasks::created_at.desc(), tasks::id.desc()))
                } else {
                    side.order((tasks::created_at.asc(), tasks::id.asc()))
                };
                let side = side.select((tasks::created_at, tasks::id));
                if alone { side.limit(limit).offset(offset) } else { side.limit(end) }
            })
            .collect();
        Self { sides, descending, limit, offset }
    }
}

impl Expression for PageByCreation {
    type SqlType = Bool;
}

impl QueryId for PageByCreation {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Db> for PageByCreation {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Db>) -> QueryResult<()> {
        if let [side] = self.sides.as_slice() {
            out.push_sql("tasks.id IN (SELECT page.id FROM (");
            QueryFragment::<Db>::walk_ast(side, out.reborrow())?;
            out.push_sql(") AS page)");
            return Ok(());
        }
        let order = if self.descending { " DESC" } else { " ASC" };
        out.push_sql("tasks.id IN (SELECT page.id FROM (");
        for (i, side) in self.sides.iter().enumerate() {
            if i > 0 {
                out.push_sql(" UNION ALL ");
            }
            // Wrapped, because SQLite refuses ORDER BY and LIMIT on a bare UNION member.
            out.push_sql("SELECT * FROM (");
            QueryFragment::<Db>::walk_ast(side, out.reborrow())?;
            out.push_sql(&format!(") AS side{i}"));
        }
        out.push_sql(") AS page ORDER BY page.created_at");
        out.push_sql(order);
        out.push_sql(", page.id");
        out.push_sql(order);
        out.push_sql(" LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(" OFFSET ");
        out.push_bind_param::<BigInt, _>(&self.offset)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<QS> AppearsOnTable<QS> for PageByCreation {}

impl<QS> SelectableExpression<QS> for PageByCreation {}

impl diesel::expression::ValidGrouping<()> for PageByCreation {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

/// The statement reading one page of `filter` in `scope`, in its order; `None` when `filter`
/// rules out all of `scope`.
fn page_statement(
    scope: &Resolved,
    filter: &TaskFilter,
    page: PageRequest,
    total: i64,
    conn: &AnyConnection,
) -> Option<tasks::BoxedQuery<'static, Db, diesel::dsl::AsSelect<TaskRow, Db>>> {
    if !by_creation(filter) {
        let q = sorted(filtered(scope, filter, conn), filter).select(TaskRow::as_select());
        return Some(q.limit(page.limit()).offset(page.offset()));
    }
    let ids = PageByCreation::of(scope, filter, page, total, conn);
    if ids.sides.is_empty() {
        return None;
    }
    Some(sorted(tasks::table.into_boxed(), filter).filter(ids).select(TaskRow::as_select()))
}

/// One page of `filter` in `scope`, in its order, of a list of `total` tasks.
fn page_of(
    conn: &mut AnyConnection,
    scope: &Resolved,
    filter: &TaskFilter,
    page: PageRequest,
    total: i64,
) -> Result<Vec<TaskRow>, RepositoryError> {
    match page_statement(scope, filter, page, total, conn) {
        Some(statement) => statement.load(conn).map_err(db),
        None => Ok(Vec::new()),
    }
}

/// [`TaskRepository`] on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselTaskRepository {
    db: Database,
    /// Creates and updates, committed in batches when they arrive together.
    writes: Arc<GroupCommit<TaskWrite>>,
    /// Rung after a change (and its event) committed, so that this process's outbox relay
    /// publishes at once instead of at its next poll.
    events_written: Option<Arc<Notify>>,
    /// Whether a fold of the counted changes is running (PostgreSQL; see [`fold_counts`]).
    folding: Arc<Folding>,
}

/// How long changes gather before a fold: at a few thousand writes a second, a total reads a few
/// hundred unfolded changes at most.
const FOLD_PAUSE: Duration = Duration::from_millis(100);

/// Folded changes between two `VACUUM`s of `task_count_changes` (see migration 000043): a total
/// reads the user's unfolded changes through their index, dead ones included until a vacuum.
const VACUUM_CHANGES_EVERY: usize = 10_000;

/// One fold at a time per repository, and one more after it for writes that came while it ran.
#[derive(Debug, Default)]
struct Folding {
    running: AtomicBool,
    again: AtomicBool,
    /// Changes folded since the last vacuum.
    folded: AtomicUsize,
}

impl DieselTaskRepository {
    pub fn new(db: Database) -> Self {
        // A few dozen writes share a commit: as many as a busy server's clients have in flight.
        let writes = GroupCommit::new(db.clone(), Batching::concurrent(&db, 32));
        Self { writes, db, events_written: None, folding: Arc::default() }
    }

    /// Rings `bell` whenever a change wrote an event to the outbox (see
    /// `workbench_events::RelayConfig::wake`).
    pub fn ringing(mut self, bell: Arc<Notify>) -> Self {
        self.events_written = Some(bell);
        self
    }

    /// After a write committed: rings the outbox relay's bell, and folds the counted changes the
    /// write appended (soon, off the request's path; a total reads unfolded changes too).
    fn ring(&self) {
        if let Some(bell) = &self.events_written {
            bell.notify_one();
        }
        if self.db.backend() == Backend::Postgres {
            self.fold_soon();
        }
    }

    /// Folds the counted changes a moment from now, all that gathered meanwhile in one statement
    /// (a fold per write would cost as much as the write); a total reads unfolded changes too, so
    /// the pause only bounds how many it reads.
    fn fold_soon(&self) {
        let folding = &self.folding;
        folding.again.store(true, Ordering::SeqCst);
        if folding.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let (db, folding) = (self.db.clone(), self.folding.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(FOLD_PAUSE).await;
                folding.again.store(false, Ordering::SeqCst);
                match db.run(fold_counts).await {
                    Ok(folded) if due(&folding.folded, folded, VACUUM_CHANGES_EVERY) => {
                        let vacuum = |conn: &mut AnyConnection| {
                            diesel::sql_query("VACUUM task_count_changes").execute(conn).map_err(crate::error::db)
                        };
                        if let Err(error) = db.run(vacuum).await {
                            // Only ever slower totals: autovacuum, where it runs, does the same later.
                            tracing::warn!(%error, "could not vacuum the counted task changes");
                        }
                    }
                    Ok(_) => {}
                    // Nothing is lost: the changes stay, counted, for the next fold.
                    Err(error) => tracing::warn!(%error, "folding task counts failed"),
                }
                folding.running.store(false, Ordering::SeqCst);
                // Writes since the pause ended: fold them too, unless another fold took over.
                if !folding.again.load(Ordering::SeqCst) || folding.running.swap(true, Ordering::SeqCst) {
                    break;
                }
            }
        });
    }
}

#[async_trait]
impl TaskRepository for DieselTaskRepository {
    async fn create(&self, record: NewTaskRecord) -> Result<Task, RepositoryError> {
        let at = record.created_at;
        let task = Task {
            id: TaskId(0),
            title: record.task.title.into_inner(),
            description: record.task.description,
            status: record.task.status,
            priority: record.task.priority,
            due_date: record.task.due_date,
            owner_id: record.owner_id,
            assignee_id: record.task.assignee_id,
            tags: record.task.tags.into_inner(),
            completed_at: record.completed_at,
            version: 1,
            created_at: at,
            updated_at: at,
            project_id: record.task.project_id,
            recurrence: record.task.recurrence.map(|r| r.as_str().to_owned()),
            previous_id: None,
        };
        match self.writes.submit(TaskWrite::create(task)).await? {
            TaskWritten::Created(task) => {
                self.ring();
                Ok(task)
            }
            TaskWritten::Updated(..) => unreachable!("a create is answered with the task it created"),
        }
    }

    async fn find(&self, id: TaskId) -> Result<Option<Task>, RepositoryError> {
        self.db.run(move |conn| find_task(conn, id.0)).await
    }

    async fn find_many(&self, ids: Vec<TaskId>) -> Result<Vec<Task>, RepositoryError> {
        let ids: Vec<i64> = ids.into_iter().map(|id| id.0).collect();
        self.db
            .run(move |conn| {
                let rows: Vec<TaskRow> = tasks::table
                    .filter(tasks::id.eq_any(ids.clone()))
                    .select(TaskRow::as_select())
                    .load(conn)
                    .map_err(db)?;
                rows.into_iter().map(TaskRow::into_task).collect()
            })
            .await
    }

    async fn list(
        &self,
        scope: TaskScope,
        filter: TaskFilter,
        page: PageRequest,
    ) -> Result<Page<Task>, RepositoryError> {
        self.db
            .run(move |conn| {
                let read = |conn: &mut AnyConnection| {
                    let scope = &resolve(conn, scope)?;
                    // The total first: a sum of counters for the usual filters. A page past it is
                    // empty without being read.
                    let total = match counted(&filter) {
                        true => counted_total(conn, scope, &filter.statuses)?,
                        false => filtered(scope, &filter, conn).count().get_result(conn).map_err(db)?,
                    };
                    if total <= page.offset() {
                        return Ok(Page::new(Vec::new(), count(total), page));
                    }
                    let items = page_of(conn, scope, &filter, page, total)?
                        .into_iter()
                        .map(TaskRow::into_task)
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(Page::new(items, count(total), page))
                };
                // A page in creation order walks its sides' indexes up to the page's end, and its
                // total and rows come from one snapshot.
                if by_creation(&filter) { read_in_index_order(conn, read) } else { read(conn) }
            })
            .await
    }

    async fn first_matching(
        &self,
        scope: TaskScope,
        filter: TaskFilter,
        limit: u32,
        time_limit: Duration,
    ) -> Result<Vec<Task>, RepositoryError> {
        self.db
            .run(move |conn| {
                read_within(conn, time_limit, |conn| {
                    let scope = &resolve(conn, scope)?;
                    let rows: Vec<TaskRow> = sorted(filtered(scope, &filter, conn), &filter)
                        .select(TaskRow::as_select())
                        .limit(i64::from(limit))
                        .load(conn)
                        .map_err(db)?;
                    rows.into_iter().map(TaskRow::into_task).collect()
                })
            })
            .await
    }

    async fn facets(
        &self,
        scope: TaskScope,
        filter: TaskFilter,
        time_limit: Duration,
    ) -> Result<TaskFacets, RepositoryError> {
        self.db
            .run(move |conn| {
                read_within(conn, time_limit, |conn| {
                    let scope = &resolve(conn, scope)?;
                    // One read of the matches, grouped by every faceted column at once: a group's
                    // tasks share their tags (the JSON list), so its count goes to each of them.
                    let mut grouped = tasks::table
                        .group_by((tasks::status, tasks::priority, tasks::project_id, tasks::tags))
                        .select((tasks::status, tasks::priority, tasks::project_id, tasks::tags, count_star()))
                        .into_boxed::<Db>();
                    if let Some(condition) = scope_condition(scope, conn) {
                        grouped = grouped.filter(condition);
                    }
                    let groups: Vec<(String, String, Option<i64>, String, i64)> =
                        narrow!(grouped, &filter, conn).load(conn).map_err(db)?;
                    fold_facets(groups)
                })
            })
            .await
    }

    async fn update(
        &self,
        task: Task,
        before: Task,
        rebase: Rebase,
        attempts: usize,
    ) -> Result<UpdateOutcome, RepositoryError> {
        // The first attempt in a batch with whatever else is being written.
        let first = TaskWrite::update(task.clone(), &before);
        match self.writes.submit(first).await? {
            TaskWritten::Updated(true, follow_up) => {
                self.ring();
                return Ok(UpdateOutcome::Stored { task, replaced: None, follow_up: follow_up.map(Box::new) });
            }
            TaskWritten::Updated(false, _) => {}
            TaskWritten::Created(_) => unreachable!("an update is answered with whether it applied"),
        }
        // Someone changed it first: the rest on one connection.
        let lost = task.id.0;
        self.db
            .run(move |conn| {
                let mut attempt = 1;
                loop {
                    // A statement of its own sees the winner's commit (read committed; SQLite
                    // serialises writers).
                    let Some(stored) = find_task(conn, lost)? else { return Ok(UpdateOutcome::Stale(None)) };
                    let next = if attempt < attempts { rebase(&stored) } else { None };
                    let Some(next) = next else { return Ok(UpdateOutcome::Stale(Some(stored))) };
                    attempt += 1;
                    let follow_up = next_occurrence(&stored, &next);
                    if let (true, follow_up) = store_update(conn, &next, stored.version, follow_up.as_ref())? {
                        let follow_up = follow_up.map(Box::new);
                        return Ok(UpdateOutcome::Stored { task: next, replaced: Some(stored), follow_up });
                    }
                }
            })
            .await
            .inspect(|outcome| {
                if matches!(outcome, UpdateOutcome::Stored { .. }) {
                    self.ring()
                }
            })
    }

    async fn delete(&self, id: TaskId, expected_version: Option<i64>) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                // Tags and comments go with the task (ON DELETE CASCADE); the `task.deleted` event
                // is written with it, naming the owner and assignee the row had.
                let at = workbench_users::now().naive_utc();
                match conn {
                    AnyConnection::Postgresql(_) => {
                        let recorded = DeleteTaskRecorded { id: id.0, expected_version, occurred_at: at };
                        Ok(recorded.execute(conn).map_err(db)? > 0)
                    }
                    // `BEGIN IMMEDIATE`, as `write_transaction`; on the concrete connection, for
                    // `RETURNING`.
                    AnyConnection::Sqlite(sqlite) => sqlite
                        .immediate_transaction(|c| {
                            let returning = (tasks::owner_id, tasks::assignee_id, tasks::project_id);
                            let gone: Option<(i64, Option<i64>, Option<i64>)> = match expected_version {
                                Some(version) => {
                                    diesel::delete(tasks::table.find(id.0).filter(tasks::version.eq(version)))
                                        .returning(returning)
                                        .get_result(c)
                                        .optional()?
                                }
                                None => diesel::delete(tasks::table.find(id.0))
                                    .returning(returning)
                                    .get_result(c)
                                    .optional()?,
                            };
                            let Some((owner, assignee, project)) = gone else { return Ok(false) };
                            let mut audience = match project {
                                None => vec![UserId(owner)],
                                Some(project) => project_members::table
                                    .filter(project_members::project_id.eq(project))
                                    .order(project_members::user_id.asc())
                                    .select(project_members::user_id)
                                    .load::<i64>(c)?
                                    .into_iter()
                                    .map(UserId)
                                    .collect(),
                            };
                            audience.extend(assignee.map(UserId).filter(|a| !audience.contains(a)));
                            let event = NewEventRow {
                                event: TaskEvent::Deleted.name(),
                                subject_id: id.0,
                                audience: audience_json(audience),
                                payload: serde_json::json!({ "id": id.0 }).to_string(),
                                occurred_at: at,
                            };
                            diesel::insert_into(outbox::table).values(&event).execute(c)?;
                            Ok(true)
                        })
                        .map_err(db),
                }
            })
            .await
            .inspect(|deleted| {
                if *deleted {
                    self.ring()
                }
            })
    }

    async fn stats(&self, scope: TaskScope, now: DateTime<Utc>) -> Result<TaskStats, RepositoryError> {
        self.db
            .run(move |conn| {
                let scope = &resolve(conn, scope)?;
                let mut by_group = tasks::table
                    .group_by((tasks::status, tasks::priority))
                    .select((tasks::status, tasks::priority, count_star()))
                    .into_boxed::<Db>();
                if let Some(condition) = scope_condition(scope, conn) {
                    by_group = by_group.filter(condition);
                }
                let groups: Vec<(String, String, i64)> = by_group.load(conn).map_err(db)?;
                let overdue: i64 = scoped(scope, conn)
                    .filter(tasks::due_date.lt(now.naive_utc()))
                    .filter(tasks::status.ne(Status::Completed.as_str()))
                    .count()
                    .get_result(conn)
                    .map_err(db)?;
                let mut stats = TaskStats { overdue: count(overdue), ..TaskStats::default() };
                for (status, priority, n) in groups {
                    let n = count(n);
                    stats.total += n;
                    match Status::parse(&status).map_err(|e| corrupt("tasks.status", &e))? {
                        Status::Pending => stats.pending += n,
                        Status::InProgress => stats.in_progress += n,
                        Status::Completed => stats.completed += n,
                    }
                    match Priority::parse(&priority).map_err(|e| corrupt("tasks.priority", &e))? {
                        Priority::Low => stats.low += n,
                        Priority::Medium => stats.medium += n,
                        Priority::High => stats.high += n,
                    }
                }
                Ok(stats)
            })
            .await
    }

    async fn tags(&self, scope: TaskScope, search: Option<String>) -> Result<Vec<TagUsage>, RepositoryError> {
        self.db
            .run(move |conn| {
                let scope = &resolve(conn, scope)?;
                let mut q = task_tags::table
                    .inner_join(tasks::table)
                    .group_by(task_tags::tag)
                    .select((task_tags::tag, count_star()))
                    .order((count_star().desc(), task_tags::tag.asc()))
                    .into_boxed::<Db>();
                if let Some(condition) = scope_condition(scope, conn) {
                    q = q.filter(condition);
                }
                if let Some(search) = search.as_deref().filter(|s| !s.is_empty()) {
                    q = q.filter(task_tags::tag.like(contains_pattern(search)).escape('\\'));
                }
                let rows: Vec<(String, i64)> = q.load(conn).map_err(db)?;
                Ok(rows.into_iter().map(|(name, n)| TagUsage { name, usage_count: count(n) }).collect())
            })
            .await
    }

    async fn creation_order(
        &self,
        scope: TaskScope,
        after: Option<CreationKey>,
        limit: u64,
    ) -> Result<CreationOrder, RepositoryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .run(move |conn| {
                read_in_index_order(conn, |conn| {
                    let scope = &resolve(conn, scope)?;
                    let mut keys = CreationKeys::of(scope, after, limit);
                    let rows: Vec<(NaiveDateTime, i64)> = match keys.sides.len() {
                        0 => Vec::new(),
                        1 => keys.sides.remove(0).limit(limit).load(conn).map_err(db)?,
                        _ => keys.load(conn).map_err(db)?,
                    };
                    let total = counted_total(conn, scope, &[])?;
                    let last = rows.last().map(|(at, id)| CreationKey { created_at: at.and_utc(), id: TaskId(*id) });
                    Ok(CreationOrder {
                        ids: rows.into_iter().map(|(_, id)| TaskId(id)).collect(),
                        last,
                        total: count(total),
                    })
                })
            })
            .await
    }
}

/// `(created_at, id)` of a scope's tasks after a key, oldest first, up to a limit: its sides
/// (see [`sides`]) each read along its index from the key, merged (PostgreSQL: a Merge Append of
/// index-only scans, stopped at the limit).
struct CreationKeys {
    sides: Vec<SideKeys>,
    limit: i64,
}

impl CreationKeys {
    fn of(scope: &Resolved, after: Option<CreationKey>, limit: i64) -> Self {
        let sides = sides(scope, &TaskFilter::default())
            .into_iter()
            .map(|side| {
                let side = match after {
                    Some(key) => {
                        let at = crate::database::stored(key.created_at);
                        // `>=` first: the range both engines' indexes start from.
                        side.filter(tasks::created_at.ge(at))
                            .filter(tasks::created_at.gt(at).or(tasks::id.gt(key.id.0)))
                    }
                    None => side,
                };
                side.order((tasks::created_at.asc(), tasks::id.asc())).select((tasks::created_at, tasks::id))
            })
            .collect();
        Self { sides, limit }
    }
}

impl Query for CreationKeys {
    type SqlType = (Timestamp, BigInt);
}

impl QueryId for CreationKeys {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl RunQueryDsl<AnyConnection> for CreationKeys {}

impl QueryFragment<Db> for CreationKeys {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Db>) -> QueryResult<()> {
        out.push_sql("SELECT keys.created_at, keys.id FROM (");
        for (i, side) in self.sides.iter().enumerate() {
            if i > 0 {
                out.push_sql(" UNION ALL ");
            }
            // Wrapped, because SQLite refuses ORDER BY on a bare UNION member.
            out.push_sql("SELECT * FROM (");
            QueryFragment::<Db>::walk_ast(side, out.reborrow())?;
            out.push_sql(&format!(") AS side{i}"));
        }
        out.push_sql(") AS keys ORDER BY keys.created_at ASC, keys.id ASC LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        Ok(())
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = task_comments)]
struct CommentRow {
    id: i64,
    task_id: i64,
    author_id: i64,
    body: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl From<CommentRow> for Comment {
    fn from(row: CommentRow) -> Self {
        Comment {
            id: row.id,
            task_id: TaskId(row.task_id),
            author_id: UserId(row.author_id),
            body: row.body,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = task_comments)]
struct NewCommentRow<'a> {
    task_id: i64,
    author_id: i64,
    body: &'a str,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// [`CommentRepository`] on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselCommentRepository {
    db: Database,
}

impl DieselCommentRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl CommentRepository for DieselCommentRepository {
    async fn create(&self, comment: NewComment) -> Result<Comment, RepositoryError> {
        self.db
            .run(move |conn| {
                let at = comment.created_at.naive_utc();
                let row = NewCommentRow {
                    task_id: comment.task_id.0,
                    author_id: comment.author_id.0,
                    body: comment.body.as_str(),
                    created_at: at,
                    updated_at: at,
                };
                diesel::insert_into(task_comments::table)
                    .values(&row)
                    .returning(returning::<CommentRow>())
                    .get_result::<CommentRow>(conn)
                    .map(Comment::from)
                    .map_err(db)
            })
            .await
    }

    async fn list(&self, task: TaskId, page: PageRequest) -> Result<Page<Comment>, RepositoryError> {
        self.db
            .run(move |conn| {
                let of_task = || task_comments::table.filter(task_comments::task_id.eq(task.0));
                let total: i64 = of_task().count().get_result(conn).map_err(db)?;
                let rows: Vec<CommentRow> = of_task()
                    .select(CommentRow::as_select())
                    // Ids grow with insertion, so this is oldest first, served by (task_id, id).
                    .order(task_comments::id.asc())
                    .limit(page.limit())
                    .offset(page.offset())
                    .load(conn)
                    .map_err(db)?;
                Ok(Page::new(rows.into_iter().map(Comment::from).collect(), count(total), page))
            })
            .await
    }

    async fn find(&self, task: TaskId, id: i64) -> Result<Option<Comment>, RepositoryError> {
        self.db
            .run(move |conn| {
                task_comments::table
                    .find(id)
                    .filter(task_comments::task_id.eq(task.0))
                    .select(CommentRow::as_select())
                    .first::<CommentRow>(conn)
                    .optional()
                    .map(|row| row.map(Comment::from))
                    .map_err(db)
            })
            .await
    }

    async fn delete(&self, id: i64) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| diesel::delete(task_comments::table.find(id)).execute(conn).map(|n| n > 0).map_err(db))
            .await
    }
}

#[cfg(test)]
mod list_cost;

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::{TestDatabase, count_rows, execute_sql, user};

    #[derive(QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }

    /// A burst of changes after the table's statistics were taken empty (as between bursts) is
    /// folded by finding each change taken through the primary key: never a join that reads the
    /// changes taken once for every change in the table.
    #[tokio::test]
    async fn a_fold_finds_the_changes_it_takes_by_key_whatever_the_statistics() {
        let Some(test) = TestDatabase::postgres() else { return };
        let store = test.connect();
        let ann = user(&store, "ann").await;
        execute_sql(&store, "ANALYZE task_count_changes").await.unwrap();
        let burst = format!(
            "INSERT INTO task_count_changes (user_id, status, delta) \
             SELECT {}, 'pending', 1 FROM generate_series(1, 12000)",
            ann.id.0
        );
        execute_sql(&store, burst).await.unwrap();
        let plan = store
            .run(|conn| {
                write_by_key(conn, |conn| {
                    diesel::sql_query(format!("EXPLAIN {FOLD}")).load::<PlanLine>(conn).map_err(db)
                })
            })
            .await
            .unwrap();
        let plan: Vec<String> = plan.into_iter().map(|l| l.line).collect();
        assert!(plan.iter().all(|l| !l.contains("Nested Loop")), "{plan:#?}");
        assert!(plan.iter().any(|l| l.contains("Index Cond: (id = ANY")), "{plan:#?}");

        assert_eq!(store.run(fold_counts).await.unwrap(), 1, "one counter, ann's pending");
        assert_eq!(count_rows(&store, "task_count_changes").await, 2_000, "10,000 a fold");
        store.run(fold_counts).await.unwrap();
        let left = count_rows(&store, "task_count_changes").await;
        assert_eq!(left, 0);
    }

    /// A search of 30 tags reads the tags table once (the first tag's `EXISTS`) and checks the
    /// rest in one condition: with a semi-join per tag, PostgreSQL spent 0.9 s planning it.
    #[tokio::test]
    async fn a_search_of_thirty_tags_reads_the_tags_table_once() {
        use diesel::sql_types::Integer;
        use workbench_tasks::Refinement;

        use super::list_cost::Explain;

        for test in [Some(TestDatabase::sqlite()), TestDatabase::postgres()].into_iter().flatten() {
            let store = test.connect();
            let ann = user(&store, "ann").await;
            let tags: Vec<String> = (1..=30).map(|i| format!("t{i}")).collect();
            let filter = TaskFilter {
                tag: Some(tags[0].clone()),
                refinement: Refinement { tags: tags[1..].to_vec(), ..Refinement::default() },
                ..TaskFilter::default()
            };
            let (plan, planned_in) = store
                .run(move |conn| {
                    let scope = resolve(conn, TaskScope::InvolvedUser(ann.id))?;
                    let page = sorted(filtered(&scope, &filter, conn), &filter).select(TaskRow::as_select()).limit(10);
                    let started = std::time::Instant::now();
                    let plan = match conn {
                        AnyConnection::Postgresql(_) => Explain::<_, Text>::new("EXPLAIN (FORMAT JSON) ", page)
                            .get_result::<String>(conn)
                            .map_err(db)?,
                        AnyConnection::Sqlite(_) => {
                            Explain::<_, (Integer, Integer, Integer, Text)>::new("EXPLAIN QUERY PLAN ", page)
                                .load::<(i32, i32, i32, String)>(conn)
                                .map_err(db)?
                                .into_iter()
                                .map(|(.., step)| step)
                                .collect::<Vec<_>>()
                                .join("\n")
                        }
                    };
                    Ok((plan, started.elapsed()))
                })
                .await
                .unwrap();
            let reads = match test.backend() {
                Backend::Postgres => plan.matches(r#""Relation Name": "task_tags""#).count(),
                Backend::Sqlite => plan.lines().filter(|step| step.contains("task_tags")).count(),
            };
            assert_eq!(reads, 1, "{:?}, planned in {planned_in:?}: {plan}", test.backend());
        }
    }

    /// On SQLite, a search's first word is found through the trigram index and the others are
    /// checked on the rows it found: a lookup per word collected every task containing the word,
    /// 2 s for 31 words found in every one of 110,000 tasks.
    #[tokio::test]
    async fn a_search_of_many_words_looks_up_the_trigram_index_once() {
        use diesel::sql_types::Integer;
        use workbench_tasks::Refinement;

        use super::list_cost::Explain;

        let store = TestDatabase::sqlite().connect();
        let ann = user(&store, "ann").await;
        let words: Vec<String> = (1..=32).map(|i| format!("word{i}")).collect();
        let filter = TaskFilter {
            text: Some(words[0].clone()),
            refinement: Refinement { contains: words[1..].to_vec(), ..Refinement::default() },
            ..TaskFilter::default()
        };
        let steps = store
            .run(move |conn| {
                let scope = resolve(conn, TaskScope::InvolvedUser(ann.id))?;
                let page = sorted(filtered(&scope, &filter, conn), &filter).select(TaskRow::as_select()).limit(10);
                Explain::<_, (Integer, Integer, Integer, Text)>::new("EXPLAIN QUERY PLAN ", page)
                    .load::<(i32, i32, i32, String)>(conn)
                    .map_err(db)
            })
            .await
            .unwrap();
        let lookups = steps.iter().filter(|(.., step)| step.contains("tasks_fts")).count();
        assert_eq!(lookups, 1, "{steps:#?}");
    }
}
