//! The durable job queue of Workbench.
//!
//! A job is a row: a `kind` (the name its handler is registered under), JSON `args`, a priority
//! (lower runs first), a run time, attempts and the error of each failed one, and an optional
//! unique key. Rows survive restarts; the [`JobStore`] port says what a store must guarantee
//! (atomic claims, insert-or-nothing deduplication, conditional completion under a lease) and
//! `workbench-store` implements it on PostgreSQL and SQLite.
//!
//! - [`JobQueue`]: what the application uses to enqueue jobs and to serve the admin view
//!   (list, retry, cancel, queue depth, the schedules' run log).
//! - [`JobRuntime`]: the worker pool (`JOB_WORKERS`), fed in batches and woken by the store's
//!   signal (PostgreSQL `LISTEN/NOTIFY`) or by polling; the heartbeat that renews leases; the
//!   rescuer that retries jobs whose worker died (`kill -9` loses nothing); the scheduler that
//!   fires each cron slot once across instances; the pruner; graceful shutdown.
//! - [`Handlers`]: [`JobHandler`]s by kind, each with a timeout and a [`RetryPolicy`].
//! - [`Schedule`]: a cron expression (croner) that enqueues a kind with fixed args.
//! - [`JobsObserver`]: what `/metrics` hears (durations and outcomes per kind).
//!
//! Delivery is at least once: a handler may run again after a crash, so handlers are written
//! to be repeatable.

#![warn(missing_docs)]

mod error;
mod handler;
mod kind;
mod model;
mod ports;
mod queue;
mod retry;
mod runtime;
mod schedule;

pub use error::JobsError;
pub use handler::{FnHandler, HandlerOptions, Handlers, JobFailure, JobHandler, JobOutcome, handler_fn};
pub use kind::KIND_MAX_LEN;
pub use model::{
    AttemptError, AttemptReport, DEFAULT_MAX_ATTEMPTS, ERROR_MAX_LEN, Enqueued, Holder, Job, JobCounts, JobId,
    JobState, MAX_ATTEMPTS_LIMIT, NewJob, UNIQUE_KEY_MAX_LEN, Verdict, now,
};
pub use ports::{AttemptOutcome, Clock, JobStore, JobsObserver, NoObserver, SystemClock};
pub use queue::JobQueue;
pub use retry::{RetryPolicy, after_failure};
pub use runtime::{JobRuntime, JobRuntimeBuilder, RuntimeConfig, ShutdownReport};
pub use schedule::{
    RunOutcome, RunReport, Schedule, ScheduleInfo, ScheduleRun, ScheduleSlot, ScheduleSpec, SlotFiring,
};

#[cfg(feature = "mock")]
pub use handler::MockJobHandler;
#[cfg(feature = "mock")]
pub use ports::{MockClock, MockJobStore, MockJobsObserver};
