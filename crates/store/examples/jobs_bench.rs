//! The job queue's speed, on the same work as the graphile-worker anchor
//! (`shared/anchors/gw-bench.js`), so the two can be compared in one window:
//!
//! - `insert-batch`: 100,000 no-op jobs enqueued in batches of 1,000;
//! - `insert-single`: 10,000 jobs enqueued one at a time, one in flight;
//! - `burn`: 100,000 no-op jobs worked off by one runtime with 24 workers and a local queue of
//!   500 (graphile-worker's batched preset: `concurrentJobs: 24`, `localQueue: {size: 500}`).
//!
//! ```text
//! cargo run --release -p workbench-store --example jobs_bench -- <postgres-url|sqlite-path> [insert-batch|insert-single|burn]... [--reps N]
//! ```
//!
//! A PostgreSQL URL names the server; each measurement gets a fresh database
//! `workbench_jobs_bench` (dropped at the end). A SQLite path gets a fresh file per measurement.
//! Each measurement prints one JSON line: the rate (`value`), for burns also the conservative rate
//! (first job started to every result recorded), and the cores used meanwhile by this process,
//! by PostgreSQL and by everything else (`otherCores`: more than ~0.15 means a busy machine).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::{Connection, PgConnection, RunQueryDsl};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_jobs::{
    AttemptOutcome, AttemptReport, Enqueued, Handlers, Holder, Job, JobCounts, JobFailure, JobHandler, JobId,
    JobOutcome, JobQueue, JobRuntime, JobState, JobStore, JobsObserver, NewJob, RuntimeConfig, ScheduleRun, SlotFiring,
};
use workbench_store::{Backend, Database, DieselJobStore, PoolOptions};

const DB_NAME: &str = "workbench_jobs_bench";
const INSERT_N: usize = 100_000;
const INSERT_BATCH: usize = 1_000;
const SINGLE_N: usize = 10_000;
const BURN_N: usize = 100_000;
const WORKERS: usize = 24;
const LOCAL_QUEUE: usize = 500;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let target = args.next().ok_or("usage: jobs_bench <postgres-url|sqlite-path> [what]... [--reps N]")?;
    let mut what = Vec::new();
    let mut reps = 1;
    while let Some(arg) = args.next() {
        if arg == "--reps" {
            reps = args.next().ok_or("--reps needs a number")?.parse()?;
        } else {
            what.push(arg);
        }
    }
    if what.is_empty() {
        what = vec!["insert-batch".to_owned(), "insert-single".to_owned(), "burn".to_owned()];
    }
    let target = Target::new(&target);
    for _ in 0..reps {
        for measurement in &what {
            let line = match measurement.as_str() {
                "insert-batch" => insert_batch(&target).await?,
                "insert-single" => insert_single(&target).await?,
                "burn" => burn(&target).await?,
                other => return Err(format!("unknown measurement {other:?}").into()),
            };
            print_line(&line);
        }
    }
    target.drop_database()?;
    Ok(())
}

#[expect(clippy::print_stdout, reason = "the measurements are this program's output")]
fn print_line(line: &serde_json::Value) {
    println!("{line}");
}

/// Where the measurements run: a PostgreSQL server or a SQLite file.
struct Target {
    url: String,
    backend: Backend,
}

impl Target {
    fn new(url: &str) -> Self {
        Self { url: url.to_owned(), backend: Backend::from_url(url) }
    }

    /// A fresh, migrated database.
    fn fresh(&self) -> Result<Database, Error> {
        let url = match self.backend {
            Backend::Postgres => {
                let mut admin = PgConnection::establish(&self.url)?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")).execute(&mut admin)?;
                diesel::sql_query(format!("CREATE DATABASE {DB_NAME}")).execute(&mut admin)?;
                with_database(&self.url, DB_NAME)
            }
            Backend::Sqlite => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", self.url));
                }
                self.url.clone()
            }
        };
        let options = PoolOptions { max_size: 16, ..PoolOptions::default_for(self.backend) };
        let db = Database::connect(&url, options)?;
        db.migrate()?;
        Ok(db)
    }

    fn drop_database(&self) -> Result<(), Error> {
        if self.backend == Backend::Postgres {
            let mut admin = PgConnection::establish(&self.url)?;
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")).execute(&mut admin)?;
        }
        Ok(())
    }
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = base[authority..].find('/').map_or(base, |slash| &base[..authority + slash]);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

