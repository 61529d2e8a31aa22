//! The runtime: a bounded pool of workers fed by a local queue of claimed jobs, a recorder that
//! writes their results in batches, the heartbeat that keeps their leases, the rescuer, the
//! scheduler and the pruner.
//!
//! ```text
//!  store ──claim (batch)──► fetcher ──local queue──► N workers ──reports──► recorder ──record (batch)──► store
//!    ▲  LISTEN/NOTIFY or poll ─┘                        │
//!    └──────────── heartbeat renews the leases of everything claimed and not yet recorded
//! ```
//!
//! Claiming and recording in batches is what makes the queue fast: one statement claims up to
//! half the local queue, and one records every result that came in while the previous write
//! was under way (graphile-worker's "local queue" and batched completion, in spirit).
//!
//! [`JobRuntime::shutdown`] stops claiming, lets running jobs finish within the grace period,
//! records their results, and releases everything else so that another instance takes it at
//! once. Dropping a runtime instead aborts its tasks where they stand, like a crash: its jobs
//! stay `running` until their leases lapse and a rescuer (of any instance) retries them.

mod maintenance;
mod worker;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::{Clock, Handlers, JobId, JobStore, JobsError, JobsObserver, NoObserver, Schedule, SystemClock};

/// How the runtime behaves. [`RuntimeConfig::new`] gives production defaults.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Jobs run at once (`JOB_WORKERS`). 0 runs no jobs, but still the scheduler, rescuer and
    /// pruner: an instance that only serves HTTP.
    pub workers: usize,
    /// Jobs claimed ahead of the workers. A claim takes up to this many when the queue is
    /// half empty; bigger means fewer, larger claims.
    pub local_queue: usize,
    /// How long a claim holds a job without renewal; renewed every third of it.
    pub lease: Duration,
    /// How often to look for jobs when no notification came (always, on SQLite).
    pub poll_interval: Duration,
    /// How often to look for jobs whose lease lapsed.
    pub rescue_interval: Duration,
    /// How long finished jobs (and schedule runs) are kept; `None` keeps them forever.
    pub retention: Option<Duration>,
    /// How often to prune.
    pub prune_interval: Duration,
    /// This instance's name on the leases it takes; unique per runtime.
    pub instance: String,
    /// The schedules this runtime fires. Every instance may fire the same ones.
    pub schedules: Vec<Schedule>,
}

impl RuntimeConfig {
    /// `workers` concurrent jobs, a local queue of twice that (at least 16), a 30 s lease, 1 s
    /// polling, a rescue pass every 15 s, a week's retention pruned hourly, no schedules.
    pub fn new(workers: usize) -> Self {
        Self {
            workers,
            local_queue: (workers * 2).max(16),
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            rescue_interval: Duration::from_secs(15),
            retention: Some(Duration::from_secs(7 * 24 * 3600)),
            prune_interval: Duration::from_secs(3600),
            instance: default_instance(),
            schedules: Vec::new(),
        }
    }

    fn check(&self, handlers: &Handlers) -> Result<(), JobsError> {
        let positive = [
            ("lease", self.lease),
            ("poll_interval", self.poll_interval),
            ("rescue_interval", self.rescue_interval),
            ("prune_interval", self.prune_interval),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, d)| d.is_zero()) {
            return Err(JobsError::Configuration(format!("{name} must be longer than zero")));
        }
        if self.instance.is_empty() || self.instance.chars().count() > 128 {
            return Err(JobsError::Configuration("instance must be 1 to 128 characters".to_owned()));
        }
        if self.workers > 0 && self.local_queue == 0 {
            return Err(JobsError::Configuration("local_queue must be at least 1".to_owned()));
        }
        let mut names = HashSet::new();
        for schedule in &self.schedules {
            if !names.insert(schedule.name()) {
                return Err(JobsError::Configuration(format!("schedule {:?} is configured twice", schedule.name())));
            }
            // A schedule whose jobs nobody runs would fill the queue with discarded jobs; only a
            // runtime with workers can tell, since a 0-worker instance runs no handlers at all.
            if self.workers > 0 && schedule.enabled() && handlers.get(schedule.kind()).is_none() {
                return Err(JobsError::Configuration(format!(
                    "schedule {:?} enqueues {:?}, which has no handler",
                    schedule.name(),
                    schedule.kind()
                )));
            }
        }
        Ok(())
    }
}

/// How long a shutdown waits for the last results to be written, at least.
const RECORD_GRACE: Duration = Duration::from_secs(5);

/// `{host}-{pid}-{random}`: readable in the admin view, unique across restarts.
fn default_instance() -> String {
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "workbench".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &random[..8])
}

