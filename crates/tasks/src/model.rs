//! Tasks and the values they are made of.

use std::collections::BTreeSet;

use crate::RawFieldValues;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use workbench_core::{BoundedText, FieldErrors, TypeFailures, Validator, at_most_chars};
use workbench_projects::{ProjectId, ProjectRole};

use crate::{BucketId, FieldValues, Recurrence};
use workbench_users::{Principal, Role, UserId};

/// A task's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub i64);

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not started.
    Pending,
    /// Started, not finished.
    InProgress,
    /// Done: `completed_at` says when.
    Completed,
}

impl Status {
    /// Every status, in the order a task moves through them.
    pub const ALL: [Status; 3] = [Status::Pending, Status::InProgress, Status::Completed];

    /// The status's name on the wire and in the database (`in_progress`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
        }
    }

    /// The status named `s`, or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not one of pending, in_progress, completed"))
    }
}

/// How much a task matters. The derived order is the rank: `low < medium < high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Can wait.
    Low,
    /// The default.
    Medium,
    /// Comes first.
    High,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Priority; 3] = [Priority::Low, Priority::Medium, Priority::High];

    /// The priority's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }

    /// The rank stored alongside the name, so that sorting by priority is sorting by rank.
    pub fn rank(self) -> i16 {
        match self {
            Priority::Low => 1,
            Priority::Medium => 2,
            Priority::High => 3,
        }
    }

    /// The priority named `s`, or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| format!("{s:?} is not one of low, medium, high"))
    }
}

/// A task. `version` starts at 1 and grows by one with every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The task's id.
    pub id: TaskId,
    /// What is to be done: 1 to [`Title::MAX_CHARS`] characters, trimmed.
    pub title: String,
    /// More about it, up to 10,000 characters.
    pub description: Option<String>,
    /// Where it stands.
    pub status: Status,
    /// How much it matters.
    pub priority: Priority,
    /// When it is due, if ever.
    pub due_date: Option<DateTime<Utc>>,
    /// Who made it (for a personal task, the one who may delete it).
    pub owner_id: UserId,
    /// Who is to do it, if anyone: they see and change it.
    pub assignee_id: Option<UserId>,
    /// Its tags, lower-cased, in the order first given.
    pub tags: Vec<String>,
    /// When it was completed; set exactly while `status` is `completed`.
    pub completed_at: Option<DateTime<Utc>>,
    /// Starts at 1 and grows by one with every change: the `ETag`, and what `If-Match` is checked
    /// against.
    pub version: i64,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The project the task belongs to; `None` for a personal task. (Defaulted when read, so
    /// that copies cached before projects existed still read.)
    #[serde(default)]
    pub project_id: Option<ProjectId>,
    /// An RFC 5545 `RRULE` (see [`crate::Recurrence`]): completing the task makes the next one.
    #[serde(default)]
    pub recurrence: Option<String>,
    /// The occurrence this one follows, for a task made by completing a recurring one.
    #[serde(default)]
    pub previous_id: Option<TaskId>,
    /// The task it is a subtask of, if any (a task has at most one parent).
    #[serde(default)]
    pub parent_id: Option<TaskId>,
    /// Whether a task that blocks it is still open. Kept by the store as relations and their
    /// blockers change, moving the task's version on.
    #[serde(default)]
    pub blocked: bool,
    /// The bucket of its project's board that holds it; `None` for a personal task.
    #[serde(default)]
    pub bucket_id: Option<BucketId>,
    /// Where a move put it in its bucket; `None` where it landed by itself (see
    /// [`Task::board_position`]).
    #[serde(default)]
    pub position: Option<i64>,
    /// Its values of its project's custom fields, by field id.
    #[serde(default)]
    pub fields: FieldValues,
}

impl Task {
    /// Overdue: due in the past and not completed.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status != Status::Completed && self.due_date.is_some_and(|due| due < now)
    }

    /// Its place in its bucket: where a move put it, else `id * POSITION_STEP` (a new task, or
    /// one that came in by completion or from another project, lands there with nothing written).
    pub fn board_position(&self) -> i64 {
        self.position.unwrap_or_else(|| self.id.0.saturating_mul(crate::POSITION_STEP))
    }

    /// Its owner and assignee: the users whose view of statistics and tags a personal task is
    /// part of (a project task is part of every member's).
    pub fn involved(&self) -> impl Iterator<Item = UserId> + '_ {
        std::iter::once(self.owner_id).chain(self.assignee_id)
    }
}

