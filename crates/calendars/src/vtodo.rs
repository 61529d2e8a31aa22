//! A task as one iCalendar `VTODO` (RFC 5545 §3.6.2), both ways.
//!
//! [`parse`] reads what Workbench models from a client's calendar object; [`render`] writes a
//! task back as one. Everything else the client wrote (alarms, `X-` properties, parameters,
//! `DTSTART`, `RELATED-TO`...) is taken from its last `PUT` and given back as written, also after
//! the task was changed over REST. A mapped line the client wrote is given back as written too
//! while it still says what the task holds (its `PRIORITY:2` while the task stays high, its
//! `DUE;TZID=...` while the due date stays): a client that reads back something other than what
//! it wrote takes it for a change made elsewhere, and syncs it back or reports a conflict.

use chrono::{DateTime, Utc};
use ical::IcalParser;
use ical::parser::ParserError;
use ical::parser::ical::component::{IcalCalendar, IcalTimeZone, IcalTimeZoneTransitionType, IcalTodo};
use ical::property::Property;
use workbench_tasks::{Priority, Status, Task, TaskId};

use crate::ical_time::{instant, utc_text};

/// Who wrote a rendered object (RFC 5545 §3.7.3).
const PRODID: &str = "-//Workbench//Tasks//EN";

/// Why an object with a `RECURRENCE-ID` is refused: a task is the whole series, and one
/// occurrence changed on its own has no task to be.
const OVERRIDES: &str = "recurrence overrides are not supported; change the series";

/// The components a task's object may hold, at any depth: the calendar, the task, its alarms, and
/// the time zones its `TZID`s name.
const TAKEN: [&str; 6] = ["VCALENDAR", "VTODO", "VALARM", "VTIMEZONE", "STANDARD", "DAYLIGHT"];

/// The longest content line, in octets and without its line break (RFC 5545 §3.1).
const LINE_OCTETS: usize = 75;

/// What a client's calendar object says, read into what a task holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTodo {
    /// `UID`, as written: the client's name for the task, which it keeps across edits.
    pub uid: String,
    /// `SUMMARY`, unescaped; `None` when there is none.
    pub title: Option<String>,
    /// `DESCRIPTION`, unescaped; `None` when there is none or it is empty.
    pub description: Option<String>,
    /// `STATUS`: `NEEDS-ACTION` (or none) is pending, `IN-PROCESS` in progress, `COMPLETED` and
    /// `CANCELLED` completed.
    pub status: Status,
    /// `PRIORITY`: 1–4 high, 0 (undefined), 5 or none medium, 6–9 low.
    pub priority: Priority,
    /// `DUE`: a date (its midnight in UTC), or a date-time in UTC, floating or in any `TZID`.
    pub due: Option<DateTime<Utc>>,
    /// Every `CATEGORIES` value, unescaped and trimmed, empty ones and repeats (in any case)
    /// dropped, the first spelling kept; not lower-cased, which the task domain does.
    pub tags: Vec<String>,
    /// `RRULE` as written, without an `RRULE:` prefix; the task domain checks it.
    pub recurrence: Option<String>,
    /// `COMPLETED`: when the client says the task was done.
    pub completed_at: Option<DateTime<Utc>>,
    /// The UID of its parent: the first `RELATED-TO` whose `RELTYPE` is `PARENT` (the default).
    pub parent_uid: Option<String>,
}

/// Why a client's calendar object is not one Workbench stores as a task. Each variant is a
/// CalDAV precondition (RFC 4791 §5.3.2.1); the text says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VtodoError {
    /// Not iCalendar, or a property Workbench reads has a value it cannot read; the text says
    /// which and why (`CALDAV:valid-calendar-data`).
    #[error("{0}")]
    Invalid(String),
    /// The object holds a component the calendar does not take (a `VEVENT`, `VJOURNAL`,
    /// `VFREEBUSY`); the text names it (`CALDAV:supported-calendar-component`).
    #[error("{0}")]
    UnsupportedComponent(String),
    /// Not one task: no `VTODO`, several, a recurrence override, or a `VTODO` without `UID`
    /// (`CALDAV:valid-calendar-object-resource`).
    #[error("{0}")]
    InvalidObject(String),
}

/// Reads a client's calendar object: a whole `VCALENDAR` text, CRLF or LF line ends, folded lines
/// allowed. It holds at most one `VCALENDAR`, and in it one `VTODO`, beside which only `VTIMEZONE`s
/// may stand.
pub fn parse(text: &str) -> Result<ClientTodo, VtodoError> {
    let Object { todo, .. } = read(text)?;
    let props = todo.properties.as_slice();
    let uid = first(props, "UID").map(value).unwrap_or_default().to_owned();
    let title = first(props, "SUMMARY").map(|p| unescape(value(p)));
    let description = first(props, "DESCRIPTION").map(|p| unescape(value(p))).filter(|d| !d.is_empty());
    let status = first(props, "STATUS").map(read_status).transpose()?.unwrap_or(Status::Pending);
    let priority = first(props, "PRIORITY").map(read_priority).transpose()?.unwrap_or(Priority::Medium);
    let due = first(props, "DUE").map(read_instant).transpose()?;
    let completed_at = first(props, "COMPLETED").map(read_instant).transpose()?;
    let mut rules = all(props, "RRULE");
    let recurrence = rules.next().map(|rule| rule_text(rule).to_owned());
    if rules.next().is_some() {
        // RFC 5545 allows several, but a task repeats by one rule, and dropping one would change
        // the series without a word.
        return Err(VtodoError::Invalid("RRULE is given more than once; a task repeats by one rule".into()));
    }
    let parent_uid = all(props, "RELATED-TO").find(|p| is_parent_link(p)).map(|p| value(p).trim().to_owned());
    Ok(ClientTodo {
        uid,
        title,
        description,
        status,
        priority,
        due,
        tags: categories(props),
        recurrence,
        completed_at,
        parent_uid: parent_uid.filter(|uid| !uid.is_empty()),
    })
}

