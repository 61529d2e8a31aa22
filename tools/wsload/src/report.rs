//! Latency histograms, their summaries, and the two forms of every result: one JSON line on
//! stdout (for scripts) and a table on stderr (for people).

use std::io::Write;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::Value;

/// The largest latency kept exactly: 10 minutes, in microseconds. Larger values are clamped to it.
const MAX_US: u64 = 600_000_000;

/// Microseconds since the Unix epoch on this machine's clock (the server's clock too, on loopback).
pub fn now_us() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// An RFC 3339 instant (`2026-11-23T11:14:54.123456Z`) in microseconds since the epoch.
pub fn parse_instant_us(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_micros())
}

/// A latency histogram in microseconds that many connection tasks record into.
#[derive(Debug)]
pub struct Latency {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    hist: Histogram<u64>,
    /// Samples whose end came before their start (clock granularity): recorded as 0.
    negative: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    pub fn new() -> Self {
        let hist = Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds");
        Self { inner: Mutex::new(Inner { hist, negative: 0 }) }
    }

    /// Records `end_us - start_us`.
    pub fn record_between(&self, start_us: i64, end_us: i64) {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let d = end_us - start_us;
        if d < 0 {
            g.negative += 1;
        }
        let v = u64::try_from(d).unwrap_or(0).clamp(1, MAX_US);
        g.hist.saturating_record(v);
    }

    pub fn summary(&self) -> Summary {
        let g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Summary::of(&g.hist, g.negative)
    }

    pub fn reset(&self) {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        g.hist.reset();
        g.negative = 0;
    }
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Samples whose end preceded their start by the clock (recorded as 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub negative: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn ms(us: u64) -> f64 {
    round3(us as f64 / 1000.0)
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

impl Summary {
    pub fn of(h: &Histogram<u64>, negative: u64) -> Self {
        if h.is_empty() {
            return Self {
                count: 0,
                p50_ms: 0.0,
                p90_ms: 0.0,
                p99_ms: 0.0,
                p999_ms: 0.0,
                max_ms: 0.0,
                mean_ms: 0.0,
                negative,
            };
        }
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: round3(h.mean() / 1000.0),
            negative,
        }
    }

    /// `p50 / p90 / p99 / max ms (n)` for tables.
    pub fn cell(&self) -> String {
        if self.count == 0 {
            return "-".to_owned();
        }
        format!("{} / {} / {} / {} ms (n={})", self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms, self.count)
    }
}

/// Prints `result` as one JSON line on stdout and `rows` as a two-column table on stderr, and
/// appends the JSON line to `out` when given.
pub fn emit(result: &Value, rows: &[(String, String)], out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let line = serde_json::to_string(result)?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{line}")?;
        stdout.flush()?;
    }
    let table = table(rows);
    let _ = std::io::stderr().lock().write_all(table.as_bytes());
    if let Some(path) = out {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(f, "{line}")?;
    }
    Ok(())
}

/// A Markdown table of `(what, value)` rows.
pub fn table(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0).max(4);
    let vwidth = rows.iter().map(|(_, v)| v.chars().count()).max().unwrap_or(0).max(5);
    let mut s = format!(
        "| {:width$} | {:vwidth$} |\n|{}|{}|\n",
        "what",
        "value",
        "-".repeat(width + 2),
        "-".repeat(vwidth + 2)
    );
    for (k, v) in rows {
        s.push_str(&format!("| {k:width$} | {v:vwidth$} |\n"));
    }
    s
}

/// Shorthand for building table rows.
#[expect(clippy::needless_pass_by_value, reason = "callers hand numbers, strings and JSON values alike, owned")]
pub fn row(k: impl Into<String>, v: impl ToString) -> (String, String) {
    (k.into(), v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_with_sub_second_precision_parse_to_microseconds() {
        assert_eq!(parse_instant_us("1970-01-01T00:00:01.000250Z"), Some(1_000_250));
        assert_eq!(parse_instant_us("1970-01-01T01:00:01.5+01:00"), Some(1_500_000));
        assert_eq!(parse_instant_us("2026-11-23T11:14:54Z").map(|u| u % 1_000_000), Some(0));
        assert_eq!(parse_instant_us("yesterday"), None);
    }

    #[test]
    fn a_summary_reports_percentiles_in_milliseconds() {
        let l = Latency::new();
        for us in 1..=1000 {
            l.record_between(0, us * 10); // 10 µs .. 10 ms, uniform
        }
        let s = l.summary();
        assert_eq!(s.count, 1000);
        assert!((s.p50_ms - 5.0).abs() < 0.01, "{s:?}");
        assert!((s.p90_ms - 9.0).abs() < 0.01, "{s:?}");
        assert!((s.p99_ms - 9.9).abs() < 0.01, "{s:?}");
        assert!((s.max_ms - 10.0).abs() < 0.01, "{s:?}");
        assert!((s.mean_ms - 5.005).abs() < 0.01, "{s:?}");
        assert_eq!(s.negative, 0);
    }

    #[test]
    fn negative_and_huge_samples_are_clamped_and_counted() {
        let l = Latency::new();
        l.record_between(100, 90);
        l.record_between(0, i64::MAX);
        let s = l.summary();
        assert_eq!((s.count, s.negative), (2, 1));
        assert!(s.max_ms >= 599_000.0);
        l.reset();
        assert_eq!(l.summary().count, 0);
        assert_eq!(l.summary().cell(), "-");
    }

    #[test]
    fn tables_align_their_columns() {
        let t = table(&[row("p99", "1.5 ms"), row("connections", 20000)]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines.iter().all(|l| l.chars().count() == lines[0].chars().count()), "{t}");
        assert!(lines[3].contains("| connections | 20000"), "{t}");
    }
}
