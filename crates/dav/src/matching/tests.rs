//! Filters as clients send them, on objects as clients write them.

use ical::IcalParser;
use ical::parser::ical::component::IcalCalendar;

use crate::{CompFilter, Report, parse_report};

/// One calendar object from its iCalendar text (lines joined with CRLF, as on the wire).
pub(crate) fn object(lines: &str) -> IcalCalendar {
    let text = lines.trim().lines().map(str::trim).collect::<Vec<_>>().join("\r\n") + "\r\n";
    IcalParser::new(text.as_bytes()).next().expect("one object").expect("valid iCalendar")
}

/// A VCALENDAR holding one VTODO with `props` (one per line) around the usual UID and DTSTAMP.
pub(crate) fn todo(props: &str) -> IcalCalendar {
    object(&format!(
        "BEGIN:VCALENDAR
         VERSION:2.0
         PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN
         BEGIN:VTODO
         UID:0b6d5a3e-8f4c-4c1e-9d2a-3f1c2b7e9a10
         DTSTAMP:20261120T101500Z
         {props}
         END:VTODO
         END:VCALENDAR"
    ))
}

/// The top-level filter of a calendar-query whose `<C:filter>` holds `filter`.
pub(crate) fn filter(filter: &str) -> CompFilter {
    let body = format!(
        r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
             <D:prop><D:getetag/></D:prop><C:filter>{filter}</C:filter></C:calendar-query>"#
    );
    match parse_report(body.as_bytes()).expect("a valid query") {
        Report::CalendarQuery { filter: Some(filter), .. } => filter,
        other => panic!("not a filtered query: {other:?}"),
    }
}

/// A filter on the VTODOs of an object, `inner` inside the VTODO comp-filter.
pub(crate) fn todo_filter(inner: &str) -> CompFilter {
    filter(&format!(
        r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO">{inner}</C:comp-filter></C:comp-filter>"#
    ))
}

const NOT_COMPLETED: &str =
    r#"<C:prop-filter name="STATUS"><C:text-match negate-condition="yes">COMPLETED</C:text-match></C:prop-filter>"#;

