//! What can go wrong with the catalogue and collections, in the domain's words.

use workbench_core::{FieldErrors, RepositoryError};

/// The kind of thing that was not found, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// A category of the catalogue.
    Category,
    /// A product of the catalogue.
    Product,
    /// An item of the caller's collection.
    UserProduct,
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Resource::Category => "category",
            Resource::Product => "product",
            Resource::UserProduct => "user product",
        })
    }
}

/// Failures of the catalogue and collection use cases. The HTTP adapter maps each variant to one
/// status.
#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    /// Invalid fields, every one of them; references to rows that do not exist or may not be
    /// used (`category_id`, `product_id`) are reported here too.
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    /// No such resource, or an owned item of someone else: the two are indistinguishable on
    /// purpose.
    #[error("no such {0}")]
    NotFound(Resource),
    /// The caller may not do this (the catalogue is changed by admins only); the message says why.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A uniqueness rule: `field` names what the client sent that is taken (`slug`,
    /// `serial_number`).
    #[error("{field} is already taken")]
    Conflict {
        /// The field whose value is taken (`slug`, `serial_number`).
        field: &'static str,
    },
    /// The client's `If-Match` version is not the current one.
    #[error("the resource changed since version {expected}; it is now at version {current}")]
    VersionMismatch {
        /// The version the client sent in `If-Match`.
        expected: i64,
        /// The version now.
        current: i64,
    },
    /// A category that still has products cannot be deleted.
    #[error("the category still has products")]
    CategoryInUse,
    /// A product that users own cannot be deleted (it can be discontinued instead).
    #[error("the product is in users' collections; discontinue it instead")]
    ProductInUse,
    /// An owned item with files attached cannot be deleted until they are removed.
    #[error("files are attached to the item; delete them first")]
    FilesAttached,
    /// Concurrent writers kept winning; the client may retry.
    #[error("the resource is being changed by others; try again")]
    Contention,
    /// The store could not answer.
    #[error(transparent)]
    Unavailable(anyhow::Error),
}

impl From<RepositoryError> for ProductError {
    fn from(e: RepositoryError) -> Self {
        match e {
            RepositoryError::Conflict { field } => ProductError::Conflict { field },
            RepositoryError::MissingReference { field } => FieldErrors::single(field, reference_message(field)).into(),
            RepositoryError::Unavailable(e) => ProductError::Unavailable(e),
        }
    }
}

/// What a client is told about a reference that does not resolve.
pub(crate) fn reference_message(field: &str) -> &'static str {
    match field {
        "category_id" => "must be an existing category",
        "product_id" => "must be an existing, active product",
        _ => "must refer to something that exists",
    }
}
