//! Answers read back with a namespace-aware parser, as a client reads them.

use super::*;
use crate::xml::{Node, parse};
use crate::{Element, ns};

/// The answer parsed back: every `(href, [(status, [property])])` of its responses.
type Read = Vec<(String, Vec<(String, Vec<PropName>)>)>;

fn read(xml: &str) -> (Node, Read) {
    let root = parse(xml.as_bytes()).expect("well-formed");
    assert!(root.name.is(ns::DAV, "multistatus"));
    let responses = root
        .children_named(ns::DAV, "response")
        .map(|response| {
            let href = response.child(ns::DAV, "href").unwrap().text.clone();
            let mut statuses: Vec<(String, Vec<PropName>)> = response
                .children_named(ns::DAV, "propstat")
                .map(|propstat| {
                    let status = propstat.child(ns::DAV, "status").unwrap().text.clone();
                    let names =
                        propstat.child(ns::DAV, "prop").unwrap().children.iter().map(|p| p.name.clone()).collect();
                    (status, names)
                })
                .collect();
            if let Some(status) = response.child(ns::DAV, "status") {
                statuses.push((status.text.clone(), Vec::new()));
            }
            (href, statuses)
        })
        .collect();
    (root, responses)
}

fn prop<'a>(root: &'a Node, response: usize, status: usize, name: &PropName) -> &'a Node {
    let response = root.children_named(ns::DAV, "response").nth(response).unwrap();
    let propstat = response.children_named(ns::DAV, "propstat").nth(status).unwrap();
    propstat.child(ns::DAV, "prop").unwrap().children.iter().find(|p| &p.name == name).unwrap()
}

