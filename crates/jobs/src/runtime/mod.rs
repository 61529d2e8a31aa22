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

mod config;
mod maintenance;
mod shared;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use config::RuntimeConfig;
use shared::Shared;

use crate::{Clock, Handlers, JobStore, JobsError, JobsObserver, NoObserver, Schedule, SystemClock};

/// How long a shutdown waits for the last results to be written, at least.
const RECORD_GRACE: Duration = Duration::from_secs(5);

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
        let shared = Arc::new(Shared::new(self.store, self.handlers, self.observer, self.clock, config));
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
