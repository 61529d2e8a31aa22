//! What a list costs at 100,000 tasks: the statements [`TaskRepository::list`] runs, explained by
//! each engine, read a bounded number of rows, and answer what the plain query would.

use diesel::query_builder::QueryFragment;
use diesel::sql_types::{BigInt, Integer, Text};
use serde_json::Value;
use workbench_projects::ProjectId;
use workbench_tasks::{FieldComparison, FieldCondition, FieldId, FieldOperand, Refinement, SortKey};

use super::list::{FieldWalk, page_statement};
use super::*;
use crate::engine_cases;
use crate::explain::Explain;
use crate::schema::task_counts;
use crate::testing::{execute_sql, user};

engine_cases!(a_page_of_a_hundred_thousand_tasks_reads_a_page_and_its_total_a_few_counters);

const OWNED: i64 = 100_000;
/// Bob's tasks assigned to ann: one every 100 seconds, so that they interleave with hers.
const ASSIGNED: i64 = 1_000;

/// Ann's tasks (1..=OWNED, one a second), bob's assigned to her (1..=ASSIGNED, one every 100
/// seconds among hers) and cat's (as many as ann's, all later); a third of each status.
fn fill(backend: Backend, ann: i64, bob: i64, cat: i64) -> Vec<String> {
    let columns = "title, status, priority, priority_rank, owner_id, assignee_id, completed_at, version, \
                   search_text, created_at, updated_at, tags";
    let status = "CASE n % 3 WHEN 0 THEN 'pending' WHEN 1 THEN 'in_progress' ELSE 'completed' END";
    let (series, at) = match backend {
        Backend::Postgres => (
            "SELECT n FROM generate_series(1, {count}) AS n",
            "TIMESTAMP '2026-01-01' + ({offset}) * INTERVAL '1 second'",
        ),
        Backend::Sqlite => (
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count}) SELECT n FROM s",
            "datetime('2026-01-01', '+' || ({offset}) || ' seconds')",
        ),
    };
    let rows = |count: i64, offset: &str, owner: i64, assignee: &str| {
        let at = at.replace("{offset}", offset);
        format!(
            "INSERT INTO tasks ({columns}) SELECT 'task ' || n, {status}, 'medium', 2, {owner}, {assignee}, \
             CASE n % 3 WHEN 2 THEN {at} END, 1, 'task ' || n, {at}, {at}, '[]' FROM ({}) AS numbers",
            series.replace("{count}", &count.to_string())
        )
    };
    vec![
        rows(OWNED, "n", ann, "NULL"),
        rows(ASSIGNED, "n * 100 + 50", bob, &ann.to_string()),
        // Someone else's, all newer than ann's: a walk of every task from the newest passes them.
        rows(OWNED, "n + 200000", cat, "NULL"),
    ]
}

/// The rows every scan of a PostgreSQL plan read (`EXPLAIN (ANALYZE, FORMAT JSON)`): those it
/// produced and those its filter removed, over all its loops.
fn rows_scanned(plan: &Value) -> f64 {
    let number = |key: &str| plan[key].as_f64().unwrap_or(0.0);
    let own = match plan["Node Type"].as_str() {
        Some(kind) if kind.contains("Scan") => {
            (number("Actual Rows") + number("Rows Removed by Filter") + number("Rows Removed by Index Recheck"))
                * plan["Actual Loops"].as_f64().unwrap_or(1.0)
        }
        _ => 0.0,
    };
    let children = plan["Plans"].as_array().map(|plans| plans.iter().map(rows_scanned).sum()).unwrap_or(0.0);
    own + children
}

/// What `statement` costs on `conn`: on PostgreSQL the rows its scans read, run for real; on
/// SQLite the steps of its plan (SQLite does not count rows).
fn explained<Q: QueryFragment<Db>>(conn: &mut AnyConnection, statement: Q) -> Result<Explained, RepositoryError> {
    match conn {
        AnyConnection::Postgresql(_) => {
            let explain = Explain::<_, Text>::new("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ", statement);
            let json: String = explain.get_result(conn).map_err(db)?;
            let plan: Value = serde_json::from_str(&json).expect("EXPLAIN answers JSON");
            Ok(Explained::Rows(rows_scanned(&plan[0]["Plan"]), json))
        }
        AnyConnection::Sqlite(_) => {
            let plan = Explain::<_, (Integer, Integer, Integer, Text)>::new("EXPLAIN QUERY PLAN ", statement);
            let steps: Vec<(i32, i32, i32, String)> = plan.load(conn).map_err(db)?;
            Ok(Explained::Steps(steps.into_iter().map(|(id, parent, _, step)| (id, parent, step)).collect()))
        }
    }
}

