//! Tasks, their tags and their comments in the database.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{count_star, exists};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_tasks::{
    Comment, CommentRepository, NewComment, NewTaskRecord, Priority, SortKey, Status, TagUsage, Task, TaskFilter,
    TaskId, TaskRepository, TaskScope, TaskStats,
};
use workbench_users::UserId;

use crate::database::write_transaction;
use crate::error::db;
use crate::schema::{task_comments, task_tags, tasks};
use crate::users::contains_pattern;
use crate::{AnyConnection, Database};

type Db = <AnyConnection as Connection>::Backend;

/// The columns a [`TaskRow`] reads: everything but the derived ones (`priority_rank`,
/// `search_text`).
const TASK_COLUMNS: (
    tasks::id,
    tasks::title,
    tasks::description,
    tasks::status,
    tasks::priority,
    tasks::due_date,
    tasks::owner_id,
    tasks::assignee_id,
    tasks::completed_at,
    tasks::version,
    tasks::created_at,
    tasks::updated_at,
) = (
    tasks::id,
    tasks::title,
    tasks::description,
    tasks::status,
    tasks::priority,
    tasks::due_date,
    tasks::owner_id,
    tasks::assignee_id,
    tasks::completed_at,
    tasks::version,
    tasks::created_at,
    tasks::updated_at,
);

#[derive(Debug, Queryable)]
struct TaskRow {
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
}

impl TaskRow {
    fn into_task(self, tags: Vec<String>) -> Result<Task, RepositoryError> {
        let status = Status::parse(&self.status).map_err(|e| corrupt("tasks.status", &e))?;
        let priority = Priority::parse(&self.priority).map_err(|e| corrupt("tasks.priority", &e))?;
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
        })
    }
}

fn corrupt(column: &str, why: &str) -> RepositoryError {
    RepositoryError::Unavailable(anyhow::anyhow!("unexpected value in {column}: {why}"))
}

/// The lower-cased text that the `q` filter matches against. Folded here rather than in SQL
/// because SQLite's `lower()` only folds ASCII.
fn search_text(title: &str, description: Option<&str>) -> String {
    match description {
        Some(description) => format!("{title}\n{description}").to_lowercase(),
        None => title.to_lowercase(),
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[derive(Insertable)]
#[diesel(table_name = tasks)]
struct NewTaskRow<'a> {
    title: &'a str,
    description: Option<&'a str>,
    status: &'static str,
    priority: &'static str,
    priority_rank: i16,
    due_date: Option<NaiveDateTime>,
    owner_id: i64,
    assignee_id: Option<i64>,
    completed_at: Option<NaiveDateTime>,
    version: i64,
    search_text: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = task_tags)]
struct TagRow<'a> {
    task_id: i64,
    tag: &'a str,
    position: i32,
}

/// Stores `tags` of a task in their order. One statement on either engine (a batch insert, which
/// `MultiConnection` cannot express, hence the concrete connections).
fn insert_tags(conn: &mut AnyConnection, task_id: i64, tags: &[String]) -> Result<(), RepositoryError> {
    if tags.is_empty() {
        return Ok(());
    }
    let rows: Vec<TagRow<'_>> =
        tags.iter().zip(0..).map(|(tag, position)| TagRow { task_id, tag: tag.as_str(), position }).collect();
    let insert = diesel::insert_into(task_tags::table).values(&rows);
    match conn {
        AnyConnection::Postgresql(pg) => insert.execute(pg),
        AnyConnection::Sqlite(sqlite) => insert.execute(sqlite),
    }
    .map(drop)
    .map_err(db)
}

/// The tags of each of `ids`, each list in the order the tags were given. One query.
fn load_tags(conn: &mut AnyConnection, ids: &[i64]) -> Result<HashMap<i64, Vec<String>>, RepositoryError> {
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(tags);
    }
    let rows: Vec<(i64, String)> = task_tags::table
        .filter(task_tags::task_id.eq_any(ids))
        .select((task_tags::task_id, task_tags::tag))
        .order((task_tags::task_id.asc(), task_tags::position.asc()))
        .load(conn)
        .map_err(db)?;
    for (task_id, tag) in rows {
        tags.entry(task_id).or_default().push(tag);
    }
    Ok(tags)
}

/// Rows with their tags, keeping the rows' order.
fn with_tags(conn: &mut AnyConnection, rows: Vec<TaskRow>) -> Result<Vec<Task>, RepositoryError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut tags = load_tags(conn, &ids)?;
    rows.into_iter()
        .map(|row| {
            let row_tags = tags.remove(&row.id).unwrap_or_default();
            row.into_task(row_tags)
        })
        .collect()
}