/// Whether a `RELATED-TO` names the task's parent: its `RELTYPE` is `PARENT`, or absent (RFC 5545
/// §3.2.15: the default).
fn is_parent_link(prop: &Property) -> bool {
    let reltype = prop.params.iter().flatten().find(|(name, _)| name.eq_ignore_ascii_case("RELTYPE"));
    reltype.is_none_or(|(_, values)| values.iter().any(|v| v.eq_ignore_ascii_case("PARENT")))
}

/// The UID a task made over REST gets: stable, derived from its id.
pub fn default_uid(task: TaskId) -> String {
    format!("workbench-task-{task}")
}

/// The calendar object of `task`: a whole `VCALENDAR`, CRLF line ends, lines folded at 75 octets.
/// The same task and source always render the same bytes (the `ETag` is the task's version).
///
/// `uid` is the UID to write; `source` is the client's last `PUT` body for this task (`None` for
/// a task only ever written over REST): what it holds beyond the task is given back as written.
/// `parent_uid` is the UID of the task's parent, when it has one: written as
/// `RELATED-TO;RELTYPE=PARENT` (a client's line naming it is given back as written; one naming
/// another parent is not).
pub fn render(task: &Task, uid: &str, source: Option<&str>, parent_uid: Option<&str>) -> String {
    // The source was read when it was stored; one that no longer reads still leaves the task
    // readable, as if it had only been written over REST.
    let source = source.and_then(|text| read(text).ok());
    let written = source.as_ref().map(|s| s.todo.properties.as_slice());
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, &format!("PRODID:{PRODID}"));
    for zone in source.iter().flat_map(|s| &s.timezones) {
        timezone(&mut out, zone);
    }
    line(&mut out, "BEGIN:VTODO");
    let given = Mapped::ALL.map(|mapped| lines(mapped, task, uid, written));
    let written = written.unwrap_or_default();
    // RFC 5545 defines a recurrence set from DTSTART: without one, strict clients see no series.
    let mut start_pending = task.recurrence.is_some() && first(written, "DTSTART").is_none();
    let mut done = [false; Mapped::ALL.len()];
    let mut parent_pending = parent_uid;
    for prop in written {
        if named(prop, "RELATED-TO") && is_parent_link(prop) {
            if parent_pending.is_some_and(|parent| parent == value(prop).trim()) {
                property(&mut out, prop);
                parent_pending = None;
            }
            continue;
        }
        let Some(mapped) = Mapped::of(prop) else {
            property(&mut out, prop);
            continue;
        };
        let index = mapped as usize;
        match &given[index] {
            Lines::Kept => emit(&mut out, prop, &mut start_pending),
            Lines::New(props) if !done[index] => props.iter().for_each(|p| emit(&mut out, p, &mut start_pending)),
            Lines::New(_) => {}
        }
        done[index] = true;
    }
    for (lines, done) in given.iter().zip(done) {
        if !done && let Lines::New(props) = lines {
            props.iter().for_each(|p| emit(&mut out, p, &mut start_pending));
        }
    }
    if let Some(parent) = parent_pending {
        let params = Some(vec![("RELTYPE".to_owned(), vec!["PARENT".to_owned()])]);
        property(&mut out, &Property { name: "RELATED-TO".into(), params, value: Some(parent.to_owned()) });
    }
    for alarm in source.iter().flat_map(|s| &s.todo.alarms) {
        line(&mut out, "BEGIN:VALARM");
        alarm.properties.iter().for_each(|p| property(&mut out, p));
        line(&mut out, "END:VALARM");
    }
    line(&mut out, "END:VTODO");
    line(&mut out, "END:VCALENDAR");
    out
}

/// A client's object, read and found to be one task.
struct Object {
    /// The zones its `TZID`s may name.
    timezones: Vec<IcalTimeZone>,
    /// The task, with a `UID`.
    todo: IcalTodo,
}

fn read(text: &str) -> Result<Object, VtodoError> {
    let text = normalise(text);
    if let Some(name) = text.lines().filter_map(|l| l.strip_prefix("BEGIN:")).find(|name| !TAKEN.contains(name)) {
        return Err(VtodoError::UnsupportedComponent(format!("the calendar takes tasks (VTODO), not {name}")));
    }
    let mut calendars = IcalParser::new(text.as_bytes());
    let calendar = match calendars.next() {
        None => return Err(VtodoError::Invalid("not iCalendar: there is no VCALENDAR".into())),
        Some(calendar) => calendar.map_err(|e| unreadable(&e))?,
    };
    match calendars.next() {
        None => {}
        Some(Ok(_)) => return Err(VtodoError::InvalidObject("a calendar object holds one VCALENDAR".into())),
        Some(Err(e)) => return Err(unreadable(&e)),
    }
    let IcalCalendar { mut todos, timezones, .. } = calendar;
    if todos.iter().any(|todo| first(&todo.properties, "RECURRENCE-ID").is_some()) {
        return Err(VtodoError::InvalidObject(OVERRIDES.into()));
    }
    if todos.len() > 1 {
        return Err(VtodoError::InvalidObject(format!("a calendar object is one task, not {} VTODOs", todos.len())));
    }
    let todo =
        todos.pop().ok_or_else(|| VtodoError::InvalidObject("a calendar object is one task: no VTODO".into()))?;
    if first(&todo.properties, "UID").is_none_or(|uid| value(uid).trim().is_empty()) {
        return Err(VtodoError::InvalidObject("the VTODO has no UID".into()));
    }
    Ok(Object { timezones, todo })
}

fn unreadable(error: &ParserError) -> VtodoError {
    VtodoError::Invalid(format!("not iCalendar: {error}"))
}

