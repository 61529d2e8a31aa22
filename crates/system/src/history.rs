//! The samples of the retention window, in memory, and their CSV form.

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::sample::Sample;

/// The newest samples, oldest first, at most `capacity` of them (retention / interval): the
/// oldest is forgotten as each new one arrives.
#[derive(Debug, Clone)]
pub struct History {
    samples: VecDeque<Arc<Sample>>,
    capacity: usize,
}

impl History {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self { samples: VecDeque::with_capacity(capacity), capacity }
    }

    pub fn push(&mut self, sample: Arc<Sample>) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    pub fn latest(&self) -> Option<&Arc<Sample>> {
        self.samples.back()
    }

    /// The samples taken at or after `cutoff`, oldest first.
    pub fn since(&self, cutoff: DateTime<Utc>) -> Vec<Arc<Sample>> {
        let newer = self.samples.iter().rev().take_while(|s| s.at >= cutoff).count();
        self.samples.iter().skip(self.samples.len() - newer).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// The columns of [`to_csv`]: the scalar figures of a sample, flattened (per-CPU figures, disks
/// and alerts are left to the JSON form).
pub const CSV_HEADER: &str = "at,cpu_percent,load_1m,load_5m,load_15m,\
memory_total_bytes,memory_used_bytes,memory_available_bytes,swap_total_bytes,swap_used_bytes,\
network_rx_bytes_per_s,network_tx_bytes_per_s,process_rss_bytes,process_cpu_percent,process_uptime_s,\
http_requests_per_s,http_p95_ms,http_errors_per_s,websockets";

/// `samples` as CSV: the [`CSV_HEADER`] row, then one row per sample. Every cell is a number or
/// a timestamp, so nothing needs quoting.
pub fn to_csv(samples: &[Arc<Sample>]) -> String {
    let mut out = String::with_capacity(CSV_HEADER.len() + 2 + samples.len() * 160);
    out.push_str(CSV_HEADER);
    out.push_str("\r\n");
    for s in samples {
        let [l1, l5, l15] = s.load_average;
        let p95 = s.http.p95_ms;
        // Writing into a String cannot fail.
        let _ = write!(
            out,
            "{},{},{l1},{l5},{l15},{},{},{},{},{},{},{},{},{},{},{},{p95},{},{}\r\n",
            s.at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            s.cpu_percent,
            s.memory.total_bytes,
            s.memory.used_bytes,
            s.memory.available_bytes,
            s.swap.total_bytes,
            s.swap.used_bytes,
            s.network.rx_bytes_per_s,
            s.network.tx_bytes_per_s,
            s.process.rss_bytes,
            s.process.cpu_percent,
            s.process.uptime_s,
            s.http.requests_per_s,
            s.http.errors_per_s,
            s.websockets,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::testing::sample;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + second, 0).unwrap()
    }

    #[test]
    fn keeps_the_newest_up_to_its_capacity_oldest_first() {
        let mut history = History::new(3);
        assert!(history.is_empty() && history.latest().is_none());
        for t in 0..5 {
            history.push(Arc::new(sample(at(t), 1.0)));
        }
        assert_eq!(history.len(), 3);
        let times: Vec<_> = history.since(at(0)).iter().map(|s| s.at).collect();
        assert_eq!(times, [at(2), at(3), at(4)]);
        assert_eq!(history.latest().unwrap().at, at(4));
    }

    #[test]
    fn since_takes_the_samples_at_or_after_the_cutoff() {
        let mut history = History::new(10);
        for t in [0, 5, 10, 15] {
            history.push(Arc::new(sample(at(t), 1.0)));
        }
        let times: Vec<_> = history.since(at(5)).iter().map(|s| s.at).collect();
        assert_eq!(times, [at(5), at(10), at(15)]);
        assert!(history.since(at(16)).is_empty());
    }

    #[test]
    fn csv_has_a_header_and_one_row_per_sample_with_matching_columns() {
        let mut idle = sample(at(0), 12.5);
        idle.http.p95_ms = 0.0;
        let csv = to_csv(&[Arc::new(sample(at(0), 12.5)), Arc::new(idle)]);
        let lines: Vec<_> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], CSV_HEADER);
        let columns = CSV_HEADER.split(',').count();
        assert_eq!(columns, 19);
        assert_eq!(lines[1], "2023-11-14T22:13:20Z,12.5,0.5,0.25,0.125,1000,250,750,0,0,10,20,4096,1.5,60,2,12.5,0,3");
        assert!(lines.iter().all(|l| l.split(',').count() == columns));
        assert_eq!(lines[2].split(',').nth(16), Some("0"), "no request in the interval: 0");
        assert_eq!(to_csv(&[]), format!("{CSV_HEADER}\r\n"));
    }
}
