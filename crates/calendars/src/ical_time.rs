//! Instants as iCalendar writes them (RFC 5545 §3.3.4, §3.3.5): a `DATE`, a `DATE-TIME` in UTC,
//! a floating `DATE-TIME`, or one in the zone its `TZID` parameter names.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use ical::property::Property;

/// The first value of `prop`'s parameter `name` (names are case-insensitive).
pub fn param<'a>(prop: &'a Property, name: &str) -> Option<&'a str> {
    let params = prop.params.as_ref()?;
    let (_, values) = params.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
    values.first().map(|v| v.trim_matches('"'))
}

/// Whether `prop` holds a `DATE` rather than a `DATE-TIME` (`VALUE=DATE`, or eight digits).
pub fn is_date(prop: &Property) -> bool {
    param(prop, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
        || prop.value.as_deref().is_some_and(|v| v.trim().len() == 8)
}

/// The instant `prop` names. A date is its midnight in UTC and a floating time is read as UTC
/// (a task's due date is one instant for everyone who shares it); a `TZID` is an IANA zone,
/// also when a client prefixes it with a path of its own (`/mozilla.org/20050126_1/Europe/Berlin`).
pub fn instant(prop: &Property) -> Result<DateTime<Utc>, String> {
    let raw = prop.value.as_deref().map(str::trim).unwrap_or_default();
    let name = &prop.name;
    if is_date(prop) {
        let date = NaiveDate::parse_from_str(raw, "%Y%m%d").map_err(|_| format!("{name} {raw:?} is not a date"))?;
        return Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    let (text, utc) = match raw.strip_suffix(['Z', 'z']) {
        Some(text) => (text, true),
        None => (raw, false),
    };
    let local = NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%S")
        .map_err(|_| format!("{name} {raw:?} is not a date-time"))?;
    if utc {
        return Ok(local.and_utc());
    }
    match param(prop, "TZID") {
        None => Ok(local.and_utc()),
        Some(tzid) => {
            let zone =
                zone(tzid).ok_or_else(|| format!("{name} names a time zone Workbench does not know: {tzid:?}"))?;
            // A time a clock skips (spring forward) is read one hour on; one it shows twice, the first.
            let at = zone
                .from_local_datetime(&local)
                .earliest()
                .or_else(|| zone.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest());
            at.map(|at| at.with_timezone(&Utc)).ok_or_else(|| format!("{name} {raw:?} never happens in {tzid}"))
        }
    }
}

/// The IANA zone `tzid` names, trying its trailing path segments when a client prefixed it.
pub fn zone(tzid: &str) -> Option<Tz> {
    let tzid = tzid.trim();
    let mut rest = tzid;
    loop {
        if let Ok(zone) = rest.parse::<Tz>() {
            return Some(zone);
        }
        rest = rest.split_once('/')?.1;
    }
}

/// `at` as an iCalendar UTC `DATE-TIME` (`20261201T090000Z`).
pub fn utc_text(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(name: &str, params: &[(&str, &str)], value: &str) -> Property {
        Property {
            name: name.to_owned(),
            params: Some(params.iter().map(|(n, v)| ((*n).to_owned(), vec![(*v).to_owned()])).collect()),
            value: Some(value.to_owned()),
        }
    }

    #[test]
    fn dates_utc_floating_and_zoned_times_are_instants() {
        let at = |p: Property| instant(&p).unwrap().to_rfc3339();
        assert_eq!(at(prop("DUE", &[("VALUE", "DATE")], "20261201")), "2026-12-01T00:00:00+00:00");
        assert_eq!(at(prop("DUE", &[], "20261201")), "2026-12-01T00:00:00+00:00");
        assert_eq!(at(prop("DUE", &[], "20261201T093000Z")), "2026-12-01T09:30:00+00:00");
        assert_eq!(at(prop("DUE", &[], "20261201T093000")), "2026-12-01T09:30:00+00:00");
        assert_eq!(at(prop("DUE", &[("TZID", "Europe/Berlin")], "20261201T093000")), "2026-12-01T08:30:00+00:00");
        let mozilla = prop("DUE", &[("TZID", "/mozilla.org/20050126_1/America/New_York")], "20260701T120000");
        assert_eq!(at(mozilla), "2026-07-01T16:00:00+00:00");
    }

    #[test]
    fn what_is_no_instant_is_refused_with_a_reason() {
        assert!(instant(&prop("DUE", &[], "tomorrow")).unwrap_err().contains("DUE"));
        assert!(instant(&prop("DUE", &[("TZID", "Mars/Olympus")], "20261201T093000")).unwrap_err().contains("Mars"));
        // Europe/Berlin skips 02:00–03:00 on 2026-03-29: read an hour on.
        let skipped = prop("DUE", &[("TZID", "Europe/Berlin")], "20260329T023000");
        assert_eq!(instant(&skipped).unwrap().to_rfc3339(), "2026-03-29T01:30:00+00:00");
    }
}
