//! Latencies, in microseconds, overall and per call, and the one JSON line that reports them.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// What one connection (then all of them, merged) saw.
#[derive(Debug)]
pub struct Recorder {
    all: Histogram<u64>,
    calls: BTreeMap<&'static str, Histogram<u64>>,
    answered: u64,
    errors: u64,
    unsent: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Self { all: histogram(), calls: BTreeMap::new(), answered: 0, errors: 0, unsent: 0 }
    }
}

/// Microseconds from 1 to an hour, three significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

fn micros(latency: Duration) -> u64 {
    u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).clamp(1, 3_600_000_000)
}

impl Recorder {
    /// An answer (`ok`: a 2xx) that took `latency` counted from when it was due.
    pub fn record(&mut self, call: &'static str, latency: Duration, ok: bool) {
        let us = micros(latency);
        self.all.record(us).expect("clamped into the bounds");
        self.calls.entry(call).or_insert_with(histogram).record(us).expect("clamped into the bounds");
        self.answered += 1;
        if !ok {
            self.errors += 1;
        }
    }

    /// A request due inside the window that the server never got to: it counts in the
    /// percentiles with what it had waited (a floor), and as an error.
    pub fn unsent(&mut self, waited: Duration) {
        self.all.record(micros(waited)).expect("clamped into the bounds");
        self.unsent += 1;
        self.errors += 1;
    }

    pub fn merge(&mut self, other: &Recorder) {
        self.all.add(&other.all).expect("same bounds");
        for (call, h) in &other.calls {
            self.calls.entry(call).or_insert_with(histogram).add(h).expect("same bounds");
        }
        self.answered += other.answered;
        self.errors += other.errors;
        self.unsent += other.unsent;
    }

    pub fn report(&self, label: &str, rate: f64, span: Duration, connections: u32) -> Report {
        Report {
            label: label.to_owned(),
            offered_rps: rate,
            achieved_rps: self.answered as f64 / span.as_secs_f64(),
            duration_s: span.as_secs(),
            connections,
            answered: self.answered,
            errors: self.errors,
            unsent: self.unsent,
            latency: Percentiles::of(&self.all),
            calls: self.calls.iter().map(|(call, h)| (*call, Percentiles::of(h))).collect(),
        }
    }
}

/// Milliseconds.
#[derive(Debug, Serialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub count: u64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            count: h.len(),
        }
    }
}

/// One run against one server.
#[derive(Debug, Serialize)]
pub struct Report {
    pub label: String,
    pub offered_rps: f64,
    pub achieved_rps: f64,
    pub duration_s: u64,
    pub connections: u32,
    pub answered: u64,
    /// Answers other than 2xx, transport errors and requests never sent.
    pub errors: u64,
    pub unsent: u64,
    pub latency: Percentiles,
    pub calls: BTreeMap<&'static str, Percentiles>,
}

impl Report {
    /// `label offered achieved p50 p99 p99.9 max errors`, for a table.
    pub fn line(&self) -> String {
        let l = &self.latency;
        format!(
            "{} {:.0} {:.0} {:.2} {:.2} {:.2} {:.2} {}",
            self.label, self.offered_rps, self.achieved_rps, l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms, self.errors
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsent_requests_weigh_on_the_tail_and_count_as_errors() {
        let mut a = Recorder::default();
        for _ in 0..98 {
            a.record("get_task", Duration::from_millis(1), true);
        }
        let mut b = Recorder::default();
        b.record("patch_task", Duration::from_millis(2), false);
        b.unsent(Duration::from_secs(3));
        a.merge(&b);
        let report = a.report("x", 100.0, Duration::from_secs(1), 2);
        assert_eq!((report.answered, report.errors, report.unsent), (99, 2, 1));
        assert!(report.latency.max_ms >= 2990.0, "{}", report.latency.max_ms);
        assert!((report.latency.p50_ms - 1.0).abs() < 0.01);
        assert_eq!(report.calls["patch_task"].count, 1);
        assert!((report.achieved_rps - 99.0).abs() < 1e-9);
    }
}