/// What a viewer may do with one task, in increasing power (the derived order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Told the task does not exist.
    None,
    /// Reads it and comments on it (a project's viewers).
    Read,
    /// Also changes it (an assignee).
    Change,
    /// Also deletes it (its owner; a project's editors and admins; moderators and admins).
    Delete,
}

/// Who is looking at tasks, and what that allows.
///
/// A personal task: its owner sees, changes and deletes it; its assignee sees and changes it. A
/// project task: by the viewer's role in the project (viewers read and comment, editors and
/// admins also change and delete), and its assignee changes it; its owner has no rights beyond
/// their role. Moderators and admins see, change and delete every task. Everyone else is told
/// the task does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    /// The viewer's account.
    pub id: UserId,
    /// Their platform role: moderators and admins see every task.
    pub role: Role,
}

impl From<&Principal> for Viewer {
    fn from(caller: &Principal) -> Self {
        Self { id: caller.id, role: caller.role }
    }
}

impl Viewer {
    /// Whether the viewer sees every task (moderators and admins).
    pub fn sees_everything(&self) -> bool {
        self.role.is_moderator()
    }

    /// Whether what the viewer may do with `task` depends on their role in its project (and so
    /// needs it looked up).
    pub fn needs_project_role(&self, task: &Task) -> bool {
        task.project_id.is_some() && !self.sees_everything()
    }

    /// What the viewer may do with `task`, `project_role` being their role in its project (for a
    /// project task; ignored for a personal one).
    pub fn access(&self, task: &Task, project_role: Option<ProjectRole>) -> Access {
        if self.sees_everything() {
            return Access::Delete;
        }
        let assignee = task.assignee_id == Some(self.id);
        match (task.project_id, project_role) {
            (None, _) if task.owner_id == self.id => Access::Delete,
            (Some(_), Some(role)) if role.edits_tasks() => Access::Delete,
            _ if assignee => Access::Change,
            (Some(_), Some(_)) => Access::Read,
            _ => Access::None,
        }
    }
}

/// A title: 1 to 200 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(BoundedText<{ Title::MAX_CHARS }>);

impl Title {
    /// The most characters of a title.
    pub const MAX_CHARS: usize = 200;

    /// A title from what a client sent, trimmed; the message a `422` carries otherwise.
    pub fn parse(raw: impl AsRef<str>) -> Result<Self, String> {
        Ok(Self(BoundedText::parse(raw.as_ref())?))
    }

    /// The title, trimmed.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The title, trimmed, as an owned `String`.
    pub fn into_inner(self) -> String {
        self.0.into_inner()
    }
}

pub(crate) const MAX_DESCRIPTION_CHARS: usize = 10_000;

/// Kept as written (line breaks and spacing matter), so counted as sent.
pub(crate) fn parse_description(raw: String) -> Result<String, String> {
    Ok(at_most_chars(raw, MAX_DESCRIPTION_CHARS)?)
}

/// A task's tags: each trimmed and lower-cased, 1 to 32 characters; duplicates dropped (first
/// spelling kept); at most 20.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(Vec<String>);

impl Tags {
    /// The most tags a task carries.
    pub const MAX_TAGS: usize = 20;
    /// The most characters of one tag.
    pub const MAX_CHARS: usize = 32;

    /// Tags from what a client sent: each trimmed and lower-cased, duplicates dropped; the message
    /// a `422` carries otherwise.
    pub fn parse(raw: Vec<String>) -> Result<Self, String> {
        let mut seen = BTreeSet::new();
        let mut tags = Vec::with_capacity(raw.len());
        for tag in raw {
            let tag = tag.trim().to_lowercase();
            if tag.is_empty() {
                return Err("must not contain blank tags".into());
            }
            if tag.chars().count() > Self::MAX_CHARS {
                return Err(format!("each tag must be at most {} characters", Self::MAX_CHARS));
            }
            if seen.insert(tag.clone()) {
                tags.push(tag);
            }
        }
        if tags.len() > Self::MAX_TAGS {
            return Err(format!("must have at most {} tags", Self::MAX_TAGS));
        }
        Ok(Self(tags))
    }

