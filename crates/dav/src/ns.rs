//! The XML namespaces of WebDAV and CalDAV, and of the extensions clients ask for.

/// WebDAV (RFC 4918). Its URI is `DAV:` exactly, colon included.
pub const DAV: &str = "DAV:";
/// CalDAV (RFC 4791).
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// Apple's calendar server extensions (`getctag`, ...).
pub const CS: &str = "http://calendarserver.org/ns/";
/// Apple's iCal extensions (`calendar-color`, `calendar-order`).
pub const ICAL: &str = "http://apple.com/ns/ical/";
