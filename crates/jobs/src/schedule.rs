//! Schedules: jobs enqueued by a cron expression, once per slot across every instance, and the
//! log of their runs.
//!
//! A slot is an instant the cron expression names. The scheduler of every instance computes the
//! latest slot that has come; the store lets exactly one of them record it (a unique row per
//! schedule and slot, inserted or nothing) and enqueue its job in the same transaction, with the
//! unique key `schedule:{name}:{slot}`. So any number of instances fire each slot once.
//!
//! **Missed slots.** After downtime only the latest missed slot fires, once: a daily report that
//! missed three days sends one report, not three. A schedule that has never fired (new, or its
//! log pruned) waits for its first slot after the scheduler started rather than firing a past one.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use croner::Cron;
use serde::{Deserialize, Serialize};
use workbench_core::{FieldErrors, Validator};

use crate::kind::check_kind;
use crate::{JobId, NewJob};

const KEY_PREFIX: &str = "schedule:";

/// A schedule as configured (a `workbench.toml` table or environment variables).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    /// The schedule's name: it keys its slots and names it in the run log.
    pub name: String,
    /// Five fields (minute to weekday) or six (with seconds first), in UTC; croner syntax
    /// (`L`, `#`, `W` and names such as `MON` are understood).
    pub cron: String,
    /// The kind of job each firing enqueues (a handler's name).
    pub kind: String,
    /// The arguments of each job it enqueues; `null` when not configured.
    #[serde(default)]
    pub args: serde_json::Value,
    /// Whether it fires; `off` in the configuration turns it off. On by default.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// A valid schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    name: String,
    cron: Cron,
    expression: String,
    kind: String,
    args: serde_json::Value,
    enabled: bool,
}

impl Schedule {
    /// Checks every field at once: a name of 1 to 64 characters among `a-z 0-9 _ -`, a cron
    /// expression croner accepts, and a valid job kind.
    pub fn parse(spec: ScheduleSpec) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        v.check("name", check_name(&spec.name));
        let cron = v.check("cron", Cron::from_str(&spec.cron).map_err(|e| format!("is not a cron expression: {e}")));
        v.check("kind", check_kind(&spec.kind));
        v.finish()?;
        let cron = cron.ok_or_else(|| FieldErrors::single("cron", "is not a cron expression"))?;
        Ok(Self {
            name: spec.name,
            cron,
            expression: spec.cron,
            kind: spec.kind,
            args: spec.args,
            enabled: spec.enabled,
        })
    }

    /// The schedule's name, part of its slots' unique keys.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cron expression as configured.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The kind of job each slot enqueues.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// A switched-off schedule is kept in the configuration but never fires.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The latest slot at or before `now`.
    pub fn latest_slot(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Slots are whole seconds; croner keeps the fraction of the instant it starts from.
        self.cron.find_previous_occurrence(&now.trunc_subsecs(0), true).ok()
    }

    /// The first slot after `now`.
    pub fn next_slot(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&now.trunc_subsecs(0), false).ok()
    }

    /// The slot to fire at `now`, given the last slot known to have fired (or, for a schedule that
    /// never fired, the instant the scheduler started): the latest slot that has come, if it is
    /// later than that. Older missed slots are skipped on purpose (see the module docs).
    pub fn due_slot(&self, now: DateTime<Utc>, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.latest_slot(now).filter(|slot| *slot > after)
    }

    /// The job that fires `slot`, carrying the slot's unique key.
    pub fn job_for(&self, slot: DateTime<Utc>) -> NewJob {
        NewJob::new(self.kind.clone(), self.args.clone()).unique_key(ScheduleSlot::unique_key(&self.name, slot))
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-');
    if name.is_empty() || name.len() > 64 || !name.chars().all(allowed) {
        Err("must be 1 to 64 characters among a-z, 0-9, '_', '-'".to_owned())
    } else {
        Ok(())
    }
}

/// One firing of a schedule: its name and slot, as encoded in the fired job's unique key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSlot {
    /// The schedule's name.
    pub schedule: String,
    /// The instant the slot stands for, in UTC.
    pub slot: DateTime<Utc>,
}

impl ScheduleSlot {
    /// `schedule:{name}:{slot in RFC 3339, UTC, whole seconds}`.
    pub fn unique_key(schedule: &str, slot: DateTime<Utc>) -> String {
        format!("{KEY_PREFIX}{schedule}:{}", slot.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    /// The slot a unique key names, if it is a schedule's key. Names hold no `:`, so the first
    /// one after the prefix ends the name.
    pub fn from_unique_key(key: &str) -> Option<Self> {
        let (schedule, slot) = key.strip_prefix(KEY_PREFIX)?.split_once(':')?;
        let slot = DateTime::parse_from_rfc3339(slot).ok()?.with_timezone(&Utc);
        Some(Self { schedule: schedule.to_owned(), slot })
    }
}

/// How a scheduled run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// The job completed.
    Ok,
    /// The job failed its latest attempt (it may still be retried).
    Failed,
    /// The job chose not to act (see [`crate::JobOutcome::skipped`]).
    Skipped,
}

impl RunOutcome {
    /// The outcome's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Ok => "ok",
            RunOutcome::Failed => "failed",
            RunOutcome::Skipped => "skipped",
        }
    }

    /// The outcome named `s`, or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        [RunOutcome::Ok, RunOutcome::Failed, RunOutcome::Skipped]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not one of ok, failed, skipped"))
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the run log: a slot that fired, and how its job's latest attempt went (empty
/// until it has run; a retried job's entry shows its latest attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRun {
    /// The entry's id.
    pub id: i64,
    /// The schedule that fired.
    pub schedule: String,
    /// The slot it fired for.
    pub slot: DateTime<Utc>,
    /// The job it enqueued, while the job is kept.
    pub job_id: Option<JobId>,
    /// When the job was enqueued.
    pub enqueued_at: DateTime<Utc>,
    /// When the job's latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// How it ended.
    pub outcome: Option<RunOutcome>,
    /// How long it ran, in milliseconds.
    pub duration_ms: Option<u64>,
    /// How many things it changed, as the job reported.
    pub items_affected: Option<u64>,
    /// The attempt's error, when it failed.
    pub error: Option<String>,
    /// The job's line for the run log.
    pub note: Option<String>,
}

