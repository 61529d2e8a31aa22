//! Request bodies read into a small tree of elements whose names have their namespaces resolved.
//!
//! Clients pick prefixes freely (`D:`, `d:`, `CAL:`, a default namespace), so nothing after this
//! module sees a prefix. Entities other than XML's five and character references are refused:
//! quick-xml expands no DTD, so a body cannot grow itself (no "billion laughs").

use quick_xml::NsReader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use crate::{PropName, XmlError};

/// Nesting deeper than any CalDAV request needs (a filter is five levels) is refused, so that a
/// hostile body cannot make the recursive walks over the tree exhaust the stack.
const MAX_DEPTH: usize = 32;

/// One element of a request body.
#[derive(Debug)]
pub(crate) struct Node {
    pub name: PropName,
    /// Unprefixed attributes only: those are in no namespace, and CalDAV's are all unprefixed.
    attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
    /// The element's own text, entities resolved, child elements' text excluded.
    pub text: String,
}

impl Node {
    /// The value of the unprefixed attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The first child element named `name` in `ns`.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name.is(ns, name))
    }

    /// Every child element named `name` in `ns`, in document order.
    pub fn children_named<'a>(&'a self, ns: &'a str, name: &'a str) -> impl Iterator<Item = &'a Node> {
        self.children.iter().filter(move |c| c.name.is(ns, name))
    }

    /// The child element named `name` in `ns`, or the error naming it as missing.
    pub fn require(&self, ns: &str, name: &str) -> Result<&Node, XmlError> {
        self.child(ns, name).ok_or_else(|| XmlError::Missing {
            parent: self.name.clone(),
            missing: PropName::new(ns, name).to_string(),
        })
    }

    /// The attribute `name`, or the error naming it as missing.
    pub fn require_attr(&self, name: &str) -> Result<&str, XmlError> {
        self.attr(name)
            .ok_or_else(|| XmlError::Missing { parent: self.name.clone(), missing: format!("attribute {name:?}") })
    }

    /// That this is the root a method takes.
    pub fn expect_root(&self, ns: &str, name: &str) -> Result<(), XmlError> {
        if self.name.is(ns, name) {
            return Ok(());
        }
        Err(XmlError::WrongRoot { expected: PropName::new(ns, name), found: self.name.clone() })
    }
}

/// The root element of `body`.
pub(crate) fn parse(body: &[u8]) -> Result<Node, XmlError> {
    let mut reader = NsReader::from_reader(body);
    let mut buf = Vec::new();
    let mut open: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        buf.clear();
        let (ns, event) = match reader.read_resolved_event_into(&mut buf) {
            Ok(read) => read,
            Err(err) => return Err(malformed(format!("{err} (at byte {})", reader.error_position()))),
        };
        // Owned at once: the resolved namespace borrows the reader.
        let ns = namespace(ns)?;
        match event {
            Event::Start(start) => {
                if open.len() >= MAX_DEPTH {
                    return Err(malformed(format!("elements nested deeper than {MAX_DEPTH}")));
                }
                open.push(element(ns, &start)?);
            }
            Event::Empty(start) => close(element(ns, &start)?, &mut open, &mut root)?,
            Event::End(_) => {
                // quick-xml checks that end tags match their start tags.
                let node = open.pop().ok_or_else(|| malformed("an end tag closes nothing"))?;
                close(node, &mut open, &mut root)?;
            }
            Event::Text(text) => {
                let text = text.xml_content().map_err(|e| malformed(e.to_string()))?;
                append(&mut open, &text)?;
            }
            Event::CData(data) => {
                let text = data.decode().map_err(|e| malformed(e.to_string()))?;
                append(&mut open, &text)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().map_err(|e| malformed(e.to_string()))? {
                    Some(ch) => ch.to_string(),
                    None => {
                        let name = reference.decode().map_err(|e| malformed(e.to_string()))?;
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| malformed(format!("unknown entity &{name};")))?
                            .to_owned()
                    }
                };
                append(&mut open, &resolved)?;
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if let Some(unclosed) = open.last() {
        return Err(malformed(format!("{} is not closed", unclosed.name)));
    }
    root.ok_or_else(|| malformed("no root element"))
}

fn malformed(message: impl Into<String>) -> XmlError {
    XmlError::Malformed(message.into())
}

fn namespace(resolved: ResolveResult<'_>) -> Result<String, XmlError> {
    match resolved {
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Bound(ns) => {
            std::str::from_utf8(ns.as_ref()).map(str::to_owned).map_err(|_| malformed("a namespace is not UTF-8"))
        }
        ResolveResult::Unknown(prefix) => {
            Err(malformed(format!("the prefix {:?} is not declared", String::from_utf8_lossy(&prefix))))
        }
    }
}

fn element(ns: String, start: &BytesStart<'_>) -> Result<Node, XmlError> {
    let local = start.local_name();
    let name = std::str::from_utf8(local.as_ref()).map_err(|_| malformed("an element name is not UTF-8"))?;
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| malformed(e.to_string()))?;
        let key = std::str::from_utf8(attr.key.as_ref()).map_err(|_| malformed("an attribute name is not UTF-8"))?;
        // Prefixed attributes and namespace declarations carry nothing CalDAV reads.
        if key.contains(':') || key == "xmlns" {
            continue;
        }
        let value = attr.unescape_value().map_err(|e| malformed(e.to_string()))?;
        attrs.push((key.to_owned(), value.into_owned()));
    }
    Ok(Node { name: PropName::new(ns, name), attrs, children: Vec::new(), text: String::new() })
}

