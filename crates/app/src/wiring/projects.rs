//! The projects domain: projects, members and invitations in the database. Wiring only: the
//! rules stay in the domain.

use std::sync::Arc;

use async_trait::async_trait;
use workbench_projects::{MembershipListener, ProjectId, ProjectService};
use workbench_store::{Database, DieselProjectRepository};
use workbench_tasks::{TaskId, TaskService};
use workbench_users::UserId;

/// The project service, telling the task service of every change to who sees a project's tasks
/// (whose caches, shared or told through the broadcast port, then forget on every instance).
pub fn service(db: &Database, tasks: &TaskService) -> ProjectService {
    ProjectService::new(Arc::new(DieselProjectRepository::new(db.clone())))
        .notifying(Arc::new(TaskVisibility(tasks.clone())))
}

/// What the tasks domain must forget when a project's membership changes.
struct TaskVisibility(TaskService);

#[async_trait]
impl MembershipListener for TaskVisibility {
    async fn joined(&self, project: ProjectId, user: UserId) {
        self.0.member_joined(project, user).await;
    }

    async fn left(&self, project: ProjectId, user: UserId, unassigned: Vec<i64>) {
        let unassigned: Vec<TaskId> = unassigned.into_iter().map(TaskId).collect();
        self.0.member_left(project, user, &unassigned).await;
    }

    async fn deleted(&self, project: ProjectId, members: Vec<UserId>) {
        self.0.project_deleted(project, &members).await;
    }
}
