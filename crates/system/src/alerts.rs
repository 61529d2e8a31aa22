//! Threshold alerts: what an alert watches, the thresholds, and an alert as it fires or resolves.
//! [`AlertEvaluator`](crate::AlertEvaluator) decides which do.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What an alert watches. Each is a percentage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertMetric {
    /// `cpu_percent` of the sample.
    CpuPercent,
    /// Memory used as a share of the total.
    MemoryPercent,
    /// The fullest disk's used share.
    DiskPercent,
}

impl AlertMetric {
    pub const ALL: [AlertMetric; 3] = [Self::CpuPercent, Self::MemoryPercent, Self::DiskPercent];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CpuPercent => "cpu_percent",
            Self::MemoryPercent => "memory_percent",
            Self::DiskPercent => "disk_percent",
        }
    }
}

impl std::fmt::Display for AlertMetric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The percentage at or above which each metric raises an alert.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Thresholds {
    pub cpu_percent: f64,
    pub memory_percent: f64,
    pub disk_percent: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { cpu_percent: 90.0, memory_percent: 90.0, disk_percent: 90.0 }
    }
}

impl Thresholds {
    pub fn of(&self, metric: AlertMetric) -> f64 {
        match metric {
            AlertMetric::CpuPercent => self.cpu_percent,
            AlertMetric::MemoryPercent => self.memory_percent,
            AlertMetric::DiskPercent => self.disk_percent,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Firing,
    Resolved,
}

/// A metric that started firing, or stopped.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alert {
    pub metric: AlertMetric,
    /// The metric's value: when it fired or resolved (in a sample's `alerts`, its value in that
    /// sample).
    pub value: f64,
    pub threshold: f64,
    pub state: AlertState,
    /// When the alert fired, or resolved.
    pub at: DateTime<Utc>,
}
