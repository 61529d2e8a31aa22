//! What the HTTP adapter asks of the deployment that runs it, beside the domain services: its
//! dependencies' health and its metrics. The composition root implements these over the database
//! pool, Redis and Prometheus; this crate never sees them.

use async_trait::async_trait;

/// The operational routes' view of the deployment.
#[async_trait]
pub trait Operations: Send + Sync {
    /// Checks every dependency (each within a bound of its own): the names of those that answered,
    /// or the first failure in words for the `503` (`"database: not reachable"`).
    async fn readiness(&self) -> Result<Vec<&'static str>, String>;

    /// The metrics in Prometheus's text exposition format, with gauges read now.
    async fn metrics_text(&self) -> String;
}

/// Where the HTTP adapter counts what it serves.
pub trait HttpMetrics: Send + Sync {
    /// The counter of one method, route template and status. Looking a series up by its labels
    /// costs a hash and a lock, so the request path keeps the series it has met and calls
    /// [`RequestSeries::observe`] on them.
    fn request_series(&self, method: &'static str, route: &str, status: u16) -> Box<dyn RequestSeries>;

    /// A WebSocket opened (authenticated).
    fn websocket_opened(&self);

    /// A WebSocket closed.
    fn websocket_closed(&self);

    /// An upload was received whole (before its checks).
    fn upload_received(&self, bytes: u64);
}

/// The count and latency of one method, route template and status.
pub trait RequestSeries {
    /// Counts one finished request that took `seconds`.
    fn observe(&self, seconds: f64);
}
