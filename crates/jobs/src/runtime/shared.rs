//! What the runtime's tasks share: the ports, the configuration, and the jobs in flight.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use super::config::RuntimeConfig;
use crate::{Clock, Handlers, JobId, JobStore, JobsObserver};

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
    pub(super) fn new(
        store: Arc<dyn JobStore>,
        handlers: Handlers,
        observer: Arc<dyn JobsObserver>,
        clock: Arc<dyn Clock>,
        config: RuntimeConfig,
    ) -> Self {
        Self { store, handlers, observer, clock, config, in_flight: Mutex::new(HashSet::new()) }
    }

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
        Self::new(store, handlers, observer, clock, config)
    }
}
