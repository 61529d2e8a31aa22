//! The runtime's periodic duties: rescuing jobs whose worker died, pruning finished jobs, and
//! firing schedules.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;

use super::shared::Shared;
use super::worker::{judge, pause};
use crate::{Clock, Holder, JobFailure, JobStore, JobsObserver, Schedule, SlotFiring};

/// Lapsed jobs handled per store round trip.
const RESCUE_BATCH: usize = 100;
/// Finished jobs deleted per statement: small enough not to hold locks for long.
const PRUNE_BATCH: usize = 1_000;
/// How soon after start the first pruning runs.
const FIRST_PRUNE: Duration = Duration::from_secs(60);
/// The longest the scheduler sleeps, so that a clock jump is noticed.
const SCHEDULER_MAX_SLEEP: Duration = Duration::from_secs(60);
/// How soon the scheduler tries again after the store failed it.
const SCHEDULER_RETRY: Duration = Duration::from_secs(5);

/// Every `rescue_interval`, fails the attempts of jobs whose lease lapsed (their worker died or
/// hung without renewing): retried with backoff, or discarded when it was their last attempt.
pub(super) async fn rescue(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        if pause(&mut stop, shared.config.rescue_interval).await {
            return;
        }
        loop {
            match rescue_once(&shared).await {
                Ok(found) if found == RESCUE_BATCH => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "could not rescue jobs with lapsed leases");
                    break;
                }
            }
        }
    }
}

/// One rescue pass over up to [`RESCUE_BATCH`] lapsed jobs; returns how many it found.
pub(crate) async fn rescue_once(shared: &Shared) -> Result<usize, workbench_core::RepositoryError> {
    let now = shared.clock.now();
    let lapsed = shared.store.lapsed(now, RESCUE_BATCH).await?;
    if lapsed.is_empty() {
        return Ok(0);
    }
    let found = lapsed.len();
    let reports = lapsed
        .iter()
        .map(|job| {
            let owner = job.lease_owner.as_deref().unwrap_or("an unknown worker");
            let failure = JobFailure::new(format!(
                "the lease held by {owner} lapsed: its worker stopped (crash or hang) without finishing the attempt"
            ));
            let policy = shared.handlers.get(&job.kind).map(|r| r.options.retry).unwrap_or_default();
            let started = job.attempted_at.unwrap_or(now);
            let ran = (now - started).to_std().unwrap_or_default();
            judge(job, Err(failure), &policy, started, now, ran).0
        })
        .collect();
    let rescued = shared.store.record(Holder::LapsedBefore(now), reports).await?;
    if !rescued.is_empty() {
        tracing::warn!(count = rescued.len(), "rescued jobs whose worker stopped renewing their lease");
        shared.observer.jobs_rescued(rescued.len());
    }
    Ok(found)
}

/// Deletes finished jobs older than the retention period, in bounded batches: a minute after
/// start (an instance redeployed more often than `prune_interval` must still prune), then every
/// `prune_interval`.
pub(super) async fn prune(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let Some(retention) = shared.config.retention else { return };
    let retention = TimeDelta::from_std(retention).unwrap_or(TimeDelta::MAX);
    let mut wait = shared.config.prune_interval.min(FIRST_PRUNE);
    loop {
        if pause(&mut stop, wait).await {
            return;
        }
        wait = shared.config.prune_interval;
        let before = shared.clock.now().checked_sub_signed(retention).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut total = 0;
        loop {
            match shared.store.prune(before, PRUNE_BATCH).await {
                Ok(deleted) => {
                    total += deleted;
                    if deleted < PRUNE_BATCH as u64 || *stop.borrow() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not prune finished jobs");
                    break;
                }
            }
        }
        if total > 0 {
            tracing::info!(deleted = total, %before, "pruned finished jobs");
        }
    }
}

/// Fires the enabled schedules at their slots until stopped.
pub(super) async fn schedule(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let schedules: Vec<Schedule> = shared.config.schedules.iter().filter(|s| s.enabled()).cloned().collect();
    let mut scheduler = Scheduler::new(schedules, shared.clock.now());
    loop {
        let wait = scheduler.tick(&*shared.store, &*shared.observer, &*shared.clock).await;
        if pause(&mut stop, wait).await {
            return;
        }
    }
}

