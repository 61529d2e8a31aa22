//! Calendars (CalDAV): the task service's writes, with what clients wrote and each calendar's
//! change log in the database.

use std::sync::Arc;

use workbench_calendars::CalendarService;
use workbench_store::{Database, DieselCalendarStore, DieselProjectRepository};
use workbench_tasks::TaskService;

/// The calendar service over `tasks`.
pub fn service(db: &Database, tasks: &TaskService) -> CalendarService {
    CalendarService::new(
        Arc::new(DieselCalendarStore::new(db.clone())),
        tasks.clone(),
        // Membership read at each request: a member who leaves loses the calendar at once.
        Arc::new(DieselProjectRepository::new(db.clone())),
    )
}