fn noop(i: usize) -> NewJob {
    NewJob::new("noop", serde_json::json!({ "id": i }))
}

fn queue(db: &Database) -> JobQueue {
    JobQueue::new(Arc::new(DieselJobStore::new(db.clone())))
}

async fn completed(db: &Database) -> Result<u64, Error> {
    Ok(queue(db).counts().await?.of(JobState::Completed))
}

async fn total(db: &Database) -> Result<u64, Error> {
    Ok(queue(db).counts().await?.total())
}

async fn insert_batch(target: &Target) -> Result<serde_json::Value, Error> {
    let db = target.fresh()?;
    let queue = queue(&db);
    let jobs: Vec<NewJob> = (0..INSERT_N).map(noop).collect();
    let cpu = Cpu::start();
    let started = Instant::now();
    for batch in jobs.chunks(INSERT_BATCH) {
        queue.enqueue_many(batch.to_vec()).await?;
    }
    let elapsed = started.elapsed();
    let cores = cpu.stop();
    let count = total(&db).await?;
    Ok(serde_json::json!({
        "label": format!("insert-{}-batch{INSERT_BATCH}", target.backend.as_str()),
        "value": rate(INSERT_N, elapsed), "unit": "jobs/s inserted", "n": INSERT_N, "chunk": INSERT_BATCH,
        "ms": ms(elapsed), "count": count, "otherCores": cores.other, "cores": cores.json(),
    }))
}

async fn insert_single(target: &Target) -> Result<serde_json::Value, Error> {
    let db = target.fresh()?;
    let queue = queue(&db);
    let cpu = Cpu::start();
    let started = Instant::now();
    for i in 0..SINGLE_N {
        queue.enqueue(noop(i)).await?;
    }
    let elapsed = started.elapsed();
    let cores = cpu.stop();
    let count = total(&db).await?;
    Ok(serde_json::json!({
        "label": format!("insert-{}-single", target.backend.as_str()),
        "value": rate(SINGLE_N, elapsed), "unit": "jobs/s inserted", "n": SINGLE_N, "ms": ms(elapsed),
        "count": count, "otherCores": cores.other, "cores": cores.json(),
    }))
}

/// When the no-op jobs started and finished, in nanoseconds since `base` (0: not yet).
struct Timing {
    base: Instant,
    first_start: AtomicU64,
    first_done: AtomicU64,
    last_done: AtomicU64,
    done: AtomicU64,
}

impl Timing {
    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX).max(1)
    }
}

struct Noop(Arc<Timing>);

#[async_trait::async_trait]
impl JobHandler for Noop {
    async fn run(&self, _job: &Job) -> Result<JobOutcome, JobFailure> {
        if self.0.first_start.load(Ordering::Relaxed) == 0 {
            let _ = self.0.first_start.compare_exchange(0, self.0.now(), Ordering::Relaxed, Ordering::Relaxed);
        }
        Ok(JobOutcome::done())
    }
}

struct Observer(Arc<Timing>);

impl JobsObserver for Observer {
    fn attempt_finished(&self, _kind: &str, _outcome: AttemptOutcome, _duration: Duration) {
        let now = self.0.now();
        let _ = self.0.first_done.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        self.0.last_done.fetch_max(now, Ordering::Relaxed);
        self.0.done.fetch_add(1, Ordering::Relaxed);
    }
    fn jobs_rescued(&self, _count: usize) {}
    fn schedule_fired(&self, _schedule: &str) {}
}

/// Calls, rows and wall time of a store operation, for `"store"` in the burn's output.
#[derive(Default)]
struct Calls {
    calls: AtomicU64,
    rows: AtomicU64,
    nanos: AtomicU64,
}