#[test]
fn a_propfind_answer_reads_back() {
    let odd = PropName::new("http://example.com/ns/odd", "x-thing");
    let mut answer = Multistatus::new();
    answer.propstat(
        "/dav/calendars/ada/personal/",
        vec![
            (
                PropName::dav("resourcetype"),
                Value::Elements(vec![
                    Element::new(PropName::dav("collection")),
                    Element::new(PropName::caldav("calendar")),
                ]),
            ),
            (PropName::dav("displayname"), Value::Text("Ada's <tasks> & more".to_owned())),
            (PropName::dav("current-user-principal"), Value::Href("/dav/principals/ada/".to_owned())),
            (
                PropName::caldav("supported-calendar-component-set"),
                Value::Elements(vec![Element::new(PropName::caldav("comp")).attr("name", "VTODO")]),
            ),
            (PropName::cs("getctag"), Value::Text("\"42\"".to_owned())),
            (PropName::new(ns::ICAL, "calendar-color"), Value::Text("#FF2968FF".to_owned())),
            (PropName::dav("getcontentlength"), Value::Empty),
        ],
        vec![PropName::dav("owner"), odd.clone(), PropName::new("", "bare")],
    );
    answer.propstat(
        "/dav/calendars/ada/personal/a.ics",
        vec![(PropName::dav("getetag"), Value::Text("\"1\"".into()))],
        vec![],
    );
    let xml = answer.into_xml();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\" xmlns:C="));
    let (root, responses) = read(&xml);
    assert_eq!(responses.len(), 2);
    let (href, statuses) = &responses[0];
    assert_eq!(href, "/dav/calendars/ada/personal/");
    assert_eq!(statuses.len(), 2);
    assert_eq!(statuses[0].0, "HTTP/1.1 200 OK");
    assert_eq!(statuses[0].1.len(), 7);
    assert_eq!(
        statuses[1],
        ("HTTP/1.1 404 Not Found".to_owned(), vec![PropName::dav("owner"), odd, PropName::new("", "bare")])
    );
    assert_eq!(responses[1].1, [("HTTP/1.1 200 OK".to_owned(), vec![PropName::dav("getetag")])]);

    let resourcetype = prop(&root, 0, 0, &PropName::dav("resourcetype"));
    assert_eq!(resourcetype.children.len(), 2);
    assert!(resourcetype.children[1].name.is(ns::CALDAV, "calendar"));
    assert_eq!(prop(&root, 0, 0, &PropName::dav("displayname")).text, "Ada's <tasks> & more");
    let principal = prop(&root, 0, 0, &PropName::dav("current-user-principal"));
    assert_eq!(principal.child(ns::DAV, "href").unwrap().text, "/dav/principals/ada/");
    let comps = prop(&root, 0, 0, &PropName::caldav("supported-calendar-component-set"));
    assert_eq!(comps.children[0].attr("name"), Some("VTODO"));
    assert_eq!(prop(&root, 0, 0, &PropName::cs("getctag")).text, "\"42\"");
    // The known namespaces use the root's prefixes.
    assert!(
        xml.contains("<CS:getctag>") && xml.contains("<IC:calendar-color>") && xml.contains("<C:comp name=\"VTODO\"/>")
    );
    assert!(xml.contains(r#"<x-thing xmlns="http://example.com/ns/odd"/>"#));
}

#[test]
fn calendar_data_keeps_its_crlf_and_markup_is_escaped() {
    let ics = "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nSUMMARY:a <b> & \"c\"\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
    let mut answer = Multistatus::new();
    answer.propstat("/c/a&b.ics", vec![(PropName::caldav("calendar-data"), Value::Text(ics.to_owned()))], vec![]);
    let xml = answer.into_xml();
    assert!(xml.contains("&#13;\nBEGIN:VTODO") && xml.contains("a &lt;b&gt; &amp; \"c\""), "{xml}");
    let (root, responses) = read(&xml);
    assert_eq!(responses[0].0, "/c/a&b.ics");
    assert_eq!(prop(&root, 0, 0, &PropName::caldav("calendar-data")).text, ics);
}

#[test]
fn attributes_are_escaped() {
    let mut answer = Multistatus::new();
    let odd = Element::new(PropName::new("urn:x", "y")).attr("v", "1 < 2 & \"3\"\n\tok\r");
    answer.propstat("/", vec![(PropName::new("urn:x", "p"), Value::Elements(vec![odd]))], vec![]);
    let (root, _) = read(&answer.into_xml());
    let y = &prop(&root, 0, 0, &PropName::new("urn:x", "p")).children[0];
    assert_eq!(y.attr("v"), Some("1 < 2 & \"3\"\n\tok\r"));
}

#[test]
fn a_sync_answer_with_removals_truncation_and_token() {
    let mut answer = Multistatus::new();
    answer.propstat("/c/new.ics", vec![(PropName::dav("getetag"), Value::Text("\"7\"".into()))], vec![]);
    answer.status("/c/gone.ics", 404);
    answer.status("/c/", 507);
    answer.sync_token("https://workbench.example/sync/43");
    let xml = answer.into_xml();
    let (root, responses) = read(&xml);
    assert_eq!(responses[1], ("/c/gone.ics".to_owned(), vec![("HTTP/1.1 404 Not Found".to_owned(), vec![])]));
    assert_eq!(responses[2], ("/c/".to_owned(), vec![("HTTP/1.1 507 Insufficient Storage".to_owned(), vec![])]));
    // The token comes after the responses.
    assert!(root.children.last().unwrap().name.is(ns::DAV, "sync-token"));
    assert_eq!(root.child(ns::DAV, "sync-token").unwrap().text, "https://workbench.example/sync/43");
}

#[test]
fn propnames_and_empty_propstats() {
    let mut answer = Multistatus::new();
    answer.propnames("/c/", vec![PropName::dav("displayname"), PropName::cs("getctag")]);
    answer.propstat("/c/only-missing", vec![], vec![PropName::dav("owner")]);
    answer.propstat("/c/nothing", vec![], vec![]);
    let (root, responses) = read(&answer.into_xml());
    assert_eq!(
        responses[0].1,
        [("HTTP/1.1 200 OK".to_owned(), vec![PropName::dav("displayname"), PropName::cs("getctag")])]
    );
    assert!(prop(&root, 0, 0, &PropName::cs("getctag")).children.is_empty());
    assert_eq!(responses[1].1, [("HTTP/1.1 404 Not Found".to_owned(), vec![PropName::dav("owner")])]);
    assert_eq!(responses[2].1, [("HTTP/1.1 200 OK".to_owned(), vec![])]);
}

#[test]
fn refused_proppatches() {
    let mut answer = Multistatus::new();
    answer.proppatch_refused("/c/", vec![PropName::dav("displayname"), PropName::new(ns::ICAL, "calendar-color")]);
    answer.proppatch_failed("/d/", vec![PropName::dav("resourcetype")], vec![PropName::dav("displayname")]);
    let (_, responses) = read(&answer.into_xml());
    assert_eq!(
        responses[0].1,
        [(
            "HTTP/1.1 403 Forbidden".to_owned(),
            vec![PropName::dav("displayname"), PropName::new(ns::ICAL, "calendar-color")]
        )]
    );
    assert_eq!(
        responses[1].1,
        [
            ("HTTP/1.1 403 Forbidden".to_owned(), vec![PropName::dav("resourcetype")]),
            ("HTTP/1.1 424 Failed Dependency".to_owned(), vec![PropName::dav("displayname")]),
        ]
    );
}

#[test]
fn an_empty_multistatus_is_still_a_document() {
    let (root, responses) = read(&Multistatus::new().into_xml());
    assert!(responses.is_empty() && root.children.is_empty());
}

#[test]
fn error_bodies_name_the_precondition_in_its_namespace() {
    let body = error_body(Some(&PropName::caldav("valid-calendar-data")), Some("DUE < DTSTART & more"));
    assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\""));
    assert!(body.contains("<C:valid-calendar-data/>"));
    let root = parse(body.as_bytes()).unwrap();
    assert!(root.name.is(ns::DAV, "error"));
    assert!(root.children[0].name.is(ns::CALDAV, "valid-calendar-data"));
    assert_eq!(root.child(ns::DAV, "responsedescription").unwrap().text, "DUE < DTSTART & more");

    let root = parse(error_body(Some(&PropName::new("urn:x", "odd")), None).as_bytes()).unwrap();
    assert_eq!(root.children.len(), 1);
    assert!(root.children[0].name.is("urn:x", "odd"));
}

#[test]
fn status_lines() {
    assert_eq!(status_line(200), "HTTP/1.1 200 OK");
    assert_eq!(status_line(403), "HTTP/1.1 403 Forbidden");
    assert_eq!(status_line(424), "HTTP/1.1 424 Failed Dependency");
    assert_eq!(status_line(507), "HTTP/1.1 507 Insufficient Storage");
    assert_eq!(status_line(299), "HTTP/1.1 299 ");
}
