//! Saved searches: a name for a query of the search language, kept per user.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use workbench_core::{BoundedText, FieldErrors, Page, PageRequest, RepositoryError, TypeFailures, Validator, now};
use workbench_users::{Principal, UserId};

use crate::Query;

/// The most characters a saved search's name may have once trimmed.
pub const NAME_MAX_CHARS: usize = 100;
/// The most characters a query may have once trimmed (as `GET /search` takes it).
pub const QUERY_MAX_CHARS: usize = 200;
/// The most searches one user keeps: a listing stays one page of a sane size, and no account
/// can fill the database with them.
pub const MAX_PER_USER: u64 = 100;

/// A saved search's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SavedSearchId(pub i64);

/// A query kept under a name by its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSearch {
    /// The search's id.
    pub id: SavedSearchId,
    /// Whose search it is: only they see it.
    pub user_id: UserId,
    /// What its user called it, 1 to [`NAME_MAX_CHARS`] characters.
    pub name: String,
    /// The query, in the search language, as it parsed when saved.
    pub q: String,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
}

/// A saved search to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSavedSearch {
    /// Whose search it is.
    pub user_id: UserId,
    /// Its name, trimmed.
    pub name: String,
    /// Its query, trimmed; it parses.
    pub q: String,
    /// When it is saved.
    pub created_at: DateTime<Utc>,
}

/// `POST /searches` as a client sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedSearchDraft {
    /// The name; required.
    pub name: Option<String>,
    /// The query; required, and it must parse.
    pub q: Option<String>,
    /// Fields whose JSON type was wrong, reported with the rest.
    pub type_failures: TypeFailures,
}

/// Why a saved-search operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SavedSearchError {
    /// The name or the query failed its rules (a query that does not parse names each bad term on
    /// `q`).
    #[error("invalid saved search: {0}")]
    Invalid(FieldErrors),
    /// The caller already keeps [`MAX_PER_USER`] searches.
    #[error("at most {MAX_PER_USER} saved searches per user")]
    TooMany,
    /// No search of the caller's has that id.
    #[error("no such saved search")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl From<FieldErrors> for SavedSearchError {
    fn from(e: FieldErrors) -> Self {
        Self::Invalid(e)
    }
}

/// Where saved searches live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SavedSearchRepository: Send + Sync {
    /// Stores `search` unless its user already keeps `limit` searches (then `None`). MUST decide
    /// the limit and the insert together, so that racing saves cannot pass it.
    async fn insert(&self, search: NewSavedSearch, limit: u64) -> Result<Option<SavedSearch>, RepositoryError>;

    /// The user's searches, newest first, and how many they keep.
    async fn list(&self, user: UserId, page: PageRequest) -> Result<Page<SavedSearch>, RepositoryError>;

    /// Deletes the user's search with this id; whether there was one.
    async fn delete(&self, user: UserId, id: SavedSearchId) -> Result<bool, RepositoryError>;
}

/// Saving, listing and deleting a user's searches.
#[derive(Clone)]
pub struct SavedSearchService {
    searches: std::sync::Arc<dyn SavedSearchRepository>,
}

impl std::fmt::Debug for SavedSearchService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedSearchService").finish_non_exhaustive()
    }
}

impl SavedSearchService {
    /// The service over the searches stored in `searches`.
    pub fn new(searches: std::sync::Arc<dyn SavedSearchRepository>) -> Self {
        Self { searches }
    }

    /// Keeps a query under a name for the caller. The query must be one `GET /search` would
    /// answer: every term it cannot read is reported on `q`.
    pub async fn save(&self, caller: &Principal, draft: SavedSearchDraft) -> Result<SavedSearch, SavedSearchError> {
        let mut v = Validator::seeded(draft.type_failures);
        let name = v.required("name", draft.name, |n| {
            let name = BoundedText::<NAME_MAX_CHARS>::parse(&n).map_err(|e| e.to_string())?;
            if name.as_str().chars().any(char::is_control) {
                return Err("must not contain control characters".to_owned());
            }
            Ok(name.into_inner())
        });
        let q = v.required("q", draft.q, |q| {
            BoundedText::<QUERY_MAX_CHARS>::parse(&q).map(BoundedText::into_inner).map_err(|e| e.to_string())
        });
        // The query's own terms are checked too, and named after the fields.
        let terms = match q.as_deref().map(Query::parse) {
            Some(Err(terms)) => Err(terms),
            _ => Ok(()),
        };
        let ((name, q), ()) = FieldErrors::both(v.finish_with(name.zip(q)), terms)?;
        let search = NewSavedSearch { user_id: caller.id, name, q, created_at: now() };
        self.searches.insert(search, MAX_PER_USER).await?.ok_or(SavedSearchError::TooMany)
    }

    /// The caller's saved searches, newest first.
    pub async fn list(&self, caller: &Principal, page: PageRequest) -> Result<Page<SavedSearch>, SavedSearchError> {
        Ok(self.searches.list(caller.id, page).await?)
    }

    /// Forgets one of the caller's saved searches (anyone else's is not found).
    pub async fn delete(&self, caller: &Principal, id: SavedSearchId) -> Result<(), SavedSearchError> {
        if self.searches.delete(caller.id, id).await? { Ok(()) } else { Err(SavedSearchError::NotFound) }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use workbench_users::{Role, UserStatus};

    use super::*;

    fn caller() -> Principal {
        Principal { id: UserId(7), role: Role::User, status: UserStatus::Active, token_generation: 1 }
    }

    fn draft(name: &str, q: &str) -> SavedSearchDraft {
        SavedSearchDraft { name: Some(name.into()), q: Some(q.into()), ..SavedSearchDraft::default() }
    }

    #[tokio::test]
    async fn a_query_that_does_not_parse_is_not_kept() {
        let service = SavedSearchService::new(Arc::new(MockSavedSearchRepository::new()));
        let Err(SavedSearchError::Invalid(e)) = service.save(&caller(), draft(" ", "status:done colour:red")).await
        else {
            panic!("refused")
        };
        let fields: Vec<_> = e.into_vec().into_iter().map(|f| f.field).collect();
        assert_eq!(fields, ["name", "q", "q"]);
    }

    #[tokio::test]
    async fn a_full_shelf_is_refused() {
        let mut repo = MockSavedSearchRepository::new();
        repo.expect_insert().withf(|s, limit| s.name == "mine" && *limit == MAX_PER_USER).returning(|_, _| Ok(None));
        let service = SavedSearchService::new(Arc::new(repo));
        let outcome = service.save(&caller(), draft(" mine ", "status:pending")).await;
        assert!(matches!(outcome, Err(SavedSearchError::TooMany)));
    }
}
