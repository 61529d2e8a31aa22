//! The listener census of one instance alone (no Redis): its own counts are everyone's.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use crate::ports::ListenerCensus;

/// Counts kept in process.
#[derive(Debug, Default)]
pub struct LocalCensus {
    stations: Mutex<HashMap<String, (u64, bool)>>,
}

#[async_trait]
impl ListenerCensus for LocalCensus {
    fn report(&self, slug: &str, listeners: u64, live: bool) {
        let mut stations = self.stations.lock().unwrap_or_else(PoisonError::into_inner);
        if listeners == 0 && !live {
            stations.remove(slug);
        } else {
            stations.insert(slug.to_owned(), (listeners, live));
        }
    }

    async fn count(&self, slug: &str) -> (u64, bool) {
        self.stations.lock().unwrap_or_else(PoisonError::into_inner).get(slug).copied().unwrap_or_default()
    }
}
