//! Tasks, their tags and their comments in the database.
//!
//! The repository is here; what it runs is beside it: the statements that write a task with its
//! event ([`statements`]), those writes batched by group commit ([`writes`]), the counters behind a
//! list's total ([`counts`]), a list's query fragments ([`filter`]) and the paths its pages take
//! ([`list`]), and the comments ([`comments`]).

mod comments;
mod counts;
mod filter;
mod list;
pub(crate) mod row;
mod statements;
mod structure;
mod writes;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use tokio::sync::Notify;
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_events::TaskEvent;
use workbench_tasks::{
    CreationKey, CreationOrder, NewTaskRecord, OrderedState, Priority, Rebase, Status, TagUsage, Task, TaskFacets,
    TaskFilter, TaskId, TaskRepository, TaskScope, TaskStats, UpdateOutcome, next_occurrence,
};
use workbench_users::UserId;

pub use comments::DieselCommentRepository;
use counts::{counted, counted_total, fold_counts};
use filter::{facet_groups, filtered, fold_facets, resolve, scope_condition, scoped, sorted};
use list::{CreationKeys, FieldWalk, by_creation, page_of};
use row::TaskRow;
use statements::{DeleteTaskRecorded, find_task, store_update};
use structure::dependants_of;
pub use structure::{DieselBoardRepository, DieselFieldRepository, DieselRelationRepository};
use writes::{TaskWrite, TaskWritten, reblocks};

use crate::connection::Db;
use crate::database::{due, read_in_index_order, read_within};
use crate::error::{corrupt, count, db};
use crate::group_commit::{Batching, GroupCommit};
use crate::like::contains_pattern;
use crate::outbox::{NewEventRow, audience_json};
use crate::paging::counted_page;
use crate::schema::{outbox, project_members, task_tags, tasks};
use crate::{AnyConnection, Backend, Database};

/// [`TaskRepository`] on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselTaskRepository {
    db: Database,
    /// Creates and updates, committed in batches when they arrive together.
    writes: Arc<GroupCommit<TaskWrite>>,
    /// Rung after a change (and its event) committed, so that this process's outbox relay
    /// publishes at once instead of at its next poll.
    events_written: Option<Arc<Notify>>,
    /// Whether a fold of the counted changes is running (PostgreSQL; see [`counts::fold_counts`]).
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
            parent_id: None,
            blocked: false,
            bucket_id: record.task.bucket_id,
            position: None,
            fields: record.task.fields,
        };
        match self.writes.submit(TaskWrite::create(task)).await? {
            TaskWritten::Created(task) => {
                self.ring();
                Ok(task)
            }
            TaskWritten::Updated { .. } => unreachable!("a create is answered with the task it created"),
        }
    }

    async fn announce(&self, tasks: Vec<Task>) -> Result<(), RepositoryError> {
        if tasks.is_empty() {
            return Ok(());
        }
        self.db
            .run(move |conn| {
                crate::database::write_transaction(conn, |c| {
                    for task in &tasks {
                        let event = statements::EventValues::of(TaskEvent::Updated, task, task.updated_at.naive_utc());
                        let event = event.for_members(c, task)?;
                        crate::outbox::record_in(c, &event.row(task.id.0))?;
                    }
                    Ok(())
                })
            })
            .await?;
        self.ring();
        Ok(())
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
                    let walk = FieldWalk::of(conn, scope, &filter)?;
                    // The total first: a sum of counters for the usual filters, a field's index
                    // for one field's value. A page past it is empty without being read.
                    let total = match (&walk, counted(&filter)) {
                        (Some(walk), _) => walk.total(conn)?,
                        (None, true) => counted_total(conn, scope, &filter.statuses)?,
                        (None, false) => filtered(scope, &filter, conn).count().get_result(conn).map_err(db)?,
                    };
                    counted_page(page, total, || {
                        let rows = page_of(conn, scope, &filter, walk.as_ref(), page, total)?;
                        rows.into_iter().map(TaskRow::into_task).collect()
                    })
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
                    fold_facets(facet_groups(conn, scope, &filter)?)
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
            TaskWritten::Updated { applied: true, follow_up, dependants } => {
                self.ring();
                let follow_up = follow_up.map(Box::new);
                return Ok(UpdateOutcome::Stored { task, replaced: None, follow_up, dependants });
            }
            TaskWritten::Updated { applied: false, .. } => {}
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
                        let dependants = if reblocks(stored.status, next.status) {
                            dependants_of(conn, &[next.id.0])?.into_iter().map(|(_, dependant)| dependant).collect()
                        } else {
                            Vec::new()
                        };
                        let replaced = Some(stored);
                        return Ok(UpdateOutcome::Stored { task: next, replaced, follow_up, dependants });
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
                    let rows: Vec<(NaiveDateTime, i64, String, i64)> = match keys.sides.len() {
                        0 => Vec::new(),
                        1 => keys.sides.remove(0).limit(limit).load(conn).map_err(db)?,
                        _ => keys.load(conn).map_err(db)?,
                    };
                    let total = counted_total(conn, scope, &[])?;
                    let last =
                        rows.last().map(|(at, id, _, _)| CreationKey { created_at: at.and_utc(), id: TaskId(*id) });
                    let mut order = CreationOrder { last, total: count(total), ..CreationOrder::default() };
                    order.ids.reserve_exact(rows.len());
                    order.states.reserve_exact(rows.len());
                    for (at, id, status, version) in rows {
                        let status = Status::parse(&status).map_err(|e| corrupt("tasks.status", &e))?;
                        order.ids.push(TaskId(id));
                        order.states.push(OrderedState { created_at: at.and_utc(), status, version });
                    }
                    Ok(order)
                })
            })
            .await
    }
}

#[cfg(test)]
mod list_cost;

#[cfg(all(test, feature = "testing"))]
mod tests {
    use diesel::sql_types::Text;

    use super::counts::FOLD;
    use super::*;
    use crate::database::write_by_key;
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

        use crate::explain::Explain;

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

        use crate::explain::Explain;

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
