//! Failures of the calendar use cases.

use workbench_tasks::TaskError;

use crate::vtodo::VtodoError;

/// Why a calendar operation failed. The CalDAV adapter answers each with one status and, for a
/// refused write, the precondition it failed.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// No such calendar or object, or one the user may not see: the two are alike on purpose.
    #[error("not found")]
    NotFound,
    /// The user sees it but may not do this; the text says why.
    #[error("{0}")]
    Forbidden(String),
    /// `If-Match` or `If-None-Match` did not hold.
    #[error("the precondition did not hold")]
    PreconditionFailed,
    /// A sync token this calendar never gave (or no longer honours).
    #[error("the sync token is not one of this calendar's")]
    InvalidSyncToken,
    /// Another object of the calendar has this UID; its resource name.
    #[error("another object of this calendar has the UID: {0}")]
    UidConflict(String),
    /// The calendar object cannot be read as one task.
    #[error(transparent)]
    Object(#[from] VtodoError),
    /// The task it makes breaks a task rule; the fields and reasons, by iCalendar property.
    #[error("{0}")]
    Invalid(String),
    /// Anything else (the store failed).
    #[error(transparent)]
    Unknown(anyhow::Error),
}

impl From<workbench_core::RepositoryError> for CalendarError {
    fn from(e: workbench_core::RepositoryError) -> Self {
        match e {
            // The cause itself, so that an unreachable store is still told apart (a 503, not a 500).
            workbench_core::RepositoryError::Unavailable(cause) => CalendarError::Unknown(cause),
            other => CalendarError::Unknown(other.into()),
        }
    }
}

/// The iCalendar property a task field is written as, for errors a client can act on.
pub(crate) fn property_of(field: &str) -> &str {
    match field {
        "title" => "SUMMARY",
        "description" => "DESCRIPTION",
        "status" => "STATUS",
        "priority" => "PRIORITY",
        "due_date" => "DUE",
        "tags" => "CATEGORIES",
        "recurrence" => "RRULE",
        other => other,
    }
}

impl From<TaskError> for CalendarError {
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::NotFound => CalendarError::NotFound,
            TaskError::Forbidden(why) => CalendarError::Forbidden(why.to_owned()),
            TaskError::VersionMismatch { .. } => CalendarError::PreconditionFailed,
            TaskError::Validation(errors) => CalendarError::Invalid(
                errors
                    .as_slice()
                    .iter()
                    .map(|e| format!("{}: {}", property_of(&e.field), e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            TaskError::Unknown(cause) => CalendarError::Unknown(cause),
            other => CalendarError::Unknown(anyhow::anyhow!(other)),
        }
    }
}
