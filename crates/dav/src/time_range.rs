//! Whether a component overlaps a time-range: the tables of RFC 4791 §9.9.
//!
//! Recurrence sets are not expanded. A component with an `RRULE` or `RDATE` that does not
//! overlap the range itself is still taken when the range ends after it starts: a later
//! instance may fall inside, and a client that gets one object too many filters it out, while
//! one that misses a task shows the user nothing.

use chrono::{DateTime, TimeDelta, Utc};
use ical::property::Property;
use workbench_calendars::ical_time::{instant, is_date, param};

use crate::TimeRange;
use crate::component::Component;
use workbench_core::parse_duration;

/// Whether `component` (inside `parent`, which a `VALARM`'s trigger is relative to) overlaps
/// `range`. Components that §9.9 gives no table (`VTIMEZONE`...) never do.
pub(crate) fn overlaps(component: &Component<'_>, parent: Option<&Component<'_>>, range: &TimeRange) -> bool {
    let (itself, may_recur) = match component.name {
        "VTODO" => (todo(component, range), true),
        "VEVENT" => (event(component, range), true),
        "VJOURNAL" => (journal(component, range), true),
        "VFREEBUSY" => (free_busy(component, range), false),
        "VALARM" => (parent.is_some_and(|parent| alarm(component, parent, range)), false),
        _ => (false, false),
    };
    itself || (may_recur && recurs(component) && starts_before_end(component, range))
}

/// Whether a recurring component's first instance starts before `range` ends: a later instance
/// may then fall inside (one without any date recurs from always).
fn starts_before_end(component: &Component<'_>, range: &TimeRange) -> bool {
    component.instant("DTSTART").or_else(|| component.instant("DUE")).is_none_or(|first| range.ends_after(first))
}

/// Whether `property`'s date or date-time falls in `range` (a prop-filter's time-range): a
/// date-time is an instant, a date the whole day (in UTC, as `ical_time` reads dates).
pub(crate) fn property_in(property: &Property, range: &TimeRange) -> bool {
    let Ok(at) = instant(property) else { return false };
    if is_date(property) {
        return range.starts_before(at + TimeDelta::days(1)) && range.ends_after(at);
    }
    range.starts_by(at) && range.ends_after(at)
}

fn recurs(component: &Component<'_>) -> bool {
    component.property("RRULE").is_some() || component.property("RDATE").is_some()
}

/// DTSTART + DURATION, when the component has both and the sum is a date.
fn start_plus_duration(component: &Component<'_>) -> Option<DateTime<Utc>> {
    let start = component.instant("DTSTART")?;
    let duration = parse_duration(component.property("DURATION")?.value.as_deref()?)?;
    start.checked_add_signed(duration)
}

/// The VTODO table, row by row.
fn todo(todo: &Component<'_>, r: &TimeRange) -> bool {
    let start = todo.instant("DTSTART");
    let due = todo.instant("DUE");
    match (start, start_plus_duration(todo), due) {
        // DTSTART and DURATION (a DURATION needs a DTSTART; beside a DUE it is ignored).
        (Some(start), Some(end), None) => r.starts_by(end) && (r.ends_after(start) || r.ends_by(end)),
        // DTSTART and DUE.
        (Some(start), _, Some(due)) => {
            (r.starts_before(due) || r.starts_by(start)) && (r.ends_after(start) || r.ends_by(due))
        }
        // DTSTART only.
        (Some(start), None, None) => r.starts_by(start) && r.ends_after(start),
        // DUE only.
        (None, _, Some(due)) => r.starts_before(due) && r.ends_by(due),
        (None, _, None) => match (todo.instant("COMPLETED"), todo.instant("CREATED")) {
            (Some(completed), Some(created)) => {
                (r.starts_by(created) || r.starts_by(completed)) && (r.ends_by(created) || r.ends_by(completed))
            }
            (Some(completed), None) => r.starts_by(completed) && r.ends_by(completed),
            (None, Some(created)) => r.ends_after(created),
            // A task with no date at all is in every range.
            (None, None) => true,
        },
    }
}

