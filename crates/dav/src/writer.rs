//! XML written by hand: a multistatus is a few fixed shapes, and writing them to a `String`
//! keeps the prefixes (`D:`, `C:`...) that every client's log reader expects.

use std::borrow::Cow;

use quick_xml::escape::escape;

use crate::{Element, PropName, Value, ns};

/// The declarations every root element carries, for the prefixes [`prefix`] hands out.
pub(crate) const ROOT_NAMESPACES: &str = concat!(
    r#" xmlns:D="DAV:""#,
    r#" xmlns:C="urn:ietf:params:xml:ns:caldav""#,
    r#" xmlns:CS="http://calendarserver.org/ns/""#,
    r#" xmlns:IC="http://apple.com/ns/ical/""#,
);

pub(crate) const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

fn prefix(namespace: &str) -> Option<&'static str> {
    match namespace {
        ns::DAV => Some("D"),
        ns::CALDAV => Some("C"),
        ns::CS => Some("CS"),
        ns::ICAL => Some("IC"),
        _ => None,
    }
}

/// Text content, escaped as it is appended: `<`, `>` and `&` as entities (quotes need none in
/// text, XML 1.0 §2.4), and a CR as a reference, because XML parsers turn a literal CRLF into LF
/// (XML 1.0 §2.11) and `calendar-data` must keep iCalendar's CRLF line ends. Written straight
/// into the answer: a multiget escapes every object it sends.
pub(crate) fn push_text(out: &mut String, text: &str) {
    let mut written = 0;
    for (at, byte) in text.bytes().enumerate() {
        let reference = match byte {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'\r' => "&#13;",
            _ => continue,
        };
        // ASCII bytes: `at` is a character boundary.
        out.push_str(&text[written..at]);
        out.push_str(reference);
        written = at + 1;
    }
    out.push_str(&text[written..]);
}

/// An attribute value escaped. Parsers turn literal tabs and line ends in attributes into
/// spaces (XML 1.0 §3.3.3), so those are references too.
fn escape_attr(value: &str) -> Cow<'_, str> {
    let escaped = escape(value);
    if escaped.contains(['\r', '\n', '\t']) {
        Cow::Owned(escaped.replace('\r', "&#13;").replace('\n', "&#10;").replace('\t', "&#9;"))
    } else {
        escaped
    }
}

/// `<name` with its prefix, or with its own default namespace when it has no prefix here: a
/// property in a namespace Workbench does not know goes back under that namespace.
fn start(out: &mut String, name: &PropName) {
    out.push('<');
    match prefix(&name.ns) {
        Some(prefix) => {
            out.push_str(prefix);
            out.push(':');
            out.push_str(&name.name);
        }
        None => {
            out.push_str(&name.name);
            out.push_str(" xmlns=\"");
            out.push_str(&escape_attr(&name.ns));
            out.push('"');
        }
    }
}

fn end(out: &mut String, name: &PropName) {
    out.push_str("</");
    if let Some(prefix) = prefix(&name.ns) {
        out.push_str(prefix);
        out.push(':');
    }
    out.push_str(&name.name);
    out.push('>');
}

/// `<name/>`.
pub(crate) fn empty(out: &mut String, name: &PropName) {
    start(out, name);
    out.push_str("/>");
}

/// `<name>text</name>`, the text escaped.
pub(crate) fn text(out: &mut String, name: &PropName, text: &str) {
    start(out, name);
    out.push('>');
    push_text(out, text);
    end(out, name);
}

/// `<D:name>` around what `content` writes.
pub(crate) fn wrap(out: &mut String, name: &str, content: impl FnOnce(&mut String)) {
    out.push_str("<D:");
    out.push_str(name);
    out.push('>');
    content(out);
    out.push_str("</D:");
    out.push_str(name);
    out.push('>');
}

pub(crate) fn element(out: &mut String, element: &Element) {
    start(out, &element.name);
    for (key, value) in &element.attrs {
        out.push(' ');
        out.push_str(key);
        out.push_str("=\"");
        out.push_str(&escape_attr(value));
        out.push('"');
    }
    if element.text.is_none() && element.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    if let Some(text) = &element.text {
        push_text(out, text);
    }
    for child in &element.children {
        self::element(out, child);
    }
    end(out, &element.name);
}

/// One property with its value.
pub(crate) fn property(out: &mut String, name: &PropName, value: &Value) {
    match value {
        Value::Empty => empty(out, name),
        Value::Text(value) => text(out, name, value),
        Value::Href(href) => {
            start(out, name);
            out.push('>');
            wrap(out, "href", |out| push_text(out, href));
            end(out, name);
        }
        Value::Elements(children) => {
            start(out, name);
            out.push('>');
            for child in children {
                element(out, child);
            }
            end(out, name);
        }
    }
}
