//! The files domain's errors as problem documents.

use actix_web::http::StatusCode;
use workbench_files::{FileError, Missing, RenditionError, TranscodeError};

use super::receiving::capitalised;
use crate::problem::ApiError;

impl From<FileError> for ApiError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Validation(errors) => ApiError::validation(errors),
            FileError::NotFound(what) => ApiError::not_found(match what {
                Missing::File => "No such file.",
                Missing::Thumbnail => "This file has no thumbnail: only images do.",
                Missing::Task => "No such task.",
                Missing::UserProduct => "No such item in your collection.",
                Missing::ShareLink => "No such link: it may have expired, run out or been revoked.",
                Missing::Audio => "This file is not audio: only audio files have renditions.",
            }),
            // Not a bearer route: no `WWW-Authenticate: Bearer` challenge.
            FileError::PasswordRequired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "share-password-required",
                "This link needs its password, sent as X-Share-Password.",
            ),
            FileError::Forbidden(why) => ApiError::forbidden(why),
            e @ FileError::RangeNotSatisfiable { .. } => {
                ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "range-not-satisfiable", sentence(&e))
            }
            e @ FileError::DocumentTooLong { .. } => {
                let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation-error", sentence(&e));
                err.push_error("data", "selects too much for one document; narrow it down");
                err
            }
            // The inputs were within every limit: the server could not give the render its time,
            // so this is a 503 to retry, not a 422 telling the client to change a valid document.
            e @ FileError::RenderTimedOut { limit } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "pdf-render-timeout",
                format!("{}; try again later.", capitalised(&e.to_string())),
            )
            .with_retry_after(limit.as_secs().max(1)),
            FileError::Unavailable(cause) => ApiError::internal(cause),
        }
    }
}

impl From<RenditionError> for ApiError {
    fn from(e: RenditionError) -> Self {
        match e {
            RenditionError::File(e) => e.into(),
            e @ RenditionError::Transcode(TranscodeError::Unavailable { .. }) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "transcoding-unavailable",
                format!("{}.", capitalised(&e.to_string())),
            ),
            RenditionError::Transcode(TranscodeError::Busy { retry_after }) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "transcoding-busy",
                "Every transcoding worker is busy and the queue is full; try again shortly.",
            )
            .with_retry_after(retry_after.as_secs().max(1)),
            RenditionError::Transcode(TranscodeError::Failed(cause)) => ApiError::internal(cause),
        }
    }
}

/// The domain's message (which starts in lower case, with its own article) as a sentence.
fn sentence(e: &FileError) -> String {
    format!("{}.", capitalised(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::ResponseError;
    use actix_web::http::header;

    use super::*;

    #[test]
    fn a_render_past_its_time_bound_is_a_503_to_retry() {
        let err = ApiError::from(FileError::RenderTimedOut { limit: Duration::from_secs(20) });
        let problem = err.problem();
        assert_eq!(problem.status, 503);
        assert!(problem.problem_type.ends_with("/pdf-render-timeout"), "{problem:?}");
        assert_eq!(problem.detail, "Rendering the document took longer than the 20 s allowed; try again later.");
        assert_eq!(err.error_response().headers().get(header::RETRY_AFTER).map(|v| v.as_bytes()), Some(&b"20"[..]));
    }

    #[test]
    fn domain_messages_read_as_sentences() {
        let err = ApiError::from(FileError::DocumentTooLong { pages: 586, max: 200 });
        assert_eq!(err.problem().detail, "The document would have 586 pages, more than the 200 allowed.");
        let err = ApiError::from(FileError::RangeNotSatisfiable { size: 10 });
        assert_eq!(err.problem().detail, "The range selects nothing of a file of 10 bytes.");
    }
}
