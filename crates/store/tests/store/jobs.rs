//! The job queue on SQLite always and PostgreSQL when it is reachable (and always under
//! `CI=true`): the `JobStore` contract (`crates/jobs/src/ports.rs`), then the runtime against the
//! real store: several instances on one database, a crash (`kill -9`), a graceful shutdown,
//! schedules firing once.
//!
//! Store cases use fixed instants: the store takes every time from its caller. Runtime cases run
//! on the real clock and wait for what a user would see (jobs completed, slots logged), never for
//! a duration.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::json;
use workbench_core::PageRequest;
use workbench_jobs::{
    AttemptError, AttemptReport, Enqueued, HandlerOptions, Handlers, Holder, Job, JobFailure, JobHandler, JobId,
    JobOutcome, JobQueue, JobRuntime, JobState, JobStore, JobsError, NewJob, RunOutcome, RunReport, RuntimeConfig,
    Schedule, ScheduleSlot, ScheduleSpec, SlotFiring, Verdict, handler_fn,
};
use workbench_store::testing::TestDatabase;
use workbench_store::{Backend, Database, DieselJobStore, PoolOptions, engine_cases};

engine_cases!(
    enqueue_claim_complete,
    claim_order_priority_then_run_at_then_id,
    batch_enqueue_answers_each_job_in_order,
    unique_key_is_free_again_once_the_job_finished,
    concurrent_enqueues_of_one_key_store_one_job,
    concurrent_claims_never_share_a_job,
    failure_retries_with_backoff_then_discards,
    a_late_report_cannot_clobber_the_new_attempt,
    renew_extends_only_leases_still_held,
    release_puts_jobs_back_at_once,
    cancel_and_retry_by_an_admin,
    retry_refuses_to_duplicate_an_active_key,
    list_by_state_and_counts,
    prune_deletes_old_finished_jobs_in_batches,
    a_slot_fires_once_however_many_try,
    a_scheduled_jobs_run_is_logged,
    inserts_wake_subscribers,
);

engine_cases!(
    fresh: runtime_runs_dispatches_and_records,
    two_runtimes_complete_each_job_exactly_once,
    kill_dash_nine_loses_nothing,
    graceful_shutdown_finishes_running_jobs_and_releases_the_rest,
    shutdown_past_its_grace_period_releases_interrupted_jobs,
    two_schedulers_fire_each_slot_once,
);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A fixed instant with microseconds.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap() + TimeDelta::microseconds(1_234)
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

fn store(db: &Database) -> DieselJobStore {
    DieselJobStore::new(db.clone())
}

fn job(kind: &str, n: i64) -> NewJob {
    NewJob::new(kind, json!({ "n": n }))
}

async fn enqueue(store: &DieselJobStore, jobs: Vec<NewJob>, now: DateTime<Utc>) -> Vec<Enqueued> {
    store.enqueue(jobs, now).await.expect("the jobs are enqueued")
}

async fn enqueue_one(store: &DieselJobStore, job: NewJob, now: DateTime<Utc>) -> JobId {
    match enqueue(store, vec![job], now).await[..] {
        [Enqueued::Inserted(id)] => id,
        ref other => panic!("expected one inserted job, got {other:?}"),
    }
}

async fn claim(store: &DieselJobStore, owner: &str, limit: usize, now: DateTime<Utc>) -> Vec<Job> {
    store.claim(owner, limit, now, now + secs(30)).await.expect("the claim runs")
}

async fn find(store: &DieselJobStore, id: JobId) -> Job {
    store.find(id).await.expect("the job loads").expect("the job exists")
}

fn completed(job: &Job, at: DateTime<Utc>) -> AttemptReport {
    AttemptReport {
        id: job.id,
        attempt: job.attempt,
        verdict: Verdict::Completed,
        finished_at: at,
        errors: vec![],
        run: None,
    }
}

fn failed(job: &Job, at: DateTime<Utc>, verdict: Verdict, error: &str) -> AttemptReport {
    let mut errors = job.errors.clone();
    errors.push(AttemptError::new(job.attempt, at, error));
    AttemptReport { id: job.id, attempt: job.attempt, verdict, finished_at: at, errors, run: None }
}

fn owner(name: &str) -> Holder {
    Holder::Owner(name.to_owned())
}

async fn record(store: &DieselJobStore, holder: Holder, reports: Vec<AttemptReport>) -> Vec<JobId> {
    store.record(holder, reports).await.expect("the reports are recorded")
}

fn ids(jobs: &[Job]) -> Vec<JobId> {
    jobs.iter().map(|j| j.id).collect()
}

// ---------------------------------------------------------------------------------------------
// The store contract
// ---------------------------------------------------------------------------------------------

