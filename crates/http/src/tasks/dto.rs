//! Wire shapes of tasks, comments, tags and statistics.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use workbench_core::{FieldErrors, PageRequest, TypeFailures};
use workbench_tasks::{Comment, Priority, RawTaskFilter, Status, TagUsage, Task, TaskDraft, TaskPatch, TaskStats};

use crate::body::{Instant, Lenient, component, instant, lenient, nullable, nullable_instant, present, trimmed_text};
use crate::pagination::{PageNumberSchema, PageSizeSchema};

/// The schema of a task title as `Title::parse` reads it.
#[derive(Debug)]
pub struct TitleSchema;

component!(
    TitleSchema,
    "TaskTitle",
    trimmed_text(1, workbench_tasks::Title::MAX_CHARS, "1 to 200 characters once trimmed")
        .examples(["Renew the car insurance"])
);

/// The schema of a recurrence rule as `Recurrence::parse` reads it.
#[derive(Debug)]
pub struct RecurrenceSchema;

component!(
    RecurrenceSchema,
    "Recurrence",
    crate::body::patterned(
        workbench_tasks::Recurrence::pattern(),
        "An RFC 5545 RRULE (an optional `RRULE:` prefix, then rule parts separated by `;` in any order, names \
         and values in any case): FREQ=DAILY|WEEKLY|MONTHLY|YEARLY and any of INTERVAL, BYDAY (weekdays, no \
         ordinal), BYMONTHDAY, BYMONTH, COUNT, UNTIL (UTC, YYYYMMDDTHHMMSSZ). The pattern states each part's \
         form; beyond it, each part may be given once, COUNT and UNTIL not together, BYMONTHDAY not with \
         FREQ=WEEKLY, and UNTIL must be a real instant. Kept as written (without the prefix); only COUNT \
         changes, in place, from one occurrence to the next."
    )
    .max_length(Some(workbench_tasks::Recurrence::MAX_CHARS))
    .examples([
        "FREQ=WEEKLY;BYDAY=MO",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "BYMONTHDAY=1;COUNT=12;FREQ=MONTHLY"
    ])
);

/// The schema of one tag as `Tags::parse` reads it.
#[derive(Debug)]
pub struct TagSchema;

component!(
    TagSchema,
    "Tag",
    trimmed_text(1, workbench_tasks::Tags::MAX_CHARS, "1 to 32 characters once trimmed; stored in lower case")
        .examples(["car"])
);

/// The schema of a comment's body as `CommentBody::parse` reads it.
#[derive(Debug)]
pub struct CommentBodySchema;

component!(
    CommentBodySchema,
    "CommentBody",
    trimmed_text(1, workbench_tasks::CommentBody::MAX_CHARS, "1 to 5000 characters once trimmed")
        .examples(["Called the insurer; waiting for the quote."])
);

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
    /// The project the task belongs to; null for a personal task.
    pub project_id: Option<i64>,
    /// An RFC 5545 `RRULE` (upper-case): completing the task makes the next occurrence.
    pub recurrence: Option<String>,
    /// The occurrence this one follows, for a task made by completing a recurring one.
    pub previous_id: Option<i64>,
    /// The task it is a subtask of (`POST /tasks/{id}/relations` with `subtask`); null for none.
    pub parent_id: Option<i64>,
    /// True while a task that blocks it is not completed.
    pub blocked: bool,
    /// The bucket of its project's board that holds it; null for a personal task.
    pub bucket_id: Option<i64>,
    /// Its place in its bucket: buckets list their tasks by it, lowest first.
    pub position: Option<i64>,
    /// Its values of its project's custom fields, by field id (`{}` for a personal task).
    #[schema(value_type = Object, example = json!({"12": "Kitchen", "13": 3}))]
    pub fields: workbench_tasks::FieldValues,
}

impl From<Task> for TaskResponse {
    fn from(t: Task) -> Self {
        let position = t.bucket_id.map(|_| t.board_position());
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
            project_id: t.project_id.map(|p| p.0),
            recurrence: t.recurrence,
            previous_id: t.previous_id.map(|p| p.0),
            parent_id: t.parent_id.map(|p| p.0),
            blocked: t.blocked,
            bucket_id: t.bucket_id.map(|b| b.0),
            position,
            fields: t.fields,
        }
    }
}

