//! What can go wrong with stations, in the domain's words.

use workbench_core::{FieldErrors, RepositoryError};

/// Failures of the radio use cases. The HTTP adapter (and the source listener) maps each variant to
/// one status.
#[derive(Debug, thiserror::Error)]
pub enum RadioError {
    /// Fields of a station that failed their rules, each named.
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    /// No such station, or a private one the caller may not see: indistinguishable on purpose.
    #[error("no such station")]
    NotFound,
    /// The caller may see the station but not manage it.
    #[error("only the station's owner or an admin may do this")]
    Forbidden,
    /// Another station has this slug.
    #[error("this slug is taken")]
    SlugTaken,
    /// Neither a source nor a playlist: nothing to play.
    #[error("the station is off the air: no source is live and its playlist is empty")]
    OffAir,
    /// A source with the wrong key.
    #[error("wrong source key")]
    WrongKey,
    /// A source of another format than the station's.
    #[error("this station carries {0}")]
    WrongFormat(&'static str),
    /// One source at a time.
    #[error("a source is already connected to this station")]
    SourceConnected,
    /// The listener's address has this many listeners on this instance already, the most it may.
    #[error("this address has {0} listeners already, the most it may have at once")]
    TooManyListeners(usize),
    /// The store failed.
    #[error(transparent)]
    Unavailable(#[from] RepositoryError),
}
