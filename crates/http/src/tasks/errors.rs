//! The tasks domain's errors as problem documents.

use actix_web::http::StatusCode;
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
            TaskError::Missing(what) => ApiError::not_found(format!("No such {what}.")),
            TaskError::Conflict(why) => ApiError::conflict(why),
            TaskError::BadQuery(why) => ApiError::bad_request(why),
            TaskError::VersionMismatch { expected, current } => precondition_failed(format!(
                "The task is at version {current}, not {expected}: fetch it again and reapply your change."
            )),
            TaskError::Contention => ApiError::conflict("The task is being changed by others; try again."),
            // The search was within every limit of the language: the server could not give it its
            // time, so this is a 503 to retry, not a 422 telling the client its valid query is wrong.
            TaskError::SearchTimedOut { limit } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "search-timeout",
                format!(
                    "The search ran past its time limit of {} s and was stopped; try again later, or narrow it.",
                    limit.as_secs_f64()
                ),
            )
            .with_retry_after(limit.as_secs().max(1)),
            TaskError::Unknown(cause) => ApiError::internal(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::ResponseError;
    use actix_web::http::header;
    use workbench_core::RepositoryError;

    use super::*;

    #[test]
    fn a_search_stopped_by_its_time_limit_is_a_503_to_retry() {
        let err = ApiError::from(TaskError::from(RepositoryError::timed_out(Duration::from_secs(2))));
        let problem = err.problem();
        assert_eq!(problem.status, 503);
        assert!(problem.problem_type.ends_with("/search-timeout"), "{problem:?}");
        assert_eq!(
            problem.detail,
            "The search ran past its time limit of 2 s and was stopped; try again later, or narrow it."
        );
        assert_eq!(err.error_response().headers().get(header::RETRY_AFTER).map(|v| v.as_bytes()), Some(&b"2"[..]));
        let other = ApiError::from(TaskError::from(RepositoryError::Unavailable(anyhow::anyhow!("disk full"))));
        assert_eq!(other.problem().status, 500, "only a stopped statement is a timeout");
    }
}
