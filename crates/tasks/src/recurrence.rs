//! Recurring tasks: the RFC 5545 `RRULE` subset a task may carry, and the occurrence that follows
//! a completed one. Rules are parsed, validated and iterated by the `rrule` crate; this module only
//! keeps to the subset and carries `COUNT` from one occurrence to the next.

use chrono::{DateTime, Utc};
use rrule::{RRule, RRuleSet, Tz, Unvalidated};

use crate::{Status, Task, TaskId};

/// A recurrence rule: `FREQ` (`DAILY`, `WEEKLY`, `MONTHLY`, `YEARLY`), then any of `INTERVAL`,
/// `BYDAY`, `BYMONTHDAY` (not with `WEEKLY`, as RFC 5545 says), `BYMONTH`, and `COUNT` or `UNTIL`
/// (UTC, `YYYYMMDDTHHMMSSZ`), in that order, upper-case, with an optional `RRULE:` prefix. The
/// order is fixed so that one pattern ([`Recurrence::pattern`], which the OpenAPI document shows)
/// says exactly which rules are accepted. Occurrences start at the task's due date, which counts
/// as the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence(String);

/// What [`Recurrence::parse`] says of a rule outside the subset.
pub const NOT_A_RULE: &str = "must be FREQ=DAILY|WEEKLY|MONTHLY|YEARLY, then any of INTERVAL, BYDAY, BYMONTHDAY (not with \
     WEEKLY), BYMONTH, and COUNT or UNTIL (YYYYMMDDTHHMMSSZ), in that order";

/// What [`Recurrence::parse`] says of an `UNTIL` that is no real instant (a 13th month).
pub const UNTIL_NOT_AN_INSTANT: &str = "UNTIL must be a real date and time";

static RULE: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(&Recurrence::pattern()).expect("the rule pattern compiles"));

impl Recurrence {
    /// The longest rule accepted, in characters.
    pub const MAX_CHARS: usize = 500;

    /// The rules accepted, as a regular expression (surrounding whitespace allowed).
    pub fn pattern() -> String {
        let w = workbench_core::WHITESPACE_CLASS;
        let number = "[1-9][0-9]{0,3}";
        let day = "(?:MO|TU|WE|TH|FR|SA|SU)";
        let month_day = "-?(?:[1-9]|[12][0-9]|3[01])";
        let month = "(?:[1-9]|1[0-2])";
        let head = format!("(?:;INTERVAL={number})?(?:;BYDAY={day}(?:,{day})*)?");
        let by_month_day = format!("(?:;BYMONTHDAY={month_day}(?:,{month_day})*)?");
        let by_month = format!("(?:;BYMONTH={month}(?:,{month})*)?");
        let end = format!("(?:;(?:COUNT={number}|UNTIL=[0-9]{{8}}T[0-9]{{6}}Z))?");
        format!(
            "^[{w}]*(?:RRULE:)?(?:FREQ=WEEKLY{head}{by_month}|FREQ=(?:DAILY|MONTHLY|YEARLY){head}{by_month_day}{by_month}){end}[{w}]*$"
        )
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
        let recurrence = Self(text.strip_prefix("RRULE:").unwrap_or(text).to_owned());
        // Within the pattern, only an UNTIL that names no instant is left for the crate to find.
        recurrence.set(DateTime::<Utc>::UNIX_EPOCH).map_err(|_| UNTIL_NOT_AN_INSTANT.to_owned())?;
        Ok(recurrence)
    }

    /// The rule, without the `RRULE:` prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The rule with `due` as its start.
    fn set(&self, due: DateTime<Utc>) -> Result<RRuleSet, String> {
        let rule: RRule<Unvalidated> = self.0.parse().map_err(|e: rrule::RRuleError| e.to_string())?;
        rule.build(due.with_timezone(&Tz::UTC)).map_err(|e| e.to_string())
    }

    /// Up to `n` occurrences after `due` (the occurrence due then), earliest first.
    pub fn after(&self, due: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let Ok(set) = self.set(due) else { return Vec::new() };
        set.into_iter().map(|at| at.with_timezone(&Utc)).filter(|at| *at > due).take(n).collect()
    }

    /// The rule the next occurrence carries: `COUNT` one less, counting the occurrence it starts
    /// at; `None` when the one that carries this rule is the last.
    fn carried(&self) -> Option<Self> {
        let mut parts = Vec::new();
        for part in self.0.split(';') {
            match part.strip_prefix("COUNT=").map(str::parse::<u32>) {
                Some(Ok(count)) if count <= 1 => return None,
                Some(Ok(count)) => parts.push(format!("COUNT={}", count - 1)),
                _ => parts.push(part.to_owned()),
            }
        }
        Some(Self(parts.join(";")))
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
            "FREQ=YEARLY;BYDAY=SU;BYMONTH=6;UNTIL=20301231T000000Z",
        ] {
            assert!(Recurrence::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "FREQ=HOURLY",
            "freq=daily",
            "FREQ=DAILY;BYHOUR=9",
            "INTERVAL=2;FREQ=DAILY",
            "FREQ=DAILY;COUNT=2;UNTIL=20301231T000000Z",
            "FREQ=DAILY;FREQ=WEEKLY",
            "FREQ=DAILY;INTERVAL=x",
            "FREQ=DAILY;COUNT=0",
            "FREQ=WEEKLY;BYMONTHDAY=1",
            "FREQ=MONTHLY;BYDAY=1MO",
            "",
        ] {
            assert_eq!(Recurrence::parse(bad).unwrap_err(), NOT_A_RULE, "{bad}");
        }
        assert_eq!(Recurrence::parse("FREQ=DAILY;UNTIL=20261399T000000Z").unwrap_err(), UNTIL_NOT_AN_INSTANT);
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
