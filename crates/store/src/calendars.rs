//! Calendars over the tasks (the calendars domain's `CalendarStore`): what CalDAV clients wrote
//! beside their tasks (`calendar_objects`) and each calendar's change log (`calendar_changes`).
//!
//! The log is written by triggers on `tasks` (migration `calendars`), so that no path that
//! writes a task (REST, CalDAV, a recurrence, a project or an account deleted) can forget it. Its
//! rows are numbered in commit order: at once by SQLite's triggers (one writer at a time), and
//! on PostgreSQL by the first reader after them ([`number_committed`]), since a sequence's numbers
//! follow the order writers ask for them, not the order they commit. A sync reads the log after
//! its token along `(calendar, seq)`, then the tasks it names: what changed, not the calendar.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use workbench_calendars::{
    CalendarId, CalendarObject, CalendarStore, Change, ChangesSince, ObjectEntry, SyncToken, default_name,
};
use workbench_core::RepositoryError;
use workbench_projects::{ProjectId, ProjectRole};
use workbench_tasks::{Task, TaskId};
use workbench_users::UserId;

use crate::connection::Db;
use crate::database::{read_snapshot, write_transaction};
use crate::error::{corrupt, db};
use crate::schema::{calendar_changes, calendar_objects, project_members, projects, tasks};
use crate::tasks::row::TaskRow;
use crate::{AnyConnection, Database};

/// The advisory lock that numbers the log on PostgreSQL, one numbering at a time.
const NUMBERING_LOCK: i64 = 0x6361_6c64_6176; // "caldav"

/// `CalendarStore` on the shared database.
#[derive(Debug, Clone)]
pub struct DieselCalendarStore {
    db: Database,
}

impl DieselCalendarStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

type Boxed = tasks::BoxedQuery<'static, Db>;

/// The tasks of `calendar`: a project's, or the personal tasks a user owns or is assigned.
fn tasks_of(calendar: CalendarId) -> Boxed {
    let q = tasks::table.into_boxed();
    match calendar {
        CalendarId::Project(project) => q.filter(tasks::project_id.eq(project.0)),
        CalendarId::Personal(user) => q
            .filter(tasks::project_id.is_null())
            .filter(tasks::owner_id.eq(user.0).or(tasks::assignee_id.assume_not_null().eq(user.0))),
    }
}

/// Whether a task with these columns is in `calendar`.
fn belongs(calendar: CalendarId, project_id: Option<i64>, owner_id: i64, assignee_id: Option<i64>) -> bool {
    match calendar {
        CalendarId::Project(project) => project_id == Some(project.0),
        CalendarId::Personal(user) => project_id.is_none() && (owner_id == user.0 || assignee_id == Some(user.0)),
    }
}

/// The ids and versions of those of the tasks `ids` that are in `calendar`. Read by key and
/// sorted out here: given the calendar's condition too, SQLite walked a user's every task along
/// its owner index (once a user owns many) rather than look up the few ids.
fn present(conn: &mut AnyConnection, calendar: CalendarId, ids: &[i64]) -> Result<Vec<(i64, i64)>, RepositoryError> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1_000) {
        let rows = tasks::table
            .filter(tasks::id.eq_any(chunk))
            .select((tasks::id, tasks::version, tasks::project_id, tasks::owner_id, tasks::assignee_id))
            .load::<(i64, i64, Option<i64>, i64, Option<i64>)>(conn)
            .map_err(db)?;
        found.extend(
            rows.into_iter()
                .filter(|(_, _, project, owner, assignee)| belongs(calendar, *project, *owner, *assignee))
                .map(|(id, version, ..)| (id, version)),
        );
    }
    Ok(found)
}

/// The calendars `task` is in (the log's keys): its project's, or its owner's and assignee's.
fn calendars_of(task: &Task) -> Vec<i64> {
    match task.project_id {
        Some(project) => vec![-project.0],
        None => {
            let mut keys = vec![task.owner_id.0];
            keys.extend(task.assignee_id.map(|a| a.0).filter(|a| *a != task.owner_id.0));
            keys
        }
    }
}

