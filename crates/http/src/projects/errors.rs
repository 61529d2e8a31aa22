//! The projects domain's errors as problem documents.

use workbench_projects::{Missing, ProjectError};

use crate::preconditions::precondition_failed;
use crate::problem::ApiError;

impl From<ProjectError> for ApiError {
    fn from(e: ProjectError) -> Self {
        match e {
            ProjectError::Validation(errors) => ApiError::validation(errors),
            ProjectError::NotFound(what) => ApiError::not_found(match what {
                Missing::Project => "No such project.",
                Missing::Member => "No such member of this project.",
                Missing::Invite => "No such invitation: it may have expired, run out or been revoked.",
            }),
            ProjectError::Forbidden(why) => ApiError::forbidden(why),
            ProjectError::AlreadyMember => ApiError::conflict("The user is already a member of this project."),
            ProjectError::LastAdmin => {
                ApiError::conflict("A project keeps at least one admin: make another member admin first.")
            }
            ProjectError::VersionMismatch { expected, current } => precondition_failed(format!(
                "The project is at version {current}, not {expected}: fetch it again and reapply your change."
            )),
            ProjectError::Contention => ApiError::conflict("The project is being changed by others; try again."),
            ProjectError::Unavailable(cause) => ApiError::internal(cause),
        }
    }
}
