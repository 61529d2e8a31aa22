//! The task-management domain of Workbench.
//!
//! Tasks and their comments, who may see and change them ([`Viewer`]), the rules a task keeps
//! (trimmed titles, normalised tags, `completed_at` following `status`, versions for optimistic
//! concurrency), list filters and statistics, and the ports the rules need:
//! [`TaskRepository`], [`CommentRepository`] and [`TaskCache`]. [`TaskService`] ties them together.

#![warn(missing_docs)]

mod board;
mod comment;
mod demo;
mod error;
mod field;
mod filter;
mod model;
mod ports;
mod recurrence;
mod relation;
mod service;
mod structure;

pub use board::{
    Bucket, BucketDraft, BucketId, BucketPatch, FIRST_BUCKET_NAME, MoveRequest, POSITION_STEP, Placement,
    REBALANCE_WINDOW, position_between, respread,
};
pub use comment::{Comment, CommentBody, NewComment};
pub use demo::{DemoBoard, demo_tasks};
pub use error::TaskError;
pub use field::{
    FieldComparison, FieldCondition, FieldDefinition, FieldDraft, FieldId, FieldOperand, FieldType, FieldValues,
    MAX_FIELDS_PER_PROJECT, NewField, RawFieldValues, check_values, field_filter_key, named_condition,
    split_field_term,
};
pub use filter::{RawTaskFilter, Refinement, SortKey, TaskFilter, TaskSort};
pub use model::{
    Access, NewTask, NewTaskRecord, Priority, Status, TagUsage, Tags, Task, TaskChanges, TaskDraft, TaskId, TaskPatch,
    TaskStats, Title, Viewer,
};
pub use ports::{
    CommentRepository, CreationKey, CreationOrder, FORGOTTEN_FOR, ListLookup, ListPart, ListTicket, ListedPage,
    OrderLookup, OrderTicket, OrderWindow, OrderedState, ProjectMembership, Rebase, Restatus, SEARCH_TIME_LIMIT,
    ShownLookup, ShownPage, Standing, TaskActivity, TaskCache, TaskFacets, TaskRepository, TaskScope, UpdateOutcome,
};
pub use recurrence::{
    COUNT_AND_UNTIL, MONTH_DAY_NOT_WEEKLY, NOT_A_RULE, REPEATED_PART, Recurrence, UNTIL_NOT_AN_INSTANT, next_occurrence,
};
pub use relation::{Related, RelatedTasks, Relation, RelationKind, StoredKind};
pub use service::TaskService;
pub use structure::{BoardRepository, BucketDeleted, FieldRepository, Moved, RelationRepository, StructureStores};

#[cfg(feature = "mock")]
pub use ports::{MockCommentRepository, MockProjectMembership, MockTaskCache, MockTaskRepository};
#[cfg(feature = "mock")]
pub use structure::{MockBoardRepository, MockFieldRepository, MockRelationRepository};
