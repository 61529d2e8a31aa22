//! The search domain's errors as problem documents.

use workbench_core::RepositoryError;
use workbench_search::{SavedSearchError, TaskFilterError};

use crate::problem::ApiError;

impl From<SavedSearchError> for ApiError {
    fn from(e: SavedSearchError) -> Self {
        match e {
            SavedSearchError::Invalid(errors) => ApiError::validation(errors),
            SavedSearchError::TooMany => ApiError::conflict(format!(
                "You keep {} saved searches, the most there may be: delete one first.",
                workbench_search::MAX_PER_USER
            )),
            SavedSearchError::NotFound => ApiError::not_found("You keep no saved search with that id."),
            SavedSearchError::Repository(RepositoryError::Unavailable(cause)) => ApiError::internal(cause),
            SavedSearchError::Repository(other) => ApiError::internal(other),
        }
    }
}

impl From<TaskFilterError> for ApiError {
    fn from(e: TaskFilterError) -> Self {
        match e {
            TaskFilterError::Invalid(errors) => ApiError::validation(errors),
            TaskFilterError::Users(e) => e.into(),
            TaskFilterError::Tasks(e) => e.into(),
        }
    }
}
