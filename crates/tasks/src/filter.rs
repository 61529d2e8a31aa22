//! Which tasks a list shows, and in what order.

use chrono::{DateTime, Utc};
use workbench_core::{FieldErrors, Validator};
use workbench_projects::ProjectId;
use workbench_users::UserId;

use crate::{FieldCondition, ListPart, Priority, Status};

/// What a client may sort by. Tasks without a due date sort last in both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// When the task was made (`created_at`).
    CreatedAt,
    /// When the task last changed (`updated_at`).
    UpdatedAt,
    /// When the task is due (`due_date`).
    DueDate,
    /// By rank: `low < medium < high`.
    Priority,
    /// The title, alphabetically (`title`).
    Title,
}

/// A sort key and direction. The default is newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSort {
    /// What to sort by.
    pub key: SortKey,
    /// Whether the largest (newest, latest, highest) comes first.
    pub descending: bool,
}

impl Default for TaskSort {
    fn default() -> Self {
        Self { key: SortKey::CreatedAt, descending: true }
    }
}

impl TaskSort {
    /// `created_at`, `-due_date`, ...: a key with an optional `-` for descending.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (descending, name) = match raw.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, raw),
        };
        let key = match name {
            "created_at" => SortKey::CreatedAt,
            "updated_at" => SortKey::UpdatedAt,
            "due_date" => SortKey::DueDate,
            "priority" => SortKey::Priority,
            "title" => SortKey::Title,
            _ => {
                return Err(format!(
                    "{raw:?} is not one of created_at, updated_at, due_date, priority, title (prefix - for descending)"
                ));
            }
        };
        Ok(Self { key, descending })
    }
}

/// List parameters as a client sent them. Dates and ids are already parsed (an unparsable one
/// is the caller's `400`); names are checked here (an unknown one is a `422`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawTaskFilter {
    /// Comma-separated statuses.
    pub status: Option<String>,
    /// Comma-separated priorities.
    pub priority: Option<String>,
    /// Only tasks assigned to this user.
    pub assignee_id: Option<i64>,
    /// Only tasks owned by this user.
    pub owner_id: Option<i64>,
    /// Only tasks carrying this tag (any case).
    pub tag: Option<String>,
    /// Only tasks whose title or description contains this text (any case).
    pub q: Option<String>,
    /// Only tasks due strictly before this instant.
    pub due_before: Option<DateTime<Utc>>,
    /// Only tasks due at or after this instant.
    pub due_after: Option<DateTime<Utc>>,
    /// `true`: only tasks past their due date and not completed.
    pub overdue: Option<bool>,
    /// `created_at`, `-due_date`, ...: a sort key, `-` first for descending (see
    /// [`TaskSort::parse`]).
    pub sort: Option<String>,
}

/// A validated task filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Any of these statuses; empty means all.
    pub statuses: Vec<Status>,
    /// Any of these priorities; empty means all.
    pub priorities: Vec<Priority>,
    /// Assigned to this user.
    pub assignee_id: Option<UserId>,
    /// Owned by this user.
    pub owner_id: Option<UserId>,
    /// Carries this tag (normalised like stored tags).
    pub tag: Option<String>,
    /// Case-insensitive substring of title or description, already lower-cased.
    pub text: Option<String>,
    /// Due strictly before.
    pub due_before: Option<DateTime<Utc>>,
    /// Due at or after.
    pub due_after: Option<DateTime<Utc>>,
    /// When set: due before this instant and not completed.
    pub overdue_at: Option<DateTime<Utc>>,
    /// What only the search language asks (more words, exclusions, projects, attachments).
    pub refinement: Refinement,
    /// The order of the tasks.
    pub sort: TaskSort,
}

/// The conditions of a search that list parameters cannot express, each on top of
/// [`TaskFilter`]'s own (its `text` is the first word, its `tag` the first tag).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refinement {
    /// Further lower-cased texts that title or description must each contain.
    pub contains: Vec<String>,
    /// Lower-cased texts that neither title nor description may contain.
    pub excludes: Vec<String>,
    /// Further tags the task must each carry (normalised like stored tags).
    pub tags: Vec<String>,
    /// In any of these projects; empty means wherever the scope allows.
    pub project_ids: Vec<ProjectId>,
    /// Only tasks with at least one attached file.
    pub has_attachment: bool,
    /// Only tasks whose custom field values meet every one of these.
    pub fields: Vec<FieldCondition>,
}

