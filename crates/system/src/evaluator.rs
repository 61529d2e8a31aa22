//! Which alerts fire. A metric at or above its threshold is *pending*; once it has stayed there
//! for `alert_for` (judged by the samples' own times, so tests need no clock) it is *firing*; the
//! first sample below the threshold *resolves* it. Pending crossings that end early raise
//! nothing: a short burst is not an alert.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::alerts::{Alert, AlertMetric, AlertState, Thresholds};
use crate::sample::Sample;

impl AlertMetric {
    /// This metric's value in `sample`; `None` when the sample cannot tell (no disks).
    pub fn read(self, sample: &Sample) -> Option<f64> {
        match self {
            Self::CpuPercent => Some(sample.cpu_percent),
            Self::MemoryPercent => sample.memory_percent(),
            Self::DiskPercent => sample.disk_percent(),
        }
    }
}

/// Where one metric stands.
#[derive(Debug, Clone, PartialEq)]
enum Watch {
    Below,
    /// At or above the threshold since `since`, not yet for long enough.
    Pending {
        since: DateTime<Utc>,
    },
    Firing(Alert),
}

/// Decides, sample by sample, which alerts fire and resolve. Pure: it only reads the samples.
#[derive(Debug, Clone)]
pub struct AlertEvaluator {
    thresholds: Thresholds,
    hold: chrono::Duration,
    watches: [(AlertMetric, Watch); 3],
}

impl AlertEvaluator {
    /// Alerts at `thresholds`, firing once crossed continuously for `alert_for`.
    pub fn new(thresholds: Thresholds, alert_for: Duration) -> Self {
        Self {
            thresholds,
            hold: chrono::Duration::from_std(alert_for).unwrap_or(chrono::Duration::MAX),
            watches: AlertMetric::ALL.map(|metric| (metric, Watch::Below)),
        }
    }

    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// Takes in the next sample (samples come in time order) and returns the alerts it fired or
    /// resolved. A metric the sample cannot tell stays as it was.
    pub fn observe(&mut self, sample: &Sample) -> Vec<Alert> {
        let mut changes = Vec::new();
        for (metric, watch) in &mut self.watches {
            let Some(value) = metric.read(sample) else { continue };
            let threshold = self.thresholds.of(*metric);
            let alert = |state| Alert { metric: *metric, value, threshold, state, at: sample.at };
            let crossed = value >= threshold;
            let next = match (&*watch, crossed) {
                (Watch::Below, false) => Watch::Below,
                (Watch::Below, true) => Watch::Pending { since: sample.at },
                (Watch::Pending { .. }, false) => Watch::Below,
                (Watch::Pending { since }, true) => Watch::Pending { since: *since },
                (Watch::Firing(fired), true) => Watch::Firing(Alert { value, ..fired.clone() }),
                (Watch::Firing(_), false) => {
                    changes.push(alert(AlertState::Resolved));
                    Watch::Below
                }
            };
            *watch = match next {
                Watch::Pending { since } if sample.at - since >= self.hold => {
                    let fired = alert(AlertState::Firing);
                    changes.push(fired.clone());
                    Watch::Firing(fired)
                }
                other => other,
            };
        }
        changes
    }

    /// The alerts firing now, each with the value of the latest sample.
    pub fn firing(&self) -> Vec<Alert> {
        self.watches
            .iter()
            .filter_map(|(_, watch)| match watch {
                Watch::Firing(alert) => Some(alert.clone()),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::testing::sample;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + second, 0).unwrap()
    }

    fn evaluator(alert_for: u64) -> AlertEvaluator {
        AlertEvaluator::new(Thresholds { cpu_percent: 80.0, ..Thresholds::default() }, Duration::from_secs(alert_for))
    }

    /// Feeds CPU readings, one every 5 s, and returns the alerts raised at each.
    fn feed(evaluator: &mut AlertEvaluator, cpu: &[f64]) -> Vec<Vec<(AlertState, i64, f64)>> {
        cpu.iter()
            .enumerate()
            .map(|(i, &cpu)| {
                let t = i64::try_from(i).unwrap() * 5;
                evaluator
                    .observe(&sample(at(t), cpu))
                    .into_iter()
                    .map(|a| {
                        assert_eq!((a.metric, a.threshold), (AlertMetric::CpuPercent, 80.0));
                        (a.state, (a.at - at(0)).num_seconds(), a.value)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn fires_only_after_the_threshold_is_held_for_long_enough_then_resolves() {
        let mut e = evaluator(10);
        let raised = feed(&mut e, &[50.0, 85.0, 90.0, 95.0, 97.0, 40.0, 30.0]);
        // Crossed at 5 s; 10 s later (15 s) it fires; it resolves at the first reading below.
        assert_eq!(
            raised,
            [
                vec![],
                vec![],
                vec![],
                vec![(AlertState::Firing, 15, 95.0)],
                vec![],
                vec![(AlertState::Resolved, 25, 40.0)],
                vec![]
            ]
        );
        assert!(e.firing().is_empty());
    }

    #[test]
    fn a_burst_shorter_than_the_hold_raises_nothing() {
        let mut e = evaluator(10);
        let raised = feed(&mut e, &[85.0, 90.0, 50.0, 85.0, 90.0, 70.0]);
        assert!(raised.iter().all(Vec::is_empty), "{raised:?}");
    }

    #[test]
    fn the_threshold_itself_counts_as_crossed_and_no_hold_fires_at_once() {
        let mut e = evaluator(0);
        assert_eq!(feed(&mut e, &[80.0]), [vec![(AlertState::Firing, 0, 80.0)]]);
    }

    #[test]
    fn a_firing_alert_carries_the_latest_value_and_fires_once() {
        let mut e = evaluator(0);
        assert_eq!(e.observe(&sample(at(0), 91.0)).len(), 1);
        assert!(e.observe(&sample(at(5), 99.0)).is_empty(), "still firing: nothing new");
        let firing = e.firing();
        assert_eq!(firing.len(), 1);
        assert_eq!((firing[0].value, firing[0].at, firing[0].state), (99.0, at(0), AlertState::Firing));
    }

    #[test]
    fn memory_and_disk_are_watched_too_and_unknown_values_change_nothing() {
        let mut e = AlertEvaluator::new(
            Thresholds { cpu_percent: 100.0, memory_percent: 20.0, disk_percent: 30.0 },
            Duration::ZERO,
        );
        // The test sample: memory 25 % used, disk 40 % used.
        let mut metrics: Vec<_> = e.observe(&sample(at(0), 1.0)).into_iter().map(|a| a.metric).collect();
        metrics.sort_by_key(|m| m.as_str());
        assert_eq!(metrics, [AlertMetric::DiskPercent, AlertMetric::MemoryPercent]);
        let mut diskless = sample(at(5), 1.0);
        diskless.disks.clear();
        assert!(e.observe(&diskless).is_empty(), "no disks: the disk alert neither fires again nor resolves");
        assert_eq!(e.firing().len(), 2);
    }

    #[test]
    fn alerts_serialise_as_the_contract_says() {
        let alert = Alert {
            metric: AlertMetric::MemoryPercent,
            value: 93.5,
            threshold: 90.0,
            state: AlertState::Firing,
            at: "2026-01-15T10:30:00Z".parse().unwrap(),
        };
        assert_eq!(
            serde_json::to_value(alert).unwrap(),
            serde_json::json!({"metric": "memory_percent", "value": 93.5, "threshold": 90.0, "state": "firing", "at": "2026-01-15T10:30:00Z"})
        );
    }
}
