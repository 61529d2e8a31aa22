//! A property or element name: a namespace URI and a local name, never a prefix.

use std::fmt;

use crate::ns;

/// An XML name with its namespace resolved, as WebDAV names properties (RFC 4918 §4.3).
/// A prefix is the writer's choice; two names are the same when their URI and local name are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PropName {
    /// The namespace URI (`DAV:`); empty for a name in no namespace.
    pub ns: String,
    /// The local name (`getetag`).
    pub name: String,
}

impl PropName {
    /// `name` in the namespace `ns`.
    pub fn new(ns: impl Into<String>, name: impl Into<String>) -> Self {
        Self { ns: ns.into(), name: name.into() }
    }

    /// `name` in WebDAV's namespace.
    pub fn dav(name: impl Into<String>) -> Self {
        Self::new(ns::DAV, name)
    }

    /// `name` in CalDAV's namespace.
    pub fn caldav(name: impl Into<String>) -> Self {
        Self::new(ns::CALDAV, name)
    }

    /// `name` in the calendarserver.org namespace.
    pub fn cs(name: impl Into<String>) -> Self {
        Self::new(ns::CS, name)
    }

    /// Whether this is `name` in the namespace `ns`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }
}

/// Clark notation (`{DAV:}getetag`): unambiguous in messages, unlike a prefix.
impl fmt::Display for PropName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}{}", self.ns, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_by_namespace_and_local_name() {
        assert_eq!(PropName::dav("getetag"), PropName::new("DAV:", "getetag"));
        assert_ne!(PropName::dav("getctag"), PropName::cs("getctag"));
        assert!(PropName::caldav("calendar-data").is(ns::CALDAV, "calendar-data"));
        assert!(!PropName::caldav("calendar-data").is(ns::DAV, "calendar-data"));
        assert_eq!(PropName::cs("getctag").to_string(), "{http://calendarserver.org/ns/}getctag");
    }
}