async fn enqueue_claim_complete(db: Database) {
    let store = store(&db);
    let now = t0();
    let id = enqueue_one(&store, job("mail.send", 1).max_attempts(3), now).await;
    let later = enqueue_one(&store, job("mail.send", 2).run_at(now + secs(60)), now).await;

    let stored = find(&store, id).await;
    assert_eq!((stored.state, stored.attempt, stored.max_attempts), (JobState::Available, 0, 3));
    assert_eq!((stored.run_at, stored.created_at), (now, now));
    assert_eq!(stored.args, json!({"n": 1}));
    assert_eq!(find(&store, later).await.state, JobState::Scheduled, "a job for later waits as scheduled");

    let claimed = claim(&store, "instance-a", 10, now + secs(1)).await;
    assert_eq!(ids(&claimed), [id], "the job for later is not due yet");
    let running = &claimed[0];
    assert_eq!((running.state, running.attempt), (JobState::Running, 1));
    assert_eq!(running.lease_owner.as_deref(), Some("instance-a"));
    assert_eq!(running.lease_until, Some(now + secs(31)));
    assert_eq!(running.attempted_at, Some(now + secs(1)));
    assert!(claim(&store, "instance-b", 10, now + secs(2)).await.is_empty(), "a running job is nobody else's");

    let applied = record(&store, owner("instance-a"), vec![completed(running, now + secs(3))]).await;
    assert_eq!(applied, [id]);
    let done = find(&store, id).await;
    assert_eq!((done.state, done.finished_at), (JobState::Completed, Some(now + secs(3))));
    assert_eq!((done.lease_owner, done.lease_until), (None, None), "the lease is gone with the attempt");
    assert!(record(&store, owner("instance-a"), vec![completed(running, now + secs(4))]).await.is_empty());

    // The scheduled one is claimed once its time has come.
    assert_eq!(ids(&claim(&store, "instance-a", 10, now + secs(60)).await), [later]);
}

async fn claim_order_priority_then_run_at_then_id(db: Database) {
    let store = store(&db);
    let now = t0();
    let a = enqueue_one(&store, job("k", 1).run_at(now - secs(5)), now - secs(10)).await;
    let b = enqueue_one(&store, job("k", 2).priority(-1), now).await;
    let c = enqueue_one(&store, job("k", 3), now - secs(20)).await;
    let d = enqueue_one(&store, job("k", 4).priority(5), now - secs(30)).await;
    let e = enqueue_one(&store, job("k", 5), now - secs(20)).await;
    let claimed = claim(&store, "w", 3, now).await;
    assert_eq!(ids(&claimed), [b, c, e], "priority first (lower first), then run_at, then id");
    assert_eq!(ids(&claim(&store, "w", 10, now).await), [a, d]);
}

async fn batch_enqueue_answers_each_job_in_order(db: Database) {
    let store = store(&db);
    let now = t0();
    let taken = enqueue_one(&store, job("k", 0).unique_key("taken"), now).await;
    let results = enqueue(
        &store,
        vec![
            job("k", 1),
            job("k", 2).unique_key("fresh"),
            job("k", 3).unique_key("taken"),
            job("k", 4),
            job("k", 5).unique_key("fresh"),
        ],
        now,
    )
    .await;
    let inserted: Vec<JobId> = results.iter().filter_map(|r| r.id()).collect();
    assert_eq!(inserted.len(), 3);
    assert!(matches!(
        results[..],
        [Enqueued::Inserted(_), Enqueued::Inserted(_), Enqueued::Duplicate, Enqueued::Inserted(_), Enqueued::Duplicate]
    ));
    for (result, n) in results.iter().zip(1..) {
        if let Enqueued::Inserted(id) = result {
            assert_eq!(find(&store, *id).await.args, json!({"n": n}), "each id is its own job's");
        }
    }
    assert_eq!(find(&store, taken).await.args, json!({"n": 0}), "the existing job is untouched");

    // A big batch, as the speed example sends.
    let big: Vec<NewJob> = (0..2_500).map(|n| job("bulk", n)).collect();
    let results = enqueue(&store, big, now).await;
    assert_eq!(results.iter().filter(|r| r.id().is_some()).count(), 2_500);
    let last = results.last().and_then(|r| r.id()).unwrap();
    assert_eq!(find(&store, last).await.args, json!({"n": 2_499}));
}

async fn unique_key_is_free_again_once_the_job_finished(db: Database) {
    let store = store(&db);
    let now = t0();
    let first = enqueue_one(&store, job("k", 1).unique_key("report:7"), now).await;
    assert_eq!(enqueue(&store, vec![job("k", 2).unique_key("report:7")], now).await, [Enqueued::Duplicate]);
    let running = claim(&store, "w", 1, now).await;
    assert_eq!(
        enqueue(&store, vec![job("k", 3).unique_key("report:7")], now).await,
        [Enqueued::Duplicate],
        "a running job still holds its key"
    );
    record(&store, owner("w"), vec![completed(&running[0], now)]).await;
    let second = enqueue_one(&store, job("k", 4).unique_key("report:7"), now).await;
    assert_ne!(first, second);
}