/// Numbers the log rows that have committed and have no place yet, after every numbered row.
/// PostgreSQL only (SQLite's triggers number their rows as they write them); a no-op, costing
/// one index probe, when nothing waits.
fn number_committed(conn: &mut AnyConnection) -> Result<(), RepositoryError> {
    let AnyConnection::Postgresql(_) = conn else { return Ok(()) };
    let waiting = diesel::select(diesel::dsl::exists(calendar_changes::table.filter(calendar_changes::seq.is_null())))
        .get_result::<bool>(conn)
        .map_err(db)?;
    if !waiting {
        return Ok(());
    }
    write_transaction(conn, |conn| {
        let AnyConnection::Postgresql(pg) = conn else { return Ok(()) };
        // Under the lock, every number given is committed and seen here: the new ones follow
        // the last, and every row committed by now gets one.
        pg.batch_execute(&format!("SELECT pg_advisory_xact_lock({NUMBERING_LOCK})")).map_err(db)?;
        let last: i64 = calendar_changes::table
            .filter(calendar_changes::seq.is_not_null())
            .select(diesel::dsl::max(calendar_changes::seq))
            .first::<Option<i64>>(pg)
            .map_err(db)?
            .unwrap_or_default();
        // Then the older rows of the tasks just numbered go, in each calendar (one row per task
        // and calendar is all a sync reads, migration 000048), but those that gave a name up. The
        // newest row is numbered before, so a calendar's last number never goes back.
        pg.batch_execute(&format!(
            "UPDATE calendar_changes SET seq = next.seq FROM ( \
                 SELECT id, {last} + row_number() OVER (ORDER BY id) AS seq \
                 FROM calendar_changes WHERE seq IS NULL) AS next \
             WHERE calendar_changes.id = next.id; \
             DELETE FROM calendar_changes AS old USING calendar_changes AS newer \
             WHERE newer.seq > {last} AND newer.task_id = old.task_id AND newer.calendar = old.calendar \
                 AND old.gone_name IS NULL AND old.seq < newer.seq"
        ))
        .map_err(db)
    })
}

/// The calendar's last change, as a token (0 for a calendar that never changed).
fn last_change(conn: &mut AnyConnection, calendar: CalendarId) -> Result<i64, RepositoryError> {
    // The newest row along `(calendar, seq)`: SQLite's `max()` under the `IS NOT NULL` walked them all.
    calendar_changes::table
        .filter(calendar_changes::calendar.eq(calendar.key()))
        .filter(calendar_changes::seq.is_not_null())
        .order(calendar_changes::seq.desc())
        .select(calendar_changes::seq.assume_not_null())
        .first::<i64>(conn)
        .optional()
        .map(Option::unwrap_or_default)
        .map_err(db)
}

/// The ids and versions of the tasks of `calendar` after task `after`, in id order, at most
/// `limit`. A personal calendar is read as its two halves, the tasks the user owns and those they
/// are assigned, each along its own index: one user's tasks, never the table's.
fn members(
    conn: &mut AnyConnection,
    calendar: CalendarId,
    after: Option<TaskId>,
    limit: Option<usize>,
) -> Result<Vec<(i64, i64)>, RepositoryError> {
    let after = after.map_or(0, |a| a.0);
    let bounded = |q: Boxed| match limit {
        Some(limit) => q.order(tasks::id).limit(i64::try_from(limit).unwrap_or(i64::MAX)),
        None => q.order(tasks::id),
    };
    let read = |q: Boxed, conn: &mut AnyConnection| {
        bounded(q.filter(tasks::id.gt(after))).select((tasks::id, tasks::version)).load::<(i64, i64)>(conn).map_err(db)
    };
    let mut rows = match calendar {
        CalendarId::Project(project) => read(tasks::table.into_boxed().filter(tasks::project_id.eq(project.0)), conn)?,
        CalendarId::Personal(user) => {
            let personal = || tasks::table.into_boxed().filter(tasks::project_id.is_null());
            let mut rows = read(personal().filter(tasks::owner_id.eq(user.0)), conn)?;
            let assigned =
                personal().filter(tasks::assignee_id.assume_not_null().eq(user.0)).filter(tasks::owner_id.ne(user.0));
            rows.extend(read(assigned, conn)?);
            rows.sort_unstable();
            rows
        }
    };
    if let Some(limit) = limit {
        rows.truncate(limit);
    }
    Ok(rows)
}

