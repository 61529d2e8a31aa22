//! The trades domain's errors as problem documents.

use actix_web::http::StatusCode;
use workbench_trades::TradeError;

use crate::preconditions::precondition_failed;
use crate::problem::ApiError;

impl From<TradeError> for ApiError {
    fn from(e: TradeError) -> Self {
        match e {
            TradeError::Validation(errors) => ApiError::validation(errors),
            TradeError::NotFound => ApiError::not_found("No such trade."),
            TradeError::Forbidden(why) => ApiError::forbidden(why),
            TradeError::NotOpen(status) => {
                ApiError::conflict(format!("The trade is {status}: only an open trade changes."))
            }
            TradeError::ItemsChanged => ApiError::new(
                StatusCode::CONFLICT,
                "items-changed",
                "An item of the trade changed hands or state meanwhile: nothing was swapped, and the trade is cancelled.",
            ),
            TradeError::SerialTaken => {
                let mut err = ApiError::conflict(
                    "One of you already owns this product with the same serial number: nothing was swapped.",
                );
                err.push_error("serial_number", "is already registered for this product to its new owner");
                err
            }
            TradeError::VersionMismatch { expected, current } => {
                precondition_failed(format!("The trade is at version {current}, not {expected}: fetch it again."))
            }
            TradeError::Unavailable(cause) => ApiError::internal(cause),
        }
    }
}