fn find_task(conn: &mut AnyConnection, id: i64) -> Result<Option<Task>, RepositoryError> {
    let Some(row) = tasks::table.find(id).select(TASK_COLUMNS).first::<TaskRow>(conn).optional().map_err(db)? else {
        return Ok(None);
    };
    let tags = load_tags(conn, &[id])?.remove(&id).unwrap_or_default();
    row.into_task(tags).map(Some)
}

/// The tasks `user` owns or is assigned to.
fn involves(
    user: UserId,
) -> diesel::dsl::Or<diesel::dsl::Eq<tasks::owner_id, i64>, diesel::dsl::Eq<tasks::assignee_id, i64>> {
    tasks::owner_id.eq(user.0).or(tasks::assignee_id.eq(user.0))
}

/// [`involves`] as two id subqueries, for lists. With the plain OR, SQLite walks the
/// creation-time index through every other user's tasks to avoid a sort (2.4 ms per page at
/// 10,000 tasks); with the subqueries both engines search the two per-user indexes and sort only
/// the user's own rows (under 1 ms). Found with `make bench` and `EXPLAIN QUERY PLAN`. Written as
/// SQL because Diesel's types refuse a subquery on the table being filtered.
fn involves_indexed(
    user: UserId,
) -> diesel::expression::SqlLiteral<Bool, impl diesel::query_builder::QueryFragment<Db> + Send> {
    diesel::dsl::sql::<Bool>("(tasks.id IN (SELECT t.id FROM tasks t WHERE t.owner_id = ")
        .bind::<BigInt, _>(user.0)
        .sql(") OR tasks.id IN (SELECT t.id FROM tasks t WHERE t.assignee_id = ")
        .bind::<BigInt, _>(user.0)
        .sql("))")
}

/// The tasks in `scope`. On SQLite the user scope is written as id subqueries (see
/// [`involves_indexed`]); PostgreSQL's planner does better with the plain OR (a BitmapOr over the
/// same indexes), and measured 2.4× slower with the subqueries.
fn scoped(scope: TaskScope, conn: &AnyConnection) -> tasks::BoxedQuery<'static, Db> {
    let q = tasks::table.into_boxed();
    match (scope, conn) {
        (TaskScope::All, _) => q,
        (TaskScope::InvolvedUser(user), AnyConnection::Sqlite(_)) => q.filter(involves_indexed(user)),
        (TaskScope::InvolvedUser(user), AnyConnection::Postgresql(_)) => q.filter(involves(user)),
    }
}

/// The tasks in `scope` matching `filter`, unordered: the one query behind both the count and the
/// page of [`TaskRepository::list`].
fn filtered(scope: TaskScope, filter: &TaskFilter, conn: &AnyConnection) -> tasks::BoxedQuery<'static, Db> {
    let mut q = scoped(scope, conn);
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
        q = q.filter(exists(task_tags::table.filter(task_tags::task_id.eq(tasks::id)).filter(task_tags::tag.eq(tag))));
    }
    if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
        q = q.filter(tasks::search_text.like(contains_pattern(text)).escape('\\'));
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
    q
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

/// [`TaskRepository`] on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselTaskRepository {
    db: Database,
}

impl DieselTaskRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl TaskRepository for DieselTaskRepository {
    async fn create(&self, record: NewTaskRecord) -> Result<Task, RepositoryError> {
        self.db
            .run(move |conn| {
                let task = &record.task;
                let at = record.created_at.naive_utc();
                let description = task.description.as_deref();
                let row = NewTaskRow {
                    title: task.title.as_str(),
                    description,
                    status: task.status.as_str(),
                    priority: task.priority.as_str(),
                    priority_rank: task.priority.rank(),
                    due_date: task.due_date.map(|t| t.naive_utc()),
                    owner_id: record.owner_id.0,
                    assignee_id: task.assignee_id.map(|a| a.0),
                    completed_at: record.completed_at.map(|t| t.naive_utc()),
                    version: 1,
                    search_text: search_text(task.title.as_str(), description),
                    created_at: at,
                    updated_at: at,
                };
                let tags = task.tags.as_slice();
                write_transaction(conn, |conn| {
                    let stored: TaskRow = diesel::insert_into(tasks::table)
                        .values(&row)
                        .returning(TASK_COLUMNS)
                        .get_result(conn)
                        .map_err(db)?;
                    insert_tags(conn, stored.id, tags)?;
                    stored.into_task(tags.to_vec())
                })
            })
            .await
    }

    async fn find(&self, id: TaskId) -> Result<Option<Task>, RepositoryError> {
        self.db.run(move |conn| find_task(conn, id.0)).await
    }

