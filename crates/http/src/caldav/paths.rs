//! Where things are under `/dav/`, and the hrefs that name them.
//!
//! ```text
//! /dav/                                   the DAV root (where /.well-known/caldav leads)
//! /dav/principals/<user id>/              a user's principal
//! /dav/calendars/<user id>/               their calendar home
//! /dav/calendars/<user id>/tasks/         their personal tasks
//! /dav/calendars/<user id>/project-<id>/  a project's tasks
//! /dav/calendars/<user id>/<calendar>/<name>   one task, as an iCalendar object
//! ```
//! Ids, not usernames: a renamed account keeps its URLs.

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use workbench_calendars::CalendarId;
use workbench_users::UserId;

/// The DAV root.
pub const ROOT: &str = "/dav/";

/// Whether `path` is one of CalDAV's (its errors are `DAV:error` bodies, not problem documents).
pub fn is_dav(path: &str) -> bool {
    path == "/dav" || path.starts_with("/dav/") || path == "/.well-known/caldav"
}

/// What a path under `/dav` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `/dav/`.
    Root,
    /// `/dav/principals/<id>/`.
    Principal(UserId),
    /// `/dav/calendars/<id>/`.
    Home(UserId),
    /// `/dav/calendars/<id>/<calendar>/`.
    Calendar(UserId, CalendarId),
    /// `/dav/calendars/<id>/<calendar>/<name>`.
    Object(UserId, CalendarId, String),
}

/// What a path names (percent-decoded here); `None` for a path that names nothing. A collection
/// may be named with or without its trailing slash.
pub fn parse(raw_path: &str) -> Option<Resource> {
    let rest = raw_path.strip_prefix("/dav")?;
    let segments: Vec<String> = rest.split('/').filter(|s| !s.is_empty()).map(decode).collect::<Option<Vec<_>>>()?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let user = |s: &str| canonical(s).map(UserId);
    match segments.as_slice() {
        [] => Some(Resource::Root),
        ["principals", id] => Some(Resource::Principal(user(id)?)),
        ["calendars", id] => Some(Resource::Home(user(id)?)),
        ["calendars", id, calendar] => {
            let owner = user(id)?;
            Some(Resource::Calendar(owner, CalendarId::from_segment(owner, calendar)?))
        }
        ["calendars", id, calendar, name] if valid_name(name) => {
            let owner = user(id)?;
            Some(Resource::Object(owner, CalendarId::from_segment(owner, calendar)?, (*name).to_owned()))
        }
        _ => None,
    }
}

/// An href a client sent (a path or a whole URL), as the path it names.
pub fn href_path(href: &str) -> &str {
    match href.find("://") {
        Some(scheme) => {
            let after = &href[scheme + 3..];
            after.find('/').map_or("/", |slash| &after[slash..])
        }
        None => href,
    }
}

fn decode(segment: &str) -> Option<String> {
    percent_decode_str(segment).decode_utf8().ok().map(|s| s.into_owned())
}

fn canonical(digits: &str) -> Option<i64> {
    let ok = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    ok.then(|| digits.parse().ok()).flatten()
}

/// A resource name a client may choose: not empty, no path separators or control characters, at
/// most 255 bytes (what file systems, and so vdirsyncer's folders, hold).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c == '/' || c.is_control())
}

/// What is escaped in an href's segment: whatever is not unreserved or a sub-delimiter that
/// paths keep as is.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

/// The principal of `user`.
pub fn principal(user: UserId) -> String {
    format!("/dav/principals/{}/", user.0)
}

/// The calendar home of `user`.
pub fn home(user: UserId) -> String {
    format!("/dav/calendars/{}/", user.0)
}

/// A calendar in `user`'s home.
pub fn calendar(user: UserId, calendar: CalendarId) -> String {
    format!("/dav/calendars/{}/{}/", user.0, calendar.segment())
}

/// An object of a calendar in `user`'s home.
pub fn object(user: UserId, calendar_id: CalendarId, name: &str) -> String {
    format!("{}{}", calendar(user, calendar_id), utf8_percent_encode(name, SEGMENT))
}

#[cfg(test)]
mod tests {
    use workbench_projects::ProjectId;

    use super::*;

    #[test]
    fn paths_name_resources_and_hrefs_name_them_back() {
        let me = UserId(7);
        assert_eq!(parse("/dav"), Some(Resource::Root));
        assert_eq!(parse("/dav/"), Some(Resource::Root));
        assert_eq!(parse("/dav/principals/7/"), Some(Resource::Principal(me)));
        assert_eq!(parse("/dav/calendars/7"), Some(Resource::Home(me)));
        assert_eq!(parse("/dav/calendars/7/tasks/"), Some(Resource::Calendar(me, CalendarId::Personal(me))));
        let project = CalendarId::Project(ProjectId(3));
        assert_eq!(
            parse("/dav/calendars/7/project-3/a%20b.ics"),
            Some(Resource::Object(me, project, "a b.ics".to_owned()))
        );
        assert_eq!(object(me, project, "a b/ü.ics"), "/dav/calendars/7/project-3/a%20b%2F%C3%BC.ics");
        for nothing in
            ["/dav/calendars/07/", "/dav/calendars/7/other/", "/dav/x", "/dav/calendars/7/tasks/a/b", "/davx"]
        {
            assert_eq!(parse(nothing), None, "{nothing}");
        }
        assert_eq!(href_path("https://host:8080/dav/calendars/7/tasks/x.ics"), "/dav/calendars/7/tasks/x.ics");
        assert_eq!(href_path("/dav/calendars/7/"), "/dav/calendars/7/");
    }
}