/// The scheduler's memory: for each schedule, the last slot known to have fired.
pub(crate) struct Scheduler {
    schedules: Vec<Schedule>,
    started: DateTime<Utc>,
    /// `None` until read from the store.
    last: Option<HashMap<String, DateTime<Utc>>>,
}

impl Scheduler {
    pub(crate) fn new(schedules: Vec<Schedule>, started: DateTime<Utc>) -> Self {
        Self { schedules, started, last: None }
    }

    /// Fires every slot that is due at the clock's `now`; returns how long to wait before the
    /// next tick (until the next slot of any schedule, at most a minute).
    pub(crate) async fn tick(
        &mut self,
        store: &dyn JobStore,
        observer: &dyn JobsObserver,
        clock: &dyn Clock,
    ) -> Duration {
        let last = match self.last.as_mut() {
            Some(last) => last,
            None => match store.last_slots().await {
                Ok(slots) => self.last.insert(slots.into_iter().collect()),
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the schedules' last runs");
                    return SCHEDULER_RETRY;
                }
            },
        };
        let now = clock.now();
        let mut failed = false;
        for schedule in &self.schedules {
            let after = last.get(schedule.name()).copied().unwrap_or(self.started);
            let Some(slot) = schedule.due_slot(now, after) else { continue };
            let firing =
                SlotFiring { schedule: schedule.name().to_owned(), slot, job: schedule.job_for(slot), at: now };
            match store.fire(firing).await {
                Ok(Some(job)) => {
                    tracing::info!(schedule = schedule.name(), %slot, %job, "schedule fired");
                    observer.schedule_fired(schedule.name());
                }
                Ok(None) => tracing::debug!(schedule = schedule.name(), %slot, "slot already fired elsewhere"),
                Err(e) => {
                    tracing::warn!(error = %e, schedule = schedule.name(), %slot, "could not fire a schedule");
                    failed = true;
                    continue;
                }
            }
            last.insert(schedule.name().to_owned(), slot);
        }
        let next = self.schedules.iter().filter_map(|s| s.next_slot(now)).min();
        let wait = next.and_then(|at| (at - now).to_std().ok()).unwrap_or(SCHEDULER_MAX_SLEEP).min(SCHEDULER_MAX_SLEEP);
        if failed { wait.min(SCHEDULER_RETRY) } else { wait }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::TimeZone;
    use mockall::predicate::always;