#[test]
fn a_vcalendar_filter_alone_matches_every_object() {
    let all = filter(r#"<C:comp-filter name="VCALENDAR"/>"#);
    assert!(all.matches(&todo("SUMMARY:Anything")));
    assert!(todo_filter("").matches(&todo("SUMMARY:Anything")));
}

#[test]
fn thunderbirds_and_davx5s_open_tasks_filter() {
    let open = todo_filter(NOT_COMPLETED);
    assert!(open.matches(&todo("STATUS:NEEDS-ACTION")));
    assert!(open.matches(&todo("STATUS:IN-PROCESS")));
    assert!(!open.matches(&todo("STATUS:COMPLETED\nCOMPLETED:20261201T090000Z")));
    // i;ascii-casemap by default: a client writing lower case is still completed.
    assert!(!open.matches(&todo("STATUS:completed")));
    // RFC 4791 §9.7.2: a prop-filter needs the property, negated or not.
    assert!(!open.matches(&todo("SUMMARY:No status at all")));
    // The name of a property is case-insensitive.
    let lower = todo_filter(r#"<C:prop-filter name="status"><C:text-match>needs</C:text-match></C:prop-filter>"#);
    assert!(lower.matches(&todo("STATUS:NEEDS-ACTION")));
}

#[test]
fn any_todo_of_an_object_may_match() {
    let two = object(
        "BEGIN:VCALENDAR
         VERSION:2.0
         BEGIN:VTODO
         UID:series
         STATUS:COMPLETED
         END:VTODO
         BEGIN:VTODO
         UID:series
         RECURRENCE-ID:20261208T090000Z
         STATUS:NEEDS-ACTION
         END:VTODO
         END:VCALENDAR",
    );
    assert!(todo_filter(NOT_COMPLETED).matches(&two));
    let completed =
        todo_filter(r#"<C:prop-filter name="STATUS"><C:text-match>COMPLETED</C:text-match></C:prop-filter>"#);
    assert!(completed.matches(&two));
}

#[test]
fn python_caldavs_todo_query_uses_is_not_defined() {
    let pending = todo_filter(
        r#"<C:prop-filter name="STATUS"><C:is-not-defined/></C:prop-filter>
           <C:prop-filter name="COMPLETED"><C:is-not-defined/></C:prop-filter>"#,
    );
    assert!(pending.matches(&todo("SUMMARY:Fresh")));
    assert!(!pending.matches(&todo("STATUS:NEEDS-ACTION")));
    assert!(!pending.matches(&todo("COMPLETED:20261201T090000Z")));
    let has_due = todo_filter(r#"<C:prop-filter name="DUE"/>"#);
    assert!(has_due.matches(&todo("DUE:20261201T090000Z")));
    assert!(!has_due.matches(&todo("SUMMARY:Someday")));
}

#[test]
fn text_match_collations_and_negation() {
    let milk = todo(r"SUMMARY:Buy Milk\, eggs\; and bread\nsoon");
    let text = |attrs: &str, text: &str| {
        todo_filter(&format!(
            r#"<C:prop-filter name="SUMMARY"><C:text-match {attrs}>{text}</C:text-match></C:prop-filter>"#
        ))
        .matches(&milk)
    };
    // i;ascii-casemap, the default: ASCII letters without case, on the unescaped value.
    assert!(text("", "milk, EGGS; AND"));
    assert!(text(r#"collation="i;ascii-casemap""#, "BREAD\nSOON"));
    assert!(!text("", "cheese"));
    // i;octet: exactly.
    assert!(!text(r#"collation="i;octet""#, "milk"));
    assert!(text(r#"collation="i;octet""#, "Milk, eggs"));
    // Negated.
    assert!(text(r#"negate-condition="yes""#, "cheese"));
    assert!(!text(r#"negate-condition="yes""#, "MILK"));
    assert!(text(r#"negate-condition="no""#, "MILK"));
    // Entities in the body are text like any other.
    assert!(text("", "milk, eggs; and bread"));
}

#[test]
fn casemap_leaves_non_ascii_letters_alone() {
    let cafe = todo("SUMMARY:Café à Zürich");
    let text = |t: &str| {
        todo_filter(&format!(r#"<C:prop-filter name="SUMMARY"><C:text-match>{t}</C:text-match></C:prop-filter>"#))
            .matches(&cafe)
    };
    assert!(text("CAFé"));
    assert!(!text("CAFÉ"));
    assert!(text("zürich"));
    // i;unicode-casemap folds every script's letters.
    let unicode = |t: &str| {
        let filter = format!(
            r#"<C:prop-filter name="SUMMARY"><C:text-match collation="i;unicode-casemap">{t}</C:text-match></C:prop-filter>"#
        );
        todo_filter(&filter).matches(&cafe)
    };
    assert!(unicode("CAFÉ À ZÜRICH"));
    assert!(!unicode("cafe"));
}

#[test]
fn multi_valued_categories_match_by_substring() {
    let tagged = todo("CATEGORIES:Work,Urgent");
    let category = |t: &str| {
        todo_filter(&format!(r#"<C:prop-filter name="CATEGORIES"><C:text-match>{t}</C:text-match></C:prop-filter>"#))
            .matches(&tagged)
    };
    assert!(category("urgent"));
    assert!(category("work"));
    assert!(!category("home"));
}

#[test]
fn param_filters() {
    let assigned = todo("ATTENDEE;PARTSTAT=NEEDS-ACTION;CN=\"Ada Lovelace\":mailto:ada@example.org");
    let param = |inner: &str| {
        todo_filter(&format!(r#"<C:prop-filter name="ATTENDEE">{inner}</C:prop-filter>"#)).matches(&assigned)
    };
    assert!(param(r#"<C:param-filter name="PARTSTAT"><C:text-match>needs-action</C:text-match></C:param-filter>"#));
    assert!(!param(r#"<C:param-filter name="PARTSTAT"><C:text-match>ACCEPTED</C:text-match></C:param-filter>"#));
    assert!(param(r#"<C:param-filter name="partstat"/>"#));
    assert!(param(r#"<C:param-filter name="ROLE"><C:is-not-defined/></C:param-filter>"#));
    assert!(!param(r#"<C:param-filter name="CN"><C:is-not-defined/></C:param-filter>"#));
    assert!(param(
        r#"<C:param-filter name="CN"><C:text-match collation="i;octet">Ada L</C:text-match></C:param-filter>"#
    ));
    assert!(!param(r#"<C:param-filter name="RSVP"/>"#));
    // The property's value and its parameters are tested together.
    assert!(param(
        r#"<C:text-match>mailto:ada@</C:text-match><C:param-filter name="PARTSTAT"><C:text-match>NEEDS</C:text-match></C:param-filter>"#
    ));
    assert!(!param(
        r#"<C:text-match>mailto:bob@</C:text-match><C:param-filter name="PARTSTAT"><C:text-match>NEEDS</C:text-match></C:param-filter>"#
    ));
}

#[test]
fn a_vevent_filter_matches_no_task() {
    let task = todo("DUE:20261201T090000Z");
    let events = filter(r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter>"#);
    assert!(!events.matches(&task));
    let timed = filter(
        r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
             <C:time-range start="20260101T000000Z" end="20270101T000000Z"/>
           </C:comp-filter></C:comp-filter>"#,
    );
    assert!(!timed.matches(&task));
    let no_events = filter(
        r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:is-not-defined/></C:comp-filter></C:comp-filter>"#,
    );
    assert!(no_events.matches(&task));
    let no_todos = todo_filter("<C:is-not-defined/>");
    assert!(!no_todos.matches(&task));
    // A top-level filter must name VCALENDAR to find anything.
    assert!(!filter(r#"<C:comp-filter name="VTODO"/>"#).matches(&task));
}

#[test]
fn a_prop_filters_time_range_tests_that_property() {
    let due_at = |value: &str, range: &str| {
        todo_filter(&format!(r#"<C:prop-filter name="DUE"><C:time-range {range}/></C:prop-filter>"#))
            .matches(&todo(&format!("DUE{value}")))
    };
    assert!(due_at(":20261201T120000Z", r#"start="20261201T000000Z" end="20261202T000000Z""#));
    assert!(due_at(":20261201T120000Z", r#"start="20261201T120000Z""#));
    assert!(!due_at(":20261201T120000Z", r#"end="20261201T120000Z""#));
    assert!(!due_at(":20261201T120000Z", r#"start="20261202T000000Z""#));
    // A date is its whole day.
    assert!(due_at(";VALUE=DATE:20261201", r#"start="20261201T100000Z" end="20261201T110000Z""#));
    assert!(!due_at(";VALUE=DATE:20261201", r#"start="20261202T000000Z""#));
    // A zoned time is its instant: 09:00 in Berlin is 08:00 UTC.
    assert!(due_at(";TZID=Europe/Berlin:20261201T090000", r#"start="20261201T080000Z" end="20261201T080001Z""#));
    let completed_in_november = todo_filter(
        r#"<C:prop-filter name="COMPLETED"><C:time-range start="20261101T000000Z" end="20261201T000000Z"/></C:prop-filter>"#,
    );
    assert!(completed_in_november.matches(&todo("STATUS:COMPLETED\nCOMPLETED:20261115T170000Z")));
    assert!(!completed_in_november.matches(&todo("STATUS:COMPLETED\nCOMPLETED:20261215T170000Z")));
    assert!(!completed_in_november.matches(&todo("STATUS:NEEDS-ACTION")));
}

#[test]
fn alarm_filters_look_inside_the_todo() {
    let reminded = todo(
        "DUE:20261201T120000Z
         BEGIN:VALARM
         ACTION:DISPLAY
         TRIGGER;RELATED=END:-PT15M
         DESCRIPTION:Reminder
         END:VALARM",
    );
    let alarm = |inner: &str| {
        todo_filter(&format!(r#"<C:comp-filter name="VALARM">{inner}</C:comp-filter>"#)).matches(&reminded)
    };
    assert!(alarm(""));
    assert!(!alarm("<C:is-not-defined/>"));
    assert!(alarm(r#"<C:prop-filter name="ACTION"><C:text-match>display</C:text-match></C:prop-filter>"#));
    assert!(!alarm(r#"<C:prop-filter name="ACTION"><C:text-match>EMAIL</C:text-match></C:prop-filter>"#));
    // It fires at 11:45.
    assert!(alarm(r#"<C:time-range start="20261201T114000Z" end="20261201T115000Z"/>"#));
    assert!(alarm(r#"<C:time-range start="20261201T114500Z" end="20261201T114501Z"/>"#));
    assert!(!alarm(r#"<C:time-range start="20261201T115000Z" end="20261201T120000Z"/>"#));
    assert!(!alarm(r#"<C:time-range start="20261201T110000Z" end="20261201T114500Z"/>"#));
    assert!(
        todo_filter(r#"<C:comp-filter name="VALARM"><C:is-not-defined/></C:comp-filter>"#).matches(&todo("SUMMARY:x"))
    );
}

#[test]
fn thunderbirds_object_with_its_vtimezone() {
    let task = object(
        "BEGIN:VCALENDAR
         PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN
         VERSION:2.0
         BEGIN:VTIMEZONE
         TZID:Europe/Berlin
         BEGIN:DAYLIGHT
         TZOFFSETFROM:+0100
         TZOFFSETTO:+0200
         TZNAME:CEST
         DTSTART:19700329T020000
         RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
         END:DAYLIGHT
         BEGIN:STANDARD
         TZOFFSETFROM:+0200
         TZOFFSETTO:+0100
         TZNAME:CET
         DTSTART:19701025T030000
         RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
         END:STANDARD
         END:VTIMEZONE
         BEGIN:VTODO
         CREATED:20261120T101500Z
         LAST-MODIFIED:20261120T101600Z
         DTSTAMP:20261120T101600Z
         UID:7c1a6f4e-2b9d-4e55-a0f3-5d8e1c2b3a49
         SUMMARY:Renew passport
         STATUS:NEEDS-ACTION
         DUE;TZID=Europe/Berlin:20261201T090000
         END:VTODO
         END:VCALENDAR",
    );
    assert!(todo_filter(NOT_COMPLETED).matches(&task));
    let december = todo_filter(r#"<C:time-range start="20261201T000000Z" end="20270101T000000Z"/>"#);
    assert!(december.matches(&task));
    let november = todo_filter(r#"<C:time-range start="20261101T000000Z" end="20261201T000000Z"/>"#);
    assert!(!november.matches(&task));
    let zones = filter(
        r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTIMEZONE"><C:comp-filter name="STANDARD"/></C:comp-filter></C:comp-filter>"#,
    );
    assert!(zones.matches(&task));
}