impl Calls {
    fn add(&self, rows: usize, started: Instant) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(rows as u64, Ordering::Relaxed);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn json(&self) -> serde_json::Value {
        let calls = self.calls.load(Ordering::Relaxed).max(1) as f64;
        let ms = self.nanos.load(Ordering::Relaxed) as f64 / 1e6;
        serde_json::json!({
            "calls": self.calls.load(Ordering::Relaxed),
            "rowsPerCall": (self.rows.load(Ordering::Relaxed) as f64 / calls).round(),
            "msPerCall": (ms / calls * 100.0).round() / 100.0,
            "busyMs": ms.round(),
        })
    }
}

/// The store, timing the two statements a burn-down consists of: claims and recordings.
struct Timed {
    inner: DieselJobStore,
    claim: Calls,
    record: Calls,
}

#[async_trait::async_trait]
impl JobStore for Timed {
    async fn enqueue(&self, jobs: Vec<NewJob>, now: DateTime<Utc>) -> Result<Vec<Enqueued>, RepositoryError> {
        self.inner.enqueue(jobs, now).await
    }
    async fn claim(
        &self,
        owner: &str,
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Job>, RepositoryError> {
        let started = Instant::now();
        let jobs = self.inner.claim(owner, limit, now, lease_until).await?;
        self.claim.add(jobs.len(), started);
        Ok(jobs)
    }
    async fn renew(&self, owner: &str, ids: Vec<JobId>, until: DateTime<Utc>) -> Result<Vec<JobId>, RepositoryError> {
        self.inner.renew(owner, ids, until).await
    }
    async fn record(&self, holder: Holder, reports: Vec<AttemptReport>) -> Result<Vec<JobId>, RepositoryError> {
        let started = Instant::now();
        let applied = self.inner.record(holder, reports).await?;
        self.record.add(applied.len(), started);
        Ok(applied)
    }
    async fn release(&self, owner: &str, ids: Vec<JobId>) -> Result<u64, RepositoryError> {
        self.inner.release(owner, ids).await
    }
    async fn lapsed(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Job>, RepositoryError> {
        self.inner.lapsed(now, limit).await
    }
    async fn prune(&self, before: DateTime<Utc>, limit: usize) -> Result<u64, RepositoryError> {
        self.inner.prune(before, limit).await
    }
    async fn find(&self, id: JobId) -> Result<Option<Job>, RepositoryError> {
        self.inner.find(id).await
    }
    async fn list(&self, state: Option<JobState>, page: PageRequest) -> Result<Page<Job>, RepositoryError> {
        self.inner.list(state, page).await
    }
    async fn counts(&self) -> Result<JobCounts, RepositoryError> {
        self.inner.counts().await
    }
    async fn retry(&self, id: JobId, now: DateTime<Utc>) -> Result<Option<Job>, RepositoryError> {
        self.inner.retry(id, now).await
    }
    async fn cancel(&self, id: JobId, now: DateTime<Utc>) -> Result<Option<Job>, RepositoryError> {
        self.inner.cancel(id, now).await
    }
    async fn fire(&self, firing: SlotFiring) -> Result<Option<JobId>, RepositoryError> {
        self.inner.fire(firing).await
    }
    async fn last_slots(&self) -> Result<Vec<(String, DateTime<Utc>)>, RepositoryError> {
        self.inner.last_slots().await
    }
    async fn runs(&self, schedule: Option<String>, page: PageRequest) -> Result<Page<ScheduleRun>, RepositoryError> {
        self.inner.runs(schedule, page).await
    }
    fn subscribe(&self) -> tokio::sync::watch::Receiver<()> {
        self.inner.subscribe()
    }
}

async fn burn(target: &Target) -> Result<serde_json::Value, Error> {
    let db = target.fresh()?;
    let queue = queue(&db);
    let jobs: Vec<NewJob> = (0..BURN_N).map(noop).collect();
    for batch in jobs.chunks(10_000) {
        queue.enqueue_many(batch.to_vec()).await?;
    }
    let timing = Arc::new(Timing {
        base: Instant::now(),
        first_start: AtomicU64::new(0),
        first_done: AtomicU64::new(0),
        last_done: AtomicU64::new(0),
        done: AtomicU64::new(0),
    });
    let handlers = Handlers::new().register("noop", Arc::new(Noop(timing.clone())))?;
    let config = RuntimeConfig { local_queue: LOCAL_QUEUE, retention: None, ..RuntimeConfig::new(WORKERS) };
    let cpu = Cpu::start();
    let store =
        Arc::new(Timed { inner: DieselJobStore::new(db.clone()), claim: Calls::default(), record: Calls::default() });
    let runtime = JobRuntime::builder(store.clone(), handlers)
        .config(config)
        .observer(Arc::new(Observer(timing.clone())))
        .start()?;
    while timing.done.load(Ordering::Relaxed) < BURN_N as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Every result recorded: the shutdown waits for the last batch to be written.
    let report = runtime.shutdown(Duration::from_secs(30)).await;
    let recorded = timing.now();
    let cores = cpu.stop();
    let done = completed(&db).await?;
    if done != BURN_N as u64 || report.released != 0 {
        return Err(format!("queue not drained: completed={done} released={}", report.released).into());
    }
    let nanos = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let span = nanos(&timing.last_done).saturating_sub(nanos(&timing.first_done));
    let whole = recorded.saturating_sub(nanos(&timing.first_start));
    Ok(serde_json::json!({
        "label": format!("burn-{}-1proc", target.backend.as_str()),
        "value": ((BURN_N - 1) as f64 / (span as f64 / 1e9)).round(), "unit": "jobs/s",
        "conservative": (BURN_N as f64 / (whole as f64 / 1e9)).round(),
        "workers": WORKERS, "localQueue": LOCAL_QUEUE, "done": done, "spanMs": span as f64 / 1e6,
        "startupMs": nanos(&timing.first_start) as f64 / 1e6,
        "otherCores": cores.other, "cores": cores.json(),
        "store": { "claim": store.claim.json(), "record": store.record.json() },
        "cpuUsPerJob": { "bench": cores.bench_sec / BURN_N as f64 * 1e6, "postgres": cores.postgres_sec / BURN_N as f64 * 1e6 },
    }))
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    (n as f64 / elapsed.as_secs_f64()).round()
}

fn ms(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 1e4).round() / 10.0
}

/// CPU accounting from /proc, as `shared/anchors/cpustat.js` does it: this process, every
/// `postgres` process, and the whole machine (so the rest is "other").
struct Cpu {
    wall: Instant,
    system: f64,
    postgres: f64,
    own: f64,
}

struct Cores {
    bench: f64,
    postgres: f64,
    other: f64,
    bench_sec: f64,
    postgres_sec: f64,
}

impl Cores {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({ "bench": self.bench, "postgres": self.postgres, "other": self.other })
    }
}

