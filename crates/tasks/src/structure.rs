//! What task structure (relations, boards, custom fields) needs from the outside world. Each
//! method's doc says what an adapter MUST do.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_projects::ProjectId;

use crate::{Bucket, BucketId, FieldDefinition, FieldId, NewField, Placement, Related, Relation, Task, TaskId};

/// Where relations between tasks live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RelationRepository: Send + Sync {
    /// Stores `relation` at `at`. A subtask sets the child's `parent_id` (a change of the child:
    /// its version and `updated_at` move on, with its `task.updated` event). MUST refuse, in the
    /// transaction that would store it, a relation that closes a cycle of its kind (subtasks,
    /// blockers) or gives a child a second parent, and MUST serialise such writes so that two
    /// concurrent ones cannot together close a cycle. Answers what it did and the tasks it
    /// changed as stored now (the child, a task it blocked).
    async fn relate(&self, relation: Relation, at: DateTime<Utc>) -> Result<(Related, Vec<Task>), RepositoryError>;

    /// Removes `relation`: `None` when there is no such relation, else the tasks it changed as
    /// stored now (the child that lost its parent, a task no longer blocked).
    async fn unrelate(&self, relation: Relation, at: DateTime<Utc>) -> Result<Option<Vec<Task>>, RepositoryError>;

    /// Every relation `task` is a side of (its parent and subtasks included).
    async fn relations_of(&self, task: TaskId) -> Result<Vec<Relation>, RepositoryError>;

    /// The tasks whose stored copy a change of `task`'s status or its deletion changes: those it
    /// blocks and its subtasks.
    async fn dependants(&self, task: TaskId) -> Result<Vec<TaskId>, RepositoryError>;
}

/// What [`BoardRepository::move_task`] did.
// One is returned per move and consumed at once.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Moved {
    /// Stored: the task as stored now, the next occurrence a completion made, and the tasks a
    /// rebalance gave new positions.
    Stored {
        /// The task as stored now.
        task: Task,
        /// The next occurrence of a recurring task the move completed.
        follow_up: Option<Box<Task>>,
        /// The tasks a rebalance moved (rarely any).
        respread: Vec<TaskId>,
    },
    /// Nothing stored: the task changed since (as stored now), or is gone.
    Stale(Option<Task>),
    /// The bucket is gone.
    NoBucket,
    /// The bucket already holds its limit.
    Full,
    /// The neighbour named is not in the bucket: `after_id` or `before_id`.
    NoNeighbour(&'static str),
}

/// What [`BoardRepository::delete_bucket`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketDeleted {
    /// Deleted; its tasks moved to the project's first remaining bucket.
    Deleted(Vec<TaskId>),
    /// Refused: it is the project's only bucket.
    Last,
    /// No such bucket.
    Gone,
}

/// Where project boards live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait BoardRepository: Send + Sync {
    /// The project's buckets in board order (position, then id).
    async fn buckets(&self, project: ProjectId) -> Result<Vec<Bucket>, RepositoryError>;

    /// The bucket `id`, if any.
    async fn bucket(&self, id: BucketId) -> Result<Option<Bucket>, RepositoryError>;

    /// Adds a bucket at the end of the project's board. A `done` bucket MUST unmark the
    /// project's other one in the same transaction.
    async fn create_bucket(
        &self,
        project: ProjectId,
        name: String,
        limit: Option<i32>,
        done: bool,
        at: DateTime<Utc>,
    ) -> Result<Bucket, RepositoryError>;

    /// Stores `bucket` as changed (`None` when it is gone); marking it done MUST unmark the
    /// project's other done bucket in the same transaction.
    async fn save_bucket(&self, bucket: Bucket) -> Result<Option<Bucket>, RepositoryError>;

    /// Deletes the bucket, moving its tasks to the project's first remaining bucket in the same
    /// transaction; refuses the project's only bucket.
    async fn delete_bucket(&self, id: BucketId) -> Result<BucketDeleted, RepositoryError>;

    /// One page of the bucket's tasks in its order, and their total. MUST cost about the same
    /// whatever the bucket's length (an index in board order).
    async fn bucket_page(&self, bucket: BucketId, page: PageRequest) -> Result<Page<Task>, RepositoryError>;

    /// Moves `task` (already changed: its bucket set, its status as the move makes it, its
    /// version bumped) from `before` to `placement` in its bucket, writing the one moved row (and
    /// rarely, a bounded window of its neighbours: see [`crate::respread`]), with its
    /// `task.updated` event and the next occurrence of a recurring task it completes, only if the
    /// stored version is still `before`'s. MUST serialise moves into one bucket, so that no two
    /// tasks end at one position, on every instance; MUST refuse a move into a bucket that
    /// already holds its limit (a move within the bucket excepted).
    async fn move_task(&self, task: Task, before: Task, placement: Placement) -> Result<Moved, RepositoryError>;
}

/// Where custom field definitions live (their values travel with the tasks).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait FieldRepository: Send + Sync {
    /// The project's fields, oldest first.
    async fn fields(&self, project: ProjectId) -> Result<Vec<FieldDefinition>, RepositoryError>;

    /// The field `id`, if any.
    async fn field(&self, id: FieldId) -> Result<Option<FieldDefinition>, RepositoryError>;

    /// The fields of any of `projects` (every project when empty) named `name` (ignoring case):
    /// what the search language's `field:<name>=` means for a viewer.
    async fn fields_named(
        &self,
        projects: Vec<ProjectId>,
        name: String,
    ) -> Result<Vec<FieldDefinition>, RepositoryError>;

    /// Stores a new field; `Conflict { field: "name" }` when the project has one of that name.
    async fn create_field(&self, field: NewField, at: DateTime<Utc>) -> Result<FieldDefinition, RepositoryError>;

    /// Deletes the field of `project` and removes its values from the tasks that carried one (a
    /// change of each: their versions move on). `None` when there is no such field, else the
    /// tasks changed.
    async fn delete_field(&self, project: ProjectId, id: FieldId) -> Result<Option<Vec<TaskId>>, RepositoryError>;
}

/// The stores of task structure, handed to [`crate::TaskService::with_structure`].
#[derive(Clone)]
pub struct StructureStores {
    /// Relations between tasks.
    pub relations: Arc<dyn RelationRepository>,
    /// Project boards.
    pub boards: Arc<dyn BoardRepository>,
    /// Custom fields.
    pub fields: Arc<dyn FieldRepository>,
}

impl std::fmt::Debug for StructureStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StructureStores").finish_non_exhaustive()
    }
}