    /// The tags, in the order first given.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// The tags as an owned list.
    pub fn into_inner(self) -> Vec<String> {
        self.0
    }
}

/// A task as a client sent it for creation, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskDraft {
    /// The title; required.
    pub title: Option<String>,
    /// The description; `None` leaves it empty.
    pub description: Option<String>,
    /// The status; `pending` when missing.
    pub status: Option<Status>,
    /// The priority; `medium` when missing.
    pub priority: Option<Priority>,
    /// When it is due; needed for a recurrence.
    pub due_date: Option<DateTime<Utc>>,
    /// Who is to do it: an active user (for a project task, a member).
    pub assignee_id: Option<i64>,
    /// The tags, as sent.
    pub tags: Option<Vec<String>>,
    /// The project it belongs to; `None` makes it a personal task.
    pub project_id: Option<i64>,
    /// An RFC 5545 `RRULE` (see [`Recurrence`](crate::Recurrence)).
    pub recurrence: Option<String>,
    /// When a task made completed was completed, for a client that records it (CalDAV's
    /// `COMPLETED`); the moment it is made when missing, and never later. Ignored unless completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Custom field values by field id, as sent (checked against the project's fields by the
    /// service).
    pub fields: Option<RawFieldValues>,
    /// Fields sent with a value of the wrong type: absent above, and reported as they failed.
    pub type_failures: TypeFailures,
}

/// A validated new task. Status defaults to `pending`, priority to `medium`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    /// The title.
    pub title: Title,
    /// The description, at most 10,000 characters.
    pub description: Option<String>,
    /// The status.
    pub status: Status,
    /// The priority.
    pub priority: Priority,
    /// When it is due.
    pub due_date: Option<DateTime<Utc>>,
    /// Who is to do it, not yet checked to be an active user.
    pub assignee_id: Option<UserId>,
    /// The tags, normalised.
    pub tags: Tags,
    /// The project it belongs to, not yet checked to be one the creator edits in.
    pub project_id: Option<ProjectId>,
    /// The recurrence rule, parsed.
    pub recurrence: Option<Recurrence>,
    /// Its custom field values, checked against its project's fields.
    pub fields: FieldValues,
    /// The bucket it lands in: its project's first.
    pub bucket_id: Option<BucketId>,
}

impl NewTask {
    /// Validates a draft, reporting every failing field at once (those that could not be read
    /// first).
    pub fn parse(draft: TaskDraft) -> Result<Self, FieldErrors> {
        let (v, task) = Self::check(draft);
        v.finish_with(task)
    }

    /// The draft checked by the field rules, and the validator that holds what failed, left open
    /// for what only the service can check (whether the assignee is an active user).
    pub(crate) fn check(draft: TaskDraft) -> (Validator, Option<Self>) {
        let mut v = Validator::seeded(draft.type_failures);
        let title = v.required("title", draft.title, Title::parse);
        let description = v.optional("description", draft.description, parse_description);
        let tags = v.optional("tags", draft.tags, Tags::parse);
        let assignee_id = v.optional("assignee_id", draft.assignee_id, positive_id);
        let project_id = v.optional("project_id", draft.project_id, positive_project);
        let recurrence = v.optional("recurrence", draft.recurrence, |r| Recurrence::parse(&r));
        if matches!(recurrence, Ok(Some(_))) && draft.due_date.is_none() {
            v.fail("recurrence", NEEDS_DUE_DATE);
        }
        let task = match (title, description, tags, assignee_id, project_id, recurrence) {
            (Some(title), Ok(description), Ok(tags), Ok(assignee_id), Ok(project_id), Ok(recurrence)) => Some(Self {
                title,
                description,
                status: draft.status.unwrap_or(Status::Pending),
                priority: draft.priority.unwrap_or(Priority::Medium),
                due_date: draft.due_date,
                assignee_id,
                tags: tags.unwrap_or_default(),
                project_id,
                recurrence,
                fields: FieldValues::default(),
                bucket_id: None,
            }),
            _ => None,
        };
        (v, task)
    }
}

