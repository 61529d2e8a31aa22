//! The job queue's errors as problem documents.

use actix_web::http::StatusCode;
use workbench_jobs::JobsError;

use crate::problem::ApiError;

impl From<JobsError> for ApiError {
    fn from(e: JobsError) -> Self {
        match e {
            JobsError::Validation(errors) => ApiError::validation(errors),
            JobsError::NotFound => ApiError::not_found("No such job."),
            e @ JobsError::WrongState { .. } => {
                ApiError::new(StatusCode::CONFLICT, "job-state-conflict", e.to_string())
            }
            JobsError::DuplicateKey => ApiError::new(
                StatusCode::CONFLICT,
                "job-state-conflict",
                "Another job with this job's unique key is waiting or running; retrying this one would run the work twice.",
            ),
            e @ JobsError::Configuration(_) => ApiError::internal(anyhow::anyhow!(e)),
            JobsError::Unknown(cause) => ApiError::internal(cause),
        }
    }
}
