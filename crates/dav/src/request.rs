//! PROPFIND and PROPPATCH bodies (RFC 4918 §9.1, §9.2): which properties the client names.

use crate::xml::{self, Node};
use crate::{PropName, XmlError, ns};

/// Which properties a PROPFIND, or a REPORT, asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropRequest {
    /// `<D:allprop/>`: every live property the server finds worth sending, plus those named in
    /// `<D:include>` (RFC 4918 §14.8), which allprop would leave out.
    AllProp {
        /// The properties `<D:include>` names.
        include: Vec<PropName>,
    },
    /// `<D:propname/>`: the names of the properties, without values.
    PropName,
    /// `<D:prop>`: exactly these properties, in the order asked.
    Prop(Vec<PropName>),
}

/// Reads a PROPFIND body. An empty body asks for all properties (RFC 4918 §9.1).
pub fn parse_propfind(body: &[u8]) -> Result<PropRequest, XmlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(PropRequest::AllProp { include: Vec::new() });
    }
    let root = xml::parse(body)?;
    root.expect_root(ns::DAV, "propfind")?;
    prop_request(&root).ok_or_else(|| XmlError::Missing {
        parent: root.name.clone(),
        missing: "one of {DAV:}prop, {DAV:}allprop, {DAV:}propname".to_owned(),
    })
}

/// Reads a PROPPATCH body: the name of every property it sets or removes, in document order.
/// The values are not read: Workbench's collection properties are not writable.
pub fn parse_proppatch(body: &[u8]) -> Result<Vec<PropName>, XmlError> {
    let root = xml::parse(body)?;
    root.expect_root(ns::DAV, "propertyupdate")?;
    let mut names = Vec::new();
    let mut instructions = 0;
    for instruction in root.children.iter().filter(|c| c.name.is(ns::DAV, "set") || c.name.is(ns::DAV, "remove")) {
        instructions += 1;
        names.extend(prop_names(instruction.require(ns::DAV, "prop")?));
    }
    if instructions == 0 {
        return Err(XmlError::Missing { parent: root.name, missing: "{DAV:}set or {DAV:}remove".to_owned() });
    }
    Ok(names)
}

/// The request a `<D:prop>`, `<D:allprop>` or `<D:propname>` child of `parent` makes, if any.
/// Other children are skipped: RFC 4918 §17 has unknown elements ignored.
pub(crate) fn prop_request(parent: &Node) -> Option<PropRequest> {
    parent.children.iter().find_map(|child| match child.name.name.as_str() {
        _ if child.name.ns != ns::DAV => None,
        "prop" => Some(PropRequest::Prop(prop_names(child))),
        "propname" => Some(PropRequest::PropName),
        "allprop" => {
            Some(PropRequest::AllProp { include: parent.child(ns::DAV, "include").map(prop_names).unwrap_or_default() })
        }
        _ => None,
    })
}