/// What an attempt of a scheduled job writes to its run log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// When the attempt started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// How it ended.
    pub outcome: RunOutcome,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
    /// How many things it changed, as the job reported.
    pub items_affected: Option<u64>,
    /// The error, when it failed.
    pub error: Option<String>,
    /// The job's line for the run log, if it gave one.
    pub note: Option<String>,
}

/// A slot to fire, for [`crate::JobStore::fire`].
#[derive(Debug, Clone, PartialEq)]
pub struct SlotFiring {
    /// The schedule firing.
    pub schedule: String,
    /// The slot it fires for: at most one firing of a schedule's slot is ever stored.
    pub slot: DateTime<Utc>,
    /// The job to enqueue for it, its unique key naming the schedule and slot.
    pub job: NewJob,
    /// When it fires.
    pub at: DateTime<Utc>,
}

/// A schedule as configured and as this process runs it, for the admin view.
#[derive(Debug, Clone)]
pub struct ScheduleInfo {
    /// The schedule, its cron parsed.
    pub schedule: Schedule,
    /// Why an enabled schedule is not run here, when it is not.
    pub held_back: Option<&'static str>,
}

impl ScheduleInfo {
    /// Whether this process fires it.
    pub fn active(&self) -> bool {
        self.schedule.enabled() && self.held_back.is_none()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;

    fn spec(name: &str, cron: &str) -> ScheduleSpec {
        ScheduleSpec {
            name: name.to_owned(),
            cron: cron.to_owned(),
            kind: "report.daily".to_owned(),
            args: serde_json::json!({"n": 1}),
            enabled: true,
        }
    }

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 6, h, m, s).unwrap()
    }

    #[test]
    fn parsing_names_every_bad_field() {
        let errors =
            Schedule::parse(ScheduleSpec { kind: "Nope!".to_owned(), ..spec("Bad Name", "61 * * * *") }).unwrap_err();
        assert!(errors.contains("name") && errors.contains("cron") && errors.contains("kind"), "{errors}");
        assert!(Schedule::parse(spec("daily-report", "0 7 * * *")).is_ok());
        assert!(Schedule::parse(spec("every-second", "* * * * * *")).is_ok(), "six fields carry seconds");
    }

    #[test]
    fn the_due_slot_is_the_latest_one_after_the_last_fired() {
        let hourly = Schedule::parse(spec("hourly", "0 * * * *")).unwrap();
        // At 10:00:00.5, the 10:00 slot is due once 09:00 fired...
        let now = t(10, 0, 0) + TimeDelta::milliseconds(500);
        assert_eq!(hourly.due_slot(now, t(9, 0, 0)), Some(t(10, 0, 0)));
        // ...and not again once it has.
        assert_eq!(hourly.due_slot(now, t(10, 0, 0)), None);
        // Between slots nothing is due.
        assert_eq!(hourly.due_slot(t(10, 30, 0), t(10, 0, 0)), None);
        assert_eq!(hourly.next_slot(t(10, 30, 0)), Some(t(11, 0, 0)));
        assert_eq!(hourly.next_slot(now), Some(t(11, 0, 0)), "a slot that has come is not next");
    }

    #[test]
    fn after_downtime_only_the_latest_missed_slot_fires() {
        let hourly = Schedule::parse(spec("hourly", "0 * * * *")).unwrap();
        // Down from 06:10 to 10:20: 07:00, 08:00, 09:00 and 10:00 were missed; only 10:00 fires.
        assert_eq!(hourly.due_slot(t(10, 20, 0), t(6, 0, 0)), Some(t(10, 0, 0)));
    }

    #[test]
    fn a_schedule_that_never_fired_waits_for_its_first_slot_after_start() {
        let daily = Schedule::parse(spec("daily", "0 7 * * *")).unwrap();
        let started = t(15, 0, 0);
        assert_eq!(daily.due_slot(t(15, 0, 1), started), None, "this morning's 07:00 is not fired late");
        let tomorrow = Utc.with_ymd_and_hms(2026, 5, 7, 7, 0, 0).unwrap();
        assert_eq!(daily.due_slot(tomorrow, started), Some(tomorrow));
    }

    #[test]
    fn the_slot_key_round_trips() {
        let key = ScheduleSlot::unique_key("daily-report", t(7, 0, 0));
        assert_eq!(key, "schedule:daily-report:2026-05-06T07:00:00Z");
        assert_eq!(
            ScheduleSlot::from_unique_key(&key),
            Some(ScheduleSlot { schedule: "daily-report".to_owned(), slot: t(7, 0, 0) })
        );
        assert_eq!(ScheduleSlot::from_unique_key("webhook:42"), None);
        assert_eq!(ScheduleSlot::from_unique_key("schedule:x:not-a-time"), None);
        let daily = Schedule::parse(spec("daily-report", "0 7 * * *")).unwrap();
        let job = daily.job_for(t(7, 0, 0));
        assert_eq!((job.kind.as_str(), job.unique_key.as_deref()), ("report.daily", Some(key.as_str())));
        assert_eq!(job.args, serde_json::json!({"n": 1}));
    }
}
