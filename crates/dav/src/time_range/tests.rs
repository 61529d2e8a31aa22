//! Every row of RFC 4791 §9.9's VTODO table, at its edges; and alarms, events, recurrence.

use crate::matching::tests::{filter, todo, todo_filter};

/// Whether the VTODO with `props` overlaps the range with these attributes.
fn overlaps(props: &str, range: &str) -> bool {
    todo_filter(&format!("<C:time-range {range}/>")).matches(&todo(props))
}

fn between(start: &str, end: &str) -> String {
    format!(r#"start="{start}" end="{end}""#)
}

#[test]
fn row_1_dtstart_and_duration() {
    // 10:00 for two hours.
    let task = "DTSTART:20261201T100000Z\nDURATION:PT2H";
    assert!(!overlaps(task, &between("20261201T090000Z", "20261201T100000Z")));
    assert!(overlaps(task, &between("20261201T090000Z", "20261201T100001Z")));
    assert!(overlaps(task, &between("20261201T110000Z", "20261201T113000Z")));
    // start <= DTSTART+DURATION: a range opening as it ends still overlaps.
    assert!(overlaps(task, &between("20261201T120000Z", "20261201T130000Z")));
    assert!(!overlaps(task, &between("20261201T120001Z", "20261201T130000Z")));
    assert!(overlaps(task, r#"start="20261201T000000Z""#));
    assert!(!overlaps(task, r#"end="20261201T100000Z""#));
}

#[test]
fn row_2_dtstart_and_due() {
    let task = "DTSTART:20261201T100000Z\nDUE:20261201T120000Z";
    assert!(!overlaps(task, &between("20261201T080000Z", "20261201T100000Z")));
    assert!(overlaps(task, &between("20261201T080000Z", "20261201T103000Z")));
    assert!(overlaps(task, &between("20261201T110000Z", "20261201T113000Z")));
    assert!(overlaps(task, &between("20261201T115959Z", "20261201T130000Z")));
    assert!(!overlaps(task, &between("20261201T120000Z", "20261201T130000Z")));
    // A DURATION beside a DUE is invalid; the DUE decides.
    let both = "DTSTART:20261201T100000Z\nDUE:20261201T120000Z\nDURATION:PT1H";
    assert!(overlaps(both, &between("20261201T113000Z", "20261201T114000Z")));
}

#[test]
fn row_3_dtstart_only() {
    let task = "DTSTART:20261201T100000Z";
    assert!(overlaps(task, &between("20261201T100000Z", "20261201T110000Z")));
    assert!(!overlaps(task, &between("20261201T090000Z", "20261201T100000Z")));
    assert!(!overlaps(task, &between("20261201T100001Z", "20261201T110000Z")));
    // A date is its midnight in UTC.
    assert!(overlaps("DTSTART;VALUE=DATE:20261201", &between("20261130T120000Z", "20261201T000001Z")));
    // A DURATION without DTSTART is invalid and ignored: this is the DUE-less, dateless row.
    assert!(overlaps("DURATION:PT1H", &between("20000101T000000Z", "20000102T000000Z")));
}

#[test]
fn row_4_due_only() {
    let task = "DUE:20261201T120000Z";
    // end >= DUE: a range ending at the due time holds it.
    assert!(overlaps(task, &between("20261201T110000Z", "20261201T120000Z")));
    assert!(!overlaps(task, &between("20261201T110000Z", "20261201T115959Z")));
    assert!(!overlaps(task, &between("20261201T120000Z", "20261201T130000Z")));
    assert!(overlaps(task, r#"start="20261201T000000Z""#));
    // Thunderbird writes zoned dues: 09:00 in Berlin is 08:00 UTC.
    let zoned = "DUE;TZID=/mozilla.org/20050126_1/Europe/Berlin:20261201T090000";
    assert!(overlaps(zoned, &between("20261201T070000Z", "20261201T080000Z")));
    assert!(!overlaps(zoned, &between("20261201T080000Z", "20261201T090000Z")));
    let dated = "DUE;VALUE=DATE:20261201";
    assert!(overlaps(dated, &between("20261130T000000Z", "20261201T000000Z")));
    assert!(!overlaps(dated, &between("20261201T000000Z", "20261202T000000Z")));
}

#[test]
fn row_5_completed_and_created() {
    let task = "CREATED:20261101T090000Z\nCOMPLETED:20261205T120000Z\nSTATUS:COMPLETED";
    assert!(overlaps(task, &between("20261110T000000Z", "20261120T000000Z")));
    assert!(overlaps(task, &between("20261201T000000Z", "20261205T120000Z")));
    assert!(!overlaps(task, &between("20261205T120001Z", "20261210T000000Z")));
    assert!(!overlaps(task, &between("20261001T000000Z", "20261101T085959Z")));
    assert!(overlaps(task, &between("20261001T000000Z", "20261101T090000Z")));
}

#[test]
fn row_6_completed_only() {
    let task = "COMPLETED:20261205T120000Z";
    assert!(overlaps(task, &between("20261205T120000Z", "20261205T130000Z")));
    assert!(overlaps(task, &between("20261205T110000Z", "20261205T120000Z")));
    assert!(!overlaps(task, &between("20261205T120001Z", "20261205T130000Z")));
    assert!(!overlaps(task, &between("20261205T100000Z", "20261205T115959Z")));
}

#[test]
fn row_7_created_only() {
    let task = "CREATED:20261101T090000Z";
    assert!(!overlaps(task, &between("20261001T000000Z", "20261101T090000Z")));
    assert!(overlaps(task, &between("20261001T000000Z", "20261101T090001Z")));
    assert!(overlaps(task, r#"start="20300101T000000Z""#));
}

#[test]
fn row_8_a_task_without_dates_is_in_every_range() {
    assert!(overlaps("SUMMARY:Someday", &between("19700101T000000Z", "19700101T000001Z")));
    assert!(overlaps("SUMMARY:Someday", r#"end="20000101T000000Z""#));
    // A date a client garbled counts as absent rather than hiding the task.
    assert!(overlaps("DUE:tomorrow", &between("19700101T000000Z", "19700101T000001Z")));
}

#[test]
fn a_recurring_task_is_taken_for_any_range_after_it_starts() {
    let weekly = "DTSTART:20260105T090000Z\nDUE:20260105T100000Z\nRRULE:FREQ=WEEKLY";
    assert!(overlaps(weekly, &between("20261201T000000Z", "20261202T000000Z")));
    assert!(!overlaps(weekly, &between("20251201T000000Z", "20251202T000000Z")));
}

#[test]
fn alarms_with_absolute_triggers_and_repeats() {
    // Fires at 08:00, 08:10, 08:20 and 08:30.
    let nagging = todo(
        "DTSTART:20261201T100000Z
         BEGIN:VALARM
         ACTION:DISPLAY
         DESCRIPTION:Nag
         TRIGGER;VALUE=DATE-TIME:20261201T080000Z
         REPEAT:3
         DURATION:PT10M
         END:VALARM",
    );
    let fires = |start: &str, end: &str| {
        todo_filter(&format!(r#"<C:comp-filter name="VALARM"><C:time-range {}/></C:comp-filter>"#, between(start, end)))
            .matches(&nagging)
    };
    assert!(fires("20261201T080000Z", "20261201T080001Z"));
    assert!(fires("20261201T080500Z", "20261201T081001Z"));
    assert!(!fires("20261201T080500Z", "20261201T081000Z"));
    assert!(fires("20261201T082500Z", "20261201T083100Z"));
    assert!(fires("20261201T083000Z", "20261201T090000Z"));
    assert!(!fires("20261201T083001Z", "20261201T090000Z"));
    assert!(!fires("20261201T070000Z", "20261201T080000Z"));
    // Relative to the start by default: ten minutes before DTSTART.
    let before_start = todo(
        "DTSTART:20261201T100000Z
         BEGIN:VALARM
         ACTION:AUDIO
         TRIGGER:-PT10M
         END:VALARM",
    );
    let range = todo_filter(&format!(
        r#"<C:comp-filter name="VALARM"><C:time-range {}/></C:comp-filter>"#,
        between("20261201T095000Z", "20261201T095001Z")
    ));
    assert!(range.matches(&before_start));
    // A relative trigger with nothing to be relative to never fires.
    let unanchored = todo("BEGIN:VALARM\nACTION:AUDIO\nTRIGGER:-PT10M\nEND:VALARM");
    assert!(!range.matches(&unanchored));
}

#[test]
fn events_follow_their_own_table() {
    use crate::matching::tests::object;
    let event = |props: &str| {
        object(&format!(
            "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:e\nDTSTAMP:20261120T101500Z\n{props}\nEND:VEVENT\nEND:VCALENDAR"
        ))
    };
    let in_range = |props: &str, start: &str, end: &str| {
        filter(&format!(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range {}/></C:comp-filter></C:comp-filter>"#,
            between(start, end)
        ))
        .matches(&event(props))
    };
    let meeting = "DTSTART:20261201T100000Z\nDTEND:20261201T110000Z";
    assert!(in_range(meeting, "20261201T105959Z", "20261201T120000Z"));
    assert!(!in_range(meeting, "20261201T110000Z", "20261201T120000Z"));
    assert!(!in_range(meeting, "20261201T090000Z", "20261201T100000Z"));
    let call = "DTSTART:20261201T100000Z\nDURATION:PT30M";
    assert!(in_range(call, "20261201T102959Z", "20261201T110000Z"));
    assert!(!in_range(call, "20261201T103000Z", "20261201T110000Z"));
    let holiday = "DTSTART;VALUE=DATE:20261225";
    assert!(in_range(holiday, "20261225T230000Z", "20261226T010000Z"));
    assert!(!in_range(holiday, "20261226T000000Z", "20261226T010000Z"));
    let instant = "DTSTART:20261201T100000Z";
    assert!(in_range(instant, "20261201T100000Z", "20261201T100001Z"));
    assert!(!in_range(instant, "20261201T090000Z", "20261201T100000Z"));
}
