//! Task creates and updates as group commit's writes: a batch shares one transaction, and on
//! PostgreSQL counts itself.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use workbench_core::RepositoryError;
use workbench_events::TaskEvent;
use workbench_tasks::{Status, Task, TaskId, next_occurrence};

use super::counts::{CountChanges, Counted};
use super::statements::{EventValues, batch, insert_follow_up, insert_recorded, update_recorded};
use super::structure::dependants_of;
use crate::AnyConnection;
use crate::database::write_transaction;
use crate::group_commit::Write;

/// A task write that may share its transaction with others (see `group_commit`): the creates
/// and the first attempt of each update, which is nearly always the only one.
pub(super) enum TaskWrite {
    /// A new task (its id not yet known) and its `task.created` event.
    Create { task: Task, event: EventValues },
    /// `task` if the stored version is still `expected_version` (at which it was `before`), and
    /// its `task.updated` event; then `follow_up`, the next occurrence of a recurring task it
    /// completes.
    Update { task: Task, before: Counted, expected_version: i64, event: EventValues, follow_up: Option<Box<Task>> },
}

pub(super) enum TaskWritten {
    Created(Task),
    Updated {
        /// Whether the version was still the expected one.
        applied: bool,
        /// The next occurrence stored with it.
        follow_up: Option<Task>,
        /// The tasks that changed with it, when it completed or reopened the task (see
        /// [`reblocks`]).
        dependants: Vec<TaskId>,
    },
}

/// Whether writing a task at `after` over its stored `before` completes or reopens it: the store
/// then changes the tasks it blocks with it (trigger `tasks_blocking_status`), and its subtasks show it.
pub(super) fn reblocks(before: Status, after: Status) -> bool {
    (before == Status::Completed) != (after == Status::Completed)
}

impl TaskWrite {
    pub(super) fn create(task: Task) -> Self {
        let event = EventValues::of(TaskEvent::Created, &task, task.created_at.naive_utc());
        Self::Create { task, event }
    }

    /// `task` written over `before`, and the next occurrence if the change completes a recurring task.
    pub(super) fn update(task: Task, before: &Task) -> Self {
        let event = EventValues::of(TaskEvent::Updated, &task, task.updated_at.naive_utc());
        let follow_up = next_occurrence(before, &task).map(Box::new);
        Self::Update { task, before: Counted::of(before), expected_version: before.version, event, follow_up }
    }

    fn task(&self) -> &Task {
        match self {
            Self::Create { task, .. } | Self::Update { task, .. } => task,
        }
    }

    fn event(&self) -> &EventValues {
        match self {
            Self::Create { event, .. } | Self::Update { event, .. } => event,
        }
    }

    /// The write, with `event` (its own, with its audience) for the outbox.
    fn apply_with(&self, conn: &mut AnyConnection, event: &EventValues) -> Result<TaskWritten, RepositoryError> {
        match self {
            Self::Create { task, .. } => insert_recorded(conn, task, event).map(TaskWritten::Created),
            Self::Update { task, expected_version, follow_up, .. } => {
                let applied = update_recorded(conn, task, *expected_version, event)?;
                let follow_up = match follow_up.as_deref().filter(|_| applied) {
                    Some(next) => insert_follow_up(conn, next)?,
                    None => None,
                };
                Ok(TaskWritten::Updated { applied, follow_up, dependants: Vec::new() })
            }
        }
    }

    /// Adds what the write did, as `written`, to the counters' changes.
    fn count(&self, written: &TaskWritten, changes: &mut CountChanges) {
        match (self, written) {
            (_, TaskWritten::Created(task)) => changes.add(Counted::of(task), 1),
            (Self::Update { task, before, .. }, TaskWritten::Updated { applied: true, follow_up, .. }) => {
                changes.add(*before, -1);
                changes.add(Counted::of(task), 1);
                if let Some(next) = follow_up {
                    changes.add(Counted::of(next), 1);
                }
            }
            (_, TaskWritten::Updated { applied: false, .. }) | (Self::Create { .. }, TaskWritten::Updated { .. }) => {}
        }
    }

    /// The task's id, if `written` says this update applied and completed or reopened it.
    fn reblocking(&self, written: &TaskWritten) -> Option<i64> {
        match (self, written) {
            (Self::Update { task, before, .. }, TaskWritten::Updated { applied: true, .. })
                if reblocks(before.status(), task.status) =>
            {
                Some(task.id.0)
            }
            _ => None,
        }
    }
}

/// Fills in the dependants of every write in `outputs` that completed or reopened its task, with
/// one statement on the batch's connection (none when no write did): read where the change was
/// made, they cost the caller no round trip of its own.
fn find_dependants(
    conn: &mut AnyConnection,
    writes: &[TaskWrite],
    outputs: &mut [TaskWritten],
) -> Result<(), RepositoryError> {
    let reblocking: Vec<i64> = writes.iter().zip(outputs.iter()).filter_map(|(w, o)| w.reblocking(o)).collect();
    if reblocking.is_empty() {
        return Ok(());
    }
    let mut by_task: HashMap<i64, Vec<TaskId>> = HashMap::new();
    for (id, dependant) in dependants_of(conn, &reblocking)? {
        by_task.entry(id).or_default().push(dependant);
    }
    for (write, output) in writes.iter().zip(outputs.iter_mut()) {
        if let (Some(id), TaskWritten::Updated { dependants, .. }) = (write.reblocking(output), &mut *output) {
            dependants.clone_from(by_task.get(&id).unwrap_or(&Vec::new()));
        }
    }
    Ok(())
}

