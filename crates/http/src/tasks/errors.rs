//! The tasks domain's errors as problem documents.

use workbench_tasks::TaskError;

use crate::preconditions::precondition_failed;
use crate::problem::ApiError;

impl From<TaskError> for ApiError {
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::Validation(errors) => ApiError::validation(errors),
            TaskError::NotFound => ApiError::not_found("No such task."),
            TaskError::CommentNotFound => ApiError::not_found("No such comment on this task."),
            TaskError::Forbidden(why) => ApiError::forbidden(why),
            TaskError::VersionMismatch { expected, current } => precondition_failed(format!(
                "The task is at version {current}, not {expected}: fetch it again and reapply your change."
            )),
            TaskError::Contention => ApiError::conflict("The task is being changed by others; try again."),
            TaskError::Unknown(cause) => ApiError::internal(cause),
        }
    }
}
