//! The paths a list page takes: sorted and cut by the database, merged side by side in creation
//! order along each side's index (or, for a status filter, along each side's status keys), or
//! read from one custom field's index in the same order; and the creation order's keys, read the
//! same way.

use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};
use workbench_core::{PageRequest, RepositoryError};
use workbench_tasks::{CreationKey, FieldComparison, FieldCondition, FieldOperand, Refinement, SortKey, TaskFilter};
use workbench_users::UserId;

use super::counts;
use super::filter::{Resolved, filtered, narrowed, sorted};
use super::row::TaskRow;
use crate::AnyConnection;
use crate::connection::Db;
use crate::error::db;
use crate::schema::{project_fields, task_field_values, task_status_keys, tasks};

/// Whether a page of `filter` is read side by side in creation order (see [`PageByCreation`]):
/// sorted by `created_at`, and not narrowed by a tag or text, which their own indexes find faster
/// than a walk in creation order that checks each row.
pub(super) fn by_creation(filter: &TaskFilter) -> bool {
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
pub(super) type SideKeys = tasks::BoxedQuery<'static, Db, (Timestamp, BigInt)>;

/// `tasks.id IN (ids of one page)`, the page merged from sides that are each cut at the page's
/// end: `SELECT id FROM (side UNION ALL side) ORDER BY created_at, id LIMIT .. OFFSET ..`.
/// PostgreSQL merges the sides' index-only scans (Merge Append) and stops at the page; only the
/// page's rows are read from the table. The cost is the page's end, not the data: a first page
/// reads 20 index entries per side where the plain `OR` sorted every row of the user. A side
/// selects `(created_at, <id>)`: [`sides`] of `tasks` (`id`), or a field's values
/// ([`FieldWalk`], `task_id`).
struct PageByCreation<S> {
    sides: Vec<S>,
    /// The name of the task's id in a side's rows.
    id: &'static str,
    descending: bool,
    limit: i64,
    offset: i64,
}

/// Where a page of a list of `total` rows in creation order (`descending` or not) is read:
/// `(descending, offset, limit)`. A page in the list's second half is read from its other end,
/// so that no page walks more than half the list.
fn nearer_end(descending: bool, page: PageRequest, total: i64) -> (bool, i64, i64) {
    let (offset, limit) = (page.offset(), page.limit());
    if offset.saturating_mul(2) > total {
        let end = offset.saturating_add(limit).min(total);
        return (!descending, total - end, end - offset);
    }
    (descending, offset, limit)
}

impl PageByCreation<SideKeys> {
    /// The page `page` of a list of `total` tasks.
    fn of(scope: &Resolved, filter: &TaskFilter, page: PageRequest, total: i64, conn: &AnyConnection) -> Self {
        let (descending, offset, limit) = nearer_end(filter.sort.descending, page, total);
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
        Self { sides, id: "id", descending, limit, offset }
    }
}

impl<S> Expression for PageByCreation<S> {
    type SqlType = Bool;
}

impl<S> QueryId for PageByCreation<S> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<S: QueryFragment<Db>> QueryFragment<Db> for PageByCreation<S> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Db>) -> QueryResult<()> {
        let id = self.id;
        if let [side] = self.sides.as_slice() {
            out.push_sql(&format!("tasks.id IN (SELECT page.{id} FROM ("));
            QueryFragment::<Db>::walk_ast(side, out.reborrow())?;
            out.push_sql(") AS page)");
            return Ok(());
        }
        let order = if self.descending { " DESC" } else { " ASC" };
        out.push_sql(&format!("tasks.id IN (SELECT page.{id} FROM ("));
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
        out.push_sql(&format!(", page.{id}"));
        out.push_sql(order);
        out.push_sql(" LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(" OFFSET ");
        out.push_bind_param::<BigInt, _>(&self.offset)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<S, QS> AppearsOnTable<QS> for PageByCreation<S> {}

impl<S, QS> SelectableExpression<QS> for PageByCreation<S> {}

impl<S> diesel::expression::ValidGrouping<()> for PageByCreation<S> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

/// A page's statement: the tasks one page's ids name, in the list's order.
type PageStatement = tasks::BoxedQuery<'static, Db, diesel::dsl::AsSelect<TaskRow, Db>>;

/// The statement reading one page of `filter` in `scope`, in its order; `None` when `filter`
/// rules out all of `scope`. `walk`: the filter's field walk, when it has one
/// ([`FieldWalk::of`]).
pub(super) fn page_statement(
    scope: &Resolved,
    filter: &TaskFilter,
    walk: Option<&FieldWalk>,
    page: PageRequest,
    total: i64,
    conn: &AnyConnection,
) -> Option<PageStatement> {
    if let Some(walk) = walk {
        let ids = walk.page(filter, page, total);
        if ids.sides.is_empty() {
            return None;
        }
        return Some(sorted(tasks::table.into_boxed(), filter).filter(ids).select(TaskRow::as_select()));
    }
    if let Some(sides) = status_sides(scope, filter) {
        let ids = by_status(sides, filter, page, total);
        if ids.sides.is_empty() {
            return None;
        }
        return Some(sorted(tasks::table.into_boxed(), filter).filter(ids).select(TaskRow::as_select()));
    }
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
pub(super) fn page_of(
    conn: &mut AnyConnection,
    scope: &Resolved,
    filter: &TaskFilter,
    walk: Option<&FieldWalk>,
    page: PageRequest,
    total: i64,
) -> Result<Vec<TaskRow>, RepositoryError> {
    match page_statement(scope, filter, walk, page, total, conn) {
        Some(statement) => statement.load(conn).map_err(db),
        None => Ok(Vec::new()),
    }
}

/// `task_status_keys.side`: the personal tasks a user owns.
const OWNED: i16 = 0;
/// `task_status_keys.side`: the personal tasks assigned to a user who does not own them.
const ASSIGNED: i16 = 1;
/// `task_status_keys.side`: a project's tasks.
const PROJECT: i16 = 2;

/// The status keys of each side of `scope` (see [`sides`]) and each status of `filter`, when a
/// page of `filter` is read from them: a list in creation order whose only condition is one or
/// more statuses (its total is a sum of counters), in a user's or a project's scope. Every task
/// is walked in the moderators' scope, which has no side of its own here.
///
/// The walk of [`sides`] checks each task's status in the table: a deep page of one status read
/// tens of thousands of task rows at 100,000 tasks. Each side's keys of one status are a range
/// of `task_status_keys`'s primary key, in creation order, so a page reads the index entries up
/// to its end from its nearer end and only its own task rows.
fn status_sides(scope: &Resolved, filter: &TaskFilter) -> Option<Vec<task_status_keys::BoxedQuery<'static, Db>>> {
    if filter.statuses.is_empty() || !counts::counted(filter) || !by_creation(filter) {
        return None;
    }
    let keys: Vec<(i16, i64)> = match scope {
        Resolved::All => return None,
        Resolved::Project(project) => vec![(PROJECT, *project)],
        Resolved::User { user, projects } => {
            [(OWNED, *user), (ASSIGNED, *user)].into_iter().chain(projects.iter().map(|p| (PROJECT, *p))).collect()
        }
    };
    let sides = keys.into_iter().flat_map(|(side, id)| {
        filter.statuses.iter().map(move |status| {
            task_status_keys::table
                .filter(task_status_keys::side.eq(side))
                .filter(task_status_keys::side_id.eq(id))
                .filter(task_status_keys::status.eq(status.as_str()))
                .into_boxed()
        })
    });
    Some(sides.collect())
}

/// `(created_at, task_id)` of one side's tasks of one status, in the page's order, up to the
/// page's end.
type StatusSide = task_status_keys::BoxedQuery<'static, Db, (Timestamp, BigInt)>;

/// The ids of page `page` of a list of `total` tasks read from `sides` ([`status_sides`]), from
/// its nearer end.
fn by_status(
    sides: Vec<task_status_keys::BoxedQuery<'static, Db>>,
    filter: &TaskFilter,
    page: PageRequest,
    total: i64,
) -> PageByCreation<StatusSide> {
    use task_status_keys::{created_at, task_id};
    let (descending, offset, limit) = nearer_end(filter.sort.descending, page, total);
    let end = offset.saturating_add(limit);
    let alone = sides.len() == 1;
    let sides = sides
        .into_iter()
        .map(|side| {
            let side = if descending {
                side.order((created_at.desc(), task_id.desc()))
            } else {
                side.order((created_at.asc(), task_id.asc()))
            };
            let side = side.select((created_at, task_id));
            if alone { side.limit(limit).offset(offset) } else { side.limit(end) }
        })
        .collect();
    PageByCreation { sides, id: "task_id", descending, limit, offset }
}

/// `(created_at, task_id)` of one field's values, in the page's order, up to the page's end.
type FieldSide = task_field_values::BoxedQuery<'static, Db, (Timestamp, BigInt)>;

/// A list in creation order whose only condition is one custom field's value (`field.<id>=`,
/// `>=`, `<=`, or a search's `field:<name>=`): its page and its total read from the field's own
/// rows in `task_field_values`, which carry their task's `created_at` and exist only while the
/// task is in the field's project (the `field_values_in_creation_order` migration), so that the
/// field's rows are exactly the tasks it shows. Equality walks `(field, value, created_at, id)`
/// from the page's nearer end and counts the value's entries; a range walks `(field,
/// created_at, id)` checking the value held in the index, and counts its range of the value
/// index. Every read is index-only: no task row is read but the page's. Measured at 100,000
/// tasks, a quarter of them with the value: the walk through the project's tasks that probed
/// the field per task took 68 ms a page (p50); see docs/benchmarks.md for this one.
pub(super) struct FieldWalk {
    /// The condition's fields that belong to the scope's projects (the others show nothing).
    fields: Vec<i64>,
    condition: FieldCondition,
}

impl FieldWalk {
    /// The walk of `filter` in `scope`, when it is in creation order and its only condition is
    /// one field's (one indexed read of `project_fields`).
    pub(super) fn of(
        conn: &mut AnyConnection,
        scope: &Resolved,
        filter: &TaskFilter,
    ) -> Result<Option<Self>, RepositoryError> {
        let refinement = &filter.refinement;
        let [condition] = refinement.fields.as_slice() else { return Ok(None) };
        let alone = *refinement == Refinement { fields: refinement.fields.clone(), ..Refinement::default() }
            && filter.statuses.is_empty()
            && counts::nothing_but_status_refinement_and_order(filter);
        if !alone || filter.sort.key != SortKey::CreatedAt {
            return Ok(None);
        }
        let mut fields = project_fields::table
            .filter(project_fields::id.eq_any(condition.fields.iter().map(|f| f.0).collect::<Vec<_>>()))
            .order(project_fields::id.asc())
            .select(project_fields::id)
            .into_boxed();
        fields = match scope {
            Resolved::All => fields,
            Resolved::Project(project) => fields.filter(project_fields::project_id.eq(*project)),
            Resolved::User { projects, .. } => fields.filter(project_fields::project_id.eq_any(projects.clone())),
        };
        Ok(Some(Self { fields: fields.load(conn).map_err(db)?, condition: condition.clone() }))
    }

    /// The rows of `field` meeting the condition.
    fn values(&self, field: i64) -> task_field_values::BoxedQuery<'static, Db> {
        use task_field_values::{field_id, value_number, value_text};
        let q = task_field_values::table.filter(field_id.eq(field)).into_boxed();
        type Meets = Box<dyn BoxableExpression<task_field_values::table, Db, SqlType = Nullable<Bool>>>;
        let meets: Meets = match (&self.condition.operand, self.condition.comparison) {
            (FieldOperand::Text(t), FieldComparison::Equal) => Box::new(value_text.eq(t.clone())),
            (FieldOperand::Text(t), FieldComparison::AtLeast) => Box::new(value_text.ge(t.clone())),
            (FieldOperand::Text(t), FieldComparison::AtMost) => Box::new(value_text.le(t.clone())),
            (FieldOperand::Number(n), FieldComparison::Equal) => Box::new(value_number.eq(*n)),
            (FieldOperand::Number(n), FieldComparison::AtLeast) => Box::new(value_number.ge(*n)),
            (FieldOperand::Number(n), FieldComparison::AtMost) => Box::new(value_number.le(*n)),
        };
        q.filter(meets)
    }

    /// How many tasks the list holds: each field's entries of the value (or the range), counted
    /// in its value index.
    pub(super) fn total(&self, conn: &mut AnyConnection) -> Result<i64, RepositoryError> {
        self.fields.iter().try_fold(0, |total, field| {
            let n: i64 = self.values(*field).count().get_result(conn).map_err(db)?;
            Ok(total + n)
        })
    }

    /// The ids of page `page` of a list of `total` tasks, from its nearer end.
    fn page(&self, filter: &TaskFilter, page: PageRequest, total: i64) -> PageByCreation<FieldSide> {
        use task_field_values::{created_at, task_id};
        let (descending, offset, limit) = nearer_end(filter.sort.descending, page, total);
        let end = offset.saturating_add(limit);
        let alone = self.fields.len() == 1;
        let sides = self
            .fields
            .iter()
            .map(|field| {
                let side = self.values(*field);
                let side = if descending {
                    side.order((created_at.desc(), task_id.desc()))
                } else {
                    side.order((created_at.asc(), task_id.asc()))
                };
                let side = side.select((created_at, task_id));
                if alone { side.limit(limit).offset(offset) } else { side.limit(end) }
            })
            .collect();
        PageByCreation { sides, id: "task_id", descending, limit, offset }
    }
}

/// `(created_at, id)` of a scope's tasks after a key, oldest first, up to a limit: its sides
/// (see [`sides`]) each read along its index from the key, merged (PostgreSQL: a Merge Append of
/// index-only scans, stopped at the limit).
pub(super) struct CreationKeys {
    pub(super) sides: Vec<OrderSide>,
    limit: i64,
}

/// `(created_at, id, status, version)` of the rows of one side, in creation order: a creation
/// order carries each task's status and version (see [`workbench_tasks::OrderedState`]).
pub(super) type OrderSide = tasks::BoxedQuery<'static, Db, (Timestamp, BigInt, Text, BigInt)>;

impl CreationKeys {
    pub(super) fn of(scope: &Resolved, after: Option<CreationKey>, limit: i64) -> Self {
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
                side.order((tasks::created_at.asc(), tasks::id.asc())).select((
                    tasks::created_at,
                    tasks::id,
                    tasks::status,
                    tasks::version,
                ))
            })
            .collect();
        Self { sides, limit }
    }
}

impl Query for CreationKeys {
    type SqlType = (Timestamp, BigInt, Text, BigInt);
}

impl QueryId for CreationKeys {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl RunQueryDsl<AnyConnection> for CreationKeys {}

impl QueryFragment<Db> for CreationKeys {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Db>) -> QueryResult<()> {
        out.push_sql("SELECT keys.created_at, keys.id, keys.status, keys.version FROM (");
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
