//! Recurring tasks: the RFC 5545 `RRULE` subset a task may carry, and the occurrence that follows
//! a completed one. Rules are parsed, validated and iterated by the `rrule` crate; this module only
//! keeps to the subset and carries `COUNT` from one occurrence to the next.

use chrono::{DateTime, Utc};
use rrule::{RRule, RRuleSet, Tz, Unvalidated};

use crate::{Status, Task, TaskId};

/// A recurrence rule: RFC 5545 rule parts separated by `;`, in any order (RFC 5545 3.3.10 fixes
/// none, and every CalDAV client writes its own), each at most once: `FREQ` (`DAILY`, `WEEKLY`,
/// `MONTHLY`, `YEARLY`; required), and any of `INTERVAL`, `BYDAY` (weekdays without an ordinal),
/// `BYMONTHDAY` (not with `WEEKLY`, as RFC 5545 says), `BYMONTH`, and `COUNT` or `UNTIL` (UTC,
/// `YYYYMMDDTHHMMSSZ`), with an optional `RRULE:` prefix. Names and values are case-insensitive,
/// as RFC 5545's grammar (RFC 5234 strings) makes them. Occurrences start at the task's due date,
/// which counts as the first.
///
/// The rule is kept as the client wrote it (trimmed, without the `RRULE:` prefix, which names the
/// property rather than being part of its value), not rewritten into a canonical order: a CalDAV
/// client compares the rule it reads back with the one it wrote, and one given back reordered
/// looks like a change made elsewhere, which it then syncs back (or reports as a conflict). The
/// task shows the rule its user typed. Only `COUNT` changes, in place, from one occurrence to the
/// next.
///
/// Which texts are rules is said in two layers, so that the OpenAPI document can state the first
/// exactly: [`Recurrence::pattern`] (the syntax: the parts of the subset, well-formed, in any
/// order, `FREQ` among them), then the rules between parts that no pattern can state without
/// listing every order ([`REPEATED_PART`], [`COUNT_AND_UNTIL`], [`MONTH_DAY_NOT_WEEKLY`]), and
/// the calendar ([`UNTIL_NOT_AN_INSTANT`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence(String);

/// What [`Recurrence::parse`] says of a text that does not match [`Recurrence::pattern`].
pub const NOT_A_RULE: &str = "must be rule parts separated by `;`, in any order: FREQ=DAILY|WEEKLY|MONTHLY|YEARLY and \
     any of INTERVAL, BYDAY (weekdays), BYMONTHDAY, BYMONTH, COUNT, UNTIL (YYYYMMDDTHHMMSSZ)";

/// What [`Recurrence::parse`] says of a rule part given twice (RFC 5545: "MUST NOT occur more
/// than once").
pub const REPEATED_PART: &str = "each rule part may be given once";

/// What [`Recurrence::parse`] says of a rule with both ends (RFC 5545: "MUST NOT occur in the
/// same 'recur'").
pub const COUNT_AND_UNTIL: &str = "COUNT and UNTIL cannot be given together";

/// What [`Recurrence::parse`] says of `BYMONTHDAY` in a weekly rule (RFC 5545: "MUST NOT be
/// specified when the FREQ rule part is set to WEEKLY").
pub const MONTH_DAY_NOT_WEEKLY: &str = "BYMONTHDAY cannot be given with FREQ=WEEKLY";

/// What [`Recurrence::parse`] says of an `UNTIL` that is no real instant (a 13th month).
pub const UNTIL_NOT_AN_INSTANT: &str = "UNTIL must be a real date and time";

static RULE: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(&Recurrence::pattern()).expect("the rule pattern compiles"));

/// `literal` as a pattern that matches it in any case (`FREQ` → `[Ff][Rr][Ee][Qq]`): the
/// document's pattern is read by ECMA-262 and Python engines too, which share no inline flag.
fn any_case(literal: &str) -> String {
    literal
        .chars()
        .map(|c| match c {
            c if c.is_ascii_alphabetic() => format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase()),
            c => c.to_string(),
        })
        .collect()
}