fn positive_id(id: i64) -> Result<UserId, String> {
    if id > 0 { Ok(UserId(id)) } else { Err("must be a positive id".into()) }
}

/// Why a recurrence is refused on a task without a due date: its occurrences start there.
pub(crate) const NEEDS_DUE_DATE: &str = "needs a due_date, where its occurrences start";

fn positive_project(id: i64) -> Result<ProjectId, String> {
    if id > 0 { Ok(ProjectId(id)) } else { Err("must be a positive id".into()) }
}

/// What the repository stores for a new task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTaskRecord {
    /// The task as checked.
    pub task: NewTask,
    /// Who makes it.
    pub owner_id: UserId,
    /// When it was completed: its creation instant when created completed, else `None`.
    pub completed_at: Option<DateTime<Utc>>,
    /// When it is made: its `created_at` and `updated_at`.
    pub created_at: DateTime<Utc>,
}

/// Changes a client sent, before validation. The outer `Option` says whether a field was sent;
/// the inner one whether it was `null`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskPatch {
    /// A new title; `null` is refused.
    pub title: Option<Option<String>>,
    /// A new description, or `null` to clear it.
    pub description: Option<Option<String>>,
    /// A new status; `null` is refused.
    pub status: Option<Option<Status>>,
    /// A new priority; `null` is refused.
    pub priority: Option<Option<Priority>>,
    /// A new due date, or `null` to clear it.
    pub due_date: Option<Option<DateTime<Utc>>>,
    /// A new assignee, or `null` to unassign.
    pub assignee_id: Option<Option<i64>>,
    /// New tags, replacing the old; `null` is refused.
    pub tags: Option<Option<Vec<String>>>,
    /// Another project, or `null` to make it a personal task again.
    pub project_id: Option<Option<i64>>,
    /// A new recurrence rule, or `null` to stop it recurring.
    pub recurrence: Option<Option<String>>,
    /// When it was completed, for a client that records it (CalDAV's `COMPLETED`): taken when the
    /// task is or becomes completed (never later than the change), ignored otherwise.
    pub completed_at: Option<DateTime<Utc>>,
    /// Custom field values to set (`null` removes one), merged into the task's.
    pub fields: Option<RawFieldValues>,
}

/// Validated changes. `None` keeps a field; for nullable fields `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskChanges {
    /// A new title.
    pub title: Option<Title>,
    /// A new description, or `Some(None)` to clear it.
    pub description: Option<Option<String>>,
    /// A new status: `completed_at` follows it.
    pub status: Option<Status>,
    /// A new priority.
    pub priority: Option<Priority>,
    /// A new due date, or `Some(None)` to clear it.
    pub due_date: Option<Option<DateTime<Utc>>>,
    /// A new assignee, or `Some(None)` to unassign.
    pub assignee_id: Option<Option<UserId>>,
    /// New tags, replacing the old.
    pub tags: Option<Tags>,
    /// `Some(None)` makes it a personal task again.
    pub project_id: Option<Option<ProjectId>>,
    /// `Some(None)` stops it recurring.
    pub recurrence: Option<Option<Recurrence>>,
    /// When it was completed, as the client recorded it (see [`TaskPatch::completed_at`]).
    pub completed_at: Option<DateTime<Utc>>,
    /// Custom field values to set or (`None`) remove, checked by the service against the
    /// project's fields.
    pub fields: Option<std::collections::BTreeMap<crate::FieldId, Option<serde_json::Value>>>,
    /// Raw field values as sent, kept for the service to check.
    pub raw_fields: Option<RawFieldValues>,
    /// Where the task goes on its project's board, set by the service (a move, a completion
    /// that takes it to the done bucket, a change of project): its bucket and position.
    pub placement: Option<(Option<BucketId>, Option<i64>)>,
}

