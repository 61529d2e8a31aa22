//! The error every repository port returns.

/// What a storage adapter may report to a domain service.
///
/// Adapters translate their driver's errors into this: a unique-constraint violation becomes
/// [`RepositoryError::Conflict`] naming the field a client would change; anything else is
/// [`RepositoryError::Unavailable`] and ends as an opaque `500` (or `503`) after being logged.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// A uniqueness rule was broken; `field` names what the client sent that is already taken.
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    /// The write refers to a row that does not exist (a foreign key failed).
    #[error("{field} refers to something that does not exist")]
    MissingReference { field: &'static str },
    /// The store could not answer: connection lost, pool exhausted, a bug in a query.
    #[error(transparent)]
    Unavailable(#[from] anyhow::Error),
}
