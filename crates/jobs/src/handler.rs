//! Handlers: the code that runs a job of a given kind, and the registry the runtime dispatches by.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::kind::check_kind;
use crate::{Job, JobsError, RetryPolicy};

/// What a successful job reports. Written to the schedule's run log for scheduled jobs, and
/// logged for every job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobOutcome {
    /// How many things the job changed (rows purged, users disabled, e-mails sent).
    pub items_affected: Option<u64>,
    /// A line for the run log ("no SMTP_URL; not sent").
    pub note: Option<String>,
    /// The job decided there was nothing it could do (a missing setting, say): it is completed,
    /// and its run is logged as `skipped` rather than `ok`.
    pub skipped: bool,
}

impl JobOutcome {
    /// Done, nothing to report.
    pub fn done() -> Self {
        Self::default()
    }

    /// Done, having changed `n` things.
    pub fn affected(n: u64) -> Self {
        Self { items_affected: Some(n), ..Self::default() }
    }

    /// Nothing done, on purpose, for `reason`.
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self { items_affected: None, note: Some(reason.into()), skipped: true }
    }

    /// The outcome with a line for the run log.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// Why a job failed. A plain failure is retried with backoff; a [`JobFailure::permanent`] one
/// (bad arguments, a target that is gone) is discarded at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// What went wrong, kept on the job as its attempt's error.
    pub message: String,
    /// Whether no retry can fix it: the job is discarded at once.
    pub permanent: bool,
}

impl JobFailure {
    /// A failure worth retrying.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), permanent: false }
    }

    /// A failure no retry can fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self { message: message.into(), permanent: true }
    }
}

impl fmt::Display for JobFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Any error becomes a retryable failure carrying its message and causes, so that a handler can
/// use `?`.
impl<E: std::error::Error + Send + Sync + 'static> From<E> for JobFailure {
    fn from(e: E) -> Self {
        let mut message = e.to_string();
        let mut source = e.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        JobFailure::new(message)
    }
}

/// Runs the jobs of one kind.
///
/// An implementation MUST be safe to run more than once for the same job: a job whose worker
/// died after doing the work but before recording it runs again (at-least-once delivery). It
/// SHOULD be cancel-safe at its `.await` points: a run that exceeds its timeout, or outlives a
/// shutdown's grace period, is dropped there.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// Does the job's work. `Ok` completes it; `Err` fails this attempt.
    async fn run(&self, job: &Job) -> Result<JobOutcome, JobFailure>;
}

/// A handler made of a closure taking the job by value, for small handlers and tests.
pub struct FnHandler<F>(F);

impl<F> fmt::Debug for FnHandler<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnHandler")
    }
}

/// Wraps `f` as a [`JobHandler`].
pub fn handler_fn<F, Fut>(f: F) -> Arc<dyn JobHandler>
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<JobOutcome, JobFailure>> + Send + 'static,
{
    Arc::new(FnHandler(f))
}

#[async_trait]
impl<F, Fut> JobHandler for FnHandler<F>
where
    F: Fn(Job) -> Fut + Send + Sync,
    Fut: Future<Output = Result<JobOutcome, JobFailure>> + Send,
{
    async fn run(&self, job: &Job) -> Result<JobOutcome, JobFailure> {
        (self.0)(job.clone()).await
    }
}

/// How the runtime treats the jobs of one kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HandlerOptions {
    /// An attempt running longer than this is stopped and counts as failed (and retried).
    pub timeout: Duration,
    /// How long to wait before each retry.
    pub retry: RetryPolicy,
}

impl Default for HandlerOptions {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(300), retry: RetryPolicy::default() }
    }
}

impl HandlerOptions {
    /// The longest an attempt may run.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The backoff between attempts.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// A registered handler with its options.
#[derive(Clone)]
pub(crate) struct Registered {
    pub(crate) handler: Arc<dyn JobHandler>,
    pub(crate) options: HandlerOptions,
}

/// The handlers a runtime dispatches to, by job kind. A job whose kind has no handler is
/// discarded with an error saying so.
#[derive(Clone, Default)]
pub struct Handlers {
    by_kind: HashMap<String, Registered>,
}

impl fmt::Debug for Handlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kinds: Vec<&str> = self.by_kind.keys().map(String::as_str).collect();
        kinds.sort_unstable();
        f.debug_struct("Handlers").field("kinds", &kinds).finish()
    }
}

impl Handlers {
    /// No handlers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for `kind` with default options.
    pub fn register(self, kind: &str, handler: Arc<dyn JobHandler>) -> Result<Self, JobsError> {
        self.register_with(kind, handler, HandlerOptions::default())
    }

    /// Registers `handler` for `kind`. Fails on an invalid kind or a kind registered twice: both
    /// are wiring mistakes that must not pass silently.
    pub fn register_with(
        mut self,
        kind: &str,
        handler: Arc<dyn JobHandler>,
        options: HandlerOptions,
    ) -> Result<Self, JobsError> {
        check_kind(kind).map_err(|why| JobsError::Configuration(format!("job kind {kind:?} {why}")))?;
        if self.by_kind.contains_key(kind) {
            return Err(JobsError::Configuration(format!("job kind {kind:?} is registered twice")));
        }
        self.by_kind.insert(kind.to_owned(), Registered { handler, options });
        Ok(self)
    }

    pub(crate) fn get(&self, kind: &str) -> Option<&Registered> {
        self.by_kind.get(kind)
    }

    /// The kinds with a handler.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.by_kind.keys().map(String::as_str)
    }
}
