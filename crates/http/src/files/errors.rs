//! The files domain's errors as problem documents.

use actix_web::http::StatusCode;
use workbench_files::{FileError, Missing};

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
            }),
            FileError::Forbidden(why) => ApiError::forbidden(why),
            e @ FileError::RangeNotSatisfiable { .. } => {
                ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "range-not-satisfiable", format!("The {e}."))
            }
            e @ FileError::DocumentTooLong { .. } => {
                let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation-error", format!("The {e}."));
                err.push_error("data", "selects too much for one document; narrow it down");
                err
            }
            FileError::Unavailable(cause) => ApiError::internal(cause),
        }
    }
}
