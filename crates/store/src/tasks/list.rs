//! The paths a list page takes: sorted and cut by the database, or merged side by side in
//! creation order along each side's index; and the creation order's keys, read the same way.

use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Timestamp};
use workbench_core::{PageRequest, RepositoryError};
use workbench_tasks::{CreationKey, SortKey, TaskFilter};
use workbench_users::UserId;

use super::filter::{Resolved, filtered, narrowed, sorted};
use super::row::TaskRow;
use crate::AnyConnection;
use crate::connection::Db;
use crate::error::db;
use crate::schema::tasks;

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
pub(super) fn page_statement(
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
pub(super) fn page_of(
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

/// `(created_at, id)` of a scope's tasks after a key, oldest first, up to a limit: its sides
/// (see [`sides`]) each read along its index from the key, merged (PostgreSQL: a Merge Append of
/// index-only scans, stopped at the limit).
pub(super) struct CreationKeys {
    pub(super) sides: Vec<SideKeys>,
    limit: i64,
}

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
