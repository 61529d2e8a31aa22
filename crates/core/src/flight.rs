//! Single flight: concurrent identical requests in this process share one piece of work (one
//! provider call) instead of each starting their own.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

type Flights<V> = Arc<Mutex<HashMap<String, Shared<BoxFuture<'static, V>>>>>;

/// The runs under way, by key.
pub struct SingleFlight<V: Clone> {
    flights: Flights<V>,
}

impl<V: Clone> std::fmt::Debug for SingleFlight<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let under_way = self.flights.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("SingleFlight").field("under_way", &under_way).finish()
    }
}

impl<V: Clone + Send + Sync + 'static> Default for SingleFlight<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Clone + Send + Sync + 'static> SingleFlight<V> {
    /// No run under way yet.
    pub fn new() -> Self {
        Self { flights: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// The result of the run under way for `key`, or of `work` started as that run.
    ///
    /// `work` runs on a task of its own, so that it completes (and whatever it stores is stored)
    /// even when every request waiting for it goes away; `lost` is the result if it panics. The
    /// key is free again once the run has ended, so `work` should leave behind what later
    /// requests need (a cached answer) before it returns.
    pub async fn run<F>(&self, key: &str, work: F, lost: V) -> V
    where
        F: Future<Output = V> + Send + 'static,
    {
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
            match flights.get(key) {
                Some(flight) => flight.clone(),
                None => {
                    let landing = Landing { flights: Arc::clone(&self.flights), key: key.to_owned() };
                    let task = tokio::spawn(async move {
                        // Dropped when the work ends, panicking or not, freeing the key.
                        let _landing = landing;
                        work.await
                    });
                    let flight = task.map(move |joined| joined.unwrap_or(lost)).boxed().shared();
                    // The task cannot free the key before it is taken: freeing needs this lock.
                    flights.insert(key.to_owned(), flight.clone());
                    flight
                }
            }
        };
        flight.await
    }
}

/// Frees a key when its run ends.
struct Landing<V: Clone> {
    flights: Flights<V>,
    key: String,
}

impl<V: Clone> Drop for Landing<V> {
    fn drop(&mut self) {
        self.flights.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Notify;

    use super::*;

    #[tokio::test]
    async fn waiters_share_the_run_and_the_key_is_free_afterwards() {
        let flight = Arc::new(SingleFlight::<usize>::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(Notify::new());
        let mut waiters = Vec::new();
        for _ in 0..5 {
            let (flight, runs, release) = (Arc::clone(&flight), Arc::clone(&runs), Arc::clone(&release));
            waiters.push(tokio::spawn(async move {
                let work = async move {
                    release.notified().await;
                    runs.fetch_add(1, Ordering::SeqCst) + 1
                };
                flight.run("k", work, 0).await
            }));
        }
        while flight.flights.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        release.notify_one();
        for waiter in waiters {
            assert_eq!(waiter.await.unwrap(), 1);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(flight.flights.lock().unwrap().is_empty(), "the key is free once the run ended");
        assert_eq!(flight.run("k", async { 7 }, 0).await, 7, "a later run starts afresh");
    }

    #[tokio::test]
    async fn a_panicking_run_gives_the_lost_value_and_frees_the_key() {
        let flight = SingleFlight::<u8>::new();
        let work = async { std::hint::black_box(None::<u8>).expect("this run panics on purpose") };
        assert_eq!(flight.run("k", work, 9).await, 9);
        assert_eq!(flight.run("k", async { 1 }, 9).await, 1);
    }
}