    async fn list(
        &self,
        scope: TaskScope,
        filter: TaskFilter,
        page: PageRequest,
    ) -> Result<Page<Task>, RepositoryError> {
        self.db
            .run(move |conn| {
                let total: i64 = filtered(scope, &filter, conn).count().get_result(conn).map_err(db)?;
                let rows: Vec<TaskRow> = sorted(filtered(scope, &filter, conn), &filter)
                    .select(TASK_COLUMNS)
                    .limit(page.limit())
                    .offset(page.offset())
                    .load(conn)
                    .map_err(db)?;
                let items = with_tags(conn, rows)?;
                Ok(Page::new(items, count(total), page))
            })
            .await
    }

    async fn update(&self, task: Task, expected_version: i64) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // The conditional write comes first and is the race arbiter: on PostgreSQL a
                    // concurrent writer waits for the row lock, then finds the version moved on
                    // and changes nothing; on SQLite BEGIN IMMEDIATE serialises writers anyway.
                    let changed =
                        diesel::update(tasks::table.find(task.id.0).filter(tasks::version.eq(expected_version)))
                            .set((
                                tasks::title.eq(&task.title),
                                tasks::description.eq(task.description.as_deref()),
                                tasks::status.eq(task.status.as_str()),
                                tasks::priority.eq(task.priority.as_str()),
                                tasks::priority_rank.eq(task.priority.rank()),
                                tasks::due_date.eq(task.due_date.map(|t| t.naive_utc())),
                                tasks::owner_id.eq(task.owner_id.0),
                                tasks::assignee_id.eq(task.assignee_id.map(|a| a.0)),
                                tasks::completed_at.eq(task.completed_at.map(|t| t.naive_utc())),
                                tasks::version.eq(task.version),
                                tasks::search_text.eq(search_text(&task.title, task.description.as_deref())),
                                tasks::updated_at.eq(task.updated_at.naive_utc()),
                            ))
                            .execute(conn)
                            .map_err(db)?;
                    if changed == 0 {
                        return Ok(false);
                    }
                    diesel::delete(task_tags::table.filter(task_tags::task_id.eq(task.id.0)))
                        .execute(conn)
                        .map_err(db)?;
                    insert_tags(conn, task.id.0, &task.tags)?;
                    Ok(true)
                })
            })
            .await
    }

    async fn delete(&self, id: TaskId, expected_version: Option<i64>) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                // Tags and comments go with the task (ON DELETE CASCADE).
                let deleted = match expected_version {
                    Some(version) => {
                        diesel::delete(tasks::table.find(id.0).filter(tasks::version.eq(version))).execute(conn)
                    }
                    None => diesel::delete(tasks::table.find(id.0)).execute(conn),
                }
                .map_err(db)?;
                Ok(deleted > 0)
            })
            .await
    }

    async fn stats(&self, scope: TaskScope, now: DateTime<Utc>) -> Result<TaskStats, RepositoryError> {
        self.db
            .run(move |conn| {
                let mut by_group = tasks::table
                    .group_by((tasks::status, tasks::priority))
                    .select((tasks::status, tasks::priority, count_star()))
                    .into_boxed::<Db>();
                if let TaskScope::InvolvedUser(user) = scope {
                    by_group = by_group.filter(involves(user));
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
                let mut q = task_tags::table
                    .inner_join(tasks::table)
                    .group_by(task_tags::tag)
                    .select((task_tags::tag, count_star()))
                    .order((count_star().desc(), task_tags::tag.asc()))
                    .into_boxed::<Db>();
                if let TaskScope::InvolvedUser(user) = scope {
                    q = q.filter(involves(user));
                }
                if let Some(search) = search.as_deref().filter(|s| !s.is_empty()) {
                    q = q.filter(task_tags::tag.like(contains_pattern(search)).escape('\\'));
                }
                let rows: Vec<(String, i64)> = q.load(conn).map_err(db)?;
                Ok(rows.into_iter().map(|(name, n)| TagUsage { name, usage_count: count(n) }).collect())
            })
            .await
    }
}

const COMMENT_COLUMNS: (
    task_comments::id,
    task_comments::task_id,
    task_comments::author_id,
    task_comments::body,
    task_comments::created_at,
    task_comments::updated_at,
) = (
    task_comments::id,
    task_comments::task_id,
    task_comments::author_id,
    task_comments::body,
    task_comments::created_at,
    task_comments::updated_at,
);

#[derive(Debug, Queryable)]
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
                    .returning(COMMENT_COLUMNS)
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
                    .select(COMMENT_COLUMNS)
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
                    .select(COMMENT_COLUMNS)
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
