//! The small vocabulary every Workbench domain shares.
//!
//! Only what more than one domain needs and that has no rule of its own elsewhere lives here:
//! the field-level validation error that every `422` is built from, the accumulator that collects
//! every failing field at once, pagination, the error every repository port returns, and the
//! broadcast port through which instances tell each other what changed, and the idempotency-key
//! port every creating route shares; also the rule for text a person types ([`BoundedText`], whose
//! messages are part of the contract), the clock every record is stamped by ([`now`]),
//! [`SingleFlight`], which lets concurrent identical reads share one, and the group a client
//! address counts in ([`address_group`]) wherever clients are limited per address. Nothing here
//! does I/O.

#![warn(missing_docs)]

mod address;
pub mod broadcast;
mod clock;
mod dates;
mod duration;
mod flight;
pub mod idempotency;
mod paging;
mod repository;
mod text;
mod validation;

pub use address::address_group;
pub use clock::now;
pub use dates::{parse_calendar_date, parse_instant};
pub use duration::parse_duration;
pub use flight::SingleFlight;
pub use paging::{Page, PageRequest};
pub use repository::{RepositoryError, StatementTimedOut, StoreUnreachable, is_unreachable};
pub use text::{BoundedText, TextError, at_most_chars};
pub use validation::{FieldError, FieldErrors, TypeFailures, Validator, WHITESPACE_CLASS};