async fn concurrent_enqueues_of_one_key_store_one_job(db: Database) {
    let store = Arc::new(store(&db));
    let now = t0();
    let attempts: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.enqueue(vec![job("k", n).unique_key("once")], now).await })
        })
        .collect();
    let mut results = Vec::new();
    for attempt in attempts {
        results.extend(attempt.await.unwrap().expect("a duplicate is an answer, not an error"));
    }
    assert_eq!(results.iter().filter(|r| matches!(r, Enqueued::Inserted(_))).count(), 1);
    assert_eq!(results.iter().filter(|r| **r == Enqueued::Duplicate).count(), 7);
    assert_eq!(store.counts().await.unwrap().total(), 1);
}

async fn concurrent_claims_never_share_a_job(db: Database) {
    let store = Arc::new(store(&db));
    let now = t0();
    enqueue(&store, (0..200).map(|n| job("k", n)).collect(), now).await;
    let claimers: Vec<_> = (0..4)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store.claim(&format!("w{n}"), 7, now, now + secs(30)).await.unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(ids(&got));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (200, 200), "every job claimed exactly once");
}

async fn failure_retries_with_backoff_then_discards(db: Database) {
    let store = store(&db);
    let now = t0();
    let id = enqueue_one(&store, job("k", 1).max_attempts(2), now).await;
    let first = claim(&store, "w", 1, now).await.remove(0);
    let retry_at = now + secs(2);
    record(&store, owner("w"), vec![failed(&first, now, Verdict::Retry { at: retry_at }, "smtp down")]).await;
    let waiting = find(&store, id).await;
    assert_eq!((waiting.state, waiting.run_at, waiting.finished_at), (JobState::Retryable, retry_at, None));
    assert_eq!(waiting.errors, [AttemptError::new(1, now, "smtp down")]);
    assert!(waiting.lease_owner.is_none());

    assert!(claim(&store, "w", 1, now + secs(1)).await.is_empty(), "not before its backoff");
    let second = claim(&store, "w", 1, retry_at).await.remove(0);
    assert_eq!(second.attempt, 2);
    assert_eq!(second.errors.len(), 1, "a claimed job carries its history");
    record(&store, owner("w"), vec![failed(&second, retry_at, Verdict::Discard, "smtp still down")]).await;
    let dead = find(&store, id).await;
    assert_eq!((dead.state, dead.finished_at), (JobState::Discarded, Some(retry_at)));
    assert_eq!(dead.errors.iter().map(|e| e.attempt).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(dead.errors[1].error, "smtp still down");
}

async fn a_late_report_cannot_clobber_the_new_attempt(db: Database) {
    let store = store(&db);
    let now = t0();
    let id = enqueue_one(&store, job("k", 1), now).await;
    let a = store.claim("instance-a", 1, now, now + secs(5)).await.unwrap().remove(0);

    // Instance A stops renewing; the rescuer finds the lease lapsed and fails the attempt.
    assert!(store.lapsed(now + secs(4), 10).await.unwrap().is_empty(), "not before the lease ends");
    let lapsed = store.lapsed(now + secs(6), 10).await.unwrap();
    assert_eq!(ids(&lapsed), [id]);
    let rescue = failed(&lapsed[0], now + secs(6), Verdict::Retry { at: now + secs(6) }, "lease lapsed");
    let rescued = record(&store, Holder::LapsedBefore(now + secs(6)), vec![rescue.clone()]).await;
    assert_eq!(rescued, [id]);
    assert!(record(&store, Holder::LapsedBefore(now + secs(6)), vec![rescue]).await.is_empty(), "rescued once");

    // Instance B takes the retry; A's late report of attempt 1 changes nothing.
    let b = claim(&store, "instance-b", 1, now + secs(7)).await.remove(0);
    assert_eq!(b.attempt, 2);
    assert!(record(&store, owner("instance-a"), vec![completed(&a, now + secs(8))]).await.is_empty());
    let still = find(&store, id).await;
    assert_eq!((still.state, still.lease_owner.as_deref()), (JobState::Running, Some("instance-b")));
    assert_eq!(record(&store, owner("instance-b"), vec![completed(&b, now + secs(9))]).await, [id]);
    assert_eq!(find(&store, id).await.state, JobState::Completed);
}

async fn renew_extends_only_leases_still_held(db: Database) {
    let store = store(&db);
    let now = t0();
    enqueue(&store, vec![job("k", 1), job("k", 2)], now).await;
    let held = store.claim("instance-a", 2, now, now + secs(5)).await.unwrap();
    let renewed = store.renew("instance-a", ids(&held), now + secs(20)).await.unwrap();
    assert_eq!(renewed.iter().collect::<HashSet<_>>(), ids(&held).iter().collect::<HashSet<_>>());
    assert!(store.renew("instance-b", ids(&held), now + secs(99)).await.unwrap().is_empty(), "not B's leases");
    assert!(store.lapsed(now + secs(10), 10).await.unwrap().is_empty(), "renewed leases have not lapsed");
    assert_eq!(store.lapsed(now + secs(21), 10).await.unwrap().len(), 2);
}

async fn release_puts_jobs_back_at_once(db: Database) {
    let store = store(&db);
    let now = t0();
    enqueue(&store, (0..3).map(|n| job("k", n)).collect(), now).await;
    let held = claim(&store, "instance-a", 3, now).await;
    assert_eq!(store.release("instance-b", ids(&held)).await.unwrap(), 0, "only the holder releases");
    assert_eq!(store.release("instance-a", ids(&held)).await.unwrap(), 3);
    for job in &held {
        let back = find(&store, job.id).await;
        assert_eq!((back.state, back.attempt, back.lease_owner), (JobState::Available, 0, None));
    }
    assert_eq!(claim(&store, "instance-b", 10, now).await.len(), 3, "another instance takes them at once");
}

async fn cancel_and_retry_by_an_admin(db: Database) {
    let store = Arc::new(store(&db));
    let queue = JobQueue::new(store.clone());
    let now = t0();
    let waiting = enqueue_one(&store, job("k", 1).run_at(now + secs(3600)), now).await;
    let cancelled = queue.cancel(waiting).await.expect("a scheduled job can be cancelled");
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert!(cancelled.finished_at.is_some());
    assert!(matches!(queue.cancel(waiting).await, Err(JobsError::WrongState { state: JobState::Cancelled, .. })));
    assert!(matches!(queue.cancel(JobId(999_999)).await, Err(JobsError::NotFound)));

    let again = queue.retry(waiting).await.expect("a cancelled job can be retried");
    assert_eq!((again.state, again.finished_at), (JobState::Available, None));

    // A job that used all its attempts gets one more.
    let dead = enqueue_one(&store, job("k", 2).max_attempts(1), now).await;
    let running = claim(&store, "w", 10, now).await.into_iter().find(|j| j.id == dead).unwrap();
    assert!(matches!(queue.cancel(dead).await, Err(JobsError::WrongState { state: JobState::Running, .. })));
    record(&store, owner("w"), vec![failed(&running, now, Verdict::Discard, "boom")]).await;
    let revived = queue.retry(dead).await.expect("a discarded job can be retried");
    assert_eq!((revived.state, revived.attempt, revived.max_attempts), (JobState::Available, 1, 2));
    assert_eq!(revived.errors.len(), 1, "its history stays");
    assert!(matches!(queue.retry(dead).await, Err(JobsError::WrongState { state: JobState::Available, .. })));
    let rerun = claim(&store, "w", 10, Utc::now() + secs(1)).await;
    assert!(rerun.iter().any(|j| j.id == dead && j.attempt == 2));
}

async fn retry_refuses_to_duplicate_an_active_key(db: Database) {
    let store = Arc::new(store(&db));
    let queue = JobQueue::new(store.clone());
    let now = t0();
    let first = enqueue_one(&store, job("k", 1).unique_key("invoice:9"), now).await;
    queue.cancel(first).await.unwrap();
    let _second = enqueue_one(&store, job("k", 2).unique_key("invoice:9"), now).await;
    assert!(matches!(queue.retry(first).await, Err(JobsError::DuplicateKey)));
    assert_eq!(find(&store, first).await.state, JobState::Cancelled, "nothing changed");
}

async fn list_by_state_and_counts(db: Database) {
    let store = Arc::new(store(&db));
    let queue = JobQueue::new(store.clone());
    let now = t0();
    enqueue(&store, (0..5).map(|n| job("k", n)).collect(), now).await;
    enqueue(&store, vec![job("k", 9).run_at(now + secs(60))], now).await;
    let running = claim(&store, "w", 2, now).await;
    record(&store, owner("w"), vec![completed(&running[0], now)]).await;

    let counts = queue.counts().await.unwrap();
    let by_state: Vec<(JobState, u64)> = counts.iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(
        by_state,
        [(JobState::Available, 3), (JobState::Scheduled, 1), (JobState::Running, 1), (JobState::Completed, 1)]
    );

    let page = queue.list(Some(JobState::Available), PageRequest::new(Some(1), Some(2)).unwrap()).await.unwrap();
    assert_eq!((page.total, page.items.len(), page.pages()), (3, 2, 2));
    assert!(page.items[0].id > page.items[1].id, "newest first");
    assert!(page.items.iter().all(|j| j.state == JobState::Available));
    let page2 = queue.list(Some(JobState::Available), PageRequest::new(Some(2), Some(2)).unwrap()).await.unwrap();
    assert_eq!(page2.items.len(), 1);
    let all = queue.list(None, PageRequest::first()).await.unwrap();
    assert_eq!(all.total, 6);
    let none = queue.list(Some(JobState::Discarded), PageRequest::first()).await.unwrap();
    assert_eq!((none.total, none.pages(), none.items.len()), (0, 0, 0));
}

async fn prune_deletes_old_finished_jobs_in_batches(db: Database) {
    let store = store(&db);
    let old = t0();
    let recent = old + TimeDelta::days(10);
    enqueue(&store, (0..3).map(|n| job("k", n)).collect(), old).await;
    let claimed = claim(&store, "w", 3, old).await;
    record(
        &store,
        owner("w"),
        vec![
            completed(&claimed[0], old),
            failed(&claimed[1], old, Verdict::Discard, "x"),
            completed(&claimed[2], recent),
        ],
    )
    .await;
    let waiting = enqueue_one(&store, job("k", 9), old).await;
    let cancelled = enqueue_one(&store, job("k", 10), old).await;
    store.cancel(cancelled, old).await.unwrap();

    let cutoff = old + TimeDelta::days(7);
    assert_eq!(store.prune(cutoff, 2).await.unwrap(), 2, "bounded by the batch size");
    assert_eq!(store.prune(cutoff, 2).await.unwrap(), 1);
    assert_eq!(store.prune(cutoff, 2).await.unwrap(), 0);
    let left: HashSet<JobId> =
        store.list(None, PageRequest::first()).await.unwrap().items.iter().map(|j| j.id).collect();
    assert_eq!(left, HashSet::from([claimed[2].id, waiting]), "recent and unfinished jobs stay");
}

fn firing(schedule: &str, slot: DateTime<Utc>) -> SlotFiring {
    SlotFiring {
        schedule: schedule.to_owned(),
        slot,
        job: NewJob::new("report.daily", json!({})).unique_key(ScheduleSlot::unique_key(schedule, slot)),
        at: slot + secs(1),
    }
}

async fn a_slot_fires_once_however_many_try(db: Database) {
    let store = Arc::new(store(&db));
    let slot = Utc.with_ymd_and_hms(2026, 3, 4, 7, 0, 0).unwrap();
    let tries: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.fire(firing("daily-report", slot)).await })
        })
        .collect();
    let mut fired = Vec::new();
    for attempt in tries {
        if let Some(id) = attempt.await.unwrap().expect("firing an already fired slot is an answer") {
            fired.push(id);
        }
    }
    assert_eq!(fired.len(), 1, "exactly one instance fires the slot");
    let job = find(&store, fired[0]).await;
    assert_eq!(job.unique_key.as_deref(), Some("schedule:daily-report:2026-03-04T07:00:00Z"));
    assert_eq!(store.fire(firing("daily-report", slot)).await.unwrap(), None, "not even later");

    // Even after the job finished: the slot stays fired.
    let running = claim(&store, "w", 1, slot + secs(2)).await;
    record(&store, owner("w"), vec![completed(&running[0], slot + secs(3))]).await;
    assert_eq!(store.fire(firing("daily-report", slot)).await.unwrap(), None);

    let next = slot + TimeDelta::days(1);
    assert!(store.fire(firing("daily-report", next)).await.unwrap().is_some());
    assert!(store.fire(firing("cleanup", slot)).await.unwrap().is_some(), "slots are per schedule");
    let mut last = store.last_slots().await.unwrap();
    last.sort();
    assert_eq!(last, [("cleanup".to_owned(), slot), ("daily-report".to_owned(), next)]);
    let runs = store.runs(Some("daily-report".to_owned()), PageRequest::first()).await.unwrap();
    assert_eq!(runs.total, 2);
    assert_eq!(runs.items.iter().map(|r| r.slot).collect::<Vec<_>>(), [next, slot], "latest first");
    assert_eq!(runs.items[1].job_id, Some(fired[0]));
}

