//! The accounts domain's profile errors as problem documents.

use workbench_users::UserError;

use crate::preconditions::precondition_failed;
use crate::problem::ApiError;

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Validation(errors) => ApiError::validation(errors),
            UserError::NotFound => ApiError::not_found("No such user."),
            UserError::Forbidden(why) => ApiError::forbidden(why),
            UserError::Conflict { field } => ApiError::taken(field),
            UserError::VersionMismatch { expected, current } => precondition_failed(format!(
                "The account is at version {current}, not {expected}: fetch it again and reapply your change."
            )),
            UserError::Unknown(cause) => ApiError::internal(cause),
        }
    }
}