/// Hands a complete element to its parent, or makes it the root.
fn close(node: Node, open: &mut [Node], root: &mut Option<Node>) -> Result<(), XmlError> {
    match open.last_mut() {
        Some(parent) => parent.children.push(node),
        None if root.is_none() => *root = Some(node),
        None => return Err(malformed(format!("a second root element {}", node.name))),
    }
    Ok(())
}

fn append(open: &mut [Node], text: &str) -> Result<(), XmlError> {
    match open.last_mut() {
        Some(node) => node.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => return Err(malformed("text outside the root element")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ns;

    #[test]
    fn names_are_resolved_whatever_the_prefix() {
        let a = parse(br#"<D:prop xmlns:D="DAV:"><D:getetag/></D:prop>"#).unwrap();
        let b = parse(br#"<prop xmlns="DAV:"><getetag></getetag></prop>"#).unwrap();
        let c = parse(br#"<x:prop xmlns:x="DAV:"><getetag xmlns="DAV:"/></x:prop>"#).unwrap();
        for root in [a, b, c] {
            assert!(root.name.is(ns::DAV, "prop"));
            assert!(root.children[0].name.is(ns::DAV, "getetag"));
        }
    }

    #[test]
    fn text_attributes_and_entities_are_read() {
        let root = parse(
            br#"<?xml version="1.0"?><!-- hi --><a xmlns="x" k="1 &amp; 2" p:q="no" xmlns:p="y">A &lt;&#66;&#x43;<![CDATA[<D>]]></a>"#,
        )
        .unwrap();
        assert_eq!(root.text, "A <BC<D>");
        assert_eq!(root.attr("k"), Some("1 & 2"));
        assert_eq!(root.attr("q"), None);
        assert_eq!(root.attr("xmlns"), None);
    }

    #[test]
    fn what_is_not_well_formed_is_an_error() {
        for body in [
            &b""[..],
            b"   ",
            b"<a>",
            b"<a></b>",
            b"</a>",
            b"<a/><b/>",
            b"text",
            b"<a>&custom;</a>",
            b"<p:a/>",
            b"<a x='1' x='2'/>",
            b"<a>\xff</a>",
            b"<a",
        ] {
            let err = parse(body).unwrap_err();
            assert!(matches!(err, XmlError::Malformed(_)), "{body:?}: {err:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let body = "<a>".repeat(10_000);
        assert!(matches!(parse(body.as_bytes()), Err(XmlError::Malformed(m)) if m.contains("deeper")));
    }
}
