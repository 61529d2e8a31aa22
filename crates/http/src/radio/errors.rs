//! The radio domain's errors as problem documents.

use actix_web::http::StatusCode;
use workbench_radio::RadioError;

use crate::problem::ApiError;

/// Seconds a listener refused for its address's count is told to wait: a player that reconnects
/// at once (as most do on any error) would only be refused again, and one of the address's
/// listeners may end at any moment.
pub(super) const LISTENER_RETRY_AFTER: u64 = 10;

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
            RadioError::TooManyListeners(max) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-listeners",
                format!("This address has {max} listeners here already, the most it may have at once; end one first."),
            )
            .with_retry_after(LISTENER_RETRY_AFTER),
            RadioError::Unavailable(cause) => ApiError::internal(cause),
        }
    }
}
