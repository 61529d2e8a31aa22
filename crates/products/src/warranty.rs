//! Warranty rules: when a warranty ends, whether an item is under it, and which items the
//! warranty overview lists.
//!
//! Every date here is a calendar date, and "today" is the UTC calendar day (the contract's rule
//! for "today"), so that every instance and every engine agrees on it.

use chrono::{Days, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use workbench_core::{FieldErrors, Validator};

/// Today's UTC calendar date.
pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// The last day of a warranty of `months` months bought on `purchased`: the same day of the
/// month `months` later, or that month's last day when it is shorter (31 January + 1 month is
/// 28 February, or 29 in a leap year).
pub fn warranty_expiry(purchased: NaiveDate, months: u16) -> NaiveDate {
    // Only fails past the year 262 143, far beyond any purchase date a client can send (dates
    // are four-digit years on the wire); the latest representable date is the honest answer.
    purchased.checked_add_months(Months::new(u32::from(months))).unwrap_or(NaiveDate::MAX)
}

/// Whether a warranty ending on `expires` still covers `today`: it does through its last day.
pub fn is_under_warranty(expires: Option<NaiveDate>, today: NaiveDate) -> bool {
    expires.is_some_and(|expires| expires >= today)
}

/// Which warranties the overview lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WarrantyFilter {
    /// Still under warranty: expires today or later.
    Active,
    /// Under warranty and ending within the next `days` days: expires between today and
    /// today + `days`, both included (`days=0`: expires today).
    Expiring,
    /// No longer under warranty: expired before today.
    Expired,
}

impl WarrantyFilter {
    /// Every filter.
    pub const ALL: [WarrantyFilter; 3] = [WarrantyFilter::Active, WarrantyFilter::Expiring, WarrantyFilter::Expired];

    /// The filter's name in the `filter` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            WarrantyFilter::Active => "active",
            WarrantyFilter::Expiring => "expiring",
            WarrantyFilter::Expired => "expired",
        }
    }

    /// The filter named `s`, or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not one of active, expiring, expired"))
    }
}

/// A validated warranty-overview request: `filter` (default `active`) and `days` (default 30,
/// used by `expiring`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarrantyQuery {
    /// Which items to show.
    pub filter: WarrantyFilter,
    /// How far ahead `expiring` looks, in days.
    pub days: u64,
}

impl Default for WarrantyQuery {
    fn default() -> Self {
        Self { filter: WarrantyFilter::Active, days: Self::DEFAULT_DAYS }
    }
}

impl WarrantyQuery {
    /// How far ahead `expiring` looks when the client names no `days`.
    pub const DEFAULT_DAYS: u64 = 30;

    /// Validates the query parameters, naming each bad one: an unknown `filter`, a negative
    /// `days`.
    pub fn parse(filter: Option<&str>, days: Option<i64>) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        let filter = filter.map(|f| v.check("filter", WarrantyFilter::parse(f.trim())));
        let days = days.map(|d| v.check("days", u64::try_from(d).map_err(|_| "must not be negative")));
        v.finish()?;
        Ok(Self {
            filter: filter.flatten().unwrap_or(WarrantyFilter::Active),
            days: days.flatten().unwrap_or(Self::DEFAULT_DAYS),
        })
    }

    /// The expiry dates the query covers as of `today`.
    pub fn window(&self, today: NaiveDate) -> WarrantyWindow {
        match self.filter {
            WarrantyFilter::Active => WarrantyWindow { from: Some(today), until: None, latest_first: false },
            WarrantyFilter::Expiring => WarrantyWindow {
                from: Some(today),
                // Beyond the calendar's end every warranty ends "within" the window.
                until: today.checked_add_days(Days::new(self.days)),
                latest_first: false,
            },
            WarrantyFilter::Expired => WarrantyWindow { from: None, until: today.pred_opt(), latest_first: true },
        }
    }
}

/// A range of warranty expiry dates, both bounds included, and the order to list them in. Items
/// without an expiry date are never in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarrantyWindow {
    /// Expires on or after this day.
    pub from: Option<NaiveDate>,
    /// Expires on or before this day.
    pub until: Option<NaiveDate>,
    /// Latest expiry first (expired warranties: the most recent first); otherwise soonest first.
    pub latest_first: bool,
}

