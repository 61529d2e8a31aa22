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
    Conflict {
        /// The field, as the client names it, whose value is taken (`email`, `username`).
        field: &'static str,
    },
    /// The write refers to a row that does not exist (a foreign key failed).
    #[error("{field} refers to something that does not exist")]
    MissingReference {
        /// The field, as the client names it, that refers to nothing (`task_id`).
        field: &'static str,
    },
    /// The store could not answer: connection lost, pool exhausted, a bug in a query.
    #[error(transparent)]
    Unavailable(#[from] anyhow::Error),
}

/// The database could not be reached: no connection could be opened (the server is down or
/// restarting) or the one in use was lost mid-request. Carried inside
/// [`RepositoryError::Unavailable`]; it is temporary, so the HTTP layer answers `503` with
/// `Retry-After` instead of an opaque `500`.
#[derive(Debug, thiserror::Error)]
#[error("the database cannot be reached: {0}")]
pub struct StoreUnreachable(pub String);

/// A statement was stopped by the time limit its caller gave it (a search's: see
/// `workbench_tasks::SEARCH_TIME_LIMIT`). Carried inside [`RepositoryError::Unavailable`], as
/// [`StoreUnreachable`] is: the request was valid and the store sound, so the domain answers that
/// it could not be given its time (a `503` to retry later), never an opaque `500`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the statement ran past its time limit of {} ms and was stopped", .0.as_millis())]
pub struct StatementTimedOut(pub std::time::Duration);

impl RepositoryError {
    /// [`RepositoryError::Unavailable`] because the database cannot be reached.
    pub fn unreachable(why: impl Into<String>) -> Self {
        Self::Unavailable(anyhow::Error::new(StoreUnreachable(why.into())))
    }

    /// [`RepositoryError::Unavailable`] because a statement ran past `limit` and was stopped.
    pub fn timed_out(limit: std::time::Duration) -> Self {
        Self::Unavailable(anyhow::Error::new(StatementTimedOut(limit)))
    }

    /// The limit a statement ran past, when that is why this failed.
    pub fn time_limit(&self) -> Option<std::time::Duration> {
        match self {
            Self::Unavailable(cause) => cause.downcast_ref::<StatementTimedOut>().map(|t| t.0),
            _ => None,
        }
    }

    /// Whether this is the database being out of reach rather than a failed statement.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unavailable(cause) if is_unreachable(cause))
    }
}

/// Whether `cause` (as domain errors carry it) says the database cannot be reached.
pub fn is_unreachable(cause: &anyhow::Error) -> bool {
    cause.downcast_ref::<StoreUnreachable>().is_some()
        || cause.downcast_ref::<RepositoryError>().is_some_and(RepositoryError::is_unreachable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_is_recognised_through_the_domain_errors_wrapping() {
        let RepositoryError::Unavailable(inner) = RepositoryError::unreachable("connection refused") else {
            panic!("unreachable is an Unavailable")
        };
        assert!(is_unreachable(&inner));
        assert!(is_unreachable(&anyhow::Error::new(RepositoryError::unreachable("refused"))));
        assert!(!is_unreachable(&anyhow::anyhow!("syntax error at or near SELECT")));
        assert!(!RepositoryError::Conflict { field: "email" }.is_unreachable());
    }

    #[test]
    fn a_timeout_names_its_limit_and_is_not_unreachable() {
        let limit = std::time::Duration::from_secs(2);
        let timed_out = RepositoryError::timed_out(limit);
        assert_eq!(timed_out.time_limit(), Some(limit));
        assert!(!timed_out.is_unreachable());
        assert_eq!(timed_out.to_string(), "the statement ran past its time limit of 2000 ms and was stopped");
        assert_eq!(RepositoryError::unreachable("refused").time_limit(), None);
    }
}
