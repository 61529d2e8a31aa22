//! How instants and dates are written by clients, one rule for every domain: an RFC 3339
//! timestamp, or a bare `YYYY-MM-DD` date meaning its midnight in UTC.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};

/// An RFC 3339 timestamp (any offset, kept as UTC) or a bare `YYYY-MM-DD` date (its midnight,
/// UTC), truncated to microseconds like every stored timestamp.
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc).trunc_subsecs(6));
    }
    parse_calendar_date(s)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("{s:?} is not an RFC 3339 timestamp or a YYYY-MM-DD date"))
}

/// A date written exactly `YYYY-MM-DD` (RFC 3339's `full-date`). chrono's own parser also takes
/// `2026-1-5` and signed or longer years, which the API document could not state.
pub fn parse_calendar_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() });
    shaped.then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_accept_rfc3339_and_bare_dates() {
        assert_eq!(parse_instant("2026-01-15").unwrap().to_rfc3339(), "2026-01-15T00:00:00+00:00");
        assert_eq!(parse_instant("2026-01-15T12:00:00+02:00").unwrap().to_rfc3339(), "2026-01-15T10:00:00+00:00");
        assert!(parse_instant("tomorrow").is_err());
        assert!(parse_calendar_date("2026-1-5").is_none());
    }
}