/// `POST /tasks`. Fields are read leniently so that a value of the wrong type is reported together
/// with every other failing field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateTaskRequest {
    #[schema(value_type = TitleSchema, required = true)]
    #[serde(default)]
    pub title: Lenient<String>,
    /// At most 10 000 characters.
    #[schema(value_type = Option<String>, max_length = 10000)]
    #[serde(default)]
    pub description: Lenient<String>,
    /// Default `pending`.
    #[schema(value_type = Status)]
    #[serde(default)]
    pub status: Lenient<Status>,
    /// Default `medium`.
    #[schema(value_type = Priority)]
    #[serde(default)]
    pub priority: Lenient<Priority>,
    /// RFC 3339 (or a bare `YYYY-MM-DD`, midnight UTC).
    #[serde(default, deserialize_with = "instant")]
    #[schema(value_type = Option<Instant>)]
    pub due_date: Option<DateTime<Utc>>,
    /// The id of an active user; any other id is refused with `422` naming this field.
    #[schema(value_type = Option<i64>, minimum = 1)]
    #[serde(default)]
    pub assignee_id: Lenient<i64>,
    /// At most 20 distinct tags; stored trimmed, lower-case, deduplicated.
    #[schema(value_type = Vec<TagSchema>, max_items = 20)]
    #[serde(default)]
    pub tags: Lenient<Vec<String>>,
    /// A project where the caller is an editor or admin (a viewer is refused with `403`, a
    /// non-member with `422` naming this field); the assignee must then be a member. Null or
    /// left out: a personal task.
    #[schema(value_type = Option<i64>, minimum = 1)]
    #[serde(default)]
    pub project_id: Lenient<i64>,
    /// An RFC 5545 `RRULE` of the subset its schema states (anything else is a `422` naming this
    /// field); needs a `due_date`, the first occurrence.
    #[schema(value_type = Option<RecurrenceSchema>)]
    #[serde(default)]
    pub recurrence: Lenient<String>,
    /// Values of the project's custom fields by field id, each of the field's type (`422` naming
    /// `fields.<id>` otherwise); a required field must be given.
    #[schema(value_type = Option<Object>, example = json!({"12": "Kitchen"}))]
    #[serde(default)]
    pub fields: Lenient<workbench_tasks::RawFieldValues>,
}

impl CreateTaskRequest {
    /// The draft, with the fields whose JSON type was wrong.
    pub fn into_draft(self) -> TaskDraft {
        let mut failures = TypeFailures::default();
        TaskDraft {
            title: lenient("title", self.title, &mut failures),
            description: nullable("description", self.description, &mut failures),
            status: lenient("status", self.status, &mut failures),
            priority: lenient("priority", self.priority, &mut failures),
            due_date: self.due_date,
            assignee_id: nullable("assignee_id", self.assignee_id, &mut failures),
            tags: lenient("tags", self.tags, &mut failures),
            project_id: nullable("project_id", self.project_id, &mut failures),
            recurrence: nullable("recurrence", self.recurrence, &mut failures),
            completed_at: None,
            fields: nullable("fields", self.fields, &mut failures),
            type_failures: failures,
        }
    }
}

/// `PUT` and `PATCH /tasks/{id}`: fields left out are kept; `null` clears a nullable field
/// (`description`, `due_date`, `assignee_id`) and is refused for the others.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateTaskRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = TitleSchema)]
    pub title: Option<Option<String>>,
    /// At most 10 000 characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, max_length = 10000)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Status)]
    pub status: Option<Option<Status>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Priority)]
    pub priority: Option<Option<Priority>>,
    /// RFC 3339 (or a bare `YYYY-MM-DD`, midnight UTC).
    #[serde(default, deserialize_with = "nullable_instant")]
    #[schema(value_type = Option<Instant>, nullable)]
    pub due_date: Option<Option<DateTime<Utc>>>,
    /// The id of an active user; any other id is refused with `422` naming this field.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable, minimum = 1)]
    pub assignee_id: Option<Option<i64>>,
    /// At most 20 distinct tags; stored trimmed, lower-case, deduplicated.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Vec<TagSchema>, max_items = 20)]
    pub tags: Option<Option<Vec<String>>>,
    /// Moves the task to another project, where the caller must be an editor too (as in the one
    /// it leaves; a personal task moves in by its owner); `null` makes it a personal task of its
    /// owner, which only its owner (while a member) and the project's admins may do (`403`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable, minimum = 1)]
    pub project_id: Option<Option<i64>>,
    /// An RFC 5545 `RRULE`, as on creation; `null` stops the task recurring.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<RecurrenceSchema>, nullable)]
    pub recurrence: Option<Option<String>>,
    /// Custom field values to set, by field id; `null` removes one. Values not named are kept.
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!({"12": "Hall", "13": null}))]
    pub fields: Option<workbench_tasks::RawFieldValues>,
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
            project_id: r.project_id,
            recurrence: r.recurrence,
            // Set only by clients that record it (CalDAV's COMPLETED); REST completes as of now.
            completed_at: None,
            fields: r.fields,
        }
    }
}