/// `text` unfolded, without a byte order mark, with LF line ends and its `BEGIN`/`END` lines in
/// upper case. Unfolded here because the parser trims the end of each folded piece, which loses
/// the space a client folded after; component names are case-insensitive (RFC 5545 §2), and the
/// parser only knows them in upper case.
fn normalise(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = text.replace("\r\n ", "").replace("\r\n\t", "").replace("\n ", "").replace("\n\t", "");
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        match line.split_once(':') {
            Some((name, component)) if name.eq_ignore_ascii_case("BEGIN") || name.eq_ignore_ascii_case("END") => {
                out.push_str(&name.to_ascii_uppercase());
                out.push(':');
                out.push_str(&component.trim().to_ascii_uppercase());
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Whether `prop` is called `name` (property names are case-insensitive, and the parser keeps
/// them as written).
fn named(prop: &Property, name: &str) -> bool {
    prop.name.eq_ignore_ascii_case(name)
}

fn all<'a>(props: &'a [Property], name: &'a str) -> impl Iterator<Item = &'a Property> {
    props.iter().filter(move |p| named(p, name))
}

fn first<'a>(props: &'a [Property], name: &str) -> Option<&'a Property> {
    props.iter().find(|p| named(p, name))
}

fn value(prop: &Property) -> &str {
    prop.value.as_deref().unwrap_or_default()
}

fn read_status(prop: &Property) -> Result<Status, VtodoError> {
    let written = value(prop).trim();
    match written.to_ascii_uppercase().as_str() {
        "NEEDS-ACTION" => Ok(Status::Pending),
        "IN-PROCESS" => Ok(Status::InProgress),
        // Workbench has no cancelled task; a cancelled one is at least not to be done.
        "COMPLETED" | "CANCELLED" => Ok(Status::Completed),
        _ => Err(VtodoError::Invalid(format!(
            "STATUS {written:?} is not one of NEEDS-ACTION, IN-PROCESS, COMPLETED, CANCELLED"
        ))),
    }
}

fn read_priority(prop: &Property) -> Result<Priority, VtodoError> {
    let written = value(prop).trim();
    // RFC 5545 §3.8.1.9: 1 is the highest, 9 the lowest, 0 undefined; its CUA scheme splits
    // high, medium and low at 4 and 5.
    match written.parse::<u8>() {
        Ok(0 | 5) => Ok(Priority::Medium),
        Ok(1..=4) => Ok(Priority::High),
        Ok(6..=9) => Ok(Priority::Low),
        _ => Err(VtodoError::Invalid(format!("PRIORITY {written:?} is not a number from 0 to 9"))),
    }
}

fn read_instant(prop: &Property) -> Result<DateTime<Utc>, VtodoError> {
    instant(prop).map_err(VtodoError::Invalid)
}

/// Whether `prop` names the same second as `at`: the finest an iCalendar time says.
fn same_second(prop: &Property, at: DateTime<Utc>) -> bool {
    instant(prop).is_ok_and(|written| written.timestamp() == at.timestamp())
}

/// An `RRULE`'s value without the `RRULE:` some clients repeat in it.
fn rule_text(prop: &Property) -> &str {
    let written = value(prop);
    match written.get(..6) {
        Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => &written[6..],
        _ => written,
    }
}

/// Every `CATEGORIES` value of `props`, as [`ClientTodo::tags`] says.
fn categories(props: &[Property]) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for tag in all(props, "CATEGORIES").flat_map(|p| text_list(value(p))) {
        let tag = tag.trim();
        let lower = tag.to_lowercase();
        if !tag.is_empty() && !tags.iter().any(|seen| seen.to_lowercase() == lower) {
            tags.push(tag.to_owned());
        }
    }
    tags
}

/// A TEXT value read (RFC 5545 §3.3.11).
fn unescape(written: &str) -> String {
    let mut text = String::with_capacity(written.len());
    let mut chars = written.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => unescape_one(&mut text, chars.next()),
            c => text.push(c),
        }
    }
    text
}

/// A list of TEXT values read: split on the commas that are not escaped, then each unescaped.
fn text_list(written: &str) -> Vec<String> {
    let mut list = Vec::new();
    let mut item = String::new();
    let mut chars = written.chars();
    while let Some(c) = chars.next() {
        match c {
            ',' => list.push(std::mem::take(&mut item)),
            '\\' => unescape_one(&mut item, chars.next()),
            c => item.push(c),
        }
    }
    list.push(item);
    list
}

/// What a backslash and `escaped` stand for. Besides RFC 5545's escapes, `\:` is read as `:`
/// (older Outlooks write it); any other backslash is the client's text.
fn unescape_one(text: &mut String, escaped: Option<char>) {
    match escaped {
        Some('n' | 'N') => text.push('\n'),
        Some(c @ ('\\' | ';' | ',' | ':')) => text.push(c),
        Some(c) => {
            text.push('\\');
            text.push(c);
        }
        None => text.push('\\'),
    }
}

/// `text` as a TEXT value. Line breaks of any kind are one `\n`; other control characters, which
/// TEXT cannot hold, are left out.
fn escape(text: &str) -> String {
    let mut written = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => written.push_str("\\\\"),
            ';' => written.push_str("\\;"),
            ',' => written.push_str("\\,"),
            '\n' => written.push_str("\\n"),
            '\r' => {
                chars.next_if_eq(&'\n');
                written.push_str("\\n");
            }
            c if c.is_ascii_control() && c != '\t' => {}
            c => written.push(c),
        }
    }
    written
}

/// The properties Workbench maps; the order is the one in which a task's are written when the
/// client's object lacks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mapped {
    Uid,
    Stamp,
    Created,
    Modified,
    Summary,
    Description,
    Status,
    Priority,
    Due,
    Completed,
    Categories,
    Rule,
}

impl Mapped {
    /// Every mapped property, in declaration order (`as usize` indexes this).
    const ALL: [Mapped; 12] = [
        Mapped::Uid,
        Mapped::Stamp,
        Mapped::Created,
        Mapped::Modified,
        Mapped::Summary,
        Mapped::Description,
        Mapped::Status,
        Mapped::Priority,
        Mapped::Due,
        Mapped::Completed,
        Mapped::Categories,
        Mapped::Rule,
    ];

    fn name(self) -> &'static str {
        match self {
            Mapped::Uid => "UID",
            Mapped::Stamp => "DTSTAMP",
            Mapped::Created => "CREATED",
            Mapped::Modified => "LAST-MODIFIED",
            Mapped::Summary => "SUMMARY",
            Mapped::Description => "DESCRIPTION",
            Mapped::Status => "STATUS",
            Mapped::Priority => "PRIORITY",
            Mapped::Due => "DUE",
            Mapped::Completed => "COMPLETED",
            Mapped::Categories => "CATEGORIES",
            Mapped::Rule => "RRULE",
        }
    }

    fn of(prop: &Property) -> Option<Mapped> {
        Mapped::ALL.into_iter().find(|mapped| named(prop, mapped.name()))
    }
}

