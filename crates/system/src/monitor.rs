//! The sampler: one Tokio task per monitor that reads the machine and the app every `interval`,
//! keeps the samples, decides alerts and tells subscribers.

use std::collections::VecDeque;
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use chrono::{SubsecRound, Utc};
use tokio::sync::{broadcast, watch};

use crate::alerts::{Alert, AlertMetric, AlertState, Thresholds};
use crate::evaluator::AlertEvaluator;
use crate::gauges::{AppGauges, AppSnapshot};
use crate::history::History;
use crate::probe::{ByteTotals, Probe, Reading};
use crate::sample::{HttpRates, NetworkRates, Sample};

/// How the monitor samples, keeps and alerts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SystemConfig {
    /// Time between samples.
    pub interval: Duration,
    /// How long samples are kept.
    pub retention: Duration,
    pub thresholds: Thresholds,
    /// How long a metric must stay at or above its threshold before its alert fires.
    pub alert_for: Duration,
}

impl Default for SystemConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            retention: Duration::from_secs(3600),
            thresholds: Thresholds::default(),
            alert_for: Duration::from_secs(30),
        }
    }
}

/// A configuration the monitor cannot work with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("the sampling interval must be from 1s to 1h, not {0:?}")]
    Interval(Duration),
    #[error("the retention must be at least 1 minute and at least one interval, not {0:?}")]
    Retention(Duration),
    #[error("the retention would keep {samples} samples, more than {max}: sample less often or keep less")]
    TooManySamples { samples: u64, max: u64 },
    #[error("the {metric} threshold must be a percentage from 0 to 100, not {value}")]
    Threshold { metric: AlertMetric, value: f64 },
}

/// A day at one sample a second: about 100 MB of samples at most.
const MAX_SAMPLES: u64 = 86_400;

/// Recent alerts kept for [`SystemMonitor::recent_alerts`].
const RECENT_ALERTS: usize = 50;

/// Samples in flight to each subscriber before a slow one starts missing them.
const EVENTS_BUFFER: usize = 64;

impl SystemConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&self.interval) {
            return Err(ConfigError::Interval(self.interval));
        }
        if self.retention < Duration::from_secs(60) || self.retention < self.interval {
            return Err(ConfigError::Retention(self.retention));
        }
        let samples = self.capacity();
        if samples > MAX_SAMPLES {
            return Err(ConfigError::TooManySamples { samples, max: MAX_SAMPLES });
        }
        for metric in AlertMetric::ALL {
            let value = self.thresholds.of(metric);
            if !(0.0..=100.0).contains(&value) {
                return Err(ConfigError::Threshold { metric, value });
            }
        }
        Ok(())
    }

    /// How many samples the retention holds.
    fn capacity(&self) -> u64 {
        let interval = self.interval.as_millis().max(1);
        u64::try_from(self.retention.as_millis().div_ceil(interval)).unwrap_or(u64::MAX)
    }
}

/// What subscribers hear: every sample, and every alert that fires or resolves (sent before
/// the sample it was decided on).
#[derive(Debug, Clone)]
pub enum SystemEvent {
    Sample(Arc<Sample>),
    Alert(Alert),
}

/// Live metrics of this instance. Cheap to clone; sampling stops when the last clone is dropped.
#[derive(Clone)]
pub struct SystemMonitor {
    inner: Arc<Inner>,
}

struct Inner {
    config: SystemConfig,
    kept: RwLock<Kept>,
    latest: watch::Sender<Option<Arc<Sample>>>,
    events: broadcast::Sender<SystemEvent>,
}

struct Kept {
    history: History,
    recent: VecDeque<Alert>,
}

impl std::fmt::Debug for SystemMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemMonitor").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// How long after start the first sample is taken: CPU usage is a difference between two
/// readings, which sysinfo needs this far apart.
const FIRST_SAMPLE_AFTER: Duration = sysinfo::MINIMUM_CPU_UPDATE_INTERVAL;

impl SystemMonitor {
    /// Starts sampling on the current Tokio runtime: a first reading now, the first sample
    /// moments later, then one every `config.interval`. `config` should have passed
    /// [`SystemConfig::validate`].
    pub fn start(config: SystemConfig, gauges: Arc<dyn AppGauges>) -> Self {
        let capacity = usize::try_from(config.capacity()).unwrap_or(usize::MAX);
        let inner = Arc::new(Inner {
            config,
            kept: RwLock::new(Kept { history: History::new(capacity), recent: VecDeque::new() }),
            latest: watch::Sender::new(None),
            events: broadcast::Sender::new(EVENTS_BUFFER),
        });
        tokio::spawn(sample_until_dropped(Arc::downgrade(&inner), gauges));
        Self { inner }
    }