impl TaskChanges {
    /// Validates a patch, reporting every failing field at once. `null` is refused for the
    /// fields that cannot be empty (`title`, `status`, `priority`, `tags`).
    pub fn parse(patch: TaskPatch) -> Result<Self, FieldErrors> {
        let (v, changes) = Self::check(patch);
        v.finish_with(Some(changes))
    }

    /// The patch checked by the field rules (a field that failed is left out of the changes), and
    /// the validator that holds what failed, left open like [`NewTask::check`]'s.
    pub(crate) fn check(patch: TaskPatch) -> (Validator, Self) {
        let mut v = Validator::default();
        let raw_title = not_null(&mut v, "title", patch.title);
        let status = not_null(&mut v, "status", patch.status);
        let priority = not_null(&mut v, "priority", patch.priority);
        let raw_tags = not_null(&mut v, "tags", patch.tags);
        let title = raw_title.and_then(|t| v.check("title", Title::parse(t)));
        let tags = raw_tags.and_then(|t| v.check("tags", Tags::parse(t)));
        let description = match patch.description {
            Some(Some(d)) => v.check("description", parse_description(d)).map(Some),
            other => other,
        };
        let assignee_id = match patch.assignee_id {
            Some(Some(id)) => v.check("assignee_id", positive_id(id)).map(Some),
            Some(None) => Some(None),
            None => None,
        };
        let project_id = match patch.project_id {
            Some(Some(id)) => v.check("project_id", positive_project(id)).map(Some),
            Some(None) => Some(None),
            None => None,
        };
        let recurrence = match patch.recurrence {
            Some(Some(rule)) => v.check("recurrence", Recurrence::parse(&rule)).map(Some),
            Some(None) => Some(None),
            None => None,
        };
        let changes = Self {
            title,
            description,
            status,
            priority,
            due_date: patch.due_date,
            assignee_id,
            tags,
            project_id,
            recurrence,
            completed_at: patch.completed_at,
            fields: None,
            raw_fields: patch.fields,
            placement: None,
        };
        (v, changes)
    }

    /// Applies the changes to `task` as of `now`: `completed_at` is set when the status becomes
    /// `completed` (to `now`, or the time the client recorded) and cleared when it leaves it;
    /// `version` and `updated_at` move on.
    pub fn apply(&self, task: &mut Task, now: DateTime<Utc>) {
        if let Some(title) = &self.title {
            task.title = title.as_str().to_owned();
        }
        if let Some(description) = &self.description {
            task.description.clone_from(description);
        }
        if let Some(priority) = self.priority {
            task.priority = priority;
        }
        if let Some(due_date) = self.due_date {
            task.due_date = due_date;
        }
        if let Some(assignee_id) = self.assignee_id {
            task.assignee_id = assignee_id;
        }
        if let Some(tags) = &self.tags {
            task.tags = tags.as_slice().to_vec();
        }
        if let Some(project_id) = self.project_id {
            if project_id != task.project_id {
                // Fields are a project's: a task that changes project leaves its values behind.
                task.fields.clear();
            }
            task.project_id = project_id;
        }
        if let Some(recurrence) = &self.recurrence {
            task.recurrence = recurrence.as_ref().map(|r| r.as_str().to_owned());
        }
        if let Some(fields) = &self.fields {
            for (id, value) in fields {
                match value {
                    Some(value) => task.fields.insert(*id, value.clone()),
                    None => task.fields.remove(id),
                };
            }
        }
        if let Some((bucket_id, position)) = self.placement {
            task.bucket_id = bucket_id;
            task.position = position;
        }
        let status = self.status.unwrap_or(task.status);
        task.completed_at = match (task.status, status, self.completed_at) {
            (_, Status::Completed, Some(recorded)) => Some(recorded.min(now)),
            (Status::Completed, Status::Completed, None) => task.completed_at,
            (_, Status::Completed, None) => Some(now),
            _ => None,
        };
        task.status = status;
        task.version += 1;
        task.updated_at = now;
    }
}

/// A sent value of a field that may be left out but not cleared; `null` is reported.
fn not_null<T>(v: &mut Validator, field: &str, value: Option<Option<T>>) -> Option<T> {
    if matches!(value, Some(None)) {
        v.fail(field, "must not be null");
    }
    value.flatten()
}

