//! How many tasks a scope holds: the `task_counts` counters, the changes a batch of writes
//! appends to them (PostgreSQL), and the fold that adds those in.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Text};
use workbench_core::RepositoryError;
use workbench_tasks::{Status, Task, TaskFilter};

use super::filter::Resolved;
use crate::AnyConnection;
use crate::database::write_by_key;
use crate::error::db;
use crate::schema::{task_count_changes, task_counts};

/// The `task_counts` counters a task adds one to, for its status: every task's (0), its
/// owner's or its project's (minus the project's id), and its assignee's when it is a personal
/// task of someone else's (the same rule as the `tasks_count_change` trigger).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Counted {
    status: Status,
    counters: [Option<i64>; 3],
}

impl Counted {
    pub(super) fn of(task: &Task) -> Self {
        let home = match task.project_id {
            None => task.owner_id.0,
            Some(project) => -project.0,
        };
        let assignee =
            task.assignee_id.filter(|who| task.project_id.is_none() && *who != task.owner_id).map(|who| who.0);
        Self { status: task.status, counters: [Some(0), Some(home), assignee] }
    }

    /// The status it is counted under.
    pub(super) fn status(&self) -> Status {
        self.status
    }
}

/// What a batch of task writes changed in `task_counts`, summed per counter and status, appended
/// as one statement before the batch commits (PostgreSQL; see the `counted_by_the_writer`
/// migration): a few rows for the whole batch instead of two to four per written row.
#[derive(Debug, Default)]
pub(super) struct CountChanges(std::collections::BTreeMap<(i64, &'static str), i64>);

impl CountChanges {
    pub(super) fn add(&mut self, counted: Counted, delta: i64) {
        for counter in counted.counters.into_iter().flatten() {
            *self.0.entry((counter, counted.status.as_str())).or_default() += delta;
        }
    }

    pub(super) fn append(self, conn: &mut PgConnection) -> Result<(), RepositoryError> {
        let mut rows = AppendCountChanges::default();
        for ((counter, status), delta) in self.0.into_iter().filter(|(_, delta)| *delta != 0) {
            rows.user_ids.push(counter);
            rows.statuses.push(status);
            rows.deltas.push(delta);
        }
        if !rows.user_ids.is_empty() {
            rows.execute(conn).map_err(db)?;
        }
        Ok(())
    }
}

/// `INSERT INTO task_count_changes ... SELECT * FROM unnest(...)`: one array per column, so that
/// the statement's text is the same for any number of rows and is prepared once per connection
/// (a multi-row `VALUES` would be parsed and planned again by every batch).
#[derive(Debug, Default)]
struct AppendCountChanges {
    user_ids: Vec<i64>,
    statuses: Vec<&'static str>,
    deltas: Vec<i64>,
}

impl QueryId for AppendCountChanges {
    type QueryId = AppendCountChanges;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl RunQueryDsl<PgConnection> for AppendCountChanges {}

impl QueryFragment<Pg> for AppendCountChanges {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("INSERT INTO task_count_changes (user_id, status, delta) SELECT * FROM unnest(");
        out.push_bind_param::<Array<BigInt>, _>(&self.user_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.statuses)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.deltas)?;
        out.push_sql(")");
        Ok(())
    }
}

/// Whether `filter` narrows its scope by status alone (or not at all), so that its total is a sum
/// of counters (see [`counted_total`]) rather than a count of rows.
pub(super) fn counted(filter: &TaskFilter) -> bool {
    filter.refinement.is_empty() && nothing_but_status_refinement_and_order(filter)
}

/// Whether `filter` asks for nothing beyond statuses, a refinement and an order: the plain
/// shapes that counters and indexes answer without reading the scope's tasks.
pub(super) fn nothing_but_status_refinement_and_order(filter: &TaskFilter) -> bool {
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
        refinement: _,
        sort: _,
    } = filter;
    priorities.is_empty()
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
pub(super) fn counted_total(
    conn: &mut AnyConnection,
    scope: &Resolved,
    statuses: &[Status],
) -> Result<i64, RepositoryError> {
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
pub(super) fn fold_counts(conn: &mut AnyConnection) -> Result<usize, RepositoryError> {
    write_by_key(conn, |conn| diesel::sql_query(FOLD).execute(conn).map_err(db))
}

/// The statement of [`fold_counts`].
pub(super) const FOLD: &str = "WITH taken AS (
    SELECT id FROM task_count_changes ORDER BY id LIMIT 10000 FOR UPDATE SKIP LOCKED
), moved AS (
    DELETE FROM task_count_changes WHERE id = ANY(ARRAY(SELECT id FROM taken))
    RETURNING user_id, status, delta)
INSERT INTO task_counts (user_id, status, n)
SELECT user_id, status, SUM(delta) FROM moved GROUP BY user_id, status ORDER BY user_id, status
ON CONFLICT (user_id, status) DO UPDATE SET n = task_counts.n + EXCLUDED.n";