/// The VEVENT table. A VEVENT without DTSTART is not a valid event and overlaps nothing.
fn event(event: &Component<'_>, r: &TimeRange) -> bool {
    let Some(dtstart) = event.property("DTSTART") else { return false };
    let Ok(start) = instant(dtstart) else { return false };
    if let Some(end) = event.instant("DTEND") {
        return r.starts_before(end) && r.ends_after(start);
    }
    if let Some(end) = start_plus_duration(event) {
        if end > start {
            return r.starts_before(end) && r.ends_after(start);
        }
        return r.starts_by(start) && r.ends_after(start);
    }
    if is_date(dtstart) {
        return r.starts_before(start + TimeDelta::days(1)) && r.ends_after(start);
    }
    r.starts_by(start) && r.ends_after(start)
}

/// The VJOURNAL table: a dated entry is its day, a timed one its instant, an undated none.
fn journal(journal: &Component<'_>, r: &TimeRange) -> bool {
    journal.property("DTSTART").is_some_and(|dtstart| property_in(dtstart, r))
}

/// The VFREEBUSY table's first row (DTSTART and DTEND). Workbench stores no free-busy objects,
/// so the periods of `FREEBUSY` properties are not read: such a component overlaps nothing.
fn free_busy(free_busy: &Component<'_>, r: &TimeRange) -> bool {
    match (free_busy.instant("DTSTART"), free_busy.instant("DTEND")) {
        (Some(start), Some(end)) => r.starts_by(end) && r.ends_after(start),
        _ => false,
    }
}

/// The VALARM rule: some trigger time (the first, or one of its `REPEAT`s) is in the range.
fn alarm(alarm: &Component<'_>, parent: &Component<'_>, r: &TimeRange) -> bool {
    let Some(first) = trigger(alarm, parent) else { return false };
    let hit = |at: DateTime<Utc>| r.starts_by(at) && r.ends_after(at);
    let repeat: i64 = alarm.property("REPEAT").and_then(|p| p.value.as_deref()?.trim().parse().ok()).unwrap_or(0);
    let interval =
        alarm.property("DURATION").and_then(|p| parse_duration(p.value.as_deref()?)).map(|d| d.num_seconds());
    let Some(interval) = interval.filter(|&seconds| seconds > 0 && repeat > 0) else { return hit(first) };
    // The repetitions are first + k·interval for k in 0..=repeat: test the earliest one at or
    // after the range's start rather than walking a REPEAT a client may have set to millions.
    let k = match r.start {
        Some(start) if start > first => (start - first).num_seconds().div_euclid(interval) + 1,
        _ => 0,
    };
    let candidates = [k - 1, k].into_iter().filter(|k| (0..=repeat).contains(k));
    candidates.filter_map(|k| first.checked_add_signed(TimeDelta::try_seconds(k.checked_mul(interval)?)?)).any(hit)
}

/// When an alarm first fires: an absolute `TRIGGER;VALUE=DATE-TIME`, or a duration from the
/// parent's start (`RELATED=START`, the default) or end (`RELATED=END`: DUE, DTEND, or
/// DTSTART + DURATION).
fn trigger(alarm: &Component<'_>, parent: &Component<'_>) -> Option<DateTime<Utc>> {
    let trigger = alarm.property("TRIGGER")?;
    if param(trigger, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE-TIME")) {
        return instant(trigger).ok();
    }
    let offset = parse_duration(trigger.value.as_deref()?)?;
    let anchor = if param(trigger, "RELATED").is_some_and(|v| v.eq_ignore_ascii_case("END")) {
        parent.instant("DUE").or_else(|| parent.instant("DTEND")).or_else(|| start_plus_duration(parent))?
    } else {
        parent.instant("DTSTART")?
    };
    anchor.checked_add_signed(offset)
}

#[cfg(test)]
mod tests;
