//! How a runtime is configured, and the checks it passes before anything starts.

use std::collections::HashSet;
use std::time::Duration;

use crate::{Handlers, JobsError, Schedule};

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

    pub(super) fn check(&self, handlers: &Handlers) -> Result<(), JobsError> {
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

/// `{host}-{pid}-{random}`: readable in the admin view, unique across restarts.
fn default_instance() -> String {
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "workbench".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &random[..8])
}