async fn a_scheduled_jobs_run_is_logged(db: Database) {
    let store = store(&db);
    let slot = Utc.with_ymd_and_hms(2026, 3, 4, 7, 0, 0).unwrap();
    let id = store.fire(firing("daily-report", slot)).await.unwrap().expect("fired");
    let before = store.runs(None, PageRequest::first()).await.unwrap().items.remove(0);
    assert_eq!((before.job_id, before.outcome, before.started_at), (Some(id), None, None), "not run yet");

    let running = claim(&store, "w", 1, slot + secs(2)).await.remove(0);
    let run = |outcome, error: Option<&str>| RunReport {
        started_at: slot + secs(2),
        finished_at: slot + secs(3),
        outcome,
        duration_ms: 1_000,
        items_affected: (outcome == RunOutcome::Ok).then_some(42),
        error: error.map(str::to_owned),
        note: None,
    };
    let mut failure = failed(&running, slot + secs(3), Verdict::Retry { at: slot + secs(5) }, "smtp down");
    failure.run = Some(run(RunOutcome::Failed, Some("smtp down")));
    record(&store, owner("w"), vec![failure]).await;
    let after_failure = store.runs(None, PageRequest::first()).await.unwrap().items.remove(0);
    assert_eq!((after_failure.outcome, after_failure.error.as_deref()), (Some(RunOutcome::Failed), Some("smtp down")));

    let retried = claim(&store, "w", 1, slot + secs(5)).await.remove(0);
    let mut success = completed(&retried, slot + secs(3));
    success.run = Some(run(RunOutcome::Ok, None));
    record(&store, owner("w"), vec![success]).await;
    let logged = store.runs(None, PageRequest::first()).await.unwrap().items.remove(0);
    assert_eq!(logged.outcome, Some(RunOutcome::Ok), "the entry shows the latest attempt");
    assert_eq!((logged.items_affected, logged.duration_ms, logged.error), (Some(42), Some(1_000), None));
    assert_eq!((logged.started_at, logged.finished_at), (Some(slot + secs(2)), Some(slot + secs(3))));
}