/// What a rendered object says for one mapped property.
enum Lines {
    /// The client's lines, in place and as written: they still say what the task holds.
    Kept,
    /// These lines instead, where the client's first one was (none: the task holds nothing).
    New(Vec<Property>),
}

/// What the object of `task` says for `mapped`, `written` being the client's `VTODO` properties
/// (`None` for a task only ever written over REST).
fn lines(mapped: Mapped, task: &Task, uid: &str, written: Option<&[Property]>) -> Lines {
    let client = written.and_then(|props| first(props, mapped.name()));
    let new = |value: &str| {
        Lines::New(vec![Property { name: mapped.name().into(), params: None, value: Some(value.into()) }])
    };
    match mapped {
        Mapped::Uid => new(uid),
        Mapped::Stamp | Mapped::Modified => new(&utc_text(task.updated_at)),
        Mapped::Created => new(&utc_text(task.created_at)),
        Mapped::Summary | Mapped::Description => {
            let text = if mapped == Mapped::Summary { Some(task.title.as_str()) } else { task.description.as_deref() };
            match text.filter(|text| !text.is_empty()) {
                None => Lines::New(Vec::new()),
                Some(text) if client.is_some_and(|p| unescape(value(p)) == text) => Lines::Kept,
                Some(text) => new(&escape(text)),
            }
        }
        Mapped::Status => {
            // Also a CANCELLED the task reads as completed.
            if client.is_some_and(|p| read_status(p) == Ok(task.status)) {
                return Lines::Kept;
            }
            new(match task.status {
                Status::Pending => "NEEDS-ACTION",
                Status::InProgress => "IN-PROCESS",
                Status::Completed => "COMPLETED",
            })
        }
        Mapped::Priority => {
            let kept = match client {
                Some(p) => read_priority(p) == Ok(task.priority),
                // A client that set no priority reads a medium task as it left it.
                None => written.is_some() && task.priority == Priority::Medium,
            };
            if kept {
                return Lines::Kept;
            }
            new(match task.priority {
                Priority::High => "1",
                Priority::Medium => "5",
                Priority::Low => "9",
            })
        }
        Mapped::Due | Mapped::Completed => {
            let at = if mapped == Mapped::Due { task.due_date } else { task.completed_at };
            match at {
                None => Lines::New(Vec::new()),
                // Its date or zone as the client wrote it.
                Some(at) if client.is_some_and(|p| same_second(p, at)) => Lines::Kept,
                Some(at) => new(&utc_text(at)),
            }
        }
        Mapped::Categories => {
            if task.tags.is_empty() {
                return Lines::New(Vec::new());
            }
            // The client's spelling ("Work") while the tags are the ones it wrote ("work").
            let mut normalised: Vec<String> = Vec::new();
            for tag in categories(written.unwrap_or_default()) {
                let tag = tag.to_lowercase();
                if !normalised.contains(&tag) {
                    normalised.push(tag);
                }
            }
            if written.is_some() && normalised == task.tags {
                return Lines::Kept;
            }
            new(&task.tags.iter().map(|tag| escape(tag)).collect::<Vec<_>>().join(","))
        }
        Mapped::Rule => match &task.recurrence {
            None => Lines::New(Vec::new()),
            Some(rule) if client.is_some_and(|p| rule_text(p) == rule) => Lines::Kept,
            Some(rule) => new(rule),
        },
    }
}

/// Writes `prop` of the `VTODO`, and after its `DUE` the `DTSTART` a recurrence still needs.
fn emit(out: &mut String, prop: &Property, start_pending: &mut bool) {
    property(out, prop);
    if *start_pending && named(prop, "DUE") {
        *start_pending = false;
        property(out, &Property { name: "DTSTART".into(), params: prop.params.clone(), value: prop.value.clone() });
    }
}

fn timezone(out: &mut String, zone: &IcalTimeZone) {
    line(out, "BEGIN:VTIMEZONE");
    zone.properties.iter().for_each(|p| property(out, p));
    for transition in &zone.transitions {
        let kind = match transition.transition {
            IcalTimeZoneTransitionType::STANDARD => "STANDARD",
            IcalTimeZoneTransitionType::DAYLIGHT => "DAYLIGHT",
        };
        line(out, &format!("BEGIN:{kind}"));
        transition.properties.iter().for_each(|p| property(out, p));
        line(out, &format!("END:{kind}"));
    }
    line(out, "END:VTIMEZONE");
}

/// Writes `prop` as one content line. Not `ical`'s emitter: it folds at 75 characters rather than
/// octets, and escapes parameter values with backslashes, which RFC 5545 does not know.
fn property(out: &mut String, prop: &Property) {
    let mut text = prop.name.clone();
    for (name, values) in prop.params.iter().flatten() {
        text.push(';');
        text.push_str(name);
        text.push('=');
        for (i, param) in values.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            // The parser drops a value's quotes; those that need them (RFC 5545 §3.2) get them back.
            if param.contains([':', ';', ',']) {
                text.push('"');
                text.push_str(param);
                text.push('"');
            } else {
                text.push_str(param);
            }
        }
    }
    text.push(':');
    text.push_str(value(prop));
    line(out, &text);
}

