//! Wire types of tasks, comments, tags and statistics.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use workbench_core::{FieldError, FieldErrors, PageRequest};

use crate::dto::{Lenient, lenient};
use workbench_tasks::{Comment, Priority, RawTaskFilter, Status, TagUsage, Task, TaskDraft, TaskPatch, TaskStats};

/// A task.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskResponse {
    pub id: i64,
    pub title: String,
    pub description: Option<String>,
    pub status: Status,
    pub priority: Priority,
    pub due_date: Option<DateTime<Utc>>,
    pub owner_id: i64,
    pub assignee_id: Option<i64>,
    pub tags: Vec<String>,
    /// Set when the status became `completed`; cleared when it leaves it.
    pub completed_at: Option<DateTime<Utc>>,
    /// Grows by one with every change; the `ETag` is derived from it.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Task> for TaskResponse {
    fn from(t: Task) -> Self {
        Self {
            id: t.id.0,
            title: t.title,
            description: t.description,
            status: t.status,
            priority: t.priority,
            due_date: t.due_date,
            owner_id: t.owner_id.0,
            assignee_id: t.assignee_id.map(|a| a.0),
            tags: t.tags,
            completed_at: t.completed_at,
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// An instant given as RFC 3339 (`2026-01-15T10:30:00Z`) or a bare date (`2026-01-15`, midnight
/// UTC), truncated to microseconds like every stored timestamp.
pub(crate) fn instant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Option::<String>::deserialize(d)?.map(|s| parse_instant(&s).map_err(serde::de::Error::custom)).transpose()
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc).trunc_subsecs(6));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("{s:?} is not an RFC 3339 timestamp or a YYYY-MM-DD date"))
}

/// `instant` for a field whose `null` clears it: outer `None` = left out.
fn nullable_instant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<DateTime<Utc>>>, D::Error> {
    instant(d).map(Some)
}

