//! Search in Workbench: the query language of `GET /search` ([`Query`]: words, phrases,
//! exclusions and typed qualifiers, every bad term named at once) and saved searches
//! ([`SavedSearchService`] over the [`SavedSearchRepository`] port). The groups themselves are
//! answered by their own domains, under their own visibility rules.

#![warn(missing_docs)]

mod query;
mod saved;
mod tasks;

pub use query::{Assignee, Due, FIELD, Group, MAX_TERMS, Query};
#[cfg(feature = "mock")]
pub use saved::MockSavedSearchRepository;
pub use saved::{
    MAX_PER_USER, NAME_MAX_CHARS, NewSavedSearch, QUERY_MAX_CHARS, SavedSearch, SavedSearchDraft, SavedSearchError,
    SavedSearchId, SavedSearchRepository, SavedSearchService,
};
pub use tasks::TaskFilterError;