/// The objects of `calendar` after task `after` in id order, at most `limit`.
fn entries(
    conn: &mut AnyConnection,
    calendar: CalendarId,
    after: Option<TaskId>,
    limit: Option<usize>,
) -> Result<Vec<ObjectEntry>, RepositoryError> {
    let rows = members(conn, calendar, after, limit)?;
    let names = names_of(conn, &rows.iter().map(|(id, _)| *id).collect::<Vec<_>>())?;
    Ok(rows
        .into_iter()
        .map(|(id, version)| {
            let task_id = TaskId(id);
            let name = names.get(&id).cloned().unwrap_or_else(|| default_name(task_id));
            ObjectEntry { task_id, name, version }
        })
        .collect())
}

/// The names clients gave the tasks `ids` (those without one are left out).
fn names_of(conn: &mut AnyConnection, ids: &[i64]) -> Result<HashMap<i64, String>, RepositoryError> {
    let mut names = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(1_000) {
        let rows = calendar_objects::table
            .filter(calendar_objects::task_id.eq_any(chunk))
            .select((calendar_objects::task_id, calendar_objects::name))
            .load::<(i64, String)>(conn)
            .map_err(db)?;
        names.extend(rows);
    }
    Ok(names)
}

/// One row of the log after a token.
struct Logged {
    seq: i64,
    task_id: i64,
    gone_name: Option<String>,
}

/// The log of `calendar` after `since`, at most `limit` rows (all of them for `None`).
fn logged_after(
    conn: &mut AnyConnection,
    calendar: CalendarId,
    since: i64,
    limit: Option<usize>,
) -> Result<Vec<Logged>, RepositoryError> {
    let mut q = calendar_changes::table
        .filter(calendar_changes::calendar.eq(calendar.key()))
        .filter(calendar_changes::seq.gt(since))
        .order(calendar_changes::seq)
        .select((calendar_changes::seq.assume_not_null(), calendar_changes::task_id, calendar_changes::gone_name))
        .into_boxed();
    if let Some(limit) = limit {
        q = q.limit(i64::try_from(limit).unwrap_or(i64::MAX));
    }
    let rows = q.load::<(i64, i64, Option<String>)>(conn).map_err(db)?;
    Ok(rows.into_iter().map(|(seq, task_id, gone_name)| Logged { seq, task_id, gone_name }).collect())
}

/// What the logged rows report, read from the tasks as they are now: each task once, changed if
/// it is in the calendar (and, when a name of it was given up, that name removed), removed under
/// its last name there otherwise.
fn resolve(conn: &mut AnyConnection, calendar: CalendarId, logged: &[Logged]) -> Result<Vec<Change>, RepositoryError> {
    let mut order: Vec<i64> = Vec::new();
    let mut gone: HashMap<i64, Vec<String>> = HashMap::new();
    for row in logged {
        if !gone.contains_key(&row.task_id) {
            order.push(row.task_id);
        }
        let names = gone.entry(row.task_id).or_default();
        if let Some(name) = &row.gone_name {
            names.push(name.clone());
        }
    }
    let present: HashMap<i64, i64> = present(conn, calendar, &order)?.into_iter().collect();
    let names = names_of(conn, &order)?;
    let mut changes = Vec::with_capacity(order.len());
    for id in order {
        let task_id = TaskId(id);
        let current = names.get(&id).cloned();
        let given_up = gone.remove(&id).unwrap_or_default();
        match present.get(&id) {
            Some(&version) => {
                let name = current.unwrap_or_else(|| default_name(task_id));
                let mut seen = HashSet::new();
                for old in given_up.into_iter().filter(|old| *old != name) {
                    if seen.insert(old.clone()) {
                        changes.push(Change::Removed { name: old });
                    }
                }
                changes.push(Change::Changed(ObjectEntry { task_id, name, version }));
            }
            None => {
                // Deleted: the name it had when it went. Moved or unassigned: the name it has.
                let name = given_up.last().cloned().or(current).unwrap_or_else(|| default_name(task_id));
                changes.push(Change::Removed { name });
            }
        }
    }
    Ok(changes)
}

#[async_trait]
impl CalendarStore for DieselCalendarStore {
    async fn projects_of(&self, user: UserId) -> Result<Vec<(ProjectId, ProjectRole, String)>, RepositoryError> {
        self.db
            .run(move |conn| {
                let rows = project_members::table
                    .inner_join(projects::table)
                    .filter(project_members::user_id.eq(user.0))
                    .select((projects::id, project_members::role, projects::name))
                    .load::<(i64, String, String)>(conn)
                    .map_err(db)?;
                rows.into_iter()
                    .map(|(id, role, name)| {
                        let role = ProjectRole::parse(&role).map_err(|e| corrupt("project_members.role", e))?;
                        Ok((ProjectId(id), role, name))
                    })
                    .collect()
            })
            .await
    }