/// What a graceful shutdown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShutdownReport {
    /// Jobs still running when the grace period ended; stopped, and released.
    pub interrupted: usize,
    /// Jobs put back for another instance (claimed but not started, and interrupted ones).
    pub released: u64,
}

/// Waits for `task` until `deadline`, then aborts it; whether it ended by itself.
async fn finish_by(deadline: Instant, mut task: JoinHandle<()>) -> bool {
    if tokio::time::timeout_at(deadline, &mut task).await.is_ok() {
        return true;
    }
    task.abort();
    let _ = task.await;
    false
}

/// Everything the runtime's tasks share.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn JobStore>,
    pub(crate) handlers: Handlers,
    pub(crate) observer: Arc<dyn JobsObserver>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: RuntimeConfig,
    /// Jobs claimed and not yet recorded: the heartbeat renews their leases; a shutdown
    /// releases those still here once the workers and recorder are done.
    in_flight: Mutex<HashSet<JobId>>,
}

impl Shared {
    pub(crate) fn owner(&self) -> &str {
        &self.config.instance
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<JobId>> {
        // The set stays consistent whatever panicked while holding it (inserts and removes only).
        self.in_flight.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn track(&self, ids: impl IntoIterator<Item = JobId>) {
        self.in_flight().extend(ids);
    }

    pub(crate) fn untrack(&self, ids: impl IntoIterator<Item = JobId>) {
        let mut set = self.in_flight();
        for id in ids {
            set.remove(&id);
        }
    }

    pub(crate) fn tracked(&self) -> Vec<JobId> {
        self.in_flight().iter().copied().collect()
    }
}

#[cfg(test)]
impl Shared {
    pub(crate) fn for_test(
        store: Arc<dyn JobStore>,
        handlers: Handlers,
        observer: Arc<dyn JobsObserver>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let config = RuntimeConfig { instance: "test-instance".to_owned(), ..RuntimeConfig::new(2) };
        Self { store, handlers, observer, clock, config, in_flight: Mutex::new(HashSet::new()) }
    }
}

/// Assembles a [`JobRuntime`].
pub struct JobRuntimeBuilder {
    store: Arc<dyn JobStore>,
    handlers: Handlers,
    observer: Arc<dyn JobsObserver>,
    clock: Arc<dyn Clock>,
    config: RuntimeConfig,
}

impl std::fmt::Debug for JobRuntimeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRuntimeBuilder").field("handlers", &self.handlers).field("config", &self.config).finish()
    }
}

impl JobRuntimeBuilder {
    /// Replaces the default [`RuntimeConfig::new`]`(8)`.
    pub fn config(mut self, config: RuntimeConfig) -> Self {
        self.config = config;
        self
    }

    /// Where durations, outcomes, rescues and firings are reported (the app's Prometheus
    /// metrics); [`NoObserver`] by default.
    pub fn observer(mut self, observer: Arc<dyn JobsObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// The clock deciding what is due; [`SystemClock`] by default.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration and starts every task on the current Tokio runtime.
    pub fn start(self) -> Result<JobRuntime, JobsError> {
        self.config.check(&self.handlers)?;
        let config = self.config;
        let workers = config.workers;
        let shared = Arc::new(Shared {
            store: self.store,
            handlers: self.handlers,
            observer: self.observer,
            clock: self.clock,
            config,
            in_flight: Mutex::new(HashSet::new()),
        });
        // `stop`: no more claims, no more job starts, no more firing, rescuing or pruning.
        // `halt`: the end, once the running jobs are recorded (the heartbeat keeps their
        // leases until then).
        let (stop, stop_rx) = watch::channel(false);
        let (halt, halt_rx) = watch::channel(false);
        let mut tasks = Tasks::default();

        let (job_tx, job_rx) = mpsc::channel(shared.config.local_queue.max(1));
        let job_rx = Arc::new(tokio::sync::Mutex::new(job_rx));
        if workers > 0 {
            let (report_tx, report_rx) = mpsc::unbounded_channel();
            tasks.fetcher = Some(tokio::spawn(worker::fetch(shared.clone(), job_tx, stop_rx.clone())));
            for _ in 0..workers {
                tasks.workers.push(tokio::spawn(worker::work(
                    shared.clone(),
                    job_rx.clone(),
                    report_tx.clone(),
                    stop_rx.clone(),
                )));
            }
            tasks.recorder = Some(tokio::spawn(worker::record(shared.clone(), report_rx)));
            tasks.closing.push(tokio::spawn(worker::heartbeat(shared.clone(), halt_rx)));
        }
        tasks.background.push(tokio::spawn(maintenance::rescue(shared.clone(), stop_rx.clone())));
        if shared.config.retention.is_some() {
            tasks.background.push(tokio::spawn(maintenance::prune(shared.clone(), stop_rx.clone())));
        }
        if shared.config.schedules.iter().any(Schedule::enabled) {
            tasks.background.push(tokio::spawn(maintenance::schedule(shared.clone(), stop_rx)));
        }
        tracing::info!(instance = shared.owner(), workers, "job runtime started");
        Ok(JobRuntime { shared, stop, halt, tasks, job_rx })
    }
}

/// The task handles of a runtime; whatever is left when it is dropped is aborted.
#[derive(Default)]
struct Tasks {
    fetcher: Option<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
    recorder: Option<JoinHandle<()>>,
    /// Stopped with `stop`.
    background: Vec<JoinHandle<()>>,
    /// Stopped with `halt`.
    closing: Vec<JoinHandle<()>>,
}

impl Drop for Tasks {
    fn drop(&mut self) {
        let all = self.fetcher.iter().chain(&self.workers).chain(&self.recorder).chain(&self.background);
        for task in all.chain(&self.closing) {
            task.abort();
        }
    }
}

/// A running job runtime. Stop it with [`JobRuntime::shutdown`]; dropping it aborts every task
/// without releasing anything (as a crash would).
pub struct JobRuntime {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    halt: watch::Sender<bool>,
    tasks: Tasks,
    job_rx: Arc<tokio::sync::Mutex<mpsc::Receiver<crate::Job>>>,
}

impl std::fmt::Debug for JobRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRuntime").field("instance", &self.shared.owner()).finish_non_exhaustive()
    }
}

