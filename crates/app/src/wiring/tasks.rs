//! Tasks and their comments: rows in the database (their events in the outbox, in the same
//! transaction), tasks, pages and statistics cached as [`super::shared`] decides.

use std::sync::Arc;

use workbench_store::{Database, DieselCommentRepository, DieselProjectRepository, DieselTaskRepository};
use workbench_tasks::{TaskCache, TaskService};
use workbench_users::Authenticator;

/// The task service; `events_written` is rung once a change and its event committed (it wakes
/// the outbox relay).
pub fn service(
    db: &Database,
    accounts: &Authenticator,
    cache: Arc<dyn TaskCache>,
    events_written: Arc<tokio::sync::Notify>,
) -> TaskService {
    TaskService::new(
        Arc::new(DieselTaskRepository::new(db.clone()).ringing(events_written)),
        Arc::new(DieselCommentRepository::new(db.clone())),
        Arc::new(accounts.clone()),
        cache,
        // Who may see project tasks: read from the members table at each request.
        Arc::new(DieselProjectRepository::new(db.clone())),
    )
}
