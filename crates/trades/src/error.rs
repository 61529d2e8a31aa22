//! What can go wrong with trades, in the domain's words.

use workbench_core::{FieldErrors, RepositoryError};

use crate::TradeStatus;

/// Failures of the trade use cases. The HTTP adapter maps each variant to one status.
#[derive(Debug, thiserror::Error)]
pub enum TradeError {
    /// Invalid fields, every one of them.
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    /// No such trade, or one the caller is no party to: the two are indistinguishable on purpose.
    #[error("no such trade")]
    NotFound,
    /// The caller is a party, but this action is the other party's.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Only an open trade changes.
    #[error("the trade is {0}, not open")]
    NotOpen(TradeStatus),
    /// An item is no longer owned by the side that put it in; the trade was cancelled.
    #[error("an item of the trade changed hands or state; the trade was cancelled")]
    ItemsChanged,
    /// A party already owns this product with the serial number an item of the trade carries.
    #[error("a party already owns this product with the same serial number")]
    SerialTaken,
    /// `If-Match` named another version than the current one.
    #[error("the trade is at version {current}, not {expected}")]
    VersionMismatch {
        /// The version the client sent in `If-Match`.
        expected: i64,
        /// The trade's version now.
        current: i64,
    },
    /// Anything else: the store failed.
    #[error(transparent)]
    Unavailable(anyhow::Error),
}

impl From<RepositoryError> for TradeError {
    fn from(e: RepositoryError) -> Self {
        TradeError::Unavailable(e.into())
    }
}
