//! The query fragments of a list: a scope with its member's projects read, the conditions of a
//! filter (`narrow!`), the facets' groups and the sort.

use diesel::dsl::{count_star, exists};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Text};
use workbench_core::RepositoryError;
use workbench_projects::ProjectId;
use workbench_tasks::{
    FieldComparison, FieldCondition, FieldOperand, Priority, SortKey, Status, TaskFacets, TaskFilter, TaskScope,
};

use crate::connection::Db;
use crate::error::{corrupt, db};
use crate::like::contains_pattern;
use crate::schema::{files, project_members, task_tags, tasks};
use crate::{AnyConnection, Backend};

/// A [`TaskScope`] with what the statements need read first: a member's projects.
#[derive(Debug, Clone)]
pub(super) enum Resolved {
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
    pub(super) fn counters(&self) -> Vec<i64> {
        match self {
            Resolved::All => vec![0],
            Resolved::Project(project) => vec![-project],
            Resolved::User { user, projects } => std::iter::once(*user).chain(projects.iter().map(|p| -p)).collect(),
        }
    }
}

/// `scope` with the projects of its member read (one indexed read of `project_members`), in the
/// same transaction as the statements that use it.
pub(super) fn resolve(conn: &mut AnyConnection, scope: TaskScope) -> Result<Resolved, RepositoryError> {
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
pub(super) fn scope_condition(scope: &Resolved, conn: &AnyConnection) -> Option<diesel::expression::SqlLiteral<Bool>> {
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
pub(super) fn scoped(scope: &Resolved, conn: &AnyConnection) -> tasks::BoxedQuery<'static, Db> {
    let q = tasks::table.into_boxed();
    match scope_condition(scope, conn) {
        Some(condition) => q.filter(condition),
        None => q,
    }
}

/// The tasks in `scope` matching `filter`, unordered: the one query behind both the count and the
/// page of [`TaskRepository::list`](workbench_tasks::TaskRepository::list).
pub(super) fn filtered(scope: &Resolved, filter: &TaskFilter, conn: &AnyConnection) -> tasks::BoxedQuery<'static, Db> {
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
        for condition in &refinement.fields {
            q = q.filter(field_condition(condition));
        }
        q
    }};
}

/// The tasks whose value of one custom field meets `condition`: a lookup of the field's index
/// in `task_field_values` (by field, then value), which a list can start from when the value is
/// rare and probe per task when it is common.
fn field_condition(condition: &FieldCondition) -> Box<dyn BoxableExpression<tasks::table, Db, SqlType = Bool>> {
    let comparison = match condition.comparison {
        FieldComparison::Equal => " = ",
        FieldComparison::AtLeast => " >= ",
        FieldComparison::AtMost => " <= ",
    };
    // Ids read from the database, never client text: safe to write into the statement.
    let mut ids: Vec<String> = condition.fields.iter().map(|f| f.0.to_string()).collect();
    if ids.is_empty() {
        ids.push("NULL".to_owned());
    }
    let lookup = diesel::dsl::sql::<Bool>(&format!(
        "EXISTS (SELECT 1 FROM task_field_values v WHERE v.task_id = tasks.id AND v.field_id IN ({})",
        ids.join(",")
    ));
    match &condition.operand {
        FieldOperand::Text(text) => {
            Box::new(lookup.sql(" AND v.value_text").sql(comparison).bind::<Text, _>(text.clone()).sql(")"))
        }
        FieldOperand::Number(number) => Box::new(
            lookup.sql(" AND v.value_number").sql(comparison).bind::<diesel::sql_types::Double, _>(*number).sql(")"),
        ),
    }
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
pub(super) fn narrowed(
    q: tasks::BoxedQuery<'static, Db>,
    filter: &TaskFilter,
    conn: &AnyConnection,
) -> tasks::BoxedQuery<'static, Db> {
    narrow!(q, filter, conn)
}

/// A group of matching tasks: their status, priority, project and tags (the JSON list), and how
/// many they are.
type FacetGroup = (String, String, Option<i64>, String, i64);

/// The matches of `filter` in `scope`, grouped by every faceted column at once: a group's tasks
/// share their tags (the JSON list), so its count goes to each of them (see [`fold_facets`]).
pub(super) fn facet_groups(
    conn: &mut AnyConnection,
    scope: &Resolved,
    filter: &TaskFilter,
) -> Result<Vec<FacetGroup>, RepositoryError> {
    let mut grouped = tasks::table
        .group_by((tasks::status, tasks::priority, tasks::project_id, tasks::tags))
        .select((tasks::status, tasks::priority, tasks::project_id, tasks::tags, count_star()))
        .into_boxed::<Db>();
    if let Some(condition) = scope_condition(scope, conn) {
        grouped = grouped.filter(condition);
    }
    narrow!(grouped, filter, conn).load(conn).map_err(db)
}

/// Facets from groups of matching tasks sharing status, priority, project and tags.
pub(super) fn fold_facets(groups: Vec<FacetGroup>) -> Result<TaskFacets, RepositoryError> {
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
pub(super) fn sorted(q: tasks::BoxedQuery<'static, Db>, filter: &TaskFilter) -> tasks::BoxedQuery<'static, Db> {
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
