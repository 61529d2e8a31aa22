//! What can be wrong with a request body. The HTTP layer answers each with 400 and the message.

use crate::PropName;

/// A request body Workbench cannot read. Every message names what is wrong, for the client's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Not well-formed XML, or a prefix no `xmlns` declares.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// Well-formed, but the root element is not the one the method takes.
    #[error("the root element is {found}, expected {expected}")]
    WrongRoot {
        /// What the method takes (`{DAV:}propfind`).
        expected: PropName,
        /// What the body holds.
        found: PropName,
    },
    /// An element the body must hold is not there.
    #[error("{parent} lacks {missing}")]
    Missing {
        /// The element that should hold it.
        parent: PropName,
        /// What it should hold: an element in Clark notation, or an attribute.
        missing: String,
    },
    /// An element or attribute holds a value that means nothing here.
    #[error("{0}")]
    Invalid(String),
    /// A text-match names a collation Workbench does not implement: the HTTP layer answers the
    /// `CALDAV:supported-collation` precondition (RFC 4791 §7.5.1) rather than a bare 400.
    #[error("unsupported collation {0:?}: use i;ascii-casemap or i;octet")]
    UnsupportedCollation(String),
}
