//! REPORT bodies: calendar-query and calendar-multiget (RFC 4791 §7.8, §7.9) and
//! sync-collection (RFC 6578 §3.2).

use crate::filter::{self, CompFilter};
use crate::request::prop_request;
use crate::xml::{self, Node};
use crate::{PropName, PropRequest, XmlError, ns};

/// A REPORT request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The calendar objects of a collection that match a filter.
    CalendarQuery {
        /// What to answer for each object.
        props: PropRequest,
        /// The top-level (`VCALENDAR`) filter; `None` when the body has none, which matches all.
        filter: Option<CompFilter>,
    },
    /// The calendar objects at these hrefs.
    CalendarMultiget {
        /// What to answer for each object.
        props: PropRequest,
        /// The hrefs as the body gives them, trimmed: the HTTP layer resolves and normalises them.
        hrefs: Vec<String>,
    },
    /// What changed in a collection since a sync token.
    SyncCollection {
        /// The token of the client's last sync; empty for an initial sync.
        token: String,
        /// `<D:limit><D:nresults>`: the most members the client wants in one answer.
        limit: Option<u32>,
        /// What to answer for each changed member.
        props: PropRequest,
    },
    /// A report Workbench does not implement, named by its root element: the HTTP layer answers
    /// the `DAV:supported-report` precondition (RFC 3253 §3.6).
    Unsupported(PropName),
}

/// Reads a REPORT body.
///
/// A report that names no properties is read as allprop, as an empty PROPFIND is. The
/// `sync-level` of a sync-collection is not read: Workbench's calendars hold no collections.
pub fn parse_report(body: &[u8]) -> Result<Report, XmlError> {
    let root = xml::parse(body)?;
    let props = || prop_request(&root).unwrap_or(PropRequest::AllProp { include: Vec::new() });
    let report = match (root.name.ns.as_str(), root.name.name.as_str()) {
        (ns::CALDAV, "calendar-query") => {
            // RFC 4791's DTD requires the filter; clients that leave it out want everything.
            let filter = match root.child(ns::CALDAV, "filter") {
                Some(filter) => Some(filter::comp_filter(filter.require(ns::CALDAV, "comp-filter")?)?),
                None => None,
            };
            Report::CalendarQuery { props: props(), filter }
        }
        (ns::CALDAV, "calendar-multiget") => {
            let hrefs: Vec<String> = root.children_named(ns::DAV, "href").map(|h| h.text.trim().to_owned()).collect();
            if hrefs.is_empty() {
                return Err(XmlError::Missing { parent: root.name, missing: "{DAV:}href".to_owned() });
            }
            Report::CalendarMultiget { props: props(), hrefs }
        }
        (ns::DAV, "sync-collection") => Report::SyncCollection {
            token: root.require(ns::DAV, "sync-token")?.text.trim().to_owned(),
            limit: root.child(ns::DAV, "limit").map(nresults).transpose()?,
            props: props(),
        },
        _ => Report::Unsupported(root.name),
    };
    Ok(report)
}

