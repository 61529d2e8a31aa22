//! Reminders of tasks: at a moment (`at`), or a span before the task's due date (`before_due`,
//! moving with it), told once to the task's owner and assignee as a `reminder` notification;
//! and `due_soon`, the reminder every task with a due date has by itself, 24 hours before it.
//!
//! The store keeps when each fires next (a relative one follows the due date, however it
//! changes) and hands what is due to exactly one sweep, whatever the number of instances
//! sweeping (see [`ReminderRepository::claim_due`]); a sweep runs every minute from the
//! schedule, and at a new reminder's moment from the queue (see [`ReminderWake`]).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use workbench_core::{RepositoryError, TypeFailures, Validator, parse_duration};
use workbench_tasks::{Status, Task, TaskId, TaskService};
use workbench_users::UserId;

use crate::error::NotificationError;
use crate::model::Kind;
use crate::tasks::TaskNotices;

/// The most reminders a task holds (`due_soon` aside).
pub const MAX_REMINDERS: usize = 10;

/// The longest span before a due date a reminder may be set at: a year.
const MAX_BEFORE_DUE: TimeDelta = TimeDelta::days(366);

/// How many due reminders one sweep's statement claims; a sweep claims until none is left.
pub const SWEEP_BATCH: u32 = 200;

/// A reminder's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ReminderId(pub i64);

/// A task's reminder as its readers see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reminder {
    /// Its id.
    pub id: ReminderId,
    /// The task it reminds of.
    pub task_id: i64,
    /// The moment of an absolute reminder.
    pub at: Option<DateTime<Utc>>,
    /// The span before the due date of a relative one, as the client wrote it (`P1D`).
    pub before_due: Option<String>,
    /// When it fires next: `null` once fired, and for a relative one while the task has no
    /// due date.
    pub fires_at: Option<DateTime<Utc>>,
    /// When it fired (`null` until then; again `null` when a moved due date re-arms it).
    pub fired_at: Option<DateTime<Utc>>,
    /// When it was set.
    pub created_at: DateTime<Utc>,
}

/// When a new reminder fires: at a moment, or a span before the due date.
#[derive(Debug, Clone, PartialEq)]
pub enum Moment {
    /// At this moment.
    At(DateTime<Utc>),
    /// This long before the task's due date: the text as written, and the span.
    BeforeDue(String, TimeDelta),
}

/// A reminder to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReminder {
    /// The task.
    pub task_id: TaskId,
    /// When it fires.
    pub moment: Moment,
    /// When it fires first (`None`: a relative one of a task without a due date).
    pub fire_at: Option<DateTime<Utc>>,
    /// Who set it.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What a reminder that has come tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueKind {
    /// One a user set.
    Reminder,
    /// The task's own, 24 hours before its due date.
    DueSoon,
}

/// A reminder claimed by a sweep: its to tell, once.
#[derive(Debug, Clone, PartialEq)]
pub struct DueReminder {
    /// The reminder.
    pub id: ReminderId,
    /// Its task.
    pub task_id: TaskId,
    /// Which kind.
    pub kind: DueKind,
}

/// A reminder as the client sent it, not yet checked.
#[derive(Debug, Clone, Default)]
pub struct ReminderDraft {
    /// An RFC 3339 moment.
    pub at: Option<String>,
    /// An ISO 8601 duration (`P1D`, `PT2H`, `P1DT12H`, `P1W`).
    pub before_due: Option<String>,
    /// Fields the client sent with the wrong JSON type.
    pub type_failures: TypeFailures,
}

/// Where reminders are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ReminderRepository: Send + Sync {
    /// Stores `reminder` unless its task holds `max` reminders already (checked in the writing
    /// transaction, so two at once cannot make an eleventh); `None` then.
    async fn add(&self, reminder: NewReminder, max: usize) -> Result<Option<Reminder>, RepositoryError>;

    /// The reminders of `task` users set, oldest first.
    async fn of_task(&self, task: TaskId) -> Result<Vec<Reminder>, RepositoryError>;

    /// Deletes reminder `id` of `task`; whether there was one.
    async fn remove(&self, task: TaskId, id: ReminderId) -> Result<bool, RepositoryError>;

    /// Marks fired, at `now`, up to `limit` reminders due by `now` and not fired; those it
    /// marked. One statement: two sweeps at once never claim the same reminder.
    async fn claim_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<DueReminder>, RepositoryError>;
}