/// Waits (at most 10 s) until `signal` changes.
async fn woken(signal: &mut tokio::sync::watch::Receiver<()>) -> bool {
    tokio::time::timeout(Duration::from_secs(10), signal.changed()).await.is_ok_and(|r| r.is_ok())
}

async fn inserts_wake_subscribers(db: Database) {
    let here = store(&db);
    let mut signal = here.subscribe();
    enqueue(&here, vec![job("k", 1)], t0()).await;
    assert!(woken(&mut signal).await, "an insert through this store wakes its runtimes");
    if db.backend() == Backend::Postgres {
        // Another instance (its own store) inserting wakes this one too, through NOTIFY. The
        // listener starts on a pooled connection after the subscription: a NOTIFY sent before its
        // `LISTEN` is not delivered (the workers' polling covers that moment), so the other
        // instance inserts again until one arrives.
        let elsewhere = DieselJobStore::new(db.clone());
        let mut arrived = false;
        for n in 2..12 {
            enqueue(&elsewhere, vec![job("k", n)], t0()).await;
            if tokio::time::timeout(Duration::from_secs(1), signal.changed()).await.is_ok_and(|r| r.is_ok()) {
                arrived = true;
                break;
            }
        }
        assert!(arrived, "a NOTIFY from another instance wakes this one");
    }
}

