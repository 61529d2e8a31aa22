//! The relay: one instance at a time (a lease in the outbox) reads the outbox in id order, hands
//! each batch to every publisher, and removes what all of them took.
//!
//! A publisher that fails does not hold the others back for the events it already has in hand:
//! the relay remembers, per publisher, which events it took, so a retry after a failure goes only
//! to the publishers that have not taken them yet. That memory is lost with the process, which is
//! why publishers are idempotent per event id. While a publisher keeps failing, its events stay in
//! the outbox (nothing is lost) and the relay backs off.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::{EventId, EventPublisher, Outbox, OutboxEvent, RelayObserver};

/// How the relay behaves. [`RelayConfig::default`] gives production values.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// This instance's name on the lease.
    pub holder: String,
    /// How long the lease lasts without renewal; renewed when less than half is left. When the
    /// holder dies, another instance takes over within this.
    pub lease: Duration,
    /// How often the holder looks at the outbox when it was empty.
    pub poll_interval: Duration,
    /// How often an instance without the lease tries to take it.
    pub standby_interval: Duration,
    /// Events read per batch.
    pub batch: usize,
    /// The longest pause after failures.
    pub max_backoff: Duration,
    /// Rung by this process's writers once a change and its event committed: the relay then
    /// looks at once instead of at its next poll (events written by other instances wait for it).
    pub wake: Option<Arc<Notify>>,
    /// While events keep coming, rounds start at least this far apart: a ring that arrives
    /// sooner after a round that found events waits out the rest. Each round costs a
    /// read, a removal and a subscription lookup; measured at 1,900 task writes/s, a round per
    /// ring carried 2.7 events and the relay sent more statements than the requests did. An
    /// event written while the relay is idle still goes out at once.
    pub min_round: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            holder: format!("relay-{}", uuid::Uuid::new_v4().simple()),
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(200),
            standby_interval: Duration::from_secs(2),
            batch: 500,
            max_backoff: Duration::from_secs(30),
            wake: None,
            min_round: Duration::from_millis(5),
        }
    }
}

/// A running relay. Stop it with [`Relay::shutdown`]; dropping it aborts it (the lease then lapses).
#[derive(Debug)]
pub struct Relay {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

struct State {
    outbox: Arc<dyn Outbox>,
    publishers: Vec<Arc<dyn EventPublisher>>,
    observer: Arc<dyn RelayObserver>,
    config: RelayConfig,
    /// Per publisher, the events it took that are still in the outbox.
    taken: Vec<HashSet<EventId>>,
    /// Until when this instance holds the lease, if it does.
    held_until: Option<DateTime<Utc>>,
    failures: u32,
    /// How many events the last round read.
    last_read: usize,
}

impl Relay {
    /// Starts relaying from `outbox` to `publishers` on the current Tokio runtime.
    pub fn start(
        outbox: Arc<dyn Outbox>,
        publishers: Vec<Arc<dyn EventPublisher>>,
        observer: Arc<dyn RelayObserver>,
        config: RelayConfig,
    ) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let taken = publishers.iter().map(|_| HashSet::new()).collect();
        let state = State { outbox, publishers, observer, config, taken, held_until: None, failures: 0, last_read: 0 };
        let task = tokio::spawn(run(state, stop_rx));
        Self { stop, task: Some(task) }
    }