/// `name=value` of one rule part, its name as written.
fn parts(rule: &str) -> impl Iterator<Item = (&str, &str)> {
    rule.split(';').map(|part| part.split_once('=').unwrap_or((part, "")))
}

impl Recurrence {
    /// The longest rule accepted, in characters.
    pub const MAX_CHARS: usize = 500;

    /// The syntax of the rules accepted, as a regular expression (surrounding whitespace allowed):
    /// the parts of the subset, each well-formed, separated by `;` in any order, `FREQ` among
    /// them. Every rule [`Recurrence::parse`] accepts matches it; a text that matches it is
    /// refused only for a rule between its parts or an `UNTIL` no calendar has.
    pub fn pattern() -> String {
        let w = workbench_core::WHITESPACE_CLASS;
        let number = "[1-9][0-9]{0,3}";
        let day = format!("(?:{})", ["MO", "TU", "WE", "TH", "FR", "SA", "SU"].map(any_case).join("|"));
        let month_day = "[+-]?(?:0?[1-9]|[12][0-9]|3[01])";
        let month = "(?:0?[1-9]|1[0-2])";
        let freq =
            format!("{}=(?:{})", any_case("FREQ"), ["DAILY", "WEEKLY", "MONTHLY", "YEARLY"].map(any_case).join("|"));
        let part = [
            freq.clone(),
            format!("{}={number}", any_case("INTERVAL")),
            format!("{}={day}(?:,{day})*", any_case("BYDAY")),
            format!("{}={month_day}(?:,{month_day})*", any_case("BYMONTHDAY")),
            format!("{}={month}(?:,{month})*", any_case("BYMONTH")),
            format!("{}={number}", any_case("COUNT")),
            format!("{}=[0-9]{{8}}{}[0-9]{{6}}{}", any_case("UNTIL"), any_case("T"), any_case("Z")),
        ]
        .join("|");
        format!("^[{w}]*(?:{})?(?:(?:{part});)*{freq}(?:;(?:{part}))*[{w}]*$", any_case("RRULE:"))
    }

    /// A rule from what a client sent, within the subset (see [`NOT_A_RULE`]), without its `RRULE:`
    /// prefix; the message a `422` carries otherwise.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters", Self::MAX_CHARS));
        }
        if !RULE.is_match(raw) {
            return Err(NOT_A_RULE.into());
        }
        let text = raw.trim();
        let text = match text.get(..6) {
            Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => &text[6..],
            _ => text,
        };
        let mut names: Vec<String> = Vec::new();
        for (name, _) in parts(text) {
            let name = name.to_ascii_uppercase();
            if names.contains(&name) {
                return Err(REPEATED_PART.into());
            }
            names.push(name);
        }
        let given = |name: &str| names.iter().any(|n| n == name);
        if given("COUNT") && given("UNTIL") {
            return Err(COUNT_AND_UNTIL.into());
        }
        let weekly =
            parts(text).any(|(name, value)| name.eq_ignore_ascii_case("FREQ") && value.eq_ignore_ascii_case("WEEKLY"));
        if weekly && given("BYMONTHDAY") {
            return Err(MONTH_DAY_NOT_WEEKLY.into());
        }
        let recurrence = Self(text.to_owned());
        // Within the pattern and the rules above, only an UNTIL that names no instant is left
        // for the crate to find. The rule is checked from its own end (or from 1970 without one),
        // a start no UNTIL comes before.
        let rule = recurrence.rule().map_err(|_| UNTIL_NOT_AN_INSTANT.to_owned())?;
        let start = rule.get_until().copied().unwrap_or(DateTime::<Utc>::UNIX_EPOCH.with_timezone(&Tz::UTC));
        rule.validate(start).map_err(|_| NOT_A_RULE.to_owned())?;
        Ok(recurrence)
    }

    /// The rule, without the `RRULE:` prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The rule as the `rrule` crate reads it: given in upper case, which means the same (names
    /// and values are case-insensitive) and is the only case the crate's `UNTIL` parser reads.
    fn rule(&self) -> Result<RRule<Unvalidated>, rrule::RRuleError> {
        self.0.to_ascii_uppercase().parse()
    }

    /// The rule with `due` as its start.
    fn set(&self, due: DateTime<Utc>) -> Result<RRuleSet, rrule::RRuleError> {
        self.rule()?.build(due.with_timezone(&Tz::UTC))
    }

    /// Up to `n` occurrences after `due` (the occurrence due then), earliest first.
    pub fn after(&self, due: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let Ok(set) = self.set(due) else { return Vec::new() };
        set.into_iter().map(|at| at.with_timezone(&Utc)).filter(|at| *at > due).take(n).collect()
    }

    /// The rule the next occurrence carries: `COUNT` one less (in its place, named as written),
    /// counting the occurrence it starts at; `None` when the one that carries this rule is the
    /// last.
    fn carried(&self) -> Option<Self> {
        let mut carried = Vec::new();
        for (name, value) in parts(&self.0) {
            match value.parse::<u32>() {
                Ok(count) if name.eq_ignore_ascii_case("COUNT") && count <= 1 => return None,
                Ok(count) if name.eq_ignore_ascii_case("COUNT") => carried.push(format!("{name}={}", count - 1)),
                _ => carried.push(format!("{name}={value}")),
            }
        }
        Some(Self(carried.join(";")))
    }
}

