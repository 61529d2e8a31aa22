//! The WebDAV and CalDAV wire format of Workbench.
//!
//! Request bodies are read into types: PROPFIND and PROPPATCH ([`parse_propfind`],
//! [`parse_proppatch`]) and the REPORTs CalDAV clients sync with ([`parse_report`]: a
//! calendar-query and its [`CompFilter`], a calendar-multiget, a sync-collection). Names are
//! compared by namespace, never by prefix, and a body that is not what its method takes is an
//! [`XmlError`] for a 400. A filter is evaluated here too ([`CompFilter::matches`], RFC 4791 §9.7
//! with the time ranges of §9.9) on one parsed iCalendar object. Answers are written:
//! a [`Multistatus`] of [`Value`]s, and a precondition's [`error_body`]. Nothing here does I/O
//! or knows about tasks, users or URLs.

#![warn(missing_docs)]

mod component;
mod element;
mod error;
mod filter;
mod matching;
mod multistatus;
mod name;
pub mod ns;
mod report;
mod request;
mod time_range;
mod writer;
mod xml;

pub use element::{Element, Value};
pub use error::XmlError;
pub use filter::{Collation, CompFilter, ParamFilter, PropFilter, TextMatch, TimeRange};
pub use multistatus::{Multistatus, error_body, status_line};
pub use name::PropName;
pub use report::{Report, parse_report};
pub use request::{PropRequest, parse_propfind, parse_proppatch};