impl WarrantyWindow {
    /// Whether a warranty ending on `expires` is in the window: the rule adapters implement.
    pub fn contains(&self, expires: Option<NaiveDate>) -> bool {
        expires.is_some_and(|e| self.from.is_none_or(|from| e >= from) && self.until.is_none_or(|until| e <= until))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn month_ends_are_clamped_in_leap_and_common_years() {
        assert_eq!(warranty_expiry(date(2024, 1, 31), 1), date(2024, 2, 29));
        assert_eq!(warranty_expiry(date(2023, 1, 31), 1), date(2023, 2, 28));
        assert_eq!(warranty_expiry(date(2024, 3, 31), 1), date(2024, 4, 30));
        assert_eq!(warranty_expiry(date(2024, 2, 29), 12), date(2025, 2, 28));
        assert_eq!(warranty_expiry(date(2024, 2, 29), 48), date(2028, 2, 29));
        assert_eq!(warranty_expiry(date(2024, 1, 31), 13), date(2025, 2, 28));
    }

    #[test]
    fn whole_years_and_the_longest_warranty() {
        assert_eq!(warranty_expiry(date(2026, 5, 17), 0), date(2026, 5, 17));
        assert_eq!(warranty_expiry(date(2026, 5, 17), 12), date(2027, 5, 17));
        assert_eq!(warranty_expiry(date(2026, 5, 17), 24), date(2028, 5, 17));
        assert_eq!(warranty_expiry(date(2023, 8, 31), 24), date(2025, 8, 31));
        assert_eq!(warranty_expiry(date(2026, 5, 17), 600), date(2076, 5, 17));
        assert_eq!(warranty_expiry(date(2023, 12, 31), 600), date(2073, 12, 31));
    }

    #[test]
    fn a_warranty_covers_its_last_day() {
        let today = date(2026, 6, 15);
        assert!(is_under_warranty(Some(today), today));
        assert!(is_under_warranty(Some(date(2026, 6, 16)), today));
        assert!(!is_under_warranty(Some(date(2026, 6, 14)), today));
        assert!(!is_under_warranty(None, today));
    }

    #[test]
    fn query_defaults_and_refusals() {
        assert_eq!(WarrantyQuery::parse(None, None).unwrap(), WarrantyQuery::default());
        assert_eq!(WarrantyQuery::default(), WarrantyQuery { filter: WarrantyFilter::Active, days: 30 });
        let q = WarrantyQuery::parse(Some("expiring"), Some(0)).unwrap();
        assert_eq!((q.filter, q.days), (WarrantyFilter::Expiring, 0));
        let e = WarrantyQuery::parse(Some("soon"), Some(-1)).unwrap_err();
        assert!(e.contains("filter") && e.contains("days"));
        assert!(WarrantyQuery::parse(None, Some(-1)).unwrap_err().contains("days"));
    }

    #[test]
    fn expiring_includes_today_and_the_last_day_of_the_window() {
        let today = date(2026, 2, 27);
        let window = WarrantyQuery { filter: WarrantyFilter::Expiring, days: 30 }.window(today);
        assert!(!window.contains(Some(date(2026, 2, 26))), "expired yesterday");
        assert!(window.contains(Some(today)), "expires today: still under warranty");
        assert!(window.contains(Some(date(2026, 3, 29))), "today + 30 days is included");
        assert!(!window.contains(Some(date(2026, 3, 30))), "today + 31 days is not");
        assert!(!window.contains(None));
        let zero = WarrantyQuery { filter: WarrantyFilter::Expiring, days: 0 }.window(today);
        assert!(zero.contains(Some(today)) && !zero.contains(Some(date(2026, 2, 28))));
        let forever = WarrantyQuery { filter: WarrantyFilter::Expiring, days: u64::MAX }.window(today);
        assert!(forever.contains(Some(date(9999, 12, 31))) && !forever.contains(Some(date(2026, 2, 26))));
    }

    #[test]
    fn active_and_expired_split_at_today() {
        let today = date(2024, 3, 1);
        let active = WarrantyQuery { filter: WarrantyFilter::Active, days: 5 }.window(today);
        let expired = WarrantyQuery { filter: WarrantyFilter::Expired, days: 5 }.window(today);
        for (expires, under) in [(date(2024, 2, 29), false), (today, true), (date(2030, 1, 1), true)] {
            assert_eq!(active.contains(Some(expires)), under, "{expires}");
            assert_eq!(expired.contains(Some(expires)), !under, "{expires}");
            assert_eq!(is_under_warranty(Some(expires), today), under, "{expires}");
        }
        assert!(expired.latest_first && !active.latest_first);
    }
}