    pub fn config(&self) -> &SystemConfig {
        &self.inner.config
    }

    /// The newest sample; `None` only in the moment after start.
    pub fn latest(&self) -> Option<Arc<Sample>> {
        self.inner.latest.borrow().clone()
    }

    /// The newest sample, waiting for the first one if it is not taken yet.
    pub async fn sample(&self) -> Arc<Sample> {
        let mut latest = self.inner.latest.subscribe();
        // The sender lives in `self.inner`, so the channel cannot close while this waits.
        let seen = latest.wait_for(Option::is_some).await.expect("the monitor holds the sender");
        seen.clone().expect("waited for a sample")
    }

    /// The samples of the last `minutes` minutes, oldest first.
    pub fn history(&self, minutes: u32) -> Vec<Arc<Sample>> {
        let cutoff = Utc::now() - chrono::Duration::minutes(i64::from(minutes));
        self.kept().history.since(cutoff)
    }

    /// The last alerts that fired or resolved (at most 50), oldest first.
    pub fn recent_alerts(&self) -> Vec<Alert> {
        self.kept().recent.iter().cloned().collect()
    }

    /// Every sample and alert from now on. A subscriber that falls more than 64 events behind
    /// is told it lagged and skips ahead.
    pub fn subscribe(&self) -> broadcast::Receiver<SystemEvent> {
        self.inner.events.subscribe()
    }

    fn kept(&self) -> std::sync::RwLockReadGuard<'_, Kept> {
        self.inner.kept.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The previous reading: rates are differences from it.
struct Baseline {
    taken: Instant,
    network: ByteTotals,
    app: AppSnapshot,
}

async fn sample_until_dropped(monitor: Weak<Inner>, gauges: Arc<dyn AppGauges>) {
    let Some(config) = monitor.upgrade().map(|inner| inner.config) else { return };
    let mut evaluator = AlertEvaluator::new(config.thresholds, config.alert_for);
    let started = tokio::task::spawn_blocking({
        let gauges = gauges.clone();
        move || {
            let mut probe = Probe::new();
            let reading = probe.read();
            (probe, Baseline { taken: reading.taken, network: reading.network, app: gauges.snapshot() })
        }
    })
    .await;
    let Ok((mut probe, mut baseline)) = started else {
        tracing::error!("system metrics: the first reading failed; no samples will be taken");
        return;
    };
    tokio::time::sleep(FIRST_SAMPLE_AFTER).await;
    let mut ticks = tokio::time::interval(config.interval);
    // After a stall (a suspended machine), sample once and carry on at the same pace.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if monitor.strong_count() == 0 {
            return;
        }
        let gauges = gauges.clone();
        let read = tokio::task::spawn_blocking(move || {
            let reading = probe.read();
            let app = gauges.snapshot();
            (probe, reading, app)
        })
        .await;
        let (returned, reading, app) = match read {
            Ok(read) => read,
            Err(e) => {
                tracing::error!(error = %e, "system metrics: reading the machine failed; sampling stopped");
                return;
            }
        };
        probe = returned;
        let Some(inner) = monitor.upgrade() else { return };
        let mut sample = compose(&reading, &app, &baseline, config.thresholds);
        baseline = Baseline { taken: reading.taken, network: reading.network, app };
        let changes = evaluator.observe(&sample);
        sample.alerts = evaluator.firing();
        inner.record(Arc::new(sample), changes);
    }
}

impl Inner {
    fn record(&self, sample: Arc<Sample>, changes: Vec<Alert>) {
        {
            let mut kept = self.kept.write().unwrap_or_else(PoisonError::into_inner);
            kept.history.push(sample.clone());
            for alert in &changes {
                if kept.recent.len() == RECENT_ALERTS {
                    kept.recent.pop_front();
                }
                kept.recent.push_back(alert.clone());
            }
        }
        self.latest.send_replace(Some(sample.clone()));
        // Sending fails only when nobody listens, which is fine.
        for alert in changes {
            match alert.state {
                AlertState::Firing => {
                    tracing::warn!(metric = %alert.metric, value = alert.value, threshold = alert.threshold, "system alert firing")
                }
                AlertState::Resolved => {
                    tracing::info!(metric = %alert.metric, value = alert.value, threshold = alert.threshold, "system alert resolved")
                }
            }
            let _ = self.events.send(SystemEvent::Alert(alert));
        }
        let _ = self.events.send(SystemEvent::Sample(sample));
    }
}