impl Write for TaskWrite {
    type Output = TaskWritten;

    /// The batch counts itself (see [`CountChanges`]): the count triggers skip the rows of a
    /// transaction that set `workbench.counted`, set with its `BEGIN`, in one round trip. And
    /// every statement of a batch reaches its rows by key (the tasks and events it writes, their
    /// projects' members, the dependants of those it completes or reopens), so sequential scans
    /// are ruled out, as in `database::write_by_key`: without statistics PostgreSQL joined a
    /// batch's updates to the whole table, and read every task to find a batch's subtasks.
    const BEGIN_POSTGRES: &'static str = "BEGIN; SET LOCAL workbench.counted = 'on'; SET LOCAL enable_seqscan = off";

    fn apply(&self, conn: &mut AnyConnection) -> Result<TaskWritten, RepositoryError> {
        let event = self.event().for_members(conn, self.task())?;
        let mut written = [self.apply_with(conn, &event)?];
        find_dependants(conn, std::slice::from_ref(self), &mut written)?;
        let [written] = written;
        Ok(written)
    }

    /// On PostgreSQL, the batch's creates are one statement and its updates another (see
    /// `statements::batch`), and the batch counts itself in the transaction
    /// [`Self::BEGIN_POSTGRES`] began. What one statement
    /// cannot take runs after them one by one: a task's second update in the batch, an update
    /// that may make a next occurrence, and a lone create or update.
    fn apply_together(conn: &mut AnyConnection, writes: &[Self]) -> Result<Vec<TaskWritten>, RepositoryError> {
        if matches!(conn, AnyConnection::Sqlite(_)) {
            return writes.iter().map(|write| write.apply(conn)).collect();
        }
        // Each with its audience, a project's members as they are in this transaction.
        let events =
            writes.iter().map(|write| write.event().for_members(conn, write.task())).collect::<Result<Vec<_>, _>>()?;
        let mut written: Vec<Option<TaskWritten>> = writes.iter().map(|_| None).collect();
        if let AnyConnection::Postgresql(pg) = conn {
            create_together(pg, writes, &events, &mut written)?;
            update_together(pg, writes, &events, &mut written)?;
        }
        let mut changes = CountChanges::default();
        let mut outputs = Vec::with_capacity(writes.len());
        for ((write, event), output) in writes.iter().zip(&events).zip(written) {
            let output = match output {
                Some(output) => output,
                None => write.apply_with(conn, event)?,
            };
            write.count(&output, &mut changes);
            outputs.push(output);
        }
        if let AnyConnection::Postgresql(pg) = conn {
            changes.append(pg)?;
        }
        find_dependants(conn, writes, &mut outputs)?;
        Ok(outputs)
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

/// The batch's creates, if more than one, as one statement: their outcomes into `written`.
fn create_together(
    conn: &mut PgConnection,
    writes: &[TaskWrite],
    events: &[Cow<'_, EventValues>],
    written: &mut [Option<TaskWritten>],
) -> Result<(), RepositoryError> {
    let creates: Vec<usize> = (0..writes.len()).filter(|&i| matches!(writes[i], TaskWrite::Create { .. })).collect();
    if creates.len() > 1 {
        let rows: Vec<_> = creates.iter().map(|&i| (writes[i].task(), &*events[i])).collect();
        for (&i, created) in creates.iter().zip(batch::insert_tasks(conn, &rows)?) {
            written[i] = Some(TaskWritten::Created(created));
        }
    }
    Ok(())
}

/// If the batch holds more than one update: locks every updated task, in id order, and applies
/// the first update of each task that cannot make a next occurrence, as one statement; their
/// outcomes into `written`. The others run after it, one by one, on rows already locked.
fn update_together(
    conn: &mut PgConnection,
    writes: &[TaskWrite],
    events: &[Cow<'_, EventValues>],
    written: &mut [Option<TaskWritten>],
) -> Result<(), RepositoryError> {
    let locked: Vec<i64> = writes
        .iter()
        .filter_map(|write| match write {
            TaskWrite::Update { task, .. } => Some(task.id.0),
            TaskWrite::Create { .. } => None,
        })
        .collect();
    if locked.len() < 2 {
        return Ok(());
    }
    let mut seen = HashSet::new();
    let (together, rows): (Vec<usize>, Vec<_>) = writes
        .iter()
        .enumerate()
        .filter_map(|(i, write)| match write {
            TaskWrite::Update { task, expected_version, follow_up: None, .. } if seen.insert(task.id.0) => {
                Some((i, (task, *expected_version, &*events[i])))
            }
            _ => None,
        })
        .unzip();
    let applied = batch::update_tasks(conn, locked, &rows)?;
    for i in together {
        let applied = applied.contains(&writes[i].task().id.0);
        written[i] = Some(TaskWritten::Updated { applied, follow_up: None, dependants: Vec::new() });
    }
    Ok(())
}
