//! Workbench's tasks as calendars (CalDAV's view of the task domain).
//!
//! A task is one iCalendar `VTODO` ([`vtodo`]): what Workbench models is mapped both ways, and
//! everything else a client wrote (alarms, `X-` properties, parameters, `DTSTART`...) is kept as
//! written and given back, also after REST edits. A user sees one calendar of their personal
//! tasks and one per project they belong to ([`CalendarId`]); each calendar's changes are logged
//! so that a sync reads what changed since its token, not the calendar.

#![warn(missing_docs)]

pub mod ical_time;
pub mod vtodo;

mod calendar;
mod error;
mod ports;
mod rendered;
mod service;

pub use calendar::{Calendar, CalendarId, CalendarObject, Change, ChangesSince, ObjectEntry, SyncToken};
pub use error::CalendarError;
pub use ports::CalendarStore;
pub use service::{CalendarService, DEFAULT_NAME_PREFIX, MAX_CHANGES, ObjectData, Precondition, Written, default_name};

#[cfg(feature = "mock")]
pub use ports::MockCalendarStore;
