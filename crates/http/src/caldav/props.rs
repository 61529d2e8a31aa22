//! The properties each kind of resource answers (RFC 4918 §15, RFC 4791 §5.2, §6.2, RFC 6578 §4,
//! RFC 5397), and which of them a `PROPFIND` gets.

use workbench_calendars::{Calendar, ObjectEntry, SyncToken};
use workbench_dav::{Element, PropName, PropRequest, Value, ns};
use workbench_users::UserId;

use super::paths;

/// The largest calendar object a client may write (`max-resource-size`), and the largest request
/// body under `/dav`.
pub const MAX_OBJECT_BYTES: usize = 256 * 1024;

/// The media type of a task's calendar object.
pub const CALENDAR_DATA_TYPE: &str = "text/calendar; charset=utf-8";

/// What a property is read from.
pub enum Target<'a> {
    /// The DAV root.
    Root,
    /// The caller's principal, with their user name and e-mail address.
    Principal { username: &'a str, email: &'a str },
    /// The caller's calendar home.
    Home,
    /// A calendar, its token now, and whether the caller may write in it with this token.
    Calendar { calendar: &'a Calendar, token: SyncToken, writable: bool },
    /// A calendar object, and its text when the request asked for it.
    Object { entry: &'a ObjectEntry, data: Option<&'a str> },
}

fn dav(name: &str) -> PropName {
    PropName::dav(name)
}

fn caldav(name: &str) -> PropName {
    PropName::caldav(name)
}

/// The properties `target` has, named; `calendar-data` among them only for an object (it is not
/// part of `allprop`, RFC 4791 §9.6).
fn names(target: &Target<'_>) -> Vec<PropName> {
    let mut names = vec![dav("resourcetype"), dav("current-user-principal")];
    match target {
        Target::Root => names.push(dav("displayname")),
        Target::Principal { .. } => names.extend([
            dav("displayname"),
            dav("principal-URL"),
            caldav("calendar-home-set"),
            caldav("calendar-user-address-set"),
            dav("principal-collection-set"),
        ]),
        Target::Home => names.extend([dav("displayname"), dav("owner"), dav("current-user-privilege-set")]),
        Target::Calendar { .. } => names.extend([
            dav("displayname"),
            dav("owner"),
            dav("current-user-privilege-set"),
            dav("supported-report-set"),
            dav("sync-token"),
            PropName::cs("getctag"),
            caldav("supported-calendar-component-set"),
            caldav("supported-calendar-data"),
            caldav("max-resource-size"),
        ]),
        Target::Object { .. } => names.extend([dav("getetag"), dav("getcontenttype"), dav("getcontentlength")]),
    }
    names
}