/// Counts over the tasks a viewer sees.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskStats {
    /// Every task counted.
    pub total: u64,
    /// Those pending.
    pub pending: u64,
    /// Those in progress.
    pub in_progress: u64,
    /// Those completed.
    pub completed: u64,
    /// Those of low priority.
    pub low: u64,
    /// Those of medium priority.
    pub medium: u64,
    /// Those of high priority.
    pub high: u64,
    /// Those due before now and not completed.
    pub overdue: u64,
}

impl TaskStats {
    /// Completed over total, 0 when there are no tasks.
    pub fn completion_rate(&self) -> f64 {
        if self.total == 0 { 0.0 } else { self.completed as f64 / self.total as f64 }
    }
}

/// A tag and how many visible tasks carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagUsage {
    /// The tag, lower-cased.
    pub name: String,
    /// How many tasks the viewer sees carry it.
    pub usage_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(status: Status) -> Task {
        let at = workbench_users::now();
        Task {
            id: TaskId(1),
            title: "t".into(),
            description: None,
            status,
            priority: Priority::Medium,
            due_date: None,
            owner_id: UserId(1),
            assignee_id: Some(UserId(2)),
            tags: vec![],
            completed_at: (status == Status::Completed).then_some(at),
            version: 1,
            created_at: at,
            updated_at: at,
            project_id: None,
            recurrence: None,
            previous_id: None,
            parent_id: None,
            blocked: false,
            bucket_id: None,
            position: None,
            fields: FieldValues::default(),
        }
    }

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(Title::parse("  buy milk ").unwrap().as_str(), "buy milk");
        assert_eq!(Title::parse("   ").unwrap_err(), "must not be blank");
        assert!(Title::parse("é".repeat(200)).is_ok());
        assert_eq!(Title::parse("é".repeat(201)).unwrap_err(), "must be at most 200 characters");
        assert_eq!(format!("{:?}", Title::parse(" a ").unwrap()), r#"Title("a")"#);
    }

    #[test]
    fn tags_are_normalised() {
        let tags = Tags::parse(vec![" Home ".into(), "home".into(), "WORK".into()]).unwrap();
        assert_eq!(tags.as_slice(), ["home", "work"]);
        assert!(Tags::parse(vec!["".into()]).is_err());
        assert!(Tags::parse(vec!["x".repeat(33)]).is_err());
        assert!(Tags::parse((0..21).map(|i| i.to_string()).collect()).is_err());
        assert!(Tags::parse((0..21).map(|i| (i % 20).to_string()).collect()).is_ok(), "duplicates do not count");
    }

    #[test]
    fn a_draft_reports_every_failing_field() {
        let draft = TaskDraft {
            title: Some(" ".into()),
            description: Some("d".repeat(10_001)),
            tags: Some(vec!["".into()]),
            assignee_id: Some(0),
            ..TaskDraft::default()
        };
        let e = NewTask::parse(draft).unwrap_err();
        for field in ["title", "description", "tags", "assignee_id"] {
            assert!(e.contains(field), "{field} missing from {e}");
        }
        let ok = NewTask::parse(TaskDraft { title: Some("x".into()), ..TaskDraft::default() }).unwrap();
        assert_eq!((ok.status, ok.priority), (Status::Pending, Priority::Medium));
    }

    #[test]
    fn a_field_of_the_wrong_type_is_reported_as_such_not_as_missing() {
        let mut type_failures = TypeFailures::default();
        type_failures.record("title", "invalid type: integer `5`, expected a string");
        let draft = TaskDraft { tags: Some(vec!["".into()]), type_failures, ..TaskDraft::default() };
        let e = NewTask::parse(draft).unwrap_err();
        let fields: Vec<_> = e.as_slice().iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
        assert_eq!(
            fields,
            [("title", "invalid type: integer `5`, expected a string"), ("tags", "must not contain blank tags")]
        );
    }

    #[test]
    fn completed_at_follows_status() {
        let now = workbench_users::now();
        let mut t = task(Status::Pending);
        let complete = TaskChanges { status: Some(Status::Completed), ..TaskChanges::default() };
        complete.apply(&mut t, now);
        assert_eq!((t.completed_at, t.version), (Some(now), 2));
        let later = now + chrono::Duration::seconds(5);
        complete.apply(&mut t, later);
        assert_eq!(t.completed_at, Some(now), "re-completing keeps the first completion time");
        TaskChanges { status: Some(Status::InProgress), ..TaskChanges::default() }.apply(&mut t, later);
        assert_eq!((t.completed_at, t.version, t.updated_at), (None, 4, later));
    }

    #[test]
    fn a_recorded_completion_time_is_kept_but_never_in_the_future() {
        let now = workbench_users::now();
        let yesterday = now - chrono::Duration::days(1);
        let mut t = task(Status::Pending);
        let recorded =
            |at| TaskChanges { status: Some(Status::Completed), completed_at: Some(at), ..TaskChanges::default() };
        recorded(yesterday).apply(&mut t, now);
        assert_eq!(t.completed_at, Some(yesterday));
        recorded(now + chrono::Duration::days(3)).apply(&mut t, now);
        assert_eq!(t.completed_at, Some(now), "a client's clock ahead of ours");
        let unchanged_status = TaskChanges { completed_at: Some(yesterday), ..TaskChanges::default() };
        unchanged_status.apply(&mut t, now);
        assert_eq!(t.completed_at, Some(yesterday), "a completed task's time corrected");
        TaskChanges { status: Some(Status::Pending), completed_at: Some(yesterday), ..TaskChanges::default() }
            .apply(&mut t, now);
        assert_eq!(t.completed_at, None, "a time for a task not completed is ignored");
    }

    #[test]
    fn patch_refuses_null_for_required_fields_and_clears_nullable_ones() {
        let e = TaskChanges::parse(TaskPatch { title: Some(None), status: Some(None), ..TaskPatch::default() });
        let e = e.unwrap_err();
        assert!(e.contains("title") && e.contains("status"));
        let c = TaskChanges::parse(TaskPatch { assignee_id: Some(None), due_date: Some(None), ..TaskPatch::default() })
            .unwrap();
        assert_eq!((c.assignee_id, c.due_date), (Some(None), Some(None)));
    }

    #[test]
    fn visibility() {
        let t = task(Status::Pending);
        let owner = Viewer { id: UserId(1), role: Role::User };
        let assignee = Viewer { id: UserId(2), role: Role::User };
        let stranger = Viewer { id: UserId(3), role: Role::User };
        let moderator = Viewer { id: UserId(4), role: Role::Moderator };
        assert_eq!(owner.access(&t, None), Access::Delete);
        assert_eq!(assignee.access(&t, None), Access::Change);
        assert_eq!(stranger.access(&t, None), Access::None);
        assert_eq!(moderator.access(&t, None), Access::Delete);
    }

    #[test]
    fn a_project_task_is_governed_by_the_project_role() {
        let t = Task { project_id: Some(ProjectId(9)), ..task(Status::Pending) };
        let owner = Viewer { id: UserId(1), role: Role::User };
        let assignee = Viewer { id: UserId(2), role: Role::User };
        let member = Viewer { id: UserId(3), role: Role::User };
        assert_eq!(owner.access(&t, None), Access::None, "the creator has no rights beyond a role");
        assert_eq!(owner.access(&t, Some(ProjectRole::Viewer)), Access::Read);
        assert_eq!(assignee.access(&t, Some(ProjectRole::Viewer)), Access::Change);
        assert_eq!(member.access(&t, Some(ProjectRole::Viewer)), Access::Read);
        assert_eq!(member.access(&t, Some(ProjectRole::Editor)), Access::Delete);
        assert_eq!(member.access(&t, Some(ProjectRole::Admin)), Access::Delete);
        assert_eq!(member.access(&t, None), Access::None);
        assert!(member.needs_project_role(&t) && !member.needs_project_role(&task(Status::Pending)));
    }

    #[test]
    fn overdue_means_past_due_and_not_completed() {
        let now = workbench_users::now();
        let mut t = task(Status::Pending);
        t.due_date = Some(now - chrono::Duration::hours(1));
        assert!(t.is_overdue(now));
        t.status = Status::Completed;
        assert!(!t.is_overdue(now));
    }
}
