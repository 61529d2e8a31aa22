//! Wire shapes of relations, buckets, moves and custom fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use workbench_tasks::{
    Bucket, BucketDraft, BucketPatch, FieldDefinition, FieldDraft, FieldType, MoveRequest, RelatedTasks, RelationKind,
};

use crate::body::present;
use crate::tasks::dto::TaskResponse;

/// `POST /tasks/{id}/relations`: relate the task to `task_id`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateRelationRequest {
    /// As seen from the task in the path: `subtask` makes `task_id` its subtask, `blocks` means it
    /// blocks `task_id`; the inverse names (`parent`, `blocked_by`, `duplicated_by`) post the
    /// relation from the other side.
    #[schema(value_type = RelationKind, required = true)]
    pub kind: Option<String>,
    /// The other task: one the caller may see.
    #[schema(value_type = i64, minimum = 1, required = true)]
    pub task_id: Option<i64>,
}

/// A relation as posted.
#[derive(Debug, Serialize, ToSchema)]
pub struct RelationResponse {
    /// The kind, as seen from the task in the path.
    pub kind: RelationKind,
    /// The other task.
    pub task_id: i64,
}

/// A task's related tasks by kind, as seen from it (each kind present; tasks the caller may not
/// see left out).
#[derive(Debug, Serialize, ToSchema)]
pub struct RelationsResponse {
    /// Its subtasks.
    pub subtask: Vec<TaskResponse>,
    /// Its parent (at most one).
    pub parent: Vec<TaskResponse>,
    /// The tasks it blocks.
    pub blocks: Vec<TaskResponse>,
    /// The tasks that block it.
    pub blocked_by: Vec<TaskResponse>,
    /// The tasks related to it.
    pub relates: Vec<TaskResponse>,
    /// The tasks it duplicates.
    pub duplicates: Vec<TaskResponse>,
    /// The tasks that duplicate it.
    pub duplicated_by: Vec<TaskResponse>,
}

impl From<RelatedTasks> for RelationsResponse {
    fn from(mut related: RelatedTasks) -> Self {
        let mut take = |kind| related.remove(&kind).unwrap_or_default().into_iter().map(TaskResponse::from).collect();
        Self {
            subtask: take(RelationKind::Subtask),
            parent: take(RelationKind::Parent),
            blocks: take(RelationKind::Blocks),
            blocked_by: take(RelationKind::BlockedBy),
            relates: take(RelationKind::Relates),
            duplicates: take(RelationKind::Duplicates),
            duplicated_by: take(RelationKind::DuplicatedBy),
        }
    }
}

/// A column of a project's board.
#[derive(Debug, Serialize, ToSchema)]
pub struct BucketResponse {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    /// The most tasks a move may bring it to; null for no limit.
    pub limit: Option<i32>,
    /// The project's done bucket: moving a task here completes it; completing one elsewhere
    /// moves it here.
    pub done: bool,
    /// Its place on the board, lowest first.
    pub position: i64,
    /// How many tasks it holds.
    pub task_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Bucket> for BucketResponse {
    fn from(b: Bucket) -> Self {
        Self {
            id: b.id.0,
            project_id: b.project_id.0,
            name: b.name,
            limit: b.limit,
            done: b.done,
            position: b.position,
            task_count: b.task_count,
            created_at: b.created_at,
            updated_at: b.updated_at,
        }
    }
}

/// `POST /projects/{id}/buckets`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateBucketRequest {
    /// 1 to 100 characters once trimmed.
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"\S", required = true)]
    pub name: Option<String>,
    /// The most tasks a move may bring it to.
    #[schema(minimum = 1, maximum = 2147483647)]
    pub limit: Option<i64>,
    /// Makes it the project's done bucket (the previous one is unmarked).
    pub done: Option<bool>,
}

impl From<CreateBucketRequest> for BucketDraft {
    fn from(r: CreateBucketRequest) -> Self {
        Self { name: r.name, limit: r.limit, done: r.done }
    }
}

/// `PATCH /projects/{id}/buckets/{bucket_id}`: fields left out are kept.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateBucketRequest {
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// `null` lifts the limit.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable, minimum = 1, maximum = 2147483647)]
    pub limit: Option<Option<i64>>,
    /// `true` makes it the done bucket (unmarking the previous one).
    pub done: Option<bool>,
    /// Its place on the board, lowest first (ties by id).
    pub position: Option<i64>,
}

impl From<UpdateBucketRequest> for BucketPatch {
    fn from(r: UpdateBucketRequest) -> Self {
        Self { name: r.name, limit: r.limit, done: r.done, position: r.position }
    }
}

/// `POST /tasks/{id}/move`: where the task goes on its project's board.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MoveTaskRequest {
    /// A bucket of the task's project.
    #[schema(value_type = i64, minimum = 1, required = true)]
    pub bucket_id: Option<i64>,
    /// Place it right after this task of the bucket (not with `before_id`).
    #[schema(minimum = 1)]
    pub after_id: Option<i64>,
    /// Place it right before this task of the bucket (not with `after_id`). With neither, it goes
    /// to the end.
    #[schema(minimum = 1)]
    pub before_id: Option<i64>,
}

impl From<MoveTaskRequest> for MoveRequest {
    fn from(r: MoveTaskRequest) -> Self {
        Self { bucket_id: r.bucket_id, after_id: r.after_id, before_id: r.before_id }
    }
}

/// A project's custom field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldResponse {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    /// What its values are: `text` (≤ 1,000 characters), `number`, `date` (`YYYY-MM-DD`),
    /// `select` (one of `options`) or `user` (a member's id).
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// A select field's options; null for the others.
    pub options: Option<Vec<String>>,
    /// Every task of the project must carry a value.
    pub required: bool,
    pub created_at: DateTime<Utc>,
}

impl From<FieldDefinition> for FieldResponse {
    fn from(f: FieldDefinition) -> Self {
        Self {
            id: f.id.0,
            project_id: f.project_id.0,
            name: f.name,
            field_type: f.field_type,
            options: f.options,
            required: f.required,
            created_at: f.created_at,
        }
    }
}

/// `POST /projects/{id}/fields`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateFieldRequest {
    /// 1 to 100 characters once trimmed, unique in the project (ignoring case).
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"\S", required = true)]
    pub name: Option<String>,
    #[serde(rename = "type")]
    #[schema(value_type = FieldType, required = true)]
    pub field_type: Option<String>,
    /// A select field's options (1 to 100 distinct, each 1 to 100 characters); only a select
    /// field has them.
    #[schema(max_items = 100)]
    pub options: Option<Vec<String>>,
    /// Every task must carry a value. Default false.
    pub required: Option<bool>,
}

impl From<CreateFieldRequest> for FieldDraft {
    fn from(r: CreateFieldRequest) -> Self {
        Self { name: r.name, field_type: r.field_type, options: r.options, required: r.required }
    }
}
