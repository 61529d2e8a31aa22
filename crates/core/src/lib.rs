//! The small vocabulary every Workbench domain shares.
//!
//! Only what more than one domain needs and that has no rule of its own elsewhere lives here:
//! the field-level validation error that every `422` is built from, the accumulator that collects
//! every failing field at once, pagination, the error every repository port returns, and the
//! broadcast port through which instances tell each other what changed. Nothing here does I/O.

pub mod broadcast;
mod paging;
mod repository;
mod validation;

pub use paging::{Page, PageRequest};
pub use repository::{RepositoryError, StoreUnreachable, is_unreachable};
pub use validation::{FieldError, FieldErrors, Validator, WHITESPACE_CLASS};
