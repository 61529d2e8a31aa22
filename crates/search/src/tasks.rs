//! What a query asks of tasks, for whom: `assignee:me` is the caller, `assignee:<name>` the
//! account of that name the caller may see, and a name nobody has is named among `q`'s errors.

use chrono::{DateTime, Utc};
use workbench_core::FieldErrors;
use workbench_tasks::{TaskError, TaskFilter, TaskService, named_condition};
use workbench_users::{Principal, UserError, UserService};

use crate::query::{Assignee, FIELD, Query};

/// Why a query's task filter could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TaskFilterError {
    /// `assignee:` names nobody the caller may see (a `422` on `q`).
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    /// The accounts could not be read.
    #[error(transparent)]
    Users(#[from] UserError),
    /// The custom fields could not be read.
    #[error(transparent)]
    Tasks(#[from] TaskError),
}

impl Query {
    /// The task filter of this query as `viewer` means it (see [`Query::task_filter`]), with
    /// `assignee:` resolved through `users` as `viewer` may see them, `field:` names through
    /// `tasks` as the fields of the projects `viewer` is a member of; overdue as of `now`.
    pub async fn tasks_for(
        &self,
        viewer: &Principal,
        users: &UserService,
        tasks: &TaskService,
        now: DateTime<Utc>,
    ) -> Result<TaskFilter, TaskFilterError> {
        let assignee = match &self.assignee {
            None => None,
            Some(Assignee::Me) => Some(viewer.id),
            Some(Assignee::Username(name)) => match users.by_username(viewer, name).await? {
                Some(user) => Some(user.id),
                None => {
                    let message = format!("term `assignee:{name}`: no user is called {name:?}");
                    return Err(FieldErrors::single(FIELD, message).into());
                }
            },
        };
        let mut filter = self.task_filter(assignee, now);
        for (name, comparison, raw) in &self.fields {
            let named = tasks.fields_named(viewer, name).await?;
            let condition = named_condition(&named, *comparison, raw)
                .map_err(|why| FieldErrors::single(FIELD, format!("term `field:{name}`: {why}")))?;
            filter.refinement.fields.push(condition);
        }
        Ok(filter)
    }
}
