//! The task-management domain of Workbench.
//!
//! Tasks and their comments, who may see and change them ([`Viewer`]), the rules a task keeps
//! (trimmed titles, normalised tags, `completed_at` following `status`, versions for optimistic
//! concurrency), list filters and statistics, and the ports the rules need:
//! [`TaskRepository`], [`CommentRepository`] and [`TaskCache`]. [`TaskService`] ties them together.

#![warn(missing_docs)]

mod comment;
mod demo;
mod error;
mod filter;
mod model;
mod ports;
mod recurrence;
mod service;

pub use comment::{Comment, CommentBody, NewComment};
pub use demo::demo_tasks;
pub use error::TaskError;
pub use filter::{RawTaskFilter, Refinement, SortKey, TaskFilter, TaskSort};
pub use model::{
    Access, NewTask, NewTaskRecord, Priority, Status, TagUsage, Tags, Task, TaskChanges, TaskDraft, TaskId, TaskPatch,
    TaskStats, Title, Viewer,
};
pub use ports::{
    CommentRepository, CreationKey, CreationOrder, FORGOTTEN_FOR, ListLookup, ListPart, ListTicket, ListedPage,
    OrderLookup, OrderTicket, OrderWindow, ProjectMembership, Rebase, SEARCH_TIME_LIMIT, ShownLookup, ShownPage,
    Standing, TaskCache, TaskFacets, TaskRepository, TaskScope, UpdateOutcome,
};
pub use recurrence::{
    COUNT_AND_UNTIL, MONTH_DAY_NOT_WEEKLY, NOT_A_RULE, REPEATED_PART, Recurrence, UNTIL_NOT_AN_INSTANT, next_occurrence,
};
pub use service::TaskService;

#[cfg(feature = "mock")]
pub use ports::{MockCommentRepository, MockProjectMembership, MockTaskCache, MockTaskRepository};
