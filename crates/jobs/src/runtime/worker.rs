//! Claiming, running and recording jobs, and keeping their leases.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use futures_util::FutureExt;
use tokio::sync::{Mutex, mpsc, watch};
use tokio::time::Instant;

use super::shared::Shared;
use crate::retry::{after_failure, random_spread};
use crate::{
    AttemptOutcome, AttemptReport, Holder, Job, JobFailure, JobOutcome, RetryPolicy, RunOutcome, RunReport, Verdict,
};

/// The most reports written in one statement.
const RECORD_BATCH: usize = 1_000;

/// Resolves once `stop` is set (or its sender is gone).
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Waits for `duration` unless `stop` comes first; whether it was stopped.
pub(super) async fn pause(stop: &mut watch::Receiver<bool>, duration: Duration) -> bool {
    tokio::select! {
        biased;
        () = stopped(stop) => true,
        () = tokio::time::sleep(duration) => false,
    }
}

fn lease_until(shared: &Shared, now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    now + TimeDelta::from_std(shared.config.lease).unwrap_or(TimeDelta::MAX)
}

/// Keeps the local queue filled: whenever at least half of it is free, claims enough jobs to
/// fill it in one statement; when the store had fewer, waits for a wake-up or the poll interval.
pub(super) async fn fetch(shared: Arc<Shared>, queue: mpsc::Sender<Job>, mut stop: watch::Receiver<bool>) {
    let mut signal = shared.store.subscribe();
    let capacity = shared.config.local_queue.max(1);
    let refill = capacity.div_ceil(2);
    loop {
        let permits = tokio::select! {
            biased;
            () = stopped(&mut stop) => return,
            permits = queue.reserve_many(refill) => match permits {
                Ok(permits) => permits,
                Err(_) => return,
            },
        };
        // Only this task sends, so the free slots beyond the reserved ones stay free.
        let room = refill + queue.capacity();
        let now = shared.clock.now();
        let claimed = match shared.store.claim(shared.owner(), room, now, lease_until(&shared, now)).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim jobs");
                drop(permits);
                if pause(&mut stop, shared.config.poll_interval).await {
                    return;
                }
                continue;
            }
        };
        let got = claimed.len();
        shared.track(claimed.iter().map(|job| job.id));
        let mut jobs = claimed.into_iter();
        for permit in permits {
            match jobs.next() {
                Some(job) => {
                    permit.send(job);
                }
                None => break,
            }
        }
        for job in jobs {
            if queue.send(job).await.is_err() {
                return;
            }
        }
        if got < room {
            // Caught up with the queue: wait for news.
            tokio::select! {
                biased;
                () = stopped(&mut stop) => return,
                () = changed(&mut signal) => {}
                () = tokio::time::sleep(shared.config.poll_interval) => {}
            }
        }
    }
}

/// Resolves when the store signals new work; never, once the store's side is gone.
async fn changed(signal: &mut watch::Receiver<()>) {
    if signal.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// One worker: takes jobs from the local queue one at a time and runs them, until stopped.
pub(super) async fn work(
    shared: Arc<Shared>,
    queue: Arc<Mutex<mpsc::Receiver<Job>>>,
    reports: mpsc::UnboundedSender<AttemptReport>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let job = {
            let mut queue = queue.lock().await;
            tokio::select! {
                biased;
                () = stopped(&mut stop) => return,
                job = queue.recv() => match job {
                    Some(job) => job,
                    None => return,
                },
            }
        };
        let report = attempt(&shared, job).await;
        if reports.send(report).is_err() {
            return;
        }
    }
}

/// Runs one attempt of `job` and says how it ended.
pub(crate) async fn attempt(shared: &Shared, job: Job) -> AttemptReport {
    let started_at = shared.clock.now();
    let clock = Instant::now();
    let registered = shared.handlers.get(&job.kind);
    let result = match registered {
        None => Err(JobFailure::permanent(format!("no handler is registered for job kind {:?}", job.kind))),
        Some(registered) => {
            let timeout = registered.options.timeout;
            let run = AssertUnwindSafe(registered.handler.run(&job)).catch_unwind();
            match tokio::time::timeout(timeout, run).await {
                Err(_) => Err(JobFailure::new(format!("timed out after {} s", timeout.as_secs_f64()))),
                Ok(Err(panic)) => Err(JobFailure::new(format!("the handler panicked: {}", panic_message(&*panic)))),
                Ok(Ok(result)) => result,
            }
        }
    };
    let duration = clock.elapsed();
    let finished_at = shared.clock.now();
    let policy = registered.map(|r| r.options.retry).unwrap_or_default();
    let (report, outcome) = judge(&job, result, &policy, started_at, finished_at, duration);
    shared.observer.attempt_finished(&job.kind, outcome, duration);
    report
}