// ---------------------------------------------------------------------------------------------
// The runtime against the real store
// ---------------------------------------------------------------------------------------------

/// A pool big enough for a runtime or two (the listener holds one connection on PostgreSQL).
fn pool(t: &TestDatabase) -> Database {
    let options = PoolOptions { max_size: 12, ..PoolOptions::default_for(t.backend()) };
    let db = Database::connect(t.url(), options).expect("the test database opens");
    db.migrate().expect("migrations apply");
    db
}

/// Settings for tests: fast polling, a short lease and rescue interval.
fn config(instance: &str, workers: usize) -> RuntimeConfig {
    RuntimeConfig {
        instance: instance.to_owned(),
        poll_interval: Duration::from_millis(50),
        lease: Duration::from_secs(2),
        rescue_interval: Duration::from_millis(200),
        ..RuntimeConfig::new(workers)
    }
}

fn start(db: &Database, handlers: Handlers, config: RuntimeConfig) -> JobRuntime {
    JobRuntime::builder(Arc::new(DieselJobStore::new(db.clone())), handlers)
        .config(config)
        .start()
        .expect("the runtime starts")
}

/// Polls `check` until it holds, for at most 30 s (a bound for a stuck test, not a timing claim).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn count_in(store: &DieselJobStore, state: JobState) -> u64 {
    store.counts().await.expect("counts load").of(state)
}

async fn runtime_runs_dispatches_and_records(t: &TestDatabase) {
    let db = pool(t);
    let store = DieselJobStore::new(db.clone());
    let handlers = Handlers::new()
        .register(
            "sum",
            handler_fn(|job: Job| async move { Ok(JobOutcome::affected(job.args["n"].as_u64().unwrap_or(0))) }),
        )
        .unwrap()
        .register("bad-args", handler_fn(|_| async { Err(JobFailure::permanent("args must name a user")) }))
        .unwrap()
        .register_with(
            "flaky",
            handler_fn(|job: Job| async move {
                if job.attempt < 2 { Err(JobFailure::new("try again")) } else { Ok(JobOutcome::done()) }
            }),
            HandlerOptions::default().retry(workbench_jobs::RetryPolicy {
                base: Duration::from_millis(10),
                max: Duration::from_millis(50),
                jitter: 0.0,
            }),
        )
        .unwrap();
    let runtime = start(&db, handlers, config("solo", 4));
    let now = workbench_jobs::now();
    let ids: Vec<JobId> =
        enqueue(&store, vec![job("sum", 3), job("bad-args", 0), job("flaky", 0), job("nobody", 0)], now)
            .await
            .into_iter()
            .filter_map(Enqueued::id)
            .collect();
    eventually("every job finished", || async {
        count_in(&store, JobState::Completed).await + count_in(&store, JobState::Discarded).await == 4
    })
    .await;
    let [sum, bad, flaky, unknown] = [ids[0], ids[1], ids[2], ids[3]];
    assert_eq!(find(&store, sum).await.state, JobState::Completed);
    let bad = find(&store, bad).await;
    assert_eq!((bad.state, bad.attempt), (JobState::Discarded, 1), "a permanent failure is not retried");
    assert_eq!(bad.errors[0].error, "args must name a user");
    let flaky = find(&store, flaky).await;
    assert_eq!((flaky.state, flaky.attempt, flaky.errors.len()), (JobState::Completed, 2, 1));
    let unknown = find(&store, unknown).await;
    assert_eq!(unknown.state, JobState::Discarded);
    assert_eq!(unknown.errors[0].error, "no handler is registered for job kind \"nobody\"");
    let report = runtime.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.released, 0);
}