/// The schema of `sort` as `TaskSort::parse` reads it.
#[derive(Debug)]
pub struct TaskSortSchema;

component!(
    TaskSortSchema,
    "TaskSort",
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some([
            "created_at",
            "-created_at",
            "updated_at",
            "-updated_at",
            "due_date",
            "-due_date",
            "priority",
            "-priority",
            "title",
            "-title",
        ]))
        .description(Some("A key, with `-` in front for descending (surrounding whitespace is ignored)"))
);

/// Filters, sort and page of `GET /tasks`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskListQuery {
    /// Comma-separated statuses: `pending`, `in_progress`, `completed` (empty items are ignored).
    #[param(
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:pending|in_progress|completed)?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:,[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:pending|in_progress|completed)?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)*$",
        example = "pending,in_progress"
    )]
    pub status: Option<String>,
    /// Comma-separated priorities: `low`, `medium`, `high` (empty items are ignored).
    #[param(
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:low|medium|high)?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:,[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:low|medium|high)?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)*$",
        example = "high"
    )]
    pub priority: Option<String>,
    pub assignee_id: Option<i64>,
    pub owner_id: Option<i64>,
    /// Only the tasks of this project (none unless the caller is a member, or a moderator or
    /// admin).
    pub project_id: Option<i64>,
    /// Tasks carrying this tag.
    pub tag: Option<String>,
    /// Case-insensitive substring of title or description.
    pub q: Option<String>,
    /// Due strictly before: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[serde(default, deserialize_with = "instant")]
    #[param(value_type = Option<Instant>, inline)]
    pub due_before: Option<DateTime<Utc>>,
    /// Due at or after: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[serde(default, deserialize_with = "instant")]
    #[param(value_type = Option<Instant>, inline)]
    pub due_after: Option<DateTime<Utc>>,
    /// Only tasks due in the past and not completed.
    pub overdue: Option<bool>,
    /// `created_at`, `updated_at`, `due_date`, `priority` or `title`; `-` prefix for descending.
    /// Default `-created_at`. Tasks without a due date sort last in both directions.
    #[param(value_type = Option<TaskSortSchema>, inline)]
    pub sort: Option<String>,
    /// Page number, from 1.
    #[param(value_type = Option<PageNumberSchema>, inline)]
    pub page: Option<i64>,
    /// Items per page, from 1; more than 100 is read as 100. Default 20.
    #[param(value_type = Option<PageSizeSchema>, inline)]
    pub per_page: Option<i64>,
}

/// The field filters of a list's query string: `field.<id>=v` (equal), `field.<id>>=v` and
/// `field.<id><=v` (at least, at most: number and date fields), as `(id, comparison, value)`.
/// A key naming no field is a `400`.
pub fn field_filters(
    query: &str,
) -> Result<Vec<(workbench_tasks::FieldId, workbench_tasks::FieldComparison, String)>, crate::problem::ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| crate::problem::ApiError::bad_request(format!("The query string cannot be read: {e}")))?;
    let mut filters = Vec::new();
    for (key, value) in pairs {
        match workbench_tasks::field_filter_key(&key) {
            Some(Ok((id, comparison))) => filters.push((id, comparison, value)),
            Some(Err(why)) => return Err(crate::problem::ApiError::bad_request(why)),
            None => {}
        }
    }
    Ok(filters)
}

impl TaskListQuery {
    /// The filter, the project it narrows to (if any) and the page.
    pub fn split(self) -> (RawTaskFilter, Option<i64>, Result<PageRequest, FieldErrors>) {
        let page = PageRequest::from_signed(self.page, self.per_page);
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
        (filter, self.project_id, page)
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
    #[schema(value_type = CommentBodySchema, required = true)]
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

/// `q` of `GET /tags`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TagQuery {
    /// Only tags containing this (case-insensitive).
    pub q: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_distinguishes_absent_null_and_value() {
        let r: UpdateTaskRequest = serde_json::from_str(r#"{"due_date": null, "title": "x"}"#).unwrap();
        assert_eq!(r.due_date, Some(None));
        assert_eq!(r.title, Some(Some("x".into())));
        assert_eq!(r.assignee_id, None);
    }
}

/// `GET /tasks/{id}/occurrences`: how many of the next due dates to preview.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OccurrencesQuery {
    /// 1 to 50; default 5.
    #[param(minimum = 1, maximum = 50)]
    pub count: Option<i64>,
}

/// The next due dates of a recurring task, earliest first (none for a task that does not recur).
#[derive(Debug, Serialize, ToSchema)]
pub struct OccurrencesResponse {
    pub data: Vec<DateTime<Utc>>,
}
