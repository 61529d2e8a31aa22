//! Durations as iCalendar writes them (RFC 5545 §3.3.6, ISO 8601's weeks, days, hours, minutes
//! and seconds): `P1W`, `P1DT2H`, `-PT15M`. A VTODO's alarm and a task reminder's `before_due`
//! alike.

use chrono::TimeDelta;

/// The duration `text` names, or `None` when it names none.
///
/// A day is 24 hours here: a VTODO's `DURATION` only decides whether it overlaps a query's
/// range, a reminder is told in UTC, and the hour a daylight-saving change would add or take
/// does not justify a zone. Months and years, of no fixed length, name no duration.
pub fn parse_duration(text: &str) -> Option<TimeDelta> {
    let text = text.trim();
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let mut rest = rest.strip_prefix(['P', 'p'])?;
    let mut seconds: i64 = 0;
    let mut in_time = false;
    let mut parts = 0;
    // Units in the order the grammar allows them; each may appear once.
    let mut last_unit = 0;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(['T', 't']) {
            if in_time {
                return None;
            }
            in_time = true;
            rest = after;
            continue;
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let number: i64 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].chars().next()?.to_ascii_uppercase();
        let (order, unit_seconds) = match (in_time, unit) {
            (false, 'W') => (1, 7 * 86_400),
            (false, 'D') => (2, 86_400),
            (true, 'H') => (3, 3_600),
            (true, 'M') => (4, 60),
            (true, 'S') => (5, 1),
            _ => return None,
        };
        if order <= last_unit {
            return None;
        }
        last_unit = order;
        seconds = seconds.checked_add(number.checked_mul(unit_seconds)?)?;
        parts += 1;
        rest = &rest[digits + 1..];
    }
    // `P` alone, or `P1DT` with nothing after the `T`, names no duration.
    if parts == 0 || (in_time && last_unit < 3) {
        return None;
    }
    let delta = TimeDelta::try_seconds(seconds)?;
    Some(if negative { -delta } else { delta })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_of_rfc_5545() {
        let secs = |t: &str| parse_duration(t).map(|d| d.num_seconds());
        assert_eq!(secs("P1W"), Some(604_800));
        assert_eq!(secs("P15DT5H0M20S"), Some(15 * 86_400 + 5 * 3_600 + 20));
        assert_eq!(secs("P1DT2H"), Some(93_600));
        assert_eq!(secs("PT1H30M"), Some(5_400));
        assert_eq!(secs("-PT15M"), Some(-900));
        assert_eq!(secs("+PT10S"), Some(10));
        assert_eq!(secs(" p2d "), Some(172_800));
        assert_eq!(secs("PT0S"), Some(0));
    }

    #[test]
    fn what_is_no_duration() {
        for bad in [
            "",
            "P",
            "PT",
            "P1DT",
            "1D",
            "P1H",
            "PT1D",
            "P1D1W",
            "PT1M1H",
            "P1DT1HT1M",
            "P-1D",
            "PXD",
            "P1",
            "P99999999999999999999D",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