/// The report of an attempt of `job` that ended with `result`.
pub(crate) fn judge(
    job: &Job,
    result: Result<JobOutcome, JobFailure>,
    policy: &RetryPolicy,
    started_at: chrono::DateTime<chrono::Utc>,
    finished_at: chrono::DateTime<chrono::Utc>,
    duration: Duration,
) -> (AttemptReport, AttemptOutcome) {
    let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let scheduled = job.schedule_slot().is_some();
    match result {
        Ok(outcome) => {
            if outcome.skipped {
                // A job that chose not to act (a missing setting) says so where operators look.
                tracing::info!(job = %job.id, kind = %job.kind, note = ?outcome.note, "job skipped");
            } else {
                tracing::debug!(job = %job.id, kind = %job.kind, attempt = job.attempt,
                    items = ?outcome.items_affected, note = ?outcome.note, "job completed");
            }
            let run = scheduled.then_some(RunReport {
                started_at,
                finished_at,
                outcome: if outcome.skipped { RunOutcome::Skipped } else { RunOutcome::Ok },
                duration_ms,
                items_affected: outcome.items_affected,
                error: None,
                note: outcome.note,
            });
            let report = AttemptReport {
                id: job.id,
                attempt: job.attempt,
                verdict: Verdict::Completed,
                finished_at,
                errors: Vec::new(),
                run,
            };
            (report, AttemptOutcome::Completed)
        }
        Err(failure) => {
            let (verdict, errors) = after_failure(job, &failure, policy, finished_at, random_spread());
            let outcome = match verdict {
                Verdict::Discard => AttemptOutcome::Discarded,
                _ => AttemptOutcome::Retried,
            };
            tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempt, max_attempts = job.max_attempts,
                error = %failure.message, next = ?verdict, "job attempt failed");
            let run = scheduled.then(|| RunReport {
                started_at,
                finished_at,
                outcome: RunOutcome::Failed,
                duration_ms,
                items_affected: None,
                error: Some(failure.message.clone()),
                note: None,
            });
            let report = AttemptReport { id: job.id, attempt: job.attempt, verdict, finished_at, errors, run };
            (report, outcome)
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

/// Writes the workers' reports: everything that arrived while the previous write was under way
/// goes in the next one. Retries a failed write (the database may be restarting) until it
/// succeeds; the leases meanwhile are kept by the heartbeat.
pub(super) async fn record(shared: Arc<Shared>, mut reports: mpsc::UnboundedReceiver<AttemptReport>) {
    let mut batch = Vec::new();
    while reports.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let mut delay = Duration::from_millis(100);
        loop {
            match shared.store.record(Holder::Owner(shared.owner().to_owned()), batch.clone()).await {
                Ok(applied) => {
                    if applied.len() < batch.len() {
                        tracing::warn!(
                            lost = batch.len() - applied.len(),
                            "results of jobs whose lease was lost were not recorded; their new attempts stand"
                        );
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, jobs = batch.len(), "could not record job results; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        shared.untrack(batch.drain(..).map(|report| report.id));
    }
}

/// Renews, every third of the lease, the leases of every job claimed and not yet recorded.
pub(super) async fn heartbeat(shared: Arc<Shared>, mut halt: watch::Receiver<bool>) {
    let every = shared.config.lease / 3;
    loop {
        if pause(&mut halt, every).await {
            return;
        }
        let held = shared.tracked();
        if held.is_empty() {
            continue;
        }
        let now = shared.clock.now();
        match shared.store.renew(shared.owner(), held.clone(), lease_until(&shared, now)).await {
            Ok(renewed) if renewed.len() < held.len() => {
                tracing::warn!(
                    lost = held.len() - renewed.len(),
                    "leases lost to the rescuer; those attempts will not count"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not renew job leases"),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::{
        HandlerOptions, Handlers, JobId, JobState, MockClock, MockJobHandler, MockJobStore, MockJobsObserver,
        ScheduleSlot,
    };

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap()
    }

    fn job(kind: &str, attempt: u32, max_attempts: u32) -> Job {
        Job {
            id: JobId(11),
            kind: kind.to_owned(),
            args: serde_json::json!({"to": "a@example.com"}),
            priority: 0,
            state: JobState::Running,
            run_at: at(),
            attempt,
            max_attempts,
            errors: Vec::new(),
            unique_key: None,
            lease_owner: Some("test-instance".to_owned()),
            lease_until: Some(at()),
            created_at: at(),
            attempted_at: Some(at()),
            finished_at: None,
        }
    }

    fn clock() -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(at());
        Arc::new(clock)
    }

    /// An observer expecting exactly one attempt of `kind` ending as `outcome`.
    fn observer(kind: &'static str, outcome: AttemptOutcome) -> Arc<MockJobsObserver> {
        let mut observer = MockJobsObserver::new();
        observer.expect_attempt_finished().withf(move |k, o, _| k == kind && *o == outcome).times(1).return_const(());
        Arc::new(observer)
    }

    fn shared(handlers: Handlers, observer: Arc<MockJobsObserver>) -> Shared {
        Shared::for_test(Arc::new(MockJobStore::new()), handlers, observer, clock())
    }

    fn handler(result: Result<JobOutcome, JobFailure>) -> Arc<MockJobHandler> {
        let mut handler = MockJobHandler::new();
        handler.expect_run().times(1).return_once(move |_| result);
        Arc::new(handler)
    }

    #[tokio::test]
    async fn a_job_runs_on_the_handler_of_its_kind() {
        let mut mail = MockJobHandler::new();
        mail.expect_run()
            .withf(|job| job.args["to"] == "a@example.com")
            .times(1)
            .returning(|_| Ok(JobOutcome::affected(1)));
        let mut other = MockJobHandler::new();
        other.expect_run().never();
        let handlers =
            Handlers::new().register("mail.send", Arc::new(mail)).unwrap().register("other", Arc::new(other)).unwrap();
        let report =
            attempt(&shared(handlers, observer("mail.send", AttemptOutcome::Completed)), job("mail.send", 1, 3)).await;
        assert_eq!((report.id, report.attempt, report.verdict), (JobId(11), 1, Verdict::Completed));
        assert!(report.errors.is_empty() && report.run.is_none());
    }

    #[tokio::test]
    async fn an_unknown_kind_is_discarded_saying_so() {
        let report = attempt(
            &shared(Handlers::new(), observer("nobody.home", AttemptOutcome::Discarded)),
            job("nobody.home", 1, 5),
        )
        .await;
        assert_eq!(report.verdict, Verdict::Discard);
        assert_eq!(report.errors[0].error, "no handler is registered for job kind \"nobody.home\"");
    }

    #[tokio::test]
    async fn a_failure_is_retried_until_the_last_attempt() {
        let handlers = Handlers::new().register("mail.send", handler(Err(JobFailure::new("smtp down")))).unwrap();
        let report =
            attempt(&shared(handlers, observer("mail.send", AttemptOutcome::Retried)), job("mail.send", 1, 2)).await;
        assert!(matches!(report.verdict, Verdict::Retry { at: next } if next > at()));
        assert_eq!(report.errors[0].error, "smtp down");

        let handlers = Handlers::new().register("mail.send", handler(Err(JobFailure::new("smtp down")))).unwrap();
        let report =
            attempt(&shared(handlers, observer("mail.send", AttemptOutcome::Discarded)), job("mail.send", 2, 2)).await;
        assert_eq!(report.verdict, Verdict::Discard);
    }

    #[tokio::test]
    async fn a_panicking_handler_fails_the_attempt_instead_of_the_worker() {
        let mut mail = MockJobHandler::new();
        mail.expect_run().times(1).returning(|_| panic!("index out of bounds"));
        let handlers = Handlers::new().register("mail.send", Arc::new(mail)).unwrap();
        let report =
            attempt(&shared(handlers, observer("mail.send", AttemptOutcome::Retried)), job("mail.send", 1, 3)).await;
        assert_eq!(report.errors[0].error, "the handler panicked: index out of bounds");
    }

    /// A handler that never finishes.
    struct Stuck;

    #[async_trait::async_trait]
    impl crate::JobHandler for Stuck {
        async fn run(&self, _job: &Job) -> Result<JobOutcome, JobFailure> {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_over_its_kinds_timeout_fails() {
        let options = HandlerOptions::default().timeout(Duration::from_secs(90));
        let handlers = Handlers::new().register_with("slow", Arc::new(Stuck), options).unwrap();
        let report = attempt(&shared(handlers, observer("slow", AttemptOutcome::Retried)), job("slow", 1, 3)).await;
        assert_eq!(report.errors[0].error, "timed out after 90 s");
    }

    #[tokio::test]
    async fn a_scheduled_job_reports_its_run() {
        let handlers =
            Handlers::new().register("report.daily", handler(Ok(JobOutcome::skipped("no SMTP_URL")))).unwrap();
        let mut scheduled = job("report.daily", 1, 3);
        scheduled.unique_key = Some(ScheduleSlot::unique_key("daily-report", at()));
        let report = attempt(&shared(handlers, observer("report.daily", AttemptOutcome::Completed)), scheduled).await;
        let run = report.run.expect("a scheduled job reports its run");
        assert_eq!((run.outcome, run.note.as_deref()), (RunOutcome::Skipped, Some("no SMTP_URL")));
    }

    #[test]
    fn registering_a_kind_twice_or_an_invalid_kind_is_refused() {
        let twice = Handlers::new().register("a", Arc::new(Stuck)).unwrap().register("a", Arc::new(Stuck));
        assert!(twice.is_err());
        assert!(Handlers::new().register("Not Valid", Arc::new(Stuck)).is_err());
    }
}