    async fn listing(
        &self,
        calendar: CalendarId,
        limit: Option<usize>,
    ) -> Result<(Vec<ObjectEntry>, SyncToken), RepositoryError> {
        self.db
            .run(move |conn| {
                number_committed(conn)?;
                read_snapshot(conn, |conn| {
                    // One more than asked tells whether the listing stops short.
                    let mut entries = entries(conn, calendar, None, limit.map(|l| l + 1))?;
                    let seq = last_change(conn, calendar)?;
                    let after = match limit {
                        Some(limit) if entries.len() > limit => {
                            entries.truncate(limit);
                            entries.last().map(|e| e.task_id)
                        }
                        _ => None,
                    };
                    Ok((entries, SyncToken { seq, after }))
                })
            })
            .await
    }

    async fn token(&self, calendar: CalendarId) -> Result<SyncToken, RepositoryError> {
        self.db
            .run(move |conn| {
                number_committed(conn)?;
                Ok(SyncToken::at(last_change(conn, calendar)?))
            })
            .await
    }

    async fn changes(
        &self,
        calendar: CalendarId,
        since: SyncToken,
        limit: usize,
    ) -> Result<Option<ChangesSince>, RepositoryError> {
        self.db
            .run(move |conn| {
                number_committed(conn)?;
                read_snapshot(conn, |conn| {
                    let last = last_change(conn, calendar)?;
                    if since.seq > last {
                        return Ok(None);
                    }
                    match since.after {
                        None => {
                            let mut logged = logged_after(conn, calendar, since.seq, Some(limit + 1))?;
                            let truncated = logged.len() > limit;
                            logged.truncate(limit);
                            let seq = if truncated { logged.last().map_or(since.seq, |l| l.seq) } else { last };
                            let changes = resolve(conn, calendar, &logged)?;
                            Ok(Some(ChangesSince { changes, token: SyncToken::at(seq), truncated }))
                        }
                        Some(after) => {
                            // The listing goes on after `after`, as it is now; of what it already
                            // gave, what changed since it began.
                            let logged: Vec<Logged> = logged_after(conn, calendar, since.seq, None)?
                                .into_iter()
                                .filter(|l| l.task_id <= after.0)
                                .collect();
                            let mut changes = resolve(conn, calendar, &logged)?;
                            let mut rest = entries(conn, calendar, Some(after), Some(limit + 1))?;
                            let truncated = rest.len() > limit;
                            rest.truncate(limit);
                            let after = if truncated { rest.last().map(|e| e.task_id) } else { None };
                            changes.extend(rest.into_iter().map(Change::Changed));
                            Ok(Some(ChangesSince { changes, token: SyncToken { seq: last, after }, truncated }))
                        }
                    }
                })
            })
            .await
    }

    async fn named(&self, calendar: CalendarId, name: &str) -> Result<Option<TaskId>, RepositoryError> {
        let name = name.to_owned();
        self.db
            .run(move |conn| {
                // The tasks a client gave this name, then which of them is here: lookups by key.
                // (One statement with the name as a subquery let SQLite walk every task of the
                // user's calendar instead, once per PUT.)
                let named: Vec<i64> = calendar_objects::table
                    .filter(calendar_objects::name.eq(&name))
                    .select(calendar_objects::task_id)
                    .load(conn)
                    .map_err(db)?;
                if let Some((id, _)) = present(conn, calendar, &named)?.first() {
                    return Ok(Some(TaskId(*id)));
                }
                // A default name designates its task while no client gave it another.
                let Some(id) = default_id(&name) else { return Ok(None) };
                let named_otherwise = calendar_objects::table.filter(calendar_objects::task_id.eq(id));
                tasks_of(calendar)
                    .filter(tasks::id.eq(id))
                    .filter(diesel::dsl::not(diesel::dsl::exists(named_otherwise)))
                    .select(tasks::id)
                    .first::<i64>(conn)
                    .optional()
                    .map(|id| id.map(TaskId))
                    .map_err(db)
            })
            .await
    }

