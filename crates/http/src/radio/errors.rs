//! The radio domain's errors as problem documents.

use actix_web::http::StatusCode;
use workbench_radio::RadioError;

use crate::problem::ApiError;

impl From<RadioError> for ApiError {
    fn from(e: RadioError) -> Self {
        match e {
            RadioError::Validation(errors) => ApiError::validation(errors),
            RadioError::NotFound => ApiError::not_found("No such station."),
            RadioError::Forbidden => ApiError::forbidden("Only the station's owner or an admin may do this."),
            RadioError::SlugTaken => {
                let mut err = ApiError::conflict("A station with this slug exists already.");
                err.push_error("slug", "is taken");
                err
            }
            RadioError::OffAir => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "station-off-air",
                "The station is off the air: no source is live and its playlist is empty.",
            ),
            RadioError::WrongKey => ApiError::new(StatusCode::UNAUTHORIZED, "invalid-source-key", "Wrong source key."),
            RadioError::WrongFormat(content_type) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                format!("This station carries {content_type}."),
            ),
            RadioError::SourceConnected => ApiError::conflict("A source is already connected to this station."),
            RadioError::Unavailable(cause) => ApiError::internal(cause),
        }
    }
}