#[derive(Debug)]
enum Explained {
    /// Rows read, and the plan.
    Rows(f64, String),
    /// `(id, parent, step)` of each step of the plan.
    Steps(Vec<(i32, i32, String)>),
}

impl Explained {
    /// Asserts the statement read at most `bound` rows (PostgreSQL), or that its plan reads tasks
    /// only along indexes and sorts no side of the page (SQLite): each side is then read in the
    /// page's order and stops at the page's end; only the merged sides are sorted.
    fn assert_bounded(&self, bound: f64, what: &str) {
        match self {
            Self::Rows(rows, plan) => assert!(*rows <= bound, "{what}: {rows} rows read, over {bound}: {plan}"),
            Self::Steps(steps) => {
                let step = |id: i32| steps.iter().find(|(step, ..)| *step == id).map(|(_, _, d)| d.as_str());
                let by_id_at_top =
                    steps.iter().any(|(_, parent, d)| *parent == 0 && d.contains("PRIMARY KEY (rowid=?)"));
                for (_, parent, detail) in steps {
                    let whole_table = detail.starts_with("SCAN tasks") && !detail.contains("USING");
                    assert!(!whole_table, "{what}: a full scan: {steps:#?}");
                    if detail.starts_with("USE TEMP B-TREE") {
                        // Sorted: the page's rows, read by id; or the sides' merged keys.
                        let sorts_the_page = *parent == 0 && by_id_at_top;
                        let merges_sides = step(*parent).is_some_and(|d| d.starts_with("LIST SUBQUERY"));
                        assert!(sorts_the_page || merges_sides, "{what}: sorts more than a page: {steps:#?}");
                    }
                }
                let searches = steps.iter().filter(|(.., s)| s.contains("INDEX") || s.contains("PRIMARY KEY"));
                assert!(searches.count() > 0, "{what}: reads no index: {steps:#?}");
            }
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// The ids the plain query (every row of the scope, sorted) finds for a page, to compare with.
async fn plainly(database: &Database, condition: &str, descending: bool, offset: i64) -> Vec<i64> {
    let order = if descending { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT id FROM tasks WHERE {condition} ORDER BY created_at {order}, id {order} LIMIT 20 OFFSET {offset}"
    );
    database
        .run(move |conn| diesel::sql_query(sql.clone()).load::<Id>(conn).map_err(db))
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.id)
        .collect()
}

/// Every id of the scope in creation order, oldest first, by the plain query.
async fn plain_order(database: &Database, condition: &str) -> Vec<i64> {
    let sql = format!("SELECT id FROM tasks WHERE {condition} ORDER BY created_at, id");
    let rows = database.run(move |conn| diesel::sql_query(sql.clone()).load::<Id>(conn).map_err(db)).await.unwrap();
    rows.into_iter().map(|row| row.id).collect()
}

async fn plain_count(database: &Database, condition: &str) -> u64 {
    let sql = format!("SELECT COUNT(*) AS id FROM tasks WHERE {condition}");
    let rows = database.run(move |conn| diesel::sql_query(sql.clone()).load::<Id>(conn).map_err(db)).await.unwrap();
    rows[0].id as u64
}

async fn a_page_of_a_hundred_thousand_tasks_reads_a_page_and_its_total_a_few_counters(db: Database) {
    let (ann, bob, cat) = (user(&db, "ann").await.id, user(&db, "bob").await.id, user(&db, "cat").await.id);
    let dee = user(&db, "dee").await.id;
    for statement in fill(db.backend(), ann.0, bob.0, cat.0) {
        execute_sql(&db, statement).await.expect("the tasks are inserted");
    }
    // Cat's tasks are a project's, of which Dee (who has no task of her own) is a member.
    let project = 77;
    for statement in [
        format!(
            "INSERT INTO projects (id, name, owner_id, created_at, updated_at) \
             VALUES ({project}, 'Big', {}, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            cat.0
        ),
        format!(
            "INSERT INTO project_members (project_id, user_id, role, joined_at) \
             VALUES ({project}, {}, 'viewer', '2026-01-01 00:00:00')",
            dee.0
        ),
        format!("UPDATE tasks SET project_id = {project} WHERE owner_id = {}", cat.0),
    ] {
        execute_sql(&db, statement).await.expect("the project is made");
    }
    // Two custom fields of the project: a room on every task of it (a quarter in the kitchen) and
    // points from 0 to 99.
    let (room, points) = (901, 902);
    for statement in [
        format!(
            "INSERT INTO project_fields (id, project_id, name, kind, options, required, created_at) VALUES \
             ({room}, {project}, 'Room', 'select', '[\"Kitchen\",\"Hall\"]', FALSE, '2026-01-01 00:00:00'), \
             ({points}, {project}, 'Points', 'number', NULL, FALSE, '2026-01-01 00:00:00')"
        ),
        format!(
            "UPDATE tasks SET fields = '{{\"{room}\":\"' || CASE WHEN id % 4 = 0 THEN 'Kitchen' ELSE 'Hall' END \
             || '\",\"{points}\":' || (id % 100) || '}}' WHERE project_id = {project}"
        ),
    ] {
        execute_sql(&db, statement).await.expect("the fields are set");
    }
    let field = |id: i64, comparison: FieldComparison, operand: FieldOperand| TaskFilter {
        refinement: Refinement {
            fields: vec![FieldCondition { fields: vec![FieldId(id)], comparison, operand }],
            ..Refinement::default()
        },
        ..TaskFilter::default()
    };
    let in_kitchen = field(room, FieldComparison::Equal, FieldOperand::Text("Kitchen".into()));
    let many_points = field(points, FieldComparison::AtLeast, FieldOperand::Number(50.0));
    let repo = DieselTaskRepository::new(db.clone());
    let involved = format!("(owner_id = {0} OR assignee_id = {0})", ann.0);
    let newest = TaskFilter::default();
    let pending = TaskFilter { statuses: vec![Status::Pending], ..TaskFilter::default() };
    let oldest_done = TaskFilter {
        statuses: vec![Status::Completed, Status::InProgress],
        sort: workbench_tasks::TaskSort { key: SortKey::CreatedAt, descending: false },
        ..TaskFilter::default()
    };
    let assigned_by_bob = TaskFilter { owner_id: Some(bob), ..TaskFilter::default() };
    let cases = [
        (TaskScope::InvolvedUser(ann), &newest, involved.clone()),
        (TaskScope::InvolvedUser(ann), &pending, format!("{involved} AND status = 'pending'")),
        (TaskScope::InvolvedUser(ann), &oldest_done, format!("{involved} AND status <> 'pending'")),
        (TaskScope::InvolvedUser(ann), &assigned_by_bob, format!("{involved} AND owner_id = {}", bob.0)),
        (TaskScope::InvolvedUser(bob), &newest, format!("(owner_id = {0} OR assignee_id = {0})", bob.0)),
        (TaskScope::All, &pending, "status = 'pending'".to_owned()),
        (TaskScope::Project(ProjectId(project)), &newest, format!("project_id = {project}")),
        (TaskScope::Project(ProjectId(project)), &pending, format!("project_id = {project} AND status = 'pending'")),
        (TaskScope::InvolvedUser(dee), &oldest_done, format!("project_id = {project} AND status <> 'pending'")),
        (TaskScope::Project(ProjectId(project)), &in_kitchen, format!("project_id = {project} AND id % 4 = 0")),
        (TaskScope::InvolvedUser(dee), &many_points, format!("project_id = {project} AND id % 100 >= 50")),
    ];

    // Before the table's statistics exist (autovacuum behind, or off) as after.
    assert_pages_bounded(&db, &cases, "without statistics").await;
    if db.backend() == Backend::Postgres {
        execute_sql(&db, "VACUUM ANALYZE tasks").await.unwrap();
    }

    // The same answers as the plain query, on the first, a middle and the last page.
    for (scope, filter, condition) in &cases {
        let total = plain_count(&db, condition).await;
        for number in [1, 2, total.div_ceil(40).max(1), total.div_ceil(40) + 1, total.div_ceil(20).max(1)] {
            let request = PageRequest::new(Some(number), Some(20)).unwrap();
            let listed = repo.list(*scope, (*filter).clone(), request).await.unwrap();
            let expected = plainly(&db, condition, filter.sort.descending, request.offset()).await;
            let ids: Vec<i64> = listed.items.iter().map(|task| task.id.0).collect();
            assert_eq!((listed.total, ids), (total, expected), "{condition}, page {number}");
        }
    }

    assert_pages_bounded(&db, &cases, "analysed").await;

    // A field of a project the viewer is not a member of shows nothing.
    let listed = repo.list(TaskScope::InvolvedUser(ann), in_kitchen.clone(), PageRequest::first()).await.unwrap();
    assert_eq!((listed.total, listed.items.len()), (0, 0), "another project's field");

    // A scope's creation order, read whole once, is the plain query's; what a create adds to
    // it is read from the order's last key, along the indexes, not from its start.
    let orders = [
        (TaskScope::InvolvedUser(ann), involved.clone()),
        (TaskScope::Project(ProjectId(project)), format!("project_id = {project}")),
        (TaskScope::InvolvedUser(dee), format!("project_id = {project}")),
    ];
    for (scope, condition) in orders {
        let all = plain_order(&db, &condition).await;
        let order = repo.creation_order(scope, None, u64::MAX).await.unwrap();
        let ids: Vec<i64> = order.ids.iter().map(|id| id.0).collect();
        assert!(ids == all, "{condition}: the whole order is the plain query's");
        assert_eq!(order.total, all.len() as u64, "{condition}");
        let cut = all.len() - 10;
        let known = repo.find(TaskId(all[cut - 1])).await.unwrap().expect("the task");
        let state = OrderedState { created_at: known.created_at, status: known.status, version: known.version };
        assert_eq!((order.states.len(), order.states[cut - 1]), (all.len(), state), "{condition}: each task's state");
        let key = CreationKey::of(&known);
        let newer = repo.creation_order(scope, Some(key), 1_000).await.unwrap();
        let newer_ids: Vec<i64> = newer.ids.iter().map(|id| id.0).collect();
        assert_eq!((newer_ids.as_slice(), newer.total), (&all[cut..], all.len() as u64), "{condition}");
        let explained = db
            .run(move |conn| {
                read_in_index_order(conn, |conn| {
                    let resolved = resolve(conn, scope)?;
                    let mut keys = CreationKeys::of(&resolved, Some(key), 1_000);
                    match keys.sides.len() {
                        1 => explained(conn, keys.sides.remove(0).limit(1_000)),
                        _ => explained(conn, keys),
                    }
                })
            })
            .await
            .unwrap();
        // Ten new tasks, and at most a few index entries per side to find where they start.
        explained.assert_bounded(40.0, &format!("{condition}, after a key"));
    }
}

/// The first page, the last and the total of each case read a page's worth of rows, whatever the
/// data, planned as the list plans them (see [`read_in_index_order`]).
async fn assert_pages_bounded(db: &Database, cases: &[(TaskScope, &TaskFilter, String)], when: &str) {
    for (scope, filter, condition) in cases {
        let (scope, filter, label) = (*scope, (*filter).clone(), condition.clone());
        let counted_rows = plain_count(db, condition).await;
        let last = PageRequest::new(Some(counted_rows.div_ceil(20)), Some(20)).unwrap();
        let total = i64::try_from(counted_rows).unwrap();
        let (pages, counted) = db
            .run(move |conn| {
                read_in_index_order(conn, |conn| {
                    let mut pages = Vec::new();
                    let resolved = resolve(conn, scope)?;
                    let walk = FieldWalk::of(conn, &resolved, &filter)?;
                    if let Some(walk) = &walk {
                        assert_eq!(walk.total(conn)?, total, "{label}: the field's total");
                    }
                    for page in [PageRequest::first(), last] {
                        let statement = page_statement(&resolved, &filter, walk.as_ref(), page, total, conn)
                            .expect("a page to read");
                        pages.push(explained(conn, statement)?);
                    }
                    let counters = task_counts::table
                        .filter(task_counts::user_id.eq_any(resolved.counters()))
                        .select(task_counts::n);
                    let counted = explained(conn, counters.filter(task_counts::status.eq_any(["pending"])))?;
                    Ok::<_, RepositoryError>((pages, counted))
                })
            })
            .await
            .unwrap();
        // 20 index entries per side and 20 rows, and for a status the rows checked to find 20.
        for page in pages {
            page.assert_bounded(200.0, &format!("{condition}, {when}"));
        }
        counted.assert_bounded(3.0, &format!("{condition}, {when}"));
    }
}