    async fn named_all(
        &self,
        calendar: CalendarId,
        names: Vec<String>,
    ) -> Result<Vec<(String, TaskId)>, RepositoryError> {
        self.db
            .run(move |conn| {
                let mut found = Vec::with_capacity(names.len());
                for chunk in names.chunks(1_000) {
                    // The names clients gave, then the default names of tasks no client named.
                    let kept = calendar_objects::table
                        .filter(calendar_objects::name.eq_any(chunk))
                        .select((calendar_objects::name, calendar_objects::task_id))
                        .load::<(String, i64)>(conn)
                        .map_err(db)?;
                    let defaults: Vec<(String, i64)> =
                        chunk.iter().filter_map(|name| default_id(name).map(|id| (name.clone(), id))).collect();
                    let default_ids: Vec<i64> = defaults.iter().map(|(_, id)| *id).collect();
                    let named_otherwise: HashSet<i64> = calendar_objects::table
                        .filter(calendar_objects::task_id.eq_any(&default_ids))
                        .select(calendar_objects::task_id)
                        .load::<i64>(conn)
                        .map_err(db)?
                        .into_iter()
                        .collect();
                    let candidates: Vec<(String, i64)> = kept
                        .into_iter()
                        .chain(defaults.into_iter().filter(|(_, id)| !named_otherwise.contains(id)))
                        .collect();
                    let ids: Vec<i64> = candidates.iter().map(|(_, id)| *id).collect();
                    let here: HashSet<i64> = present(conn, calendar, &ids)?.into_iter().map(|(id, _)| id).collect();
                    found.extend(
                        candidates.into_iter().filter(|(_, id)| here.contains(id)).map(|(name, id)| (name, TaskId(id))),
                    );
                }
                Ok(found)
            })
            .await
    }

    async fn with_uid(&self, calendar: CalendarId, uid: &str) -> Result<Option<ObjectEntry>, RepositoryError> {
        let uid = uid.to_owned();
        self.db
            .run(move |conn| {
                let kept = tasks_of(calendar)
                    .inner_join(calendar_objects::table)
                    .filter(calendar_objects::uid.eq(&uid))
                    .select((tasks::id, tasks::version, calendar_objects::name))
                    .first::<(i64, i64, String)>(conn)
                    .optional()
                    .map_err(db)?;
                if let Some((id, version, name)) = kept {
                    return Ok(Some(ObjectEntry { task_id: TaskId(id), name, version }));
                }
                let Some(id) = default_uid_id(&uid) else { return Ok(None) };
                let named_otherwise = calendar_objects::table.filter(calendar_objects::task_id.eq(id));
                let version = tasks_of(calendar)
                    .filter(tasks::id.eq(id))
                    .filter(diesel::dsl::not(diesel::dsl::exists(named_otherwise)))
                    .select(tasks::version)
                    .first::<i64>(conn)
                    .optional()
                    .map_err(db)?;
                Ok(version.map(|version| ObjectEntry { task_id: TaskId(id), name: default_name(TaskId(id)), version }))
            })
            .await
    }

    async fn objects(
        &self,
        calendar: CalendarId,
        ids: Option<Vec<TaskId>>,
    ) -> Result<Vec<(Task, Option<CalendarObject>)>, RepositoryError> {
        self.db
            .run(move |conn| {
                let ids = match ids.clone() {
                    Some(ids) => ids,
                    None => members(conn, calendar, None, None)?.into_iter().map(|(id, _)| TaskId(id)).collect(),
                };
                let mut rows: Vec<TaskRow> = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(1_000) {
                    let chunk: Vec<i64> = chunk.iter().map(|id| id.0).collect();
                    let q = tasks::table.filter(tasks::id.eq_any(chunk)).order(tasks::id);
                    let read = q.select(TaskRow::as_select()).load::<TaskRow>(conn).map_err(db)?;
                    rows.extend(
                        read.into_iter().filter(|r| belongs(calendar, r.project_id, r.owner_id, r.assignee_id)),
                    );
                }
                let mut kept: HashMap<i64, CalendarObject> = HashMap::new();
                let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                for chunk in ids.chunks(1_000) {
                    let objects = calendar_objects::table
                        .filter(calendar_objects::task_id.eq_any(chunk))
                        .select((
                            calendar_objects::task_id,
                            calendar_objects::uid,
                            calendar_objects::name,
                            calendar_objects::source,
                        ))
                        .load::<(i64, String, String, String)>(conn)
                        .map_err(db)?;
                    kept.extend(objects.into_iter().map(|(id, uid, name, source)| {
                        (id, CalendarObject { task_id: TaskId(id), uid, name, source })
                    }));
                }
                rows.into_iter()
                    .map(|row| {
                        let object = kept.remove(&row.id);
                        Ok((row.into_task()?, object))
                    })
                    .collect()
            })
            .await
    }

