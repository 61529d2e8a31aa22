//! The products domain's errors (the catalogue's and the collections') as problem documents.

use workbench_products::{ProductError, Resource};

use crate::preconditions::precondition_failed;
use crate::problem::ApiError;

impl From<ProductError> for ApiError {
    fn from(e: ProductError) -> Self {
        match e {
            ProductError::Validation(errors) => ApiError::validation(errors),
            ProductError::NotFound(what) => ApiError::not_found(match what {
                Resource::Category => "No such category.",
                Resource::Product => "No such product.",
                Resource::UserProduct => "No such item in your collection.",
            }),
            ProductError::Forbidden(why) => ApiError::forbidden(why),
            ProductError::Conflict { field: "serial_number" } => {
                let mut err = ApiError::conflict("You already have this product with this serial number.");
                err.push_error("serial_number", "is already registered for this product");
                err
            }
            ProductError::Conflict { field } => ApiError::taken(field),
            ProductError::VersionMismatch { expected, current } => precondition_failed(format!(
                "The resource is at version {current}, not {expected}: fetch it again and reapply your change."
            )),
            ProductError::CategoryInUse => {
                ApiError::conflict("The category still has products: move or delete them first.")
            }
            ProductError::ProductInUse => {
                ApiError::conflict("Users own this product, so it cannot be deleted; discontinue it instead.")
            }
            ProductError::FilesAttached => ApiError::conflict("Files are attached to this item: delete them first."),
            ProductError::Contention => ApiError::conflict("The resource is being changed by others; try again."),
            ProductError::Unavailable(cause) => ApiError::internal(cause),
        }
    }
}