/// Wakes a sweep at a moment (the jobs queue): a new reminder fires on time, not at the next
/// minute's sweep.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ReminderWake: Send + Sync {
    /// Queues a sweep at `at`.
    async fn sweep_at(&self, at: DateTime<Utc>) -> Result<(), RepositoryError>;
}

/// Reminders: setting them on a task, and telling those that have come.
#[derive(Clone)]
pub struct Reminders {
    store: Arc<dyn ReminderRepository>,
    wake: Arc<dyn ReminderWake>,
    tasks: TaskService,
    notices: Arc<TaskNotices>,
}

impl std::fmt::Debug for Reminders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reminders").finish_non_exhaustive()
    }
}

impl Reminders {
    /// Reminders kept in `store`, woken by `wake`, of the tasks of `tasks`, told through
    /// `notices`.
    pub fn new(
        store: Arc<dyn ReminderRepository>,
        wake: Arc<dyn ReminderWake>,
        tasks: TaskService,
        notices: Arc<TaskNotices>,
    ) -> Self {
        Self { store, wake, tasks, notices }
    }

    /// Sets a reminder on `task` (whose access the caller checked): `at` a moment to come, or
    /// `before_due` a positive span of at most a year. A task holds at most
    /// [`MAX_REMINDERS`]: one more is refused (422).
    pub async fn add(&self, by: UserId, task: &Task, draft: ReminderDraft) -> Result<Reminder, NotificationError> {
        let now = Utc::now();
        let moment = moment(draft, now)?;
        let fire_at = match &moment {
            Moment::At(at) => Some(*at),
            Moment::BeforeDue(_, span) => task.due_date.map(|due| due - *span),
        };
        let new = NewReminder { task_id: task.id, moment, fire_at, created_by: by, created_at: now };
        let reminder = self.store.add(new, MAX_REMINDERS).await?.ok_or_else(|| {
            workbench_core::FieldErrors::single("reminders", format!("a task holds at most {MAX_REMINDERS} reminders"))
        })?;
        if let Some(at) = reminder.fires_at.filter(|at| *at > now)
            && let Err(e) = self.wake.sweep_at(at).await
        {
            // The minute's sweep fires it all the same.
            tracing::warn!(error = %e, "a reminder's sweep was not queued");
        }
        Ok(reminder)
    }

    /// The reminders set on `task`, oldest first.
    pub async fn of_task(&self, task: &Task) -> Result<Vec<Reminder>, NotificationError> {
        Ok(self.store.of_task(task.id).await?)
    }

    /// Deletes reminder `id` of `task` (404 when it has none of that id).
    pub async fn remove(&self, task: &Task, id: ReminderId) -> Result<(), NotificationError> {
        if self.store.remove(task.id, id).await? { Ok(()) } else { Err(NotificationError::NotFound) }
    }

    /// Tells every reminder due by now, each once (claimed first: a sweep on another instance
    /// gets the others): `reminder` to the task's owner and assignee, `due_soon` too while the
    /// task is open and still due later. A completed task reminds no one. How many were told.
    pub async fn fire_due(&self) -> Result<u64, NotificationError> {
        let mut told = 0;
        loop {
            let now = Utc::now();
            let due = self.store.claim_due(now, SWEEP_BATCH).await?;
            let claimed = due.len();
            for reminder in due {
                match self.fire(&reminder, now).await {
                    Ok(true) => told += 1,
                    Ok(false) => {}
                    // Claimed, so not told again: a notice lost rather than told twice.
                    Err(e) => tracing::warn!(error = %e, reminder = reminder.id.0, "a reminder was not told"),
                }
            }
            if claimed < SWEEP_BATCH as usize {
                return Ok(told);
            }
        }
    }