/// A sample of `reading` and the app's `app` snapshot, rates taken from `baseline`. Its
/// `alerts` are left for the evaluator.
fn compose(reading: &Reading, app: &AppSnapshot, baseline: &Baseline, thresholds: Thresholds) -> Sample {
    let elapsed = reading.taken.saturating_duration_since(baseline.taken);
    let (rx, tx) = reading.network.rates_since(baseline.network, elapsed.as_secs_f64());
    Sample {
        at: Utc::now().trunc_subsecs(3),
        cpu_percent: reading.cpu_percent,
        cpus: reading.cpus.clone(),
        load_average: reading.load_average,
        memory: reading.memory,
        swap: reading.swap,
        disks: reading.disks.clone(),
        network: NetworkRates { rx_bytes_per_s: rx, tx_bytes_per_s: tx },
        process: reading.process,
        http: HttpRates::between(&baseline.app, app, elapsed),
        websockets: app.websockets,
        alerts: Vec::new(),
        thresholds,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::gauges::{LatencyBucket, LatencyHistogram};

    /// An app that answers one more request, all fast, each time it is asked.
    #[derive(Default)]
    struct Counting(AtomicU64);

    impl AppGauges for Counting {
        fn snapshot(&self) -> AppSnapshot {
            let n = self.0.fetch_add(1, Ordering::Relaxed);
            AppSnapshot {
                requests_total: n,
                errors_total: 0,
                latency: LatencyHistogram { buckets: vec![LatencyBucket { le: 0.01, count: n }], count: n },
                websockets: 7,
            }
        }
    }

    #[test]
    fn the_configuration_is_checked() {
        let ok = SystemConfig::default();
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(ok.capacity(), 720, "an hour of samples every 5 s");
        let bad = |tweak: fn(&mut SystemConfig)| {
            let mut c = SystemConfig::default();
            tweak(&mut c);
            c.validate().unwrap_err()
        };
        assert!(matches!(bad(|c| c.interval = Duration::from_millis(500)), ConfigError::Interval(_)));
        assert!(matches!(bad(|c| c.retention = Duration::from_secs(30)), ConfigError::Retention(_)));
        assert!(matches!(
            bad(|c| (c.interval, c.retention) = (Duration::from_secs(1), Duration::from_secs(7 * 86_400))),
            ConfigError::TooManySamples { samples: 604_800, .. }
        ));
        let err = bad(|c| c.thresholds.disk_percent = 101.0);
        assert_eq!(err.to_string(), "the disk_percent threshold must be a percentage from 0 to 100, not 101");
        assert!(matches!(bad(|c| c.thresholds.cpu_percent = f64::NAN), ConfigError::Threshold { .. }));
    }

    #[tokio::test]
    async fn samples_at_start_then_every_interval_and_tells_subscribers() {
        let config = SystemConfig {
            interval: Duration::from_secs(1),
            // Zero thresholds fire at once: every sample is at or above them.
            thresholds: Thresholds { cpu_percent: 0.0, memory_percent: 0.0, disk_percent: 0.0 },
            alert_for: Duration::ZERO,
            ..SystemConfig::default()
        };
        let monitor = SystemMonitor::start(config, Arc::new(Counting::default()));
        let first = tokio::time::timeout(Duration::from_secs(5), monitor.sample()).await.expect("a first sample");
        assert_eq!(monitor.latest().as_deref(), Some(&*first));
        assert_eq!(first.websockets, 7);
        assert_eq!(first.thresholds, config.thresholds);
        let fired: Vec<_> = monitor.recent_alerts().iter().map(|a| (a.metric, a.state)).collect();
        assert!(fired.contains(&(AlertMetric::CpuPercent, AlertState::Firing)), "{fired:?}");
        assert!(first.alerts.iter().any(|a| a.metric == AlertMetric::CpuPercent));

        let mut events = monitor.subscribe();
        let next = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Ok(SystemEvent::Sample(sample)) = events.recv().await {
                    return sample;
                }
            }
        })
        .await
        .expect("a second sample within the interval");
        assert!(next.at > first.at);
        // One request between two snapshots, about a second apart.
        assert!(next.http.requests_per_s > 0.0 && next.http.p95_ms > 0.0, "{:?}", next.http);
        assert_eq!(monitor.history(1).len(), 2);
        assert!(monitor.recent_alerts().len() <= 3, "firing alerts are told once");
    }

    #[tokio::test]
    async fn dropping_the_monitor_stops_it_and_closes_the_feed() {
        let config = SystemConfig { interval: Duration::from_secs(1), ..SystemConfig::default() };
        let monitor = SystemMonitor::start(config, Arc::new(Counting::default()));
        let mut events = monitor.subscribe();
        drop(monitor);
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Err(broadcast::error::RecvError::Closed) = events.recv().await {
                    return;
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the feed closes once the monitor is gone");
    }
}