impl JobRuntime {
    /// A runtime running `handlers` on the jobs in `store`, with [`RuntimeConfig::new`]`(8)`,
    /// no observer and the system clock unless the builder says otherwise.
    pub fn builder(store: Arc<dyn JobStore>, handlers: Handlers) -> JobRuntimeBuilder {
        JobRuntimeBuilder {
            store,
            handlers,
            observer: Arc::new(NoObserver),
            clock: Arc::new(SystemClock),
            config: RuntimeConfig::new(8),
        }
    }

    /// The name on this runtime's leases.
    pub fn instance(&self) -> &str {
        self.shared.owner()
    }

    /// Stops gracefully: no more claims, no new job starts; running jobs get until `grace` to
    /// finish (`SHUTDOWN_TIMEOUT`) and are stopped after it; every result is recorded; then
    /// every job still held (claimed but not started, or stopped) is released to `available` so
    /// that another instance takes it at once.
    pub async fn shutdown(mut self, grace: Duration) -> ShutdownReport {
        let deadline = Instant::now() + grace;
        self.stop.send_replace(true);
        // Each of these stops at its next await once told; one stuck in a database call is cut
        // off at the deadline.
        for task in self.tasks.fetcher.take().into_iter().chain(self.tasks.background.drain(..)) {
            let _ = finish_by(deadline, task).await;
        }
        let mut interrupted = 0;
        for task in self.tasks.workers.drain(..) {
            if !finish_by(deadline, task).await {
                interrupted += 1;
            }
        }
        // Every worker is gone, and with them the report senders: the recorder writes what is
        // left and ends. It gets a few seconds even when the grace period is spent, since every
        // result it writes is a job that will not run again; one it cannot write (the database
        // is gone) is released below or, failing that, rescued later.
        if let Some(recorder) = self.tasks.recorder.take() {
            let _ = finish_by(deadline.max(Instant::now() + RECORD_GRACE), recorder).await;
        }
        // Jobs claimed but never started are still in the local queue; drop them there. They are
        // in the in-flight set with the interrupted ones, and released together.
        {
            let mut queue = self.job_rx.lock().await;
            queue.close();
            while queue.try_recv().is_ok() {}
        }
        let released = self.release_held().await;
        self.halt.send_replace(true);
        for task in self.tasks.closing.drain(..) {
            let _ = task.await;
        }
        tracing::info!(instance = self.shared.owner(), interrupted, released, "job runtime stopped");
        ShutdownReport { interrupted, released }
    }

    async fn release_held(&self) -> u64 {
        let held = self.shared.tracked();
        if held.is_empty() {
            return 0;
        }
        for attempt in 1..=3 {
            match self.shared.store.release(self.shared.owner(), held.clone()).await {
                Ok(released) => {
                    self.shared.untrack(held);
                    return released;
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "could not release jobs at shutdown; their leases will lapse");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        0
    }
}
