//! The app's own figures. The app keeps cumulative counters (as Prometheus does); the rates and
//! the percentile of an interval are computed here from two snapshots, so that the app needs no
//! notion of the sampling interval and no second set of counters.

use std::time::Duration;

use crate::sample::{HttpRates, round2};

/// What the app tells about itself. Called once per sample, on the blocking pool.
pub trait AppGauges: Send + Sync {
    fn snapshot(&self) -> AppSnapshot;
}

/// The app's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppSnapshot {
    /// Requests answered since the process started.
    pub requests_total: u64,
    /// `5xx` answers since the process started.
    pub errors_total: u64,
    /// The latency of those requests.
    pub latency: LatencyHistogram,
    /// WebSocket connections open now.
    pub websockets: u64,
}

/// A cumulative latency histogram, as Prometheus keeps one: each bucket counts the observations
/// at or below its upper bound, since the process started.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyHistogram {
    /// Ascending by `le`, without the `+Inf` bucket (that is `count`).
    pub buckets: Vec<LatencyBucket>,
    /// Every observation, however slow.
    pub count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyBucket {
    /// The upper bound, in seconds.
    pub le: f64,
    /// Observations at or below `le`.
    pub count: u64,
}

impl LatencyHistogram {
    /// The `q` quantile (0 to 1) in seconds of the observations made between `earlier` and
    /// `self`, interpolated linearly within its bucket as Prometheus' `histogram_quantile` does
    /// (a quantile in the `+Inf` bucket is the largest finite bound). `None` without observations.
    pub fn quantile_since(&self, earlier: &LatencyHistogram, q: f64) -> Option<f64> {
        let total = self.count.saturating_sub(earlier.count);
        if total == 0 {
            return None;
        }
        // Buckets whose bounds changed (another histogram altogether) cannot be diffed: count
        // the whole of `self` rather than a wrong difference.
        let same_bounds = earlier.buckets.len() == self.buckets.len()
            && earlier.buckets.iter().zip(&self.buckets).all(|(a, b)| a.le == b.le);
        let delta = |i: usize| {
            let before = if same_bounds { earlier.buckets[i].count } else { 0 };
            self.buckets[i].count.saturating_sub(before)
        };
        let rank = q * total as f64;
        let (mut lower, mut below) = (0.0, 0u64);
        for (i, bucket) in self.buckets.iter().enumerate() {
            let within = delta(i);
            if within as f64 >= rank {
                let in_bucket = within.saturating_sub(below);
                if in_bucket == 0 {
                    return Some(bucket.le);
                }
                let fraction = (rank - below as f64) / in_bucket as f64;
                return Some(lower + (bucket.le - lower) * fraction);
            }
            (lower, below) = (bucket.le, within);
        }
        // Past the largest finite bound: that bound is all that is known.
        self.buckets.last().map(|b| b.le)
    }
}

impl HttpRates {
    /// The app's traffic between two snapshots taken `elapsed` apart.
    pub fn between(earlier: &AppSnapshot, later: &AppSnapshot, elapsed: Duration) -> Self {
        let seconds = elapsed.as_secs_f64();
        let per_second = |before: u64, after: u64| {
            if seconds > 0.0 { round2(after.saturating_sub(before) as f64 / seconds) } else { 0.0 }
        };
        Self {
            requests_per_s: per_second(earlier.requests_total, later.requests_total),
            p95_ms: later.latency.quantile_since(&earlier.latency, 0.95).map_or(0.0, |s| round2(s * 1000.0)),
            errors_per_s: per_second(earlier.errors_total, later.errors_total),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A histogram with bounds 0.01, 0.1 and 1 s and `counts` cumulative observations in them,
    /// `count` in all.
    fn histogram(counts: [u64; 3], count: u64) -> LatencyHistogram {
        let buckets = [0.01, 0.1, 1.0].into_iter().zip(counts).map(|(le, count)| LatencyBucket { le, count }).collect();
        LatencyHistogram { buckets, count }
    }

    fn snapshot(requests: u64, errors: u64, latency: LatencyHistogram) -> AppSnapshot {
        AppSnapshot { requests_total: requests, errors_total: errors, latency, websockets: 0 }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn the_percentile_is_interpolated_within_its_bucket() {
        // 100 new observations: 50 at or below 10 ms, 40 more up to 100 ms, 10 more up to 1 s.
        let earlier = histogram([10, 10, 10], 10);
        let later = histogram([60, 100, 110], 110);
        // Rank 95 lies in the third bucket (90 below it, 10 in it): 0.1 + 0.9 * 5/10.
        assert!(close(later.quantile_since(&earlier, 0.95).unwrap(), 0.55));
        // Rank 50 is the first bucket's last observation: 0 + 0.01 * 50/50.
        assert!(close(later.quantile_since(&earlier, 0.5).unwrap(), 0.01));
        // Rank 70 lies in the second bucket: 0.01 + 0.09 * 20/40.
        assert!(close(later.quantile_since(&earlier, 0.7).unwrap(), 0.055));
    }

    #[test]
    fn only_the_interval_counts_not_the_history() {
        // Before: a thousand slow requests. Since: ten fast ones.
        let earlier = histogram([0, 0, 1000], 1000);
        let later = histogram([10, 10, 1010], 1010);
        assert!(later.quantile_since(&earlier, 0.95).unwrap() <= 0.01);
    }

    #[test]
    fn slower_than_every_bound_is_the_largest_bound_and_nothing_is_none() {
        let earlier = histogram([0, 0, 0], 0);
        assert_eq!(histogram([0, 0, 0], 5).quantile_since(&earlier, 0.95), Some(1.0));
        assert_eq!(histogram([3, 3, 3], 3).quantile_since(&histogram([3, 3, 3], 3), 0.95), None);
    }

    #[test]
    fn rates_are_deltas_over_the_elapsed_time() {
        let earlier = snapshot(100, 4, histogram([100, 100, 100], 100));
        let later = snapshot(150, 9, histogram([140, 150, 150], 150));
        let rates = HttpRates::between(&earlier, &later, Duration::from_secs(5));
        assert_eq!(rates.requests_per_s, 10.0);
        assert_eq!(rates.errors_per_s, 1.0);
        // 50 new: rank 47.5 in the second bucket (40 below, 10 in it): 10 + 90 * 7.5/10 ms.
        assert_eq!(rates.p95_ms, 77.5);
        let idle = HttpRates::between(&later, &later, Duration::from_secs(5));
        assert_eq!((idle.requests_per_s, idle.p95_ms, idle.errors_per_s), (0.0, 0.0, 0.0));
    }

    #[test]
    fn a_counter_that_went_backwards_counts_nothing() {
        let rates = HttpRates::between(
            &snapshot(100, 5, LatencyHistogram::default()),
            &snapshot(10, 1, LatencyHistogram::default()),
            Duration::from_secs(1),
        );
        assert_eq!((rates.requests_per_s, rates.errors_per_s), (0.0, 0.0));
        let no_time = HttpRates::between(
            &snapshot(0, 0, histogram([0; 3], 0)),
            &snapshot(5, 0, histogram([5; 3], 5)),
            Duration::ZERO,
        );
        assert_eq!(no_time.requests_per_s, 0.0);
    }
}