    async fn fire(&self, reminder: &DueReminder, now: DateTime<Utc>) -> Result<bool, NotificationError> {
        let Some(task) =
            self.tasks.find(reminder.task_id).await.map_err(|e| NotificationError::Unavailable(e.into()))?
        else {
            return Ok(false);
        };
        if task.status == Status::Completed {
            return Ok(false);
        }
        let (kind, title) = match reminder.kind {
            DueKind::Reminder => (Kind::Reminder, format!("Reminder: \u{201c}{}\u{201d}", task.title)),
            DueKind::DueSoon => {
                if task.due_date.is_none_or(|due| due <= now) {
                    return Ok(false);
                }
                (Kind::DueSoon, format!("\u{201c}{}\u{201d} is due soon", task.title))
            }
        };
        let body = task.due_date.map(|due| format!("Due {}", due.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
        self.notices.remind(&task, kind, title, body).await?;
        Ok(true)
    }
}

/// The draft's moment, or every failure named.
fn moment(draft: ReminderDraft, now: DateTime<Utc>) -> Result<Moment, NotificationError> {
    let mut v = Validator::seeded(draft.type_failures);
    let moment = match (draft.at, draft.before_due) {
        (Some(at), None) => match DateTime::parse_from_rfc3339(&at) {
            Ok(at) if at.with_timezone(&Utc) > now => Some(Moment::At(at.with_timezone(&Utc))),
            Ok(_) => {
                v.fail("at", "must be in the future");
                None
            }
            Err(_) => {
                v.fail("at", "must be an RFC 3339 date-time (2026-12-01T09:00:00Z)");
                None
            }
        },
        (None, Some(text)) => match parse_duration(&text) {
            Some(span) if span > TimeDelta::zero() && span <= MAX_BEFORE_DUE => Some(Moment::BeforeDue(text, span)),
            Some(_) => {
                v.fail("before_due", "must be a positive span of at most a year");
                None
            }
            None => {
                v.fail(
                    "before_due",
                    "must be an ISO 8601 duration of weeks, days, hours, minutes or seconds (P1D, PT2H)",
                );
                None
            }
        },
        (Some(_), Some(_)) => {
            v.fail("at", "give either `at` or `before_due`, not both");
            None
        }
        (None, None) => {
            v.fail("at", "give `at` (a moment) or `before_due` (a span before the due date)");
            None
        }
    };
    v.finish()?;
    moment.ok_or_else(|| NotificationError::Validation(workbench_core::FieldErrors::single("at", "is required")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(at: Option<&str>, before: Option<&str>) -> ReminderDraft {
        ReminderDraft { at: at.map(Into::into), before_due: before.map(Into::into), ..ReminderDraft::default() }
    }

    fn refused(d: ReminderDraft) -> workbench_core::FieldErrors {
        match moment(d, Utc::now()) {
            Err(NotificationError::Validation(errors)) => errors,
            other => panic!("refused, got {other:?}"),
        }
    }

    #[test]
    fn a_moment_is_either_absolute_and_to_come_or_a_span_before_the_due_date() {
        assert!(matches!(moment(draft(Some("2999-01-01T09:00:00Z"), None), Utc::now()), Ok(Moment::At(_))));
        let Ok(Moment::BeforeDue(text, span)) = moment(draft(None, Some("P1DT2H")), Utc::now()) else { panic!() };
        assert_eq!((text.as_str(), span.num_seconds()), ("P1DT2H", 93_600));
        assert!(refused(draft(Some("2001-01-01T09:00:00Z"), None)).contains("at"));
        assert!(refused(draft(Some("tomorrow"), None)).contains("at"));
        assert!(refused(draft(None, Some("P1M"))).contains("before_due"));
        assert!(refused(draft(None, Some("-P1D"))).contains("before_due"));
        assert!(refused(draft(None, Some("P400D"))).contains("before_due"));
        assert!(refused(draft(Some("2999-01-01T09:00:00Z"), Some("P1D"))).contains("at"));
        assert!(refused(draft(None, None)).contains("at"));
    }
}