/// Counts how often each job ran.
#[derive(Default)]
struct Tally(Mutex<HashMap<JobId, u32>>);

#[async_trait::async_trait]
impl JobHandler for Tally {
    async fn run(&self, job: &Job) -> Result<JobOutcome, JobFailure> {
        *self.0.lock().unwrap().entry(job.id).or_default() += 1;
        tokio::task::yield_now().await;
        Ok(JobOutcome::done())
    }
}

async fn two_runtimes_complete_each_job_exactly_once(t: &TestDatabase) {
    let (db_a, db_b) = (pool(t), pool(t));
    let tally = Arc::new(Tally::default());
    let handlers = || Handlers::new().register("count", tally.clone()).unwrap();
    let a = start(&db_a, handlers(), RuntimeConfig { local_queue: 20, ..config("instance-a", 8) });
    let b = start(&db_b, handlers(), RuntimeConfig { local_queue: 20, ..config("instance-b", 8) });
    let store = DieselJobStore::new(db_a.clone());
    let total = 600;
    for chunk in (0..total).collect::<Vec<i64>>().chunks(100) {
        enqueue(&store, chunk.iter().map(|n| job("count", *n)).collect(), workbench_jobs::now()).await;
    }
    eventually("every job completed", || async { count_in(&store, JobState::Completed).await == total as u64 }).await;
    a.shutdown(Duration::from_secs(5)).await;
    b.shutdown(Duration::from_secs(5)).await;
    let runs = tally.0.lock().unwrap().clone();
    assert_eq!(runs.len(), total as usize, "every job ran");
    assert!(runs.values().all(|n| *n == 1), "no job ran twice");
    let by = store.list(Some(JobState::Completed), PageRequest::new(Some(1), Some(100)).unwrap()).await.unwrap();
    assert!(by.items.iter().all(|j| j.attempt == 1 && j.lease_owner.is_none()));
}

/// A handler that never finishes, as a worker frozen mid-job; counts the jobs it started.
#[derive(Default)]
struct Hangs(std::sync::atomic::AtomicUsize);

impl Hangs {
    fn started(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl JobHandler for Hangs {
    async fn run(&self, _job: &Job) -> Result<JobOutcome, JobFailure> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::future::pending().await
    }
}

async fn kill_dash_nine_loses_nothing(t: &TestDatabase) {
    let (db_a, db_b) = (pool(t), pool(t));
    let store = DieselJobStore::new(db_a.clone());
    let hangs = Arc::new(Hangs::default());
    let crashing = start(&db_a, Handlers::new().register("work", hangs.clone()).unwrap(), config("doomed", 5));
    let ids: Vec<JobId> = enqueue(&store, (0..5).map(|n| job("work", n)).collect(), workbench_jobs::now())
        .await
        .into_iter()
        .filter_map(Enqueued::id)
        .collect();
    eventually("the doomed instance runs every job", || async { hangs.started() == 5 }).await;
    // `kill -9`: every task stops where it is; nothing is released or recorded.
    drop(crashing);
    assert_eq!(count_in(&store, JobState::Running).await, 5, "the crash left its jobs running");

    let survivor = start(
        &db_b,
        Handlers::new().register("work", handler_fn(|_| async { Ok(JobOutcome::done()) })).unwrap(),
        config("survivor", 5),
    );
    eventually("the survivor finished every job", || async { count_in(&store, JobState::Completed).await == 5 }).await;
    for id in ids {
        let job = find(&store, id).await;
        assert_eq!(job.attempt, 2, "the crashed attempt counts");
        assert!(job.errors[0].error.contains("lease held by doomed lapsed"), "{:?}", job.errors);
    }
    survivor.shutdown(Duration::from_secs(5)).await;
}

/// A handler that finishes when the test says so, counting the jobs it started.
struct Gate(tokio::sync::Semaphore, std::sync::atomic::AtomicUsize);

#[async_trait::async_trait]
impl JobHandler for Gate {
    async fn run(&self, _job: &Job) -> Result<JobOutcome, JobFailure> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let permit = self.0.acquire().await.map_err(|e| JobFailure::new(e.to_string()))?;
        permit.forget();
        Ok(JobOutcome::done())
    }
}