/// Distinguishes a field left out (`None`) from one sent as `null` (`Some(None)`).
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /tasks`. Fields are read leniently so that a value of the wrong type is reported together
/// with every other failing field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateTaskRequest {
    /// 1–200 characters after trimming.
    #[schema(value_type = String, required = true, example = "Renew the car insurance")]
    pub title: Option<Lenient<String>>,
    /// At most 10 000 characters.
    #[schema(value_type = Option<String>)]
    pub description: Option<Lenient<String>>,
    /// Default `pending`.
    #[schema(value_type = Option<Status>)]
    pub status: Option<Lenient<Status>>,
    /// Default `medium`.
    #[schema(value_type = Option<Priority>)]
    pub priority: Option<Lenient<Priority>>,
    /// RFC 3339 (or a bare `YYYY-MM-DD`, midnight UTC).
    #[serde(default, deserialize_with = "instant")]
    pub due_date: Option<DateTime<Utc>>,
    /// An active user.
    #[schema(value_type = Option<i64>)]
    pub assignee_id: Option<Lenient<i64>>,
    /// At most 20 tags of at most 32 characters; stored trimmed, lower-case, deduplicated.
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Option<Lenient<Vec<String>>>,
}

impl CreateTaskRequest {
    /// The draft, and the fields whose JSON type was wrong.
    pub fn into_draft(self) -> (TaskDraft, Vec<FieldError>) {
        let mut errors = Vec::new();
        let draft = TaskDraft {
            title: lenient("title", self.title, &mut errors),
            description: lenient("description", self.description, &mut errors),
            status: lenient("status", self.status, &mut errors),
            priority: lenient("priority", self.priority, &mut errors),
            due_date: self.due_date,
            assignee_id: lenient("assignee_id", self.assignee_id, &mut errors),
            tags: lenient("tags", self.tags, &mut errors),
        };
        (draft, errors)
    }
}

/// `PUT` and `PATCH /tasks/{id}`: fields left out are kept; `null` clears a nullable field
/// (`description`, `due_date`, `assignee_id`) and is refused for the others.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateTaskRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Status>)]
    pub status: Option<Option<Status>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Priority>)]
    pub priority: Option<Option<Priority>>,
    #[serde(default, deserialize_with = "nullable_instant")]
    #[schema(value_type = Option<DateTime<Utc>>, nullable)]
    pub due_date: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable)]
    pub assignee_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Option<Option<Vec<String>>>,
}

impl From<UpdateTaskRequest> for TaskPatch {
    fn from(r: UpdateTaskRequest) -> Self {
        Self {
            title: r.title,
            description: r.description,
            status: r.status,
            priority: r.priority,
            due_date: r.due_date,
            assignee_id: r.assignee_id,
            tags: r.tags,
        }
    }
}

/// Filters, sort and page of `GET /tasks`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskListQuery {
    /// Comma-separated statuses: `pending`, `in_progress`, `completed`.
    pub status: Option<String>,
    /// `low`, `medium` or `high` (comma-separated for several).
    pub priority: Option<String>,
    pub assignee_id: Option<i64>,
    pub owner_id: Option<i64>,
    /// Tasks carrying this tag.
    pub tag: Option<String>,
    /// Case-insensitive substring of title or description.
    pub q: Option<String>,
    /// Due strictly before: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[serde(default, deserialize_with = "instant")]
    #[param(value_type = Option<String>)]
    pub due_before: Option<DateTime<Utc>>,
    /// Due at or after: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[serde(default, deserialize_with = "instant")]
    #[param(value_type = Option<String>)]
    pub due_after: Option<DateTime<Utc>>,
    /// Only tasks due in the past and not completed.
    pub overdue: Option<bool>,
    /// `created_at`, `updated_at`, `due_date`, `priority` or `title`; `-` prefix for descending.
    /// Default `-created_at`. Tasks without a due date sort last in both directions.
    pub sort: Option<String>,
    #[param(minimum = 1, default = 1)]
    pub page: Option<u64>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u64>,
}

impl TaskListQuery {
    pub fn split(self) -> (RawTaskFilter, Result<PageRequest, FieldErrors>) {
        let page = PageRequest::new(self.page, self.per_page);
        let filter = RawTaskFilter {
            status: self.status,
            priority: self.priority,
            assignee_id: self.assignee_id,
            owner_id: self.owner_id,
            tag: self.tag,
            q: self.q,
            due_before: self.due_before,
            due_after: self.due_after,
            overdue: self.overdue,
            sort: self.sort,
        };
        (filter, page)
    }
}

/// Counts by status.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusCounts {
    pub pending: u64,
    pub in_progress: u64,
    pub completed: u64,
}

/// Counts by priority.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriorityCounts {
    pub low: u64,
    pub medium: u64,
    pub high: u64,
}

/// Statistics over the tasks the caller sees.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskStatsResponse {
    pub total: u64,
    pub by_status: StatusCounts,
    pub by_priority: PriorityCounts,
    /// Due in the past and not completed.
    pub overdue: u64,
    /// Completed over total, from 0 to 1 (0 when there are no tasks).
    pub completion_rate: f64,
}

impl From<TaskStats> for TaskStatsResponse {
    fn from(s: TaskStats) -> Self {
        Self {
            total: s.total,
            completion_rate: s.completion_rate(),
            by_status: StatusCounts { pending: s.pending, in_progress: s.in_progress, completed: s.completed },
            by_priority: PriorityCounts { low: s.low, medium: s.medium, high: s.high },
            overdue: s.overdue,
        }
    }
}

/// A comment on a task.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentResponse {
    pub id: i64,
    pub task_id: i64,
    pub author_id: i64,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Comment> for CommentResponse {
    fn from(c: Comment) -> Self {
        Self {
            id: c.id,
            task_id: c.task_id.0,
            author_id: c.author_id.0,
            body: c.body,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// `POST /tasks/{id}/comments`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateCommentRequest {
    /// 1–5000 characters after trimming.
    #[schema(value_type = String, required = true)]
    pub body: Option<String>,
}

/// A tag in use, with how many visible tasks carry it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagResponse {
    pub name: String,
    pub usage_count: u64,
}

impl From<TagUsage> for TagResponse {
    fn from(t: TagUsage) -> Self {
        Self { name: t.name, usage_count: t.usage_count }
    }
}

/// A list that is not paginated.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataList<T: ToSchema> {
    pub data: Vec<T>,
}

/// `q` of `GET /tags`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TagQuery {
    /// Only tags containing this (case-insensitive).
    pub q: Option<String>,
}

/// `page` and `per_page` of a paginated list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[param(minimum = 1, default = 1)]
    pub page: Option<u64>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u64>,
}

impl PageQuery {
    pub fn page(&self) -> Result<PageRequest, FieldErrors> {
        PageRequest::new(self.page, self.per_page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_accept_rfc3339_and_bare_dates() {
        assert_eq!(parse_instant("2026-01-15").unwrap().to_rfc3339(), "2026-01-15T00:00:00+00:00");
        assert_eq!(parse_instant("2026-01-15T12:00:00+02:00").unwrap().to_rfc3339(), "2026-01-15T10:00:00+00:00");
        assert!(parse_instant("tomorrow").is_err());
    }

    #[test]
    fn update_distinguishes_absent_null_and_value() {
        let r: UpdateTaskRequest = serde_json::from_str(r#"{"due_date": null, "title": "x"}"#).unwrap();
        assert_eq!(r.due_date, Some(None));
        assert_eq!(r.title, Some(Some("x".into())));
        assert_eq!(r.assignee_id, None);
    }
}