    async fn uids(&self, ids: Vec<TaskId>) -> Result<Vec<(TaskId, String)>, RepositoryError> {
        let ids: Vec<i64> = ids.into_iter().map(|id| id.0).collect();
        self.db
            .run(move |conn| {
                let found: Vec<(i64, Option<String>)> = tasks::table
                    .left_join(calendar_objects::table)
                    .filter(tasks::id.eq_any(&ids))
                    .select((tasks::id, calendar_objects::uid.nullable()))
                    .load(conn)
                    .map_err(db)?;
                Ok(found
                    .into_iter()
                    .map(|(id, uid)| {
                        (TaskId(id), uid.unwrap_or_else(|| format!("{}{id}", workbench_calendars::DEFAULT_NAME_PREFIX)))
                    })
                    .collect())
            })
            .await
    }

    async fn mentioning(&self, calendar: CalendarId, uid: String) -> Result<Vec<(TaskId, String)>, RepositoryError> {
        self.db
            .run(move |conn| {
                let found: Vec<(i64, String)> = tasks_of(calendar)
                    .inner_join(calendar_objects::table)
                    .filter(calendar_objects::source.like(crate::like::contains_pattern(&uid)).escape('\\'))
                    .filter(tasks::parent_id.is_null())
                    .select((tasks::id, calendar_objects::source))
                    .limit(1_000)
                    .load(conn)
                    .map_err(db)?;
                Ok(found.into_iter().map(|(id, source)| (TaskId(id), source)).collect())
            })
            .await
    }

    async fn keep(&self, object: CalendarObject) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let id = object.task_id.0;
                    let task = tasks::table.find(id).select(TaskRow::as_select()).first::<TaskRow>(conn).optional();
                    let Some(task) = task.map_err(db)? else { return Ok(()) };
                    let task = task.into_task()?;
                    let previous = calendar_objects::table
                        .find(id)
                        .select(calendar_objects::name)
                        .first::<String>(conn)
                        .optional()
                        .map_err(db)?;
                    let given_up = previous.clone().unwrap_or_else(|| default_name(object.task_id));
                    let values = (
                        calendar_objects::uid.eq(&object.uid),
                        calendar_objects::name.eq(&object.name),
                        calendar_objects::source.eq(&object.source),
                    );
                    if previous.is_some() {
                        diesel::update(calendar_objects::table.find(id)).set(values).execute(conn).map_err(db)?;
                    } else {
                        diesel::insert_into(calendar_objects::table)
                            .values((calendar_objects::task_id.eq(id), values.0, values.1, values.2))
                            .execute(conn)
                            .map_err(db)?;
                    }
                    if given_up != object.name {
                        // Every calendar the task shows in learns that the old name is gone.
                        for calendar in calendars_of(&task) {
                            diesel::insert_into(calendar_changes::table)
                                .values((
                                    calendar_changes::calendar.eq(calendar),
                                    calendar_changes::task_id.eq(id),
                                    calendar_changes::gone_name.eq(Some(&given_up)),
                                ))
                                .execute(conn)
                                .map_err(db)?;
                        }
                        if let AnyConnection::Sqlite(sqlite) = conn {
                            // Numbered as SQLite's triggers number theirs: by id, the commit order.
                            sqlite
                                .batch_execute("UPDATE calendar_changes SET seq = id WHERE seq IS NULL")
                                .map_err(db)?;
                        }
                    }
                    Ok(())
                })
            })
            .await
    }
}

/// The task a default name (`workbench-task-<id>.ics`) designates.
fn default_id(name: &str) -> Option<i64> {
    let id = name.strip_prefix(workbench_calendars::DEFAULT_NAME_PREFIX)?.strip_suffix(".ics")?;
    canonical_id(id)
}

/// The task a default UID (`workbench-task-<id>`) designates.
fn default_uid_id(uid: &str) -> Option<i64> {
    canonical_id(uid.strip_prefix(workbench_calendars::DEFAULT_NAME_PREFIX)?)
}

/// An id written as the store writes it: digits, no sign, no leading zero.
fn canonical_id(digits: &str) -> Option<i64> {
    let canonical = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    canonical.then(|| digits.parse().ok()).flatten()
}