/// The value of `name` on `target` for `user`; `None` for a property it does not have.
fn value(user: UserId, target: &Target<'_>, name: &PropName) -> Option<Value> {
    let el = Element::new;
    let href = |h: String| Value::Href(h);
    if name.ns == ns::DAV {
        match name.name.as_str() {
            "current-user-principal" => return Some(href(paths::principal(user))),
            "resourcetype" => {
                let types = match target {
                    Target::Root | Target::Home => vec![el(dav("collection"))],
                    Target::Principal { .. } => vec![el(dav("collection")), el(dav("principal"))],
                    Target::Calendar { .. } => vec![el(dav("collection")), el(caldav("calendar"))],
                    Target::Object { .. } => return Some(Value::Empty),
                };
                return Some(Value::Elements(types));
            }
            _ => {}
        }
    }
    match target {
        Target::Root => (name == &dav("displayname")).then(|| Value::Text("Workbench".into())),
        Target::Principal { username, email } => match (name.ns.as_str(), name.name.as_str()) {
            (ns::DAV, "displayname") => Some(Value::Text((*username).to_owned())),
            (ns::DAV, "principal-URL") => Some(href(paths::principal(user))),
            (ns::DAV, "principal-collection-set") => Some(href("/dav/principals/".into())),
            (ns::CALDAV, "calendar-home-set") => Some(href(paths::home(user))),
            (ns::CALDAV, "calendar-user-address-set") => Some(href(format!("mailto:{email}"))),
            _ => None,
        },
        Target::Home => match (name.ns.as_str(), name.name.as_str()) {
            (ns::DAV, "displayname") => Some(Value::Text("Calendars".into())),
            (ns::DAV, "owner") => Some(href(paths::principal(user))),
            (ns::DAV, "current-user-privilege-set") => Some(privileges(false)),
            _ => None,
        },
        Target::Calendar { calendar, token, writable } => match (name.ns.as_str(), name.name.as_str()) {
            (ns::DAV, "displayname") => Some(Value::Text(calendar.display_name.clone())),
            (ns::DAV, "owner") => Some(href(paths::principal(user))),
            (ns::DAV, "current-user-privilege-set") => Some(privileges(*writable)),
            (ns::DAV, "supported-report-set") => Some(Value::Elements(
                [caldav("calendar-query"), caldav("calendar-multiget"), dav("sync-collection")]
                    .into_iter()
                    .map(|report| el(dav("supported-report")).child(el(dav("report")).child(el(report))))
                    .collect(),
            )),
            (ns::DAV, "sync-token") => Some(Value::Text(token.to_uri(calendar.id))),
            (ns::CS, "getctag") => Some(Value::Text(token.ctag())),
            (ns::CALDAV, "supported-calendar-component-set") => {
                Some(Value::Elements(vec![el(caldav("comp")).attr("name", "VTODO")]))
            }
            (ns::CALDAV, "supported-calendar-data") => Some(Value::Elements(vec![
                el(caldav("calendar-data")).attr("content-type", "text/calendar").attr("version", "2.0"),
            ])),
            (ns::CALDAV, "max-resource-size") => Some(Value::Text(MAX_OBJECT_BYTES.to_string())),
            _ => None,
        },
        Target::Object { entry, data } => match (name.ns.as_str(), name.name.as_str()) {
            (ns::DAV, "getetag") => Some(Value::Text(etag(entry.version))),
            (ns::DAV, "getcontenttype") => Some(Value::Text(format!("{CALENDAR_DATA_TYPE}; component=VTODO"))),
            (ns::DAV, "getcontentlength") => data.map(|d| Value::Text(d.len().to_string())),
            (ns::CALDAV, "calendar-data") => data.map(|d| Value::Text(d.to_owned())),
            _ => None,
        },
    }
}

/// What the caller may do here (RFC 3744 §5.4): read, and write where their role and token allow.
fn privileges(writable: bool) -> Value {
    let privilege = |name: &str| Element::new(dav("privilege")).child(Element::new(dav(name)));
    let mut set = vec![privilege("read"), privilege("read-current-user-privilege-set")];
    if writable {
        set.extend([privilege("write"), privilege("write-content"), privilege("bind"), privilege("unbind")]);
    }
    Value::Elements(set)
}

/// A version as a strong `ETag`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Whether `request` asks for the objects' text (so that it must be rendered).
pub fn wants_data(request: &PropRequest) -> bool {
    match request {
        PropRequest::Prop(names) => names.iter().any(|n| n.is(ns::CALDAV, "calendar-data")),
        PropRequest::AllProp { include } => include.iter().any(|n| n.is(ns::CALDAV, "calendar-data")),
        PropRequest::PropName => false,
    }
}

/// Adds `target`'s answer to `request` to a multistatus, under `href`.
pub fn answer(
    ms: &mut workbench_dav::Multistatus,
    href: &str,
    user: UserId,
    target: &Target<'_>,
    request: &PropRequest,
) {
    match request {
        PropRequest::PropName => ms.propnames(href, names(target)),
        PropRequest::AllProp { include } => {
            let mut wanted = names(target);
            wanted.extend(include.iter().filter(|n| !wanted.contains(n)).cloned().collect::<Vec<_>>());
            let found = wanted.into_iter().filter_map(|n| value(user, target, &n).map(|v| (n, v))).collect();
            ms.propstat(href, found, Vec::new());
        }
        PropRequest::Prop(wanted) => {
            let (mut found, mut missing) = (Vec::new(), Vec::new());
            for name in wanted {
                match value(user, target, name) {
                    Some(v) => found.push((name.clone(), v)),
                    None => missing.push(name.clone()),
                }
            }
            ms.propstat(href, found, missing);
        }
    }
}