    /// Stops after the batch in hand and gives the lease up.
    pub async fn shutdown(mut self, grace: Duration) {
        self.stop.send_replace(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(grace, &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn run(mut state: State, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            break;
        }
        let started = tokio::time::Instant::now();
        let wait = state.step().await;
        // Only an idle holder listens: one backing off after failures, or standing by while
        // another instance relays, keeps its pace whatever is written.
        let listening = state.held_until.is_some() && state.failures == 0;
        let bell = state.config.wake.clone().filter(|_| listening);
        let rung = async {
            match &bell {
                Some(bell) => bell.notified().await,
                None => std::future::pending().await,
            }
        };
        let rung_early = tokio::select! {
            _ = tokio::time::sleep(wait) => false,
            () = rung => state.last_read > 0,
            _ = stop.changed() => false,
        };
        if rung_early {
            tokio::select! {
                _ = tokio::time::sleep_until(started + state.config.min_round) => {}
                _ = stop.changed() => {}
            }
        }
    }
    if state.held_until.is_some()
        && let Err(e) = state.outbox.release(&state.config.holder).await
    {
        tracing::warn!(error = %e, "could not give up the outbox relay lease; it will lapse");
    }
}

impl State {
    /// One round; returns how long to wait before the next.
    async fn step(&mut self) -> Duration {
        if !self.hold_lease().await {
            return self.config.standby_interval;
        }
        self.last_read = 0;
        let events = match self.outbox.pending(self.config.batch).await {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the outbox");
                return self.backoff();
            }
        };
        if events.is_empty() {
            return self.config.poll_interval;
        }
        self.last_read = events.len();
        let full = events.len() >= self.config.batch;
        let failed = self.publish(&events).await;
        if failed {
            return self.backoff();
        }
        self.failures = 0;
        // A full batch suggests more is waiting: go on at once.
        if full { Duration::ZERO } else { self.config.poll_interval }
    }

    /// Takes the lease, or renews it when less than half is left; whether this instance holds it.
    async fn hold_lease(&mut self) -> bool {
        let now = workbench_core::now();
        let lease = TimeDelta::from_std(self.config.lease).unwrap_or(TimeDelta::seconds(30));
        if let Some(until) = self.held_until
            && until - now > lease / 2
        {
            return true;
        }
        let until = now + lease;
        match self.outbox.acquire(&self.config.holder, now, until).await {
            Ok(true) => {
                if self.held_until.is_none() {
                    tracing::info!(holder = self.config.holder, "this instance relays the outbox");
                }
                self.held_until = Some(until);
                true
            }
            Ok(false) => {
                if self.held_until.take().is_some() {
                    tracing::warn!("the outbox relay lease went to another instance");
                }
                // What this instance remembers may be stale once another relay worked.
                self.taken.iter_mut().for_each(HashSet::clear);
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not take the outbox relay lease");
                // Only keep relaying while the lease we know of still runs.
                self.held_until.is_some_and(|until| until > now)
            }
        }
    }

    /// Hands `events` to each publisher that has not taken them, then removes what all took.
    /// Returns whether a publisher failed.
    async fn publish(&mut self, events: &[OutboxEvent]) -> bool {
        let mut failed = false;
        for (i, publisher) in self.publishers.iter().enumerate() {
            let todo: Vec<OutboxEvent> = events.iter().filter(|e| !self.taken[i].contains(&e.id)).cloned().collect();
            if todo.is_empty() {
                continue;
            }
            match publisher.publish(&todo).await {
                Ok(()) => {
                    self.observer.published(publisher.name(), todo.len());
                    self.taken[i].extend(todo.iter().map(|e| e.id));
                }
                Err(e) => {
                    failed = true;
                    self.observer.publish_failed(publisher.name());
                    tracing::warn!(publisher = publisher.name(), error = %e, events = todo.len(),
                        "could not publish events; they stay in the outbox");
                }
            }
        }
        let done: Vec<EventId> =
            events.iter().map(|e| e.id).filter(|id| self.taken.iter().all(|taken| taken.contains(id))).collect();
        if !done.is_empty() {
            match self.outbox.remove(done.clone()).await {
                Ok(()) => {
                    for taken in &mut self.taken {
                        for id in &done {
                            taken.remove(id);
                        }
                    }
                }
                // Published but still there: they go out again (same ids) after the next read.
                Err(e) => {
                    tracing::warn!(error = %e, "could not remove published events from the outbox");
                    failed = true;
                }
            }
        }
        failed
    }

    fn backoff(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let delay = Duration::from_millis(250).saturating_mul(1 << self.failures.min(10));
        delay.min(self.config.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use workbench_core::RepositoryError;
    use workbench_users::UserId;

    use super::*;
    use crate::{NoRelayObserver, PublishError};

    /// An outbox in memory, with a lease.
    #[derive(Default)]
    struct MemoryOutbox {
        events: Mutex<Vec<OutboxEvent>>,
        holder: Mutex<Option<(String, DateTime<Utc>)>>,
        /// How many times the relay read it.
        reads: std::sync::atomic::AtomicUsize,
    }

    #[async_trait]
    impl Outbox for MemoryOutbox {
        async fn acquire(
            &self,
            holder: &str,
            now: DateTime<Utc>,
            until: DateTime<Utc>,
        ) -> Result<bool, RepositoryError> {
            let mut current = self.holder.lock().unwrap();
            match &*current {
                Some((h, lease)) if h != holder && *lease > now => Ok(false),
                _ => {
                    *current = Some((holder.to_owned(), until));
                    Ok(true)
                }
            }
        }
        async fn release(&self, holder: &str) -> Result<(), RepositoryError> {
            let mut current = self.holder.lock().unwrap();
            if current.as_ref().is_some_and(|(h, _)| h == holder) {
                *current = None;
            }
            Ok(())
        }
        async fn pending(&self, limit: usize) -> Result<Vec<OutboxEvent>, RepositoryError> {
            self.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(self.events.lock().unwrap().iter().take(limit).cloned().collect())
        }
        async fn remove(&self, ids: Vec<EventId>) -> Result<(), RepositoryError> {
            self.events.lock().unwrap().retain(|e| !ids.contains(&e.id));
            Ok(())
        }
    }

    /// Records what it is given; fails the first `failures` calls.
    struct Recorder {
        name: &'static str,
        seen: Mutex<Vec<i64>>,
        failures: Mutex<u32>,
    }

    impl Recorder {
        fn new(name: &'static str, failures: u32) -> Arc<Self> {
            Arc::new(Self { name, seen: Mutex::new(Vec::new()), failures: Mutex::new(failures) })
        }
    }

    #[async_trait]
    impl EventPublisher for Recorder {
        fn name(&self) -> &'static str {
            self.name
        }
        async fn publish(&self, events: &[OutboxEvent]) -> Result<(), PublishError> {
            let mut failures = self.failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(PublishError(anyhow::anyhow!("down")));
            }
            self.seen.lock().unwrap().extend(events.iter().map(|e| e.id.0));
            Ok(())
        }
    }

    fn event(id: i64) -> OutboxEvent {
        OutboxEvent {
            id: EventId(id),
            name: "task.created".into(),
            subject_id: id,
            audience: vec![UserId(1)],
            payload: serde_json::value::to_raw_value(&serde_json::json!({"id": id})).unwrap(),
            occurred_at: workbench_core::now(),
        }
    }

    fn state(outbox: Arc<MemoryOutbox>, publishers: Vec<Arc<dyn EventPublisher>>, holder: &str) -> State {
        let taken = publishers.iter().map(|_| HashSet::new()).collect();
        State {
            outbox,
            publishers,
            observer: Arc::new(NoRelayObserver),
            config: RelayConfig { holder: holder.into(), ..RelayConfig::default() },
            taken,
            held_until: None,
            failures: 0,
            last_read: 0,
        }
    }

    #[tokio::test]
    async fn every_publisher_gets_each_event_once_and_the_outbox_empties() {
        let outbox = Arc::new(MemoryOutbox::default());
        outbox.events.lock().unwrap().extend([event(1), event(2)]);
        let (a, b) = (Recorder::new("a", 0), Recorder::new("b", 0));
        let mut relay = state(outbox.clone(), vec![a.clone(), b.clone()], "one");
        relay.step().await;
        relay.step().await;
        assert_eq!(*a.seen.lock().unwrap(), [1, 2]);
        assert_eq!(*b.seen.lock().unwrap(), [1, 2]);
        assert!(outbox.events.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_failing_publisher_keeps_the_events_and_only_it_gets_them_again() {
        let outbox = Arc::new(MemoryOutbox::default());
        outbox.events.lock().unwrap().push(event(1));
        let (ok, flaky) = (Recorder::new("ok", 0), Recorder::new("flaky", 1));
        let mut relay = state(outbox.clone(), vec![ok.clone(), flaky.clone()], "one");
        relay.step().await;
        assert_eq!(outbox.events.lock().unwrap().len(), 1, "kept while a publisher failed");
        relay.step().await;
        assert_eq!(*ok.seen.lock().unwrap(), [1], "not published twice to the one that took it");
        assert_eq!(*flaky.seen.lock().unwrap(), [1]);
        assert!(outbox.events.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn only_the_lease_holder_relays() {
        let outbox = Arc::new(MemoryOutbox::default());
        outbox.events.lock().unwrap().push(event(1));
        let (first, second) = (Recorder::new("first", 0), Recorder::new("second", 0));
        let mut one = state(outbox.clone(), vec![first.clone()], "one");
        let mut two = state(outbox.clone(), vec![second.clone()], "two");
        assert!(one.hold_lease().await);
        two.step().await;
        assert!(second.seen.lock().unwrap().is_empty(), "the other instance stands by");
        one.step().await;
        assert_eq!(*first.seen.lock().unwrap(), [1]);
        outbox.release("one").await.unwrap();
        assert!(two.hold_lease().await, "a released lease is taken at once");
    }

    /// A running relay that listens to `bell` and would otherwise poll only once an hour.
    fn listening_relay() -> (Arc<MemoryOutbox>, Arc<Recorder>, Arc<Notify>, Relay) {
        let outbox = Arc::new(MemoryOutbox::default());
        let recorder = Recorder::new("bus", 0);
        let bell = Arc::new(Notify::new());
        let config = RelayConfig {
            holder: "one".into(),
            poll_interval: Duration::from_secs(3600),
            wake: Some(bell.clone()),
            min_round: Duration::from_millis(5),
            ..RelayConfig::default()
        };
        let relay = Relay::start(outbox.clone(), vec![recorder.clone()], Arc::new(NoRelayObserver), config);
        (outbox, recorder, bell, relay)
    }

    #[tokio::test]
    async fn a_rung_bell_publishes_at_once_instead_of_at_the_next_poll() {
        let (outbox, recorder, bell, relay) = listening_relay();
        // The first look finds nothing; the next poll would be an hour away.
        tokio::time::sleep(Duration::from_millis(50)).await;
        outbox.events.lock().unwrap().push(event(1));
        bell.notify_one();
        let published = async {
            while recorder.seen.lock().unwrap().is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(2), published).await.expect("published when rung");
        relay.shutdown(Duration::from_secs(1)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_stream_of_writes_is_relayed_in_rounds_not_one_read_per_write() {
        let (outbox, recorder, bell, relay) = listening_relay();
        tokio::time::sleep(Duration::from_millis(1)).await;
        // A write (and its ring) every millisecond for 100 ms.
        for id in 1..=100 {
            outbox.events.lock().unwrap().push(event(id));
            bell.notify_one();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(*recorder.seen.lock().unwrap(), (1..=100).collect::<Vec<_>>(), "each event once, in order");
        assert!(outbox.events.lock().unwrap().is_empty());
        let reads = outbox.reads.load(std::sync::atomic::Ordering::Relaxed);
        assert!(reads <= 1 + 100 / 5 + 2, "{reads} reads for 100 writes over 100 ms: at most one per 5 ms round");
        relay.shutdown(Duration::from_secs(1)).await;
    }
}