/// Writes `text` as a content line, folded at [`LINE_OCTETS`] without splitting a character.
fn line(out: &mut String, text: &str) {
    let mut width = 0;
    for c in text.chars() {
        if width + c.len_utf8() > LINE_OCTETS {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use workbench_users::UserId;

    const THUNDERBIRD: &str = "BEGIN:VCALENDAR
PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN
VERSION:2.0
METHOD:PUBLISH
BEGIN:VTIMEZONE
TZID:Europe/Berlin
X-LIC-LOCATION:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
END:VTIMEZONE
BEGIN:VTODO
CREATED:20261120T101500Z
LAST-MODIFIED:20261120T101733Z
DTSTAMP:20261120T101733Z
UID:1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b
SUMMARY:Steuererklärung abgeben
STATUS:NEEDS-ACTION
PRIORITY:1
DTSTART;TZID=Europe/Berlin:20261130T090000
DUE;TZID=Europe/Berlin:20261201T090000
X-MOZ-GENERATION:3
X-MOZ-LASTACK:20261120T101733Z
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER;VALUE=DURATION:-PT15M
DESCRIPTION:Default Mozilla Description
END:VALARM
END:VTODO
END:VCALENDAR
";

    const APPLE: &str = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Apple Inc.//iOS 18.1//EN
CALSCALE:GREGORIAN
BEGIN:VTODO
COMPLETED:20261118T071203Z
CREATED:20261115T183000Z
DTSTAMP:20261118T071203Z
DUE;VALUE=DATE:20261201
LAST-MODIFIED:20261118T071203Z
PERCENT-COMPLETE:100
PRIORITY:9
SEQUENCE:2
STATUS:COMPLETED
SUMMARY:Milch kaufen
UID:A3C1E5F2-9B7D-4E6A-8C21-5D4F3B2A1E09
X-APPLE-SORT-ORDER:785432109
END:VTODO
END:VCALENDAR
";

    const TASKS_ORG: &str = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:+//IDN tasks.org//android-140102//EN
BEGIN:VTODO
DTSTAMP:20261121T080000Z
UID:7391029384756102938
CREATED:20261120T120000Z
LAST-MODIFIED:20261121T080000Z
SUMMARY:Paint the fence\\, then the shed
DESCRIPTION:Two coats.\\nUse the green\\; not the blue.
PRIORITY:6
STATUS:IN-PROCESS
PERCENT-COMPLETE:40
CATEGORIES:Garden,Home\\, outside
RELATED-TO;RELTYPE=PARENT:4820193847561029
RRULE:BYDAY=SA;FREQ=WEEKLY;INTERVAL=2
DUE;VALUE=DATE:20261128
X-OC-HIDESUBTASKS:0
X-APPLE-SORT-ORDER:-1
END:VTODO
END:VCALENDAR
";

    const TODOMAN: &str = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//todoman//NONSGML v4.4.0//EN
BEGIN:VTODO
UID:5c0f2d2b1a0e4b7f9d5a3c1e2f4a6b8d@laptop
SUMMARY:Renew passport
PRIORITY:0
SEQUENCE:1
DTSTAMP:20261121T090000Z
CREATED:20261121T090000Z
LAST-MODIFIED:20261121T090000Z
DUE:20261215T170000Z
STATUS:NEEDS-ACTION
END:VTODO
END:VCALENDAR
";

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    /// The task the domain stores for `todo` (tags lower-cased, as REST normalises them).
    fn task(todo: &ClientTodo) -> Task {
        Task {
            id: TaskId(42),
            title: todo.title.clone().unwrap_or_default(),
            description: todo.description.clone(),
            status: todo.status,
            priority: todo.priority,
            due_date: todo.due,
            owner_id: UserId(1),
            assignee_id: None,
            tags: todo.tags.iter().map(|tag| tag.to_lowercase()).collect(),
            completed_at: todo.completed_at.or((todo.status == Status::Completed).then(|| at("2026-11-22T10:00:00Z"))),
            version: 3,
            created_at: at("2026-11-20T10:15:00Z"),
            updated_at: at("2026-11-22T10:00:00Z"),
            project_id: None,
            recurrence: todo.recurrence.clone(),
            previous_id: None,
            parent_id: None,
            blocked: false,
            bucket_id: None,
            position: None,
            fields: Default::default(),
        }
    }

    /// A minimal client object whose `VTODO` holds `props` (LF-ended lines).
    fn object(props: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Test//EN\nBEGIN:VTODO\nUID:u-1\nSUMMARY:Water the plants\n\
             {props}END:VTODO\nEND:VCALENDAR\n"
        )
    }

    /// The lines of `source` Workbench does not map, with the time zones and alarms whole: what must
    /// come back byte for byte.
    fn kept_lines(source: &str) -> Vec<&str> {
        let mut inside: Vec<&str> = Vec::new();
        let mut kept = Vec::new();
        for line in source.lines() {
            if let Some(component) = line.strip_prefix("BEGIN:") {
                inside.push(component);
            }
            let name = line.split([';', ':']).next().unwrap_or_default();
            let in_todo = inside.last() == Some(&"VTODO");
            if inside.len() > 1 && !(in_todo && Mapped::ALL.iter().any(|m| m.name() == name)) {
                kept.push(line);
            }
            if line.starts_with("END:") {
                inside.pop();
            }
        }
        kept
    }

    fn assert_kept(source: &str, rendered: &str) {
        for line in kept_lines(source) {
            assert!(rendered.contains(&format!("\r\n{line}\r\n")), "{line:?} missing from\n{rendered}");
        }
    }

    /// Reads `source`, renders the task made of it, and checks that it reads back the same and
    /// that what Workbench does not map came back as written.
    fn round_trip(source: &str) -> (ClientTodo, String) {
        let todo = parse(source).unwrap();
        // A parent the client named that is no task (yet) is given back as written.
        let parent = todo.parent_uid.as_deref();
        let rendered = render(&task(&todo), &todo.uid, Some(source), parent);
        assert_eq!(parse(&rendered).unwrap(), todo, "\n{rendered}");
        assert_kept(source, &rendered);
        assert_eq!(
            rendered,
            render(&task(&todo), &todo.uid, Some(source), parent),
            "the same version renders the same bytes"
        );
        (todo, rendered)
    }

    #[test]
    fn a_thunderbird_task_reads_in_its_zone_and_comes_back_with_zone_alarm_and_mozilla_state() {
        let (todo, rendered) = round_trip(THUNDERBIRD);
        assert_eq!(todo.uid, "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b");
        assert_eq!(todo.title.as_deref(), Some("Steuererklärung abgeben"));
        assert_eq!((todo.status, todo.priority), (Status::Pending, Priority::High));
        assert_eq!(todo.due, Some(at("2026-12-01T08:00:00Z")), "09:00 in Berlin");
        assert!(
            rendered.contains("\r\nDUE;TZID=Europe/Berlin:20261201T090000\r\n"),
            "the due date as the client wrote it"
        );
        assert!(rendered.contains("\r\nPRIORITY:1\r\n"));
        assert!(rendered.contains("\r\nTRIGGER;VALUE=DURATION:-PT15M\r\n"));
        assert!(
            rendered.contains("\r\nLAST-MODIFIED:20261122T100000Z\r\nDTSTAMP:20261122T100000Z\r\n"),
            "from the task"
        );
        assert!(!rendered.contains("METHOD"), "a stored object has no METHOD");
        assert!(
            rendered
                .starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Workbench//Tasks//EN\r\nBEGIN:VTIMEZONE\r\n")
        );
        // The VTODO's own lines stay in the client's order.
        let order: Vec<_> = ["CREATED:", "UID:", "SUMMARY:", "DTSTART;", "DUE;", "X-MOZ-GENERATION", "BEGIN:VALARM"]
            .iter()
            .map(|name| rendered.find(&format!("\r\n{name}")).unwrap())
            .collect();
        assert!(order.is_sorted(), "{rendered}");
    }

    #[test]
    fn a_rest_edit_changes_what_workbench_maps_and_keeps_the_rest_of_thunderbirds_object() {
        let before = parse(THUNDERBIRD).unwrap();
        let mut edited = task(&before);
        edited.title = "Steuererklärung abgeben; Belege, Quittungen".into();
        edited.priority = Priority::Low;
        edited.status = Status::InProgress;
        edited.due_date = Some(at("2026-12-03T17:00:00Z"));
        edited.description = Some("Zuerst den Ordner\nsuchen".into());
        let rendered = render(&edited, &before.uid, Some(THUNDERBIRD), None);
        let after = parse(&rendered).unwrap();
        assert_eq!(after.title.as_deref(), Some("Steuererklärung abgeben; Belege, Quittungen"));
        assert_eq!(after.description.as_deref(), Some("Zuerst den Ordner\nsuchen"));
        assert_eq!((after.status, after.priority, after.due), (Status::InProgress, Priority::Low, edited.due_date));
        assert_eq!(after.uid, before.uid);
        assert!(rendered.contains("\r\nSUMMARY:Steuererklärung abgeben\\; Belege\\, Quittungen\r\n"));
        assert!(rendered.contains("\r\nDUE:20261203T170000Z\r\n") && !rendered.contains("DUE;TZID"));
        assert!(rendered.contains("\r\nPRIORITY:9\r\n") && rendered.contains("\r\nSTATUS:IN-PROCESS\r\n"));
        // The alarm, the start, the zone and Thunderbird's own state stay as written.
        assert_kept(THUNDERBIRD, &rendered);
    }

    #[test]
    fn an_apple_reminder_keeps_its_date_only_due_its_completion_and_sort_order() {
        let (todo, rendered) = round_trip(APPLE);
        assert_eq!(todo.due, Some(at("2026-12-01T00:00:00Z")));
        assert_eq!(todo.completed_at, Some(at("2026-11-18T07:12:03Z")));
        assert_eq!((todo.status, todo.priority), (Status::Completed, Priority::Low));
        assert!(rendered.contains("\r\nDUE;VALUE=DATE:20261201\r\n"));
        assert!(rendered.contains("\r\nCOMPLETED:20261118T071203Z\r\n"));
        assert!(rendered.contains("\r\nPRIORITY:9\r\n"));
        assert!(!rendered.contains("CALSCALE"), "calendar-level lines are Workbench's");
    }

    #[test]
    fn a_tasks_org_task_keeps_its_parent_progress_and_escaped_categories() {
        let (todo, rendered) = round_trip(TASKS_ORG);
        assert_eq!(todo.title.as_deref(), Some("Paint the fence, then the shed"));
        assert_eq!(todo.description.as_deref(), Some("Two coats.\nUse the green; not the blue."));
        assert_eq!(todo.tags, ["Garden", "Home, outside"]);
        assert_eq!((todo.status, todo.priority), (Status::InProgress, Priority::Low));
        assert_eq!(todo.recurrence.as_deref(), Some("BYDAY=SA;FREQ=WEEKLY;INTERVAL=2"));
        assert!(
            rendered.contains("\r\nCATEGORIES:Garden,Home\\, outside\r\n"),
            "the client's spelling while the tags stay"
        );
        assert!(rendered.contains("\r\nRRULE:BYDAY=SA;FREQ=WEEKLY;INTERVAL=2\r\n"));
        // A recurrence needs a start: the due line, in the client's form.
        assert!(rendered.contains("\r\nDUE;VALUE=DATE:20261128\r\nDTSTART;VALUE=DATE:20261128\r\n"), "{rendered}");

        let mut tagged = task(&todo);
        tagged.tags.push("fence".into());
        let rendered = render(&tagged, &todo.uid, Some(TASKS_ORG), None);
        assert!(rendered.contains("\r\nCATEGORIES:garden,home\\, outside,fence\r\n"), "{rendered}");
        assert_eq!(parse(&rendered).unwrap().tags, ["garden", "home, outside", "fence"]);
    }

    #[test]
    fn a_todoman_task_keeps_its_undefined_priority_and_sequence() {
        let (todo, rendered) = round_trip(TODOMAN);
        assert_eq!(todo.priority, Priority::Medium);
        assert_eq!(todo.due, Some(at("2026-12-15T17:00:00Z")));
        assert!(rendered.contains("\r\nPRIORITY:0\r\n") && rendered.contains("\r\nSEQUENCE:1\r\n"));
        let mut urgent = task(&todo);
        urgent.priority = Priority::High;
        assert!(render(&urgent, &todo.uid, Some(TODOMAN), None).contains("\r\nPRIORITY:1\r\n"));
    }

    #[test]
    fn a_clients_priority_number_stays_while_its_level_does() {
        let source = object("PRIORITY:2\n");
        let todo = parse(&source).unwrap();
        assert_eq!(todo.priority, Priority::High);
        let mut t = task(&todo);
        assert!(render(&t, "u-1", Some(&source), None).contains("\r\nPRIORITY:2\r\n"));
        t.priority = Priority::Low;
        let rendered = render(&t, "u-1", Some(&source), None);
        assert!(rendered.contains("\r\nPRIORITY:9\r\n") && !rendered.contains("PRIORITY:2"));

        // A client that set none sees none while the task stays medium.
        let plain = object("");
        let t = task(&parse(&plain).unwrap());
        assert!(!render(&t, "u-1", Some(&plain), None).contains("PRIORITY"));
    }

    #[test]
    fn a_cancelled_task_reads_back_cancelled_until_it_is_reopened() {
        let source = object("STATUS:CANCELLED\nCOMPLETED:20261119T120000Z\n");
        let todo = parse(&source).unwrap();
        assert_eq!((todo.status, todo.completed_at), (Status::Completed, Some(at("2026-11-19T12:00:00Z"))));
        let mut t = task(&todo);
        let rendered = render(&t, "u-1", Some(&source), None);
        assert!(
            rendered.contains("\r\nSTATUS:CANCELLED\r\n") && rendered.contains("\r\nCOMPLETED:20261119T120000Z\r\n")
        );
        t.status = Status::Pending;
        t.completed_at = None;
        let rendered = render(&t, "u-1", Some(&source), None);
        assert!(rendered.contains("\r\nSTATUS:NEEDS-ACTION\r\n"), "{rendered}");
        assert!(!rendered.contains("CANCELLED") && !rendered.contains("\r\nCOMPLETED"));
    }

    #[test]
    fn a_rule_is_read_exactly_as_written_whatever_the_order_of_its_parts() {
        let source = object("DUE:20261201T090000Z\nRRULE:INTERVAL=2;COUNT=10;BYDAY=MO,WE;FREQ=WEEKLY\n");
        let (todo, rendered) = round_trip(&source);
        assert_eq!(todo.recurrence.as_deref(), Some("INTERVAL=2;COUNT=10;BYDAY=MO,WE;FREQ=WEEKLY"));
        assert!(rendered.contains("\r\nRRULE:INTERVAL=2;COUNT=10;BYDAY=MO,WE;FREQ=WEEKLY\r\n"));
        assert!(rendered.contains("\r\nDUE:20261201T090000Z\r\nDTSTART:20261201T090000Z\r\n"));
        let prefixed = parse(&object("RRULE:RRULE:freq=daily\n")).unwrap();
        assert_eq!(prefixed.recurrence.as_deref(), Some("freq=daily"));
    }

    #[test]
    fn a_folded_utf8_description_survives_also_when_folded_after_a_space() {
        let source = concat!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VTODO\r\nUID:u-1\r\n",
            "DESCRIPTION:Vor der Abgabe prüfen: Belege für Fahrtkosten\\, Spenden und die \r\n",
            " Nebenkostenabrechnung 2025 – alles im Ordner „Steuer“.\\nDanach: Ärztin an\r\n",
            "\truf\r\n",
            " en 📞\r\n",
            "END:VTODO\r\nEND:VCALENDAR\r\n",
        );
        let expected = "Vor der Abgabe prüfen: Belege für Fahrtkosten, Spenden und die Nebenkostenabrechnung 2025 \
                        – alles im Ordner „Steuer“.\nDanach: Ärztin anrufen 📞";
        let todo = parse(source).unwrap();
        assert_eq!(todo.description.as_deref(), Some(expected));
        let mut t = task(&todo);
        t.title = "Steuer".into();
        let rendered = render(&t, "u-1", Some(source), None);
        assert_eq!(parse(&rendered).unwrap().description.as_deref(), Some(expected));
        t.description = Some(format!("{expected} (ergänzt)"));
        let rendered = render(&t, "u-1", Some(source), None);
        assert_eq!(parse(&rendered).unwrap().description, t.description);
    }

    #[test]
    fn a_subtask_names_its_parent_and_a_client_line_naming_another_goes() {
        let mut t =
            task(&parse(&object("RELATED-TO;RELTYPE=PARENT:old-parent\nRELATED-TO;RELTYPE=SIBLING:sib\n")).unwrap());
        t.parent_id = Some(TaskId(3));
        let source = object("RELATED-TO;RELTYPE=PARENT:old-parent\nRELATED-TO;RELTYPE=SIBLING:sib\n");
        let rendered = render(&t, "u-1", Some(&source), Some("new-parent"));
        assert!(rendered.contains("\r\nRELATED-TO;RELTYPE=PARENT:new-parent\r\n"), "{rendered}");
        assert!(!rendered.contains("old-parent"), "{rendered}");
        assert!(rendered.contains("\r\nRELATED-TO;RELTYPE=SIBLING:sib\r\n"), "other relations are kept: {rendered}");
        let kept = render(&t, "u-1", Some(&object("RELATED-TO:new-parent\n")), Some("new-parent"));
        assert!(kept.contains("\r\nRELATED-TO:new-parent\r\n"), "a line naming the parent is kept as written: {kept}");
        assert_eq!(parse(&kept).unwrap().parent_uid.as_deref(), Some("new-parent"), "RELTYPE defaults to PARENT");
        assert!(!render(&t, "u-1", Some(&source), None).contains("PARENT"), "no parent, no line");
    }

    #[test]
    fn rendered_lines_are_at_most_75_octets_and_end_in_crlf() {
        let todo = parse(TASKS_ORG).unwrap();
        let mut t = task(&todo);
        t.title = "Überweisung für die Ölheizung prüfen 🔥 ".repeat(5).trim().into();
        t.description = Some("Zeile eins\r\nZeile zwei, mit Komma; und Semikolon \\".repeat(20));
        t.tags = (0..20).map(|i| format!("schlagwort-ä{i}")).collect();
        let rendered = render(&t, &default_uid(t.id), Some(TASKS_ORG), None);
        assert!(rendered.ends_with("\r\n"));
        for line in rendered.strip_suffix("\r\n").unwrap().split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
            assert!(!line.contains(['\r', '\n']), "a bare line break in {line:?}");
        }
        let back = parse(&rendered).unwrap();
        assert_eq!(back.title.as_deref(), Some(t.title.as_str()));
        assert_eq!(back.description, t.description.map(|d| d.replace("\r\n", "\n")));
        assert_eq!(back.tags, t.tags);
    }

    #[test]
    fn a_task_made_over_rest_renders_every_mapped_property_and_no_empty_description() {
        let mut t = task(&parse(&object("")).unwrap());
        t.id = TaskId(7);
        t.tags = vec!["home".into(), "weekly".into()];
        t.due_date = Some(at("2026-12-07T08:00:00Z"));
        t.recurrence = Some("FREQ=WEEKLY;BYDAY=MO".into());
        let uid = default_uid(t.id);
        assert_eq!(uid, "workbench-task-7");
        let rendered = render(&t, &uid, None, None);
        let expected = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Workbench//Tasks//EN\r\nBEGIN:VTODO\r\n\
                        UID:workbench-task-7\r\nDTSTAMP:20261122T100000Z\r\nCREATED:20261120T101500Z\r\n\
                        LAST-MODIFIED:20261122T100000Z\r\nSUMMARY:Water the plants\r\nSTATUS:NEEDS-ACTION\r\n\
                        PRIORITY:5\r\nDUE:20261207T080000Z\r\nDTSTART:20261207T080000Z\r\nCATEGORIES:home,weekly\r\n\
                        RRULE:FREQ=WEEKLY;BYDAY=MO\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        assert_eq!(rendered, expected);
        let back = parse(&rendered).unwrap();
        assert_eq!((back.uid.as_str(), back.due, back.recurrence), (uid.as_str(), t.due_date, t.recurrence.clone()));

        t.status = Status::Completed;
        t.completed_at = Some(at("2026-11-23T18:30:00.750Z"));
        let rendered = render(&t, &uid, None, None);
        assert!(
            rendered.contains("\r\nSTATUS:COMPLETED\r\n") && rendered.contains("\r\nCOMPLETED:20261123T183000Z\r\n")
        );
        assert_eq!(parse(&rendered).unwrap().completed_at, Some(at("2026-11-23T18:30:00Z")));
    }

    #[test]
    fn several_categories_lines_are_read_as_one_list_and_written_as_one_line_when_changed() {
        let source = object("CATEGORIES:Garden,Home\\, outside\nCATEGORIES:garden, Errands ,,\n");
        let todo = parse(&source).unwrap();
        assert_eq!(todo.tags, ["Garden", "Home, outside", "Errands"]);
        let mut t = task(&todo);
        let rendered = render(&t, "u-1", Some(&source), None);
        assert!(rendered.contains("\r\nCATEGORIES:Garden,Home\\, outside\r\nCATEGORIES:garden, Errands ,,\r\n"));
        t.tags.remove(0);
        let rendered = render(&t, "u-1", Some(&source), None);
        assert_eq!(rendered.matches("CATEGORIES").count(), 1);
        assert!(rendered.contains("\r\nCATEGORIES:home\\, outside,errands\r\n"));
        t.tags.clear();
        assert!(!render(&t, "u-1", Some(&source), None).contains("CATEGORIES"));
    }

    #[test]
    fn crlf_lowercase_names_and_a_byte_order_mark_are_read() {
        let source = format!("\u{feff}{}", TODOMAN.replace("\n", "\r\n").replace("BEGIN:VTODO", "begin:vtodo"));
        let source = source.replace("SUMMARY:", "summary:").replace("STATUS:NEEDS-ACTION", "STATUS:needs-action");
        let todo = parse(&source).unwrap();
        assert_eq!((todo.title.as_deref(), todo.status), (Some("Renew passport"), Status::Pending));
        let rendered = render(&task(&todo), &todo.uid, Some(&source), None);
        assert!(
            rendered.contains("\r\nsummary:Renew passport\r\n") && rendered.contains("\r\nSTATUS:needs-action\r\n")
        );
    }

    #[test]
    fn a_vevent_is_refused_by_name() {
        let event = THUNDERBIRD.replace("VTODO", "VEVENT");
        let e = parse(&event).unwrap_err();
        assert!(matches!(&e, VtodoError::UnsupportedComponent(m) if m.contains("VEVENT")), "{e:?}");
        let both = TODOMAN.replace("END:VCALENDAR", "BEGIN:VJOURNAL\nUID:j\nEND:VJOURNAL\nEND:VCALENDAR");
        assert!(matches!(parse(&both), Err(VtodoError::UnsupportedComponent(m)) if m.contains("VJOURNAL")));
    }

    #[test]
    fn an_object_that_is_not_one_task_is_refused() {
        let two = object("END:VTODO\nBEGIN:VTODO\nUID:u-2\n");
        assert!(matches!(parse(&two), Err(VtodoError::InvalidObject(m)) if m.contains("2 VTODOs")));
        let overridden = object("RRULE:FREQ=DAILY\nEND:VTODO\nBEGIN:VTODO\nUID:u-1\nRECURRENCE-ID:20261202T090000Z\n");
        assert_eq!(parse(&overridden), Err(VtodoError::InvalidObject(OVERRIDES.into())));
        let no_uid = TODOMAN.replace("UID:5c0f2d2b1a0e4b7f9d5a3c1e2f4a6b8d@laptop\n", "");
        assert!(matches!(parse(&no_uid), Err(VtodoError::InvalidObject(m)) if m.contains("UID")));
        let no_todo = "BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n";
        assert!(matches!(parse(no_todo), Err(VtodoError::InvalidObject(m)) if m.contains("no VTODO")));
        assert!(matches!(parse(&format!("{TODOMAN}{TODOMAN}")), Err(VtodoError::InvalidObject(_))));
    }

    #[test]
    fn a_value_workbench_cannot_read_is_refused_naming_the_property() {
        for (line, property) in [
            ("PRIORITY:12\n", "PRIORITY"),
            ("STATUS:DONE\n", "STATUS"),
            ("DUE:tomorrow\n", "DUE"),
            ("COMPLETED:yesterday\n", "COMPLETED"),
            ("DUE;TZID=Mars/Olympus:20261201T090000\n", "DUE"),
            ("RRULE:FREQ=DAILY\nRRULE:FREQ=WEEKLY\n", "RRULE"),
        ] {
            match parse(&object(line)) {
                Err(VtodoError::Invalid(m)) => assert!(m.starts_with(property), "{line:?}: {m}"),
                other => panic!("{line:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn what_is_not_icalendar_is_refused() {
        for garbage in ["", "hello world", "{\"title\":\"Water the plants\"}", "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:u\n"]
        {
            assert!(matches!(parse(garbage), Err(VtodoError::Invalid(_))), "{garbage:?}");
        }
    }
}