/// The occurrence that follows `after` when a change from `before` completed it: a pending copy
/// (title, description, priority, tags, assignee, project) due at the rule's next date after the
/// completed one, carrying the rule on and pointing back at it; `None` when the change completed
/// nothing, the task does not recur, or its rule has ended. Its id is left for the store.
pub fn next_occurrence(before: &Task, after: &Task) -> Option<Task> {
    if before.status == Status::Completed || after.status != Status::Completed {
        return None;
    }
    let rule = Recurrence::parse(after.recurrence.as_deref()?).ok()?;
    let due = after.due_date?;
    let next_due = *rule.after(due, 1).first()?;
    let carried = rule.carried()?;
    Some(Task {
        id: TaskId(0),
        title: after.title.clone(),
        description: after.description.clone(),
        status: Status::Pending,
        priority: after.priority,
        due_date: Some(next_due),
        owner_id: after.owner_id,
        assignee_id: after.assignee_id,
        tags: after.tags.clone(),
        completed_at: None,
        version: 1,
        created_at: after.updated_at,
        updated_at: after.updated_at,
        project_id: after.project_id,
        recurrence: Some(carried.0),
        previous_id: Some(after.id),
        // A subtask's next occurrence is a subtask of the same parent, with the same field
        // values, in the bucket the completed one was in before its completion took it to the
        // done bucket. Its blockers are the completed one's, not its own.
        parent_id: after.parent_id,
        blocked: false,
        bucket_id: before.bucket_id,
        position: None,
        fields: after.fields.clone(),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 9, 0, 0).unwrap()
    }

    #[test]
    fn the_subset_is_accepted_and_everything_else_named() {
        assert_eq!(Recurrence::parse(" RRULE:FREQ=WEEKLY;BYDAY=MO,WE ").unwrap().as_str(), "FREQ=WEEKLY;BYDAY=MO,WE");
        for ok in [
            "FREQ=DAILY;INTERVAL=2",
            "FREQ=MONTHLY;BYMONTHDAY=15,-1;COUNT=3",
            "FREQ=MONTHLY;BYMONTHDAY=+1,05",
            "FREQ=YEARLY;BYDAY=SU;BYMONTH=6;UNTIL=20301231T000000Z",
            "FREQ=YEARLY;BYMONTH=02;BYMONTHDAY=29",
        ] {
            assert!(Recurrence::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "FREQ=HOURLY",
            "FREQ=DAILY;BYHOUR=9",
            "BYHOUR=9;FREQ=DAILY",
            "FREQ=DAILY;WKST=MO",
            "INTERVAL=2",
            "FREQ=DAILY;INTERVAL=x",
            "FREQ=DAILY;COUNT=0",
            "FREQ=DAILY;INTERVAL=0",
            "FREQ=MONTHLY;BYDAY=1MO",
            "FREQ=MONTHLY;BYMONTHDAY=32",
            "FREQ=YEARLY;BYMONTH=13",
            "FREQ=DAILY;",
            ";FREQ=DAILY",
            "FREQ=DAILY;;COUNT=2",
            "FREQ=DAILY; COUNT=2",
            "FREQ = DAILY",
            "FREQ=DAILY;UNTIL=20301231",
            "RRULE:RRULE:FREQ=DAILY",
            "",
        ] {
            assert_eq!(Recurrence::parse(bad).unwrap_err(), NOT_A_RULE, "{bad}");
        }
        assert_eq!(Recurrence::parse("FREQ=DAILY;UNTIL=20261399T000000Z").unwrap_err(), UNTIL_NOT_AN_INSTANT);
        assert_eq!(Recurrence::parse("UNTIL=20270230T000000Z;FREQ=DAILY").unwrap_err(), UNTIL_NOT_AN_INSTANT);
        let long = format!("FREQ=DAILY;BYDAY={}", ["MO"; 200].join(","));
        assert_eq!(Recurrence::parse(&long).unwrap_err(), "must be at most 500 characters");
    }

    #[test]
    fn parts_come_in_any_order_and_are_kept_as_written() {
        for rule in [
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
            "BYMONTH=2;BYMONTHDAY=29;FREQ=YEARLY",
            "BYMONTHDAY=29;FREQ=YEARLY;BYMONTH=2",
            "COUNT=3;INTERVAL=2;BYDAY=MO,FR;FREQ=WEEKLY",
            "UNTIL=20301231T000000Z;BYMONTH=6;FREQ=YEARLY;BYDAY=SU",
        ] {
            assert_eq!(Recurrence::parse(rule).map(|r| r.as_str().to_owned()), Ok(rule.to_owned()));
        }
        let feb_29 = at(2028, 2, 29);
        let one = Recurrence::parse("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29").unwrap();
        let other = Recurrence::parse("BYMONTHDAY=29;BYMONTH=2;FREQ=YEARLY").unwrap();
        assert_eq!(one.after(feb_29, 2), [at(2032, 2, 29), at(2036, 2, 29)], "only leap years have the day");
        assert_eq!(one.after(feb_29, 5), other.after(feb_29, 5), "the order changes nothing");
    }

    #[test]
    fn a_part_given_twice_or_parts_that_exclude_each_other_are_named() {
        for repeated in [
            "FREQ=DAILY;FREQ=WEEKLY",
            "FREQ=DAILY;FREQ=DAILY",
            "FREQ=DAILY;INTERVAL=2;INTERVAL=3",
            "BYDAY=MO;FREQ=WEEKLY;BYDAY=TU",
            "FREQ=DAILY;COUNT=2;count=3",
            "bymonth=1;FREQ=YEARLY;BYMONTH=2",
        ] {
            assert_eq!(Recurrence::parse(repeated).unwrap_err(), REPEATED_PART, "{repeated}");
        }
        for both in ["FREQ=DAILY;COUNT=2;UNTIL=20301231T000000Z", "UNTIL=20301231T000000Z;FREQ=DAILY;COUNT=2"] {
            assert_eq!(Recurrence::parse(both).unwrap_err(), COUNT_AND_UNTIL, "{both}");
        }
        for weekly in ["FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY=1;freq=weekly"] {
            assert_eq!(Recurrence::parse(weekly).unwrap_err(), MONTH_DAY_NOT_WEEKLY, "{weekly}");
        }
    }

    #[test]
    fn names_and_values_are_read_in_any_case_and_kept_as_written() {
        let rule = Recurrence::parse("rrule:freq=weekly;byday=mo,We;Until=20301231t000000z").unwrap();
        assert_eq!(rule.as_str(), "freq=weekly;byday=mo,We;Until=20301231t000000z");
        let upper = Recurrence::parse("FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20301231T000000Z").unwrap();
        assert_eq!(rule.after(at(2026, 12, 1), 10), upper.after(at(2026, 12, 1), 10));
        assert_eq!(rule.after(at(2026, 12, 1), 2), [at(2026, 12, 2), at(2026, 12, 7)]);
        let counted = Recurrence::parse("Count=3;freq=daily").unwrap();
        assert_eq!(counted.carried().map(|r| r.0), Some("Count=2;freq=daily".to_owned()), "COUNT changes in place");
    }

    /// The document's pattern accepts exactly what `parse` does, but for the rules between parts
    /// and the calendar, which it states in words: it is the server's first check.
    #[test]
    fn the_pattern_refuses_only_what_parse_refuses_as_not_a_rule() {
        let pattern = regex::Regex::new(&Recurrence::pattern()).unwrap();
        let pieces = [
            "FREQ=DAILY",
            "freq=Monthly",
            "FREQ=HOURLY",
            "INTERVAL=2",
            "INTERVAL=0",
            "BYDAY=MO,SU",
            "BYDAY=1MO",
            "BYMONTHDAY=-31",
            "BYMONTHDAY=0",
            "BYMONTH=12",
            "BYMONTH=13",
            "COUNT=9999",
            "COUNT=10000",
            "UNTIL=20301231T235959Z",
            "UNTIL=20301331T000000Z",
            "WKST=MO",
            "",
            " ",
        ];
        let in_words = [REPEATED_PART, COUNT_AND_UNTIL, MONTH_DAY_NOT_WEEKLY, UNTIL_NOT_AN_INSTANT];
        for a in pieces {
            for b in pieces {
                for c in ["", ";FREQ=WEEKLY", ";COUNT=2", ";BYMONTHDAY=3"] {
                    let rule = format!("{a};{b}{c}");
                    match (pattern.is_match(&rule), Recurrence::parse(&rule)) {
                        (true, Ok(_)) => {}
                        (true, Err(why)) => assert!(in_words.contains(&why.as_str()), "{rule}: {why}"),
                        (false, outcome) => assert_eq!(outcome.unwrap_err(), NOT_A_RULE, "{rule}"),
                    }
                }
            }
        }
    }

    #[test]
    fn occurrences_follow_the_due_date() {
        let weekly = Recurrence::parse("FREQ=WEEKLY;INTERVAL=2").unwrap();
        assert_eq!(weekly.after(at(2026, 12, 1), 2), [at(2026, 12, 15), at(2026, 12, 29)]);
        let monthly = Recurrence::parse("FREQ=MONTHLY;COUNT=2").unwrap();
        assert_eq!(monthly.after(at(2026, 1, 31), 5).len(), 1, "COUNT counts the due date itself");
    }

    #[test]
    fn completing_a_recurring_task_makes_the_next_one_until_the_rule_ends() {
        let now = at(2026, 12, 2);
        let before = Task {
            id: TaskId(7),
            title: "Water the plants".into(),
            description: None,
            status: Status::Pending,
            priority: crate::Priority::Low,
            due_date: Some(at(2026, 12, 1)),
            owner_id: workbench_users::UserId(1),
            assignee_id: None,
            tags: vec!["home".into()],
            completed_at: None,
            version: 3,
            created_at: now,
            updated_at: now,
            project_id: None,
            recurrence: Some("FREQ=DAILY;COUNT=2".into()),
            previous_id: None,
            parent_id: None,
            blocked: false,
            bucket_id: None,
            position: None,
            fields: Default::default(),
        };
        let done = Task { status: Status::Completed, completed_at: Some(now), version: 4, ..before.clone() };
        let next = next_occurrence(&before, &done).expect("a next occurrence");
        assert_eq!(
            (next.due_date, next.status, next.previous_id),
            (Some(at(2026, 12, 2)), Status::Pending, Some(TaskId(7)))
        );
        assert_eq!(next.recurrence.as_deref(), Some("FREQ=DAILY;COUNT=1"));
        let last_done = Task { status: Status::Completed, ..next.clone() };
        assert_eq!(next_occurrence(&next, &last_done), None, "the last of COUNT has no successor");
        assert_eq!(next_occurrence(&done, &done), None, "completing again completes nothing");
    }
}