const HZ: f64 = 100.0;

impl Cpu {
    fn start() -> Self {
        Self { wall: Instant::now(), system: system_busy(), postgres: family("postgres"), own: own() }
    }

    fn stop(self) -> Cores {
        let wall = self.wall.elapsed().as_secs_f64();
        let own = own() - self.own;
        let postgres = family("postgres") - self.postgres;
        let system = system_busy() - self.system;
        let round = |x: f64| (x / wall * 100.0).round() / 100.0;
        Cores {
            bench: round(own),
            postgres: round(postgres),
            other: round(system - own - postgres),
            bench_sec: own,
            postgres_sec: postgres,
        }
    }
}

fn system_busy() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<f64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
    [0, 1, 2, 5, 6, 7].iter().filter_map(|i| fields.get(*i)).sum::<f64>() / HZ
}

/// utime + stime + cutime + cstime of a /proc/<pid>/stat line.
fn stat_seconds(stat: &str) -> Option<(String, f64)> {
    let comm = stat.get(stat.find('(')? + 1..stat.rfind(')')?)?.to_owned();
    let rest: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let ticks: f64 = (11..=14).filter_map(|i| rest.get(i)?.parse::<f64>().ok()).sum();
    Some((comm, ticks / HZ))
}

fn own() -> f64 {
    std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| stat_seconds(&s)).map_or(0.0, |(_, s)| s)
}

fn family(name: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0.0 };
    dir.filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|s| stat_seconds(&s))
        .filter(|(comm, _)| comm == name)
        .map(|(_, seconds)| seconds)
        .sum()
}