async fn graceful_shutdown_finishes_running_jobs_and_releases_the_rest(t: &TestDatabase) {
    let db = pool(t);
    let store = DieselJobStore::new(db.clone());
    let gate = Arc::new(Gate(tokio::sync::Semaphore::new(0), 0.into()));
    let runtime = start(
        &db,
        Handlers::new().register("gated", gate.clone()).unwrap(),
        RuntimeConfig { local_queue: 10, ..config("leaving", 1) },
    );
    enqueue(&store, (0..10).map(|n| job("gated", n)).collect(), workbench_jobs::now()).await;
    eventually("the instance holds every job", || async { count_in(&store, JobState::Running).await == 10 }).await;
    eventually("its worker started one", || async { gate.1.load(std::sync::atomic::Ordering::SeqCst) == 1 }).await;
    // The one running job finishes during the grace period, once the shutdown has begun (polled
    // first, it stops the workers from starting anything else).
    let (report, ()) = tokio::join!(biased; runtime.shutdown(Duration::from_secs(20)), async { gate.0.add_permits(1) });
    assert_eq!(report, workbench_jobs::ShutdownReport { interrupted: 0, released: 9 });
    assert_eq!(count_in(&store, JobState::Completed).await, 1);
    let back = store.list(Some(JobState::Available), PageRequest::first()).await.unwrap();
    assert_eq!(back.total, 9, "the jobs it had not started are available to others at once");
    assert!(back.items.iter().all(|j| j.attempt == 0 && j.lease_owner.is_none()));
}

async fn shutdown_past_its_grace_period_releases_interrupted_jobs(t: &TestDatabase) {
    let db = pool(t);
    let store = DieselJobStore::new(db.clone());
    let hangs = Arc::new(Hangs::default());
    let runtime = start(
        &db,
        Handlers::new().register("work", hangs.clone()).unwrap(),
        RuntimeConfig { local_queue: 4, ..config("impatient", 2) },
    );
    enqueue(&store, (0..4).map(|n| job("work", n)).collect(), workbench_jobs::now()).await;
    eventually("the instance holds every job", || async { count_in(&store, JobState::Running).await == 4 }).await;
    eventually("both workers are busy", || async { hangs.started() == 2 }).await;
    let report = runtime.shutdown(Duration::from_millis(300)).await;
    assert_eq!(report, workbench_jobs::ShutdownReport { interrupted: 2, released: 4 });
    assert_eq!(count_in(&store, JobState::Available).await, 4);

    // Another instance takes them at once (no lease to wait for).
    let next = start(
        &db,
        Handlers::new().register("work", handler_fn(|_| async { Ok(JobOutcome::done()) })).unwrap(),
        config("next", 2),
    );
    eventually("the next instance finished them", || async { count_in(&store, JobState::Completed).await == 4 }).await;
    next.shutdown(Duration::from_secs(5)).await;
}

async fn two_schedulers_fire_each_slot_once(t: &TestDatabase) {
    let (db_a, db_b) = (pool(t), pool(t));
    let store = DieselJobStore::new(db_a.clone());
    let every_second = Schedule::parse(ScheduleSpec {
        name: "tick".to_owned(),
        cron: "* * * * * *".to_owned(),
        kind: "tick".to_owned(),
        args: json!({}),
        enabled: true,
    })
    .unwrap();
    let switched_off = Schedule::parse(ScheduleSpec {
        name: "off".to_owned(),
        cron: "* * * * * *".to_owned(),
        kind: "tick".to_owned(),
        args: json!({}),
        enabled: false,
    })
    .unwrap();
    let handlers = || Handlers::new().register("tick", handler_fn(|_| async { Ok(JobOutcome::affected(2)) })).unwrap();
    let scheduling = |instance: &str| RuntimeConfig {
        schedules: vec![every_second.clone(), switched_off.clone()],
        ..config(instance, 2)
    };
    let a = start(&db_a, handlers(), scheduling("instance-a"));
    let b = start(&db_b, handlers(), scheduling("instance-b"));
    eventually("three slots ran", || async {
        let runs = store.runs(None, PageRequest::first()).await.unwrap();
        runs.items.iter().filter(|r| r.outcome == Some(RunOutcome::Ok)).count() >= 3
    })
    .await;
    a.shutdown(Duration::from_secs(5)).await;
    b.shutdown(Duration::from_secs(5)).await;

    let runs = store.runs(None, PageRequest::new(Some(1), Some(100)).unwrap()).await.unwrap();
    assert!(runs.items.iter().all(|r| r.schedule == "tick"), "a switched-off schedule never fires");
    let slots: HashSet<DateTime<Utc>> = runs.items.iter().map(|r| r.slot).collect();
    assert_eq!(slots.len(), runs.items.len(), "each slot is logged once");
    let jobs = store.list(None, PageRequest::new(Some(1), Some(100)).unwrap()).await.unwrap();
    assert_eq!(jobs.total, runs.total, "one job per slot, whichever instance fired it");
    let keys: HashSet<Option<String>> = jobs.items.iter().map(|j| j.unique_key.clone()).collect();
    assert_eq!(keys.len(), jobs.items.len());
    for run in runs.items.iter().filter(|r| r.outcome.is_some()) {
        assert_eq!((run.outcome, run.items_affected), (Some(RunOutcome::Ok), Some(2)));
        assert!(run.job_id.is_some() && run.started_at.is_some() && run.duration_ms.is_some());
    }
}
