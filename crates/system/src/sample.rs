//! One sample: the wire shape of `GET /api/v1/system/metrics` and of the `system.metrics` event.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::alerts::{Alert, Thresholds};

/// What the machine, the process and the app looked like at `at`. Percentages are 0 to 100;
/// rates are per second over the interval since the previous sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SystemSample))]
pub struct Sample {
    /// When the sample was taken (RFC 3339, UTC).
    pub at: DateTime<Utc>,
    /// Busy share of all CPUs together.
    pub cpu_percent: f64,
    /// Busy share of each CPU.
    pub cpus: Vec<f64>,
    /// The run-queue load averages over 1, 5 and 15 minutes.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<f64>, min_items = 3, max_items = 3))]
    pub load_average: [f64; 3],
    pub memory: MemoryUsage,
    pub swap: SwapUsage,
    /// Every mounted file system with a size, once per mount point.
    pub disks: Vec<DiskSpace>,
    pub network: NetworkRates,
    pub process: ProcessUsage,
    pub http: HttpRates,
    /// WebSocket connections open on this instance.
    pub websockets: u64,
    /// The alerts firing at `at`, each with its value in this sample.
    pub alerts: Vec<Alert>,
    /// The thresholds alerts are raised at (`ALERT_*_PERCENT`), so that a client can mark a
    /// value past its threshold before the alert fires.
    pub thresholds: Thresholds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryUsage {
    pub total_bytes: u64,
    /// What is in use: total minus available.
    pub used_bytes: u64,
    /// What could be given to programs without swapping (page cache included).
    pub available_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SwapUsage {
    pub total_bytes: u64,
    pub used_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiskSpace {
    /// Where the file system is mounted.
    pub mount: String,
    pub total_bytes: u64,
    /// What an unprivileged writer may still use.
    pub available_bytes: u64,
}

/// Bytes through every network interface but loopback, per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NetworkRates {
    pub rx_bytes_per_s: f64,
    pub tx_bytes_per_s: f64,
}

/// This server process.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessUsage {
    /// Resident memory.
    pub rss_bytes: u64,
    /// Share of the whole machine's CPU time (0 to 100 however many CPUs), like `cpu_percent`.
    pub cpu_percent: f64,
    /// Seconds since the process started.
    pub uptime_s: u64,
}

/// The app's HTTP traffic over the interval since the previous sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HttpRates {
    /// Requests answered per second.
    pub requests_per_s: f64,
    /// The 95th percentile of their latency in milliseconds, interpolated within the latency
    /// histogram's bucket; 0 when no request was answered in the interval (as the rates are:
    /// clients chart and compare it as a number).
    pub p95_ms: f64,
    /// `5xx` answers per second.
    pub errors_per_s: f64,
}

impl Sample {
    /// Memory in use as a share of the total; `None` when the total is unknown.
    pub fn memory_percent(&self) -> Option<f64> {
        percent(self.memory.used_bytes, self.memory.total_bytes)
    }

    /// The fullest disk's used share; `None` without disks.
    pub fn disk_percent(&self) -> Option<f64> {
        self.disks
            .iter()
            .filter_map(|d| percent(d.total_bytes.saturating_sub(d.available_bytes), d.total_bytes))
            .reduce(f64::max)
    }
}

fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| round2(part as f64 * 100.0 / whole as f64))
}

/// Two decimals: more would be noise in a percentage or a rate, and bloats JSON and CSV.
pub(crate) fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A sample at `at` with `cpu` percent CPU and every other figure plain, for tests.
    pub fn sample(at: DateTime<Utc>, cpu: f64) -> Sample {
        Sample {
            at,
            cpu_percent: cpu,
            cpus: vec![cpu, cpu],
            load_average: [0.5, 0.25, 0.125],
            memory: MemoryUsage { total_bytes: 1000, used_bytes: 250, available_bytes: 750 },
            swap: SwapUsage { total_bytes: 0, used_bytes: 0 },
            disks: vec![DiskSpace { mount: "/".into(), total_bytes: 1000, available_bytes: 600 }],
            network: NetworkRates { rx_bytes_per_s: 10.0, tx_bytes_per_s: 20.0 },
            process: ProcessUsage { rss_bytes: 4096, cpu_percent: 1.5, uptime_s: 60 },
            http: HttpRates { requests_per_s: 2.0, p95_ms: 12.5, errors_per_s: 0.0 },
            websockets: 3,
            alerts: Vec::new(),
            thresholds: Thresholds::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::sample;
    use super::*;

    #[test]
    fn memory_and_disk_shares() {
        let mut s = sample(Utc::now(), 1.0);
        assert_eq!(s.memory_percent(), Some(25.0));
        s.disks.push(DiskSpace { mount: "/data".into(), total_bytes: 3, available_bytes: 1 });
        s.disks.push(DiskSpace { mount: "/empty".into(), total_bytes: 0, available_bytes: 0 });
        assert_eq!(s.disk_percent(), Some(66.67), "the fullest disk, sizeless ones ignored");
        s.disks.clear();
        s.memory.total_bytes = 0;
        assert_eq!((s.memory_percent(), s.disk_percent()), (None, None));
    }

    #[test]
    fn the_json_has_the_documented_shape() {
        let json = serde_json::to_value(sample("2026-01-15T10:30:00Z".parse().unwrap(), 12.0)).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "at",
                "cpu_percent",
                "cpus",
                "load_average",
                "memory",
                "swap",
                "disks",
                "network",
                "process",
                "http",
                "websockets",
                "alerts",
                "thresholds"
            ]
        );
        assert_eq!(json["at"], "2026-01-15T10:30:00Z");
        assert_eq!(json["load_average"], serde_json::json!([0.5, 0.25, 0.125]));
        assert_eq!(json["disks"][0], serde_json::json!({"mount": "/", "total_bytes": 1000, "available_bytes": 600}));
        assert_eq!(json["http"], serde_json::json!({"requests_per_s": 2.0, "p95_ms": 12.5, "errors_per_s": 0.0}));
        assert_eq!(json["thresholds"]["cpu_percent"], 90.0);
    }
}
