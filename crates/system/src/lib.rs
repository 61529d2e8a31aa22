//! Live system metrics of one instance: what the machine, this process and the app's HTTP
//! traffic look like now, and over the last hour.
//!
//! [`SystemMonitor::start`] samples every `interval` on Tokio (the reading itself runs on the
//! blocking pool), keeps the samples for `retention` in a ring, raises threshold [`Alert`]s and
//! sends both to [`SystemMonitor::subscribe`]rs. The app tells its own figures (requests, errors,
//! latency, open WebSockets) through [`AppGauges`]; rates and the 95th percentile come from the
//! difference between two of its snapshots, so the app only keeps cumulative counters.
//!
//! The arithmetic (rates, percentiles, alert states, CSV) is pure and tested without a clock;
//! only `probe` touches the operating system.

mod alerts;
mod evaluator;
mod gauges;
mod history;
mod monitor;
mod probe;
mod sample;

pub use alerts::{Alert, AlertMetric, AlertState, Thresholds};
pub use evaluator::AlertEvaluator;
pub use gauges::{AppGauges, AppSnapshot, LatencyBucket, LatencyHistogram};
pub use history::{CSV_HEADER, History, to_csv};
pub use monitor::{ConfigError, SystemConfig, SystemEvent, SystemMonitor};
pub use sample::{DiskSpace, HttpRates, MemoryUsage, NetworkRates, ProcessUsage, Sample, SwapUsage};
