//! A task as the store reads it, and what it becomes.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use workbench_core::RepositoryError;
use workbench_projects::ProjectId;
use workbench_tasks::{BucketId, Priority, Status, Task, TaskId};
use workbench_users::UserId;

use crate::columns::row;
use crate::connection::Db;
use crate::error::corrupt;
use crate::schema::tasks;

row! {
    /// A task as read: every column but the derived ones (`priority_rank`, `search_text`).
    #[derive(Debug)]
    pub(crate) struct TaskRow in tasks {
        id: i64,
        title: String,
        description: Option<String>,
        status: String,
        priority: String,
        due_date: Option<NaiveDateTime>,
        owner_id: i64,
        assignee_id: Option<i64>,
        completed_at: Option<NaiveDateTime>,
        version: i64,
        created_at: NaiveDateTime,
        updated_at: NaiveDateTime,
        tags: String,
        project_id: Option<i64>,
        recurrence: Option<String>,
        previous_id: Option<i64>,
        parent_id: Option<i64>,
        blocked: bool,
        bucket_id: Option<i64>,
        position: Option<i64>,
        fields: String,
    }
}

/// The SQL types of what a statement returning [`TaskRow::COLUMNS`] answers.
pub(super) type TaskRowSqlType = diesel::dsl::SqlTypeOf<<TaskRow as Selectable<Db>>::SelectExpression>;

impl TaskRow {
    pub(crate) fn into_task(self) -> Result<Task, RepositoryError> {
        let status = Status::parse(&self.status).map_err(|e| corrupt("tasks.status", &e))?;
        let priority = Priority::parse(&self.priority).map_err(|e| corrupt("tasks.priority", &e))?;
        let tags: Vec<String> = serde_json::from_str(&self.tags).map_err(|e| corrupt("tasks.tags", e))?;
        let fields = serde_json::from_str(&self.fields).map_err(|e| corrupt("tasks.fields", e))?;
        Ok(Task {
            id: TaskId(self.id),
            title: self.title,
            description: self.description,
            status,
            priority,
            due_date: self.due_date.map(|t| t.and_utc()),
            owner_id: UserId(self.owner_id),
            assignee_id: self.assignee_id.map(UserId),
            tags,
            completed_at: self.completed_at.map(|t| t.and_utc()),
            version: self.version,
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
            project_id: self.project_id.map(ProjectId),
            recurrence: self.recurrence,
            previous_id: self.previous_id.map(TaskId),
            parent_id: self.parent_id.map(TaskId),
            blocked: self.blocked,
            bucket_id: self.bucket_id.map(BucketId),
            position: self.position,
            fields,
        })
    }
}