/// The names of the elements inside a `<D:prop>` (or `<D:include>`).
fn prop_names(prop: &Node) -> Vec<PropName> {
    prop.children.iter().map(|c| c.name.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(request: PropRequest) -> Vec<String> {
        match request {
            PropRequest::Prop(names) => names.iter().map(ToString::to_string).collect(),
            other => panic!("expected a prop request, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_body_is_allprop() {
        assert_eq!(parse_propfind(b"").unwrap(), PropRequest::AllProp { include: vec![] });
        assert_eq!(parse_propfind(b" \r\n\t").unwrap(), PropRequest::AllProp { include: vec![] });
    }

    #[test]
    fn thunderbirds_first_propfind() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop>
    <D:resourcetype/>
    <D:owner/>
    <D:current-user-principal/>
    <D:supported-report-set/>
    <C:supported-calendar-component-set/>
    <CS:getctag/>
  </D:prop>
</D:propfind>"#;
        assert_eq!(
            names(parse_propfind(body).unwrap()),
            [
                "{DAV:}resourcetype",
                "{DAV:}owner",
                "{DAV:}current-user-principal",
                "{DAV:}supported-report-set",
                "{urn:ietf:params:xml:ns:caldav}supported-calendar-component-set",
                "{http://calendarserver.org/ns/}getctag",
            ]
        );
    }

    #[test]
    fn davx5s_propfind_with_its_own_prefixes() {
        let body = br#"<?xml version='1.0' encoding='UTF-8' ?><propfind xmlns="DAV:" xmlns:CAL="urn:ietf:params:xml:ns:caldav" xmlns:CARD="urn:ietf:params:xml:ns:carddav"><prop><resourcetype /><displayname /><CAL:calendar-description /><calendar-color xmlns="http://apple.com/ns/ical/" /><CAL:supported-calendar-component-set /><current-user-privilege-set /><CAL:calendar-timezone /><CARD:addressbook-description /></prop></propfind>"#;
        let names = names(parse_propfind(body).unwrap());
        assert_eq!(names[3], "{http://apple.com/ns/ical/}calendar-color");
        assert_eq!(names[4], "{urn:ietf:params:xml:ns:caldav}supported-calendar-component-set");
        assert_eq!(names[7], "{urn:ietf:params:xml:ns:carddav}addressbook-description");
        assert_eq!(names.len(), 8);
    }

    #[test]
    fn apples_propfind() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<A:propfind xmlns:A="DAV:">
  <A:prop>
    <A:principal-URL/>
    <B:calendar-home-set xmlns:B="urn:ietf:params:xml:ns:caldav"/>
    <C:getctag xmlns:C="http://calendarserver.org/ns/"/>
    <A:sync-token/>
  </A:prop>
</A:propfind>"#;
        let request = parse_propfind(body).unwrap();
        let PropRequest::Prop(names) = request else { panic!("{request:?}") };
        assert_eq!(
            names,
            [
                PropName::dav("principal-URL"),
                PropName::caldav("calendar-home-set"),
                PropName::cs("getctag"),
                PropName::dav("sync-token"),
            ]
        );
    }

    #[test]
    fn allprop_with_include_and_propname() {
        let body = br#"<propfind xmlns="DAV:"><allprop/><include><supported-report-set/></include></propfind>"#;
        assert_eq!(
            parse_propfind(body).unwrap(),
            PropRequest::AllProp { include: vec![PropName::dav("supported-report-set")] }
        );
        let body = br#"<d:propfind xmlns:d="DAV:"><d:propname/></d:propfind>"#;
        assert_eq!(parse_propfind(body).unwrap(), PropRequest::PropName);
    }

    #[test]
    fn a_propfind_without_a_request_or_under_another_root_is_refused() {
        let err = parse_propfind(br#"<propfind xmlns="DAV:"><x/></propfind>"#).unwrap_err();
        assert!(matches!(err, XmlError::Missing { .. }), "{err}");
        let err = parse_propfind(br#"<propfind xmlns="urn:other"><prop/></propfind>"#).unwrap_err();
        assert_eq!(err.to_string(), "the root element is {urn:other}propfind, expected {DAV:}propfind");
        assert!(matches!(parse_propfind(b"<propfind xmlns='DAV:'><prop>"), Err(XmlError::Malformed(_))));
    }

    #[test]
    fn proppatch_names_what_it_sets_and_removes_in_order() {
        let body = br#"<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:I="http://apple.com/ns/ical/">
  <D:set><D:prop><D:displayname>Work &amp; life</D:displayname><I:calendar-color>#FF0000FF</I:calendar-color></D:prop></D:set>
  <D:remove><D:prop><I:calendar-order/></D:prop></D:remove>
  <D:set><D:prop><x:odd xmlns:x="urn:x">1</x:odd></D:prop></D:set>
</D:propertyupdate>"#;
        assert_eq!(
            parse_proppatch(body).unwrap(),
            [
                PropName::dav("displayname"),
                PropName::new(ns::ICAL, "calendar-color"),
                PropName::new(ns::ICAL, "calendar-order"),
                PropName::new("urn:x", "odd"),
            ]
        );
        assert!(matches!(parse_proppatch(br#"<propertyupdate xmlns="DAV:"/>"#), Err(XmlError::Missing { .. })));
        assert!(matches!(
            parse_proppatch(br#"<propertyupdate xmlns="DAV:"><set/></propertyupdate>"#),
            Err(XmlError::Missing { .. })
        ));
        assert!(matches!(parse_proppatch(b""), Err(XmlError::Malformed(_))));
    }
}