fn nresults(limit: &Node) -> Result<u32, XmlError> {
    let raw = limit.require(ns::DAV, "nresults")?.text.trim();
    raw.parse().map_err(|_| XmlError::Invalid(format!("nresults {raw:?} is not a count")))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::{Collation, PropFilter, TextMatch, TimeRange};

    fn getetag_and_data() -> PropRequest {
        PropRequest::Prop(vec![PropName::dav("getetag"), PropName::caldav("calendar-data")])
    }

    #[test]
    fn python_caldavs_query_for_open_todos() {
        let body = br#"<?xml version='1.0' encoding='utf-8'?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter>
    <C:comp-filter name="VCALENDAR">
      <C:comp-filter name="VTODO">
        <C:prop-filter name="STATUS"><C:is-not-defined/></C:prop-filter>
        <C:prop-filter name="COMPLETED"><C:is-not-defined/></C:prop-filter>
      </C:comp-filter>
    </C:comp-filter>
  </C:filter>
</C:calendar-query>"#;
        let Report::CalendarQuery { props, filter } = parse_report(body).unwrap() else { panic!() };
        assert_eq!(props, getetag_and_data());
        let filter = filter.unwrap();
        assert_eq!(filter.name, "VCALENDAR");
        let todo = &filter.comps[0];
        assert_eq!(todo.name, "VTODO");
        assert!(!todo.is_not_defined);
        assert_eq!(todo.props.len(), 2);
        assert!(todo.props.iter().all(|p| p.is_not_defined && p.text_match.is_none()));
        assert_eq!(todo.props[1].name, "COMPLETED");
    }

    #[test]
    fn the_same_query_under_other_prefixes_reads_the_same() {
        let prefixed = br#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:time-range start="20261201T000000Z" end="20270101T000000Z"/><C:prop-filter name="STATUS"><C:text-match negate-condition="yes" collation="i;octet">COMPLETED</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#;
        let defaulted = br#"<calendar-query xmlns="urn:ietf:params:xml:ns:caldav" xmlns:dav="DAV:"><dav:prop><dav:getetag/><calendar-data/></dav:prop><filter><comp-filter name="VCALENDAR"><comp-filter name="VTODO"><time-range start="20261201T000000Z" end="20270101T000000Z"/><prop-filter name="STATUS"><text-match negate-condition="yes" collation="i;octet">COMPLETED</text-match></prop-filter></comp-filter></comp-filter></filter></calendar-query>"#;
        let a = parse_report(prefixed).unwrap();
        assert_eq!(a, parse_report(defaulted).unwrap());
        let Report::CalendarQuery { filter: Some(filter), .. } = a else { panic!() };
        let todo = &filter.comps[0];
        assert_eq!(
            todo.time_range,
            Some(TimeRange {
                start: Some(Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()),
                end: Some(Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()),
            })
        );
        assert_eq!(
            todo.props[0],
            PropFilter {
                name: "STATUS".to_owned(),
                is_not_defined: false,
                time_range: None,
                text_match: Some(TextMatch { text: "COMPLETED".to_owned(), negate: true, collation: Collation::Octet }),
                params: vec![],
            }
        );
    }

    #[test]
    fn a_query_without_filter_or_props() {
        let body = br#"<c:calendar-query xmlns:c="urn:ietf:params:xml:ns:caldav"/>"#;
        assert_eq!(
            parse_report(body).unwrap(),
            Report::CalendarQuery { props: PropRequest::AllProp { include: vec![] }, filter: None }
        );
        let body = br#"<c:calendar-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:filter/></c:calendar-query>"#;
        assert!(matches!(parse_report(body), Err(XmlError::Missing { .. })));
    }

    #[test]
    fn param_filters_and_collations() {
        let body = br#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:prop-filter name="ATTENDEE"><C:param-filter name="PARTSTAT"><C:text-match>needs-action</C:text-match></C:param-filter><C:param-filter name="ROLE"><C:is-not-defined/></C:param-filter></C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#;
        let Report::CalendarQuery { filter: Some(filter), .. } = parse_report(body).unwrap() else { panic!() };
        let params = &filter.comps[0].props[0].params;
        assert_eq!(params[0].name, "PARTSTAT");
        assert_eq!(params[0].text_match.as_ref().unwrap().collation, Collation::AsciiCasemap);
        assert!(!params[0].text_match.as_ref().unwrap().negate);
        assert!(params[1].is_not_defined);

        let query = |collation: &str| {
            format!(
                r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:filter><C:comp-filter name="VCALENDAR"><C:prop-filter name="X"><C:text-match collation="{collation}">a</C:text-match></C:prop-filter></C:comp-filter></C:filter></C:calendar-query>"#
            )
        };
        let Report::CalendarQuery { filter: Some(filter), .. } =
            parse_report(query("i;unicode-casemap").as_bytes()).unwrap()
        else {
            panic!()
        };
        assert_eq!(filter.props[0].text_match.as_ref().unwrap().collation, Collation::UnicodeCasemap);
        let refused = parse_report(query("i;basic").as_bytes()).unwrap_err();
        assert_eq!(refused, XmlError::UnsupportedCollation("i;basic".to_owned()));
    }

    #[test]
    fn bad_time_ranges_are_refused() {
        let query = |range: &str| {
            format!(
                r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO">{range}</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
            )
        };
        assert!(matches!(parse_report(query("<C:time-range/>").as_bytes()), Err(XmlError::Missing { .. })));
        for bad in [r#"start="20261201""#, r#"end="20261201T000000""#, r#"start="tomorrow""#] {
            let body = query(&format!("<C:time-range {bad}/>"));
            assert!(matches!(parse_report(body.as_bytes()), Err(XmlError::Invalid(_))), "{bad}");
        }
        let open = query(r#"<C:time-range start="20261201T000000Z"/>"#);
        let Report::CalendarQuery { filter: Some(f), .. } = parse_report(open.as_bytes()).unwrap() else { panic!() };
        assert_eq!(f.comps[0].time_range.unwrap().end, None);
        let nameless = r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:filter><C:comp-filter/></C:filter></C:calendar-query>"#;
        assert!(matches!(parse_report(nameless.as_bytes()), Err(XmlError::Missing { .. })));
    }

    #[test]
    fn multiget_with_several_hrefs() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <D:href>/dav/calendars/ada/personal/1.ics</D:href>
  <D:href>
     /dav/calendars/ada/personal/two%20words.ics
  </D:href>
  <D:href>/dav/calendars/ada/personal/a&amp;b.ics</D:href>
</C:calendar-multiget>"#;
        assert_eq!(
            parse_report(body).unwrap(),
            Report::CalendarMultiget {
                props: getetag_and_data(),
                hrefs: vec![
                    "/dav/calendars/ada/personal/1.ics".to_owned(),
                    "/dav/calendars/ada/personal/two%20words.ics".to_owned(),
                    "/dav/calendars/ada/personal/a&b.ics".to_owned(),
                ],
            }
        );
        let none = br#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop/></C:calendar-multiget>"#;
        assert!(matches!(parse_report(none), Err(XmlError::Missing { .. })));
    }

    #[test]
    fn sync_collection_initial_incremental_and_limited() {
        let initial = br#"<?xml version="1.0" encoding="utf-8" ?>
<d:sync-collection xmlns:d="DAV:">
  <d:sync-token/>
  <d:sync-level>1</d:sync-level>
  <d:prop><d:getetag/></d:prop>
</d:sync-collection>"#;
        assert_eq!(
            parse_report(initial).unwrap(),
            Report::SyncCollection {
                token: String::new(),
                limit: None,
                props: PropRequest::Prop(vec![PropName::dav("getetag")])
            }
        );
        let incremental = br#"<sync-collection xmlns="DAV:"><sync-token>
  https://workbench.example/sync/42
</sync-token><sync-level>1</sync-level><limit><nresults> 100 </nresults></limit><prop><getetag/><calendar-data xmlns="urn:ietf:params:xml:ns:caldav"/></prop></sync-collection>"#;
        assert_eq!(
            parse_report(incremental).unwrap(),
            Report::SyncCollection {
                token: "https://workbench.example/sync/42".to_owned(),
                limit: Some(100),
                props: getetag_and_data(),
            }
        );
        let bad_limit =
            br#"<sync-collection xmlns="DAV:"><sync-token/><limit><nresults>lots</nresults></limit></sync-collection>"#;
        assert!(matches!(parse_report(bad_limit), Err(XmlError::Invalid(_))));
        let no_token = br#"<sync-collection xmlns="DAV:"><prop/></sync-collection>"#;
        assert!(matches!(parse_report(no_token), Err(XmlError::Missing { .. })));
    }

    #[test]
    fn unknown_reports_are_named_and_malformed_ones_refused() {
        let body = br#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20260101T000000Z"/></C:free-busy-query>"#;
        assert_eq!(parse_report(body).unwrap(), Report::Unsupported(PropName::caldav("free-busy-query")));
        let body = br#"<D:expand-property xmlns:D="DAV:"/>"#;
        assert_eq!(parse_report(body).unwrap(), Report::Unsupported(PropName::dav("expand-property")));
        for bad in
            [&b"<C:calendar-query>"[..], b"<calendar-query xmlns='urn:ietf:params:xml:ns:caldav'><filter>", b"\x00\x01"]
        {
            assert!(matches!(parse_report(bad), Err(XmlError::Malformed(_))), "{bad:?}");
        }
    }
}
