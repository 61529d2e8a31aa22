//! Recurring tasks: the RFC 5545 `RRULE` subset a task may carry, and the occurrence that follows
//! a completed one. Rules are parsed, validated and iterated by the `rrule` crate; this module only
//! keeps to the subset and carries `COUNT` from one occurrence to the next.

use chrono::{DateTime, Utc};
use rrule::{RRule, RRuleSet, Tz, Unvalidated};

use crate::{Status, Task, TaskId};

/// A recurrence rule: `FREQ` (`DAILY`, `WEEKLY`, `MONTHLY`, `YEARLY`) with any of `INTERVAL`,
/// `BYDAY`, `BYMONTHDAY`, `BYMONTH`, `COUNT` and `UNTIL`, as RFC 5545 writes them (an `RRULE:`
/// prefix and letter case are accepted; the rule is kept upper-case). Occurrences start at the
/// task's due date, which counts as the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence(String);

impl Recurrence {
    pub const MAX_CHARS: usize = 500;
    const PARTS: [&'static str; 7] = ["FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "COUNT", "UNTIL"];
    const FREQUENCIES: [&'static str; 4] = ["DAILY", "WEEKLY", "MONTHLY", "YEARLY"];

    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        if text.chars().count() > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters", Self::MAX_CHARS));
        }
        let upper = text.to_ascii_uppercase();
        let rule = upper.strip_prefix("RRULE:").unwrap_or(&upper).to_owned();
        if rule.is_empty() {
            return Err("must not be blank".into());
        }
        let mut seen: Vec<&str> = Vec::new();
        for part in rule.split(';') {
            let Some((name, value)) = part.split_once('=') else {
                return Err(format!("{part:?} is not NAME=VALUE"));
            };
            if !Self::PARTS.contains(&name) {
                return Err(format!("{name:?} is not supported (only {})", Self::PARTS.join(", ")));
            }
            if seen.contains(&name) {
                return Err(format!("{name} is given twice"));
            }
            if value.is_empty() {
                return Err(format!("{name} has no value"));
            }
            if name == "FREQ" && !Self::FREQUENCIES.contains(&value) {
                return Err(format!("FREQ must be one of {}", Self::FREQUENCIES.join(", ")));
            }
            if matches!(name, "COUNT" | "INTERVAL") && !value.parse::<u32>().is_ok_and(|n| (1..=10_000).contains(&n)) {
                return Err(format!("{name} must be a whole number from 1 to 10000"));
            }
            seen.push(name);
        }
        if !seen.contains(&"FREQ") {
            return Err("FREQ is required".into());
        }
        if seen.contains(&"COUNT") && seen.contains(&"UNTIL") {
            return Err("COUNT and UNTIL exclude each other".into());
        }
        let recurrence = Self(rule);
        // The rule's meaning (values, ranges, UNTIL's form) is the crate's to check.
        recurrence.set(DateTime::<Utc>::UNIX_EPOCH)?;
        Ok(recurrence)
    }

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
        assert_eq!(Recurrence::parse(" rrule:freq=weekly;byday=mo,we ").unwrap().as_str(), "FREQ=WEEKLY;BYDAY=MO,WE");
        for ok in [
            "FREQ=DAILY;INTERVAL=2",
            "FREQ=MONTHLY;BYMONTHDAY=15;COUNT=3",
            "FREQ=YEARLY;BYMONTH=6;UNTIL=20301231T000000Z",
        ] {
            assert!(Recurrence::parse(ok).is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("FREQ=HOURLY", "FREQ"),
            ("FREQ=DAILY;BYHOUR=9", "BYHOUR"),
            ("INTERVAL=2", "FREQ"),
            ("FREQ=DAILY;COUNT=2;UNTIL=20301231T000000Z", "COUNT"),
            ("FREQ=DAILY;FREQ=WEEKLY", "twice"),
            ("FREQ=DAILY;INTERVAL=x", "INTERVAL"),
            ("FREQ=DAILY;COUNT=0", "COUNT"),
            ("FREQ=WEEKLY;BYDAY=XX", ""),
            ("", "blank"),
            ("FREQ", "NAME=VALUE"),
        ] {
            let e = Recurrence::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
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