    use super::*;
    use crate::{
        AttemptError, Handlers, Job, JobId, JobState, MockClock, MockJobStore, MockJobsObserver, ScheduleSpec, Verdict,
    };

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 6, h, m, s).unwrap()
    }

    fn hourly(name: &str) -> Schedule {
        Schedule::parse(ScheduleSpec {
            name: name.to_owned(),
            cron: "0 * * * *".to_owned(),
            kind: "report.hourly".to_owned(),
            args: serde_json::json!({}),
            enabled: true,
        })
        .unwrap()
    }

    /// A clock that reads the instants in `times`, one per call.
    fn clock(times: Vec<DateTime<Utc>>) -> MockClock {
        let times = Mutex::new(times.into_iter());
        let mut clock = MockClock::new();
        clock.expect_now().returning(move || times.lock().unwrap().next().expect("the test gave enough instants"));
        clock
    }

    fn quiet_observer() -> MockJobsObserver {
        let mut observer = MockJobsObserver::new();
        observer.expect_schedule_fired().return_const(());
        observer
    }

    #[tokio::test]
    async fn a_due_slot_fires_once_then_the_scheduler_waits_for_the_next() {
        let mut store = MockJobStore::new();
        store.expect_last_slots().times(1).returning(|| Ok(vec![("hourly".to_owned(), t(9, 0, 0))]));
        store
            .expect_fire()
            .withf(|f| {
                f.schedule == "hourly"
                    && f.slot == t(10, 0, 0)
                    && f.job.unique_key.as_deref() == Some("schedule:hourly:2026-05-06T10:00:00Z")
            })
            .times(1)
            .returning(|_| Ok(Some(JobId(1))));
        let mut scheduler = Scheduler::new(vec![hourly("hourly")], t(8, 0, 0));
        let observer = quiet_observer();
        let wait = scheduler.tick(&store, &observer, &clock(vec![t(10, 0, 1)])).await;
        assert_eq!(wait, Duration::from_secs(60), "sleeps at most a minute");
        // The same slot is not fired again; the next wait ends at 11:00.
        let wait = scheduler.tick(&store, &observer, &clock(vec![t(10, 59, 30)])).await;
        assert_eq!(wait, Duration::from_secs(30));
    }

    #[tokio::test]
    async fn a_slot_fired_elsewhere_is_not_fired_again_here() {
        let mut store = MockJobStore::new();
        store.expect_last_slots().returning(|| Ok(vec![]));
        store.expect_fire().times(1).returning(|_| Ok(None));
        let mut observer = MockJobsObserver::new();
        observer.expect_schedule_fired().never();
        let mut scheduler = Scheduler::new(vec![hourly("hourly")], t(9, 30, 0));
        scheduler.tick(&store, &observer, &clock(vec![t(10, 0, 0)])).await;
        scheduler.tick(&store, &observer, &clock(vec![t(10, 0, 5)])).await;
    }

    #[tokio::test]
    async fn a_failed_firing_is_tried_again_soon() {
        let mut store = MockJobStore::new();
        store.expect_last_slots().returning(|| Ok(vec![]));
        let mut calls = 0;
        store.expect_fire().times(2).returning(move |_| {
            calls += 1;
            if calls == 1 { Err(anyhow::anyhow!("database restarting").into()) } else { Ok(Some(JobId(5))) }
        });
        let mut scheduler = Scheduler::new(vec![hourly("hourly")], t(9, 30, 0));
        let observer = quiet_observer();
        let wait = scheduler.tick(&store, &observer, &clock(vec![t(10, 0, 0)])).await;
        assert_eq!(wait, SCHEDULER_RETRY);
        scheduler.tick(&store, &observer, &clock(vec![t(10, 0, 5)])).await;
    }

    fn lapsed_job(attempt: u32, max_attempts: u32) -> Job {
        Job {
            id: JobId(attempt.into()),
            kind: "mail.send".to_owned(),
            args: serde_json::json!({}),
            priority: 0,
            state: JobState::Running,
            run_at: t(9, 0, 0),
            attempt,
            max_attempts,
            errors: Vec::new(),
            unique_key: None,
            lease_owner: Some("crashed-instance".to_owned()),
            lease_until: Some(t(9, 0, 30)),
            created_at: t(9, 0, 0),
            attempted_at: Some(t(9, 0, 0)),
            finished_at: None,
        }
    }

    #[tokio::test]
    async fn lapsed_jobs_are_retried_or_discarded_as_their_attempts_allow() {
        let now = t(9, 1, 0);
        let mut store = MockJobStore::new();
        store
            .expect_lapsed()
            .with(mockall::predicate::eq(now), always())
            .returning(|_, _| Ok(vec![lapsed_job(1, 3), lapsed_job(3, 3)]));
        store
            .expect_record()
            .withf(move |holder, reports| {
                let lapsed_error = |errors: &[AttemptError]| {
                    errors.len() == 1 && errors[0].error.contains("lease held by crashed-instance lapsed")
                };
                *holder == Holder::LapsedBefore(now)
                    && matches!(reports[0].verdict, Verdict::Retry { .. })
                    && reports[1].verdict == Verdict::Discard
                    && reports.iter().all(|r| lapsed_error(&r.errors))
            })
            .times(1)
            .returning(|_, reports| Ok(reports.iter().map(|r| r.id).collect()));
        let mut observer = MockJobsObserver::new();
        observer.expect_jobs_rescued().with(mockall::predicate::eq(2)).times(1).return_const(());
        observer.expect_attempt_finished().never();
        let shared = Shared::for_test(Arc::new(store), Handlers::new(), Arc::new(observer), Arc::new(clock(vec![now])));
        assert_eq!(rescue_once(&shared).await.unwrap(), 2);
    }
}
