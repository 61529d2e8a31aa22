//! Tasks and their comments: rows in the database (their events in the outbox, in the same
//! transaction), tasks, pages and statistics cached as [`super::shared`] decides; and the
//! calendars of them that CalDAV serves.

use std::sync::Arc;

use workbench_calendars::CalendarService;
use workbench_store::{
    Database, DieselBoardRepository, DieselCalendarStore, DieselCommentRepository, DieselFieldRepository,
    DieselProjectRepository, DieselRelationRepository, DieselTaskRepository,
};
use workbench_tasks::{StructureStores, TaskCache, TaskService};
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
    .with_structure(StructureStores {
        relations: Arc::new(DieselRelationRepository::new(db.clone())),
        boards: Arc::new(DieselBoardRepository::new(db.clone())),
        fields: Arc::new(DieselFieldRepository::new(db.clone())),
    })
}

/// Tasks as calendars (CalDAV): `tasks`'s writes, what clients wrote and each calendar's change log.
pub fn calendars(db: &Database, tasks: &TaskService) -> CalendarService {
    let store = Arc::new(DieselCalendarStore::new(db.clone()));
    CalendarService::new(store, tasks.clone(), Arc::new(DieselProjectRepository::new(db.clone())))
}