impl Refinement {
    /// Whether the search asks nothing more than list parameters can.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl TaskFilter {
    /// The filter as part of a cache key, or `None` when its answer depends on the clock
    /// (`overdue`), which no later request would ask for again. Two filters have the same key only
    /// if they are equal: it is the `Debug` form, which names every field and quotes strings.
    pub fn cache_key(&self) -> Option<String> {
        self.overdue_at.is_none().then(|| format!("{self:?}"))
    }

    /// The part of a scope's lists this filter's pages belong to (see [`ListPart`]): by creation
    /// and narrowed by nothing, or by one status only, its pages hold the same tasks in the same
    /// order until a task joins or leaves them; anything else can change with any write.
    pub fn list_part(&self) -> ListPart {
        // Destructured, so that a new filter cannot be forgotten here.
        let Self {
            statuses,
            priorities,
            assignee_id,
            owner_id,
            tag,
            text,
            due_before,
            due_after,
            overdue_at,
            refinement,
            sort,
        } = self;
        let by_creation_only = sort.key == SortKey::CreatedAt
            && refinement.is_empty()
            && priorities.is_empty()
            && assignee_id.is_none()
            && owner_id.is_none()
            && tag.is_none()
            && text.is_none()
            && due_before.is_none()
            && due_after.is_none()
            && overdue_at.is_none();
        match statuses.as_slice() {
            [] if by_creation_only => ListPart::Members,
            [status] if by_creation_only => ListPart::Status(*status),
            _ => ListPart::Rest,
        }
    }

    /// Validates list parameters as of `now` (for `overdue`), naming every bad parameter.
    pub fn parse(raw: RawTaskFilter, now: DateTime<Utc>) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        let statuses = raw.status.map(|s| v.check("status", list(&s, Status::parse))).unwrap_or(Some(Vec::new()));
        let priorities =
            raw.priority.map(|s| v.check("priority", list(&s, Priority::parse))).unwrap_or(Some(Vec::new()));
        let sort = raw.sort.map(|s| v.check("sort", TaskSort::parse(s.trim()))).unwrap_or(Some(TaskSort::default()));
        let tag = raw.tag.map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty());
        let text = raw.q.map(|q| q.trim().to_lowercase()).filter(|q| !q.is_empty());
        v.finish()?;
        Ok(Self {
            statuses: statuses.unwrap_or_default(),
            priorities: priorities.unwrap_or_default(),
            assignee_id: raw.assignee_id.map(UserId),
            owner_id: raw.owner_id.map(UserId),
            tag,
            text,
            due_before: raw.due_before,
            due_after: raw.due_after,
            overdue_at: raw.overdue.unwrap_or(false).then_some(now),
            refinement: Refinement::default(),
            sort: sort.unwrap_or_default(),
        })
    }
}

fn list<T: PartialEq>(raw: &str, parse: fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    let mut values = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let value = parse(part)?;
        if !values.contains(&value) {
            values.push(value);
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_sort_and_text() {
        let now = workbench_users::now();
        let raw = RawTaskFilter {
            status: Some("pending, in_progress,pending".into()),
            sort: Some("-priority".into()),
            q: Some("  ÉTÉ ".into()),
            overdue: Some(true),
            ..RawTaskFilter::default()
        };
        let f = TaskFilter::parse(raw, now).unwrap();
        assert_eq!(f.statuses, vec![Status::Pending, Status::InProgress]);
        assert_eq!(f.sort, TaskSort { key: SortKey::Priority, descending: true });
        assert_eq!(f.text.as_deref(), Some("été"));
        assert_eq!(f.overdue_at, Some(now));
    }

    #[test]
    fn unknown_names_are_reported_per_parameter() {
        let raw = RawTaskFilter {
            status: Some("done".into()),
            priority: Some("urgent".into()),
            sort: Some("colour".into()),
            ..RawTaskFilter::default()
        };
        let e = TaskFilter::parse(raw, workbench_users::now()).unwrap_err();
        assert!(e.contains("status") && e.contains("priority") && e.contains("sort"));
    }

    #[test]
    fn default_is_newest_first() {
        let f = TaskFilter::parse(RawTaskFilter::default(), workbench_users::now()).unwrap();
        assert_eq!(f.sort, TaskSort { key: SortKey::CreatedAt, descending: true });
        assert!(f.statuses.is_empty() && f.overdue_at.is_none());
    }
}
