//! Prometheus metrics. Requests are labelled by route *template* (`/api/v1/users/{id}`), never by
//! raw path, so that cardinality stays bounded whatever clients send.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use workbench_store::PoolState;

/// The metrics of one app instance, in its own registry (tests run several apps in one process).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    db_pool: IntGaugeVec,
    dropped_log_lines: IntGauge,
    websockets: IntGauge,
    provider_calls: IntCounterVec,
    provider_latency: HistogramVec,
    answer_cache: IntCounterVec,
    upload_bytes: IntCounter,
    uploads: IntCounter,
    media_seconds: HistogramVec,
    jobs: JobMetrics,
}

/// The request count and latency histogram of one method, route template and status.
#[derive(Clone)]
pub struct RequestSeries {
    count: IntCounter,
    latency: prometheus::Histogram,
}

impl std::fmt::Debug for RequestSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSeries").field("count", &self.count.get()).finish_non_exhaustive()
    }
}

impl workbench_http::ports::RequestSeries for RequestSeries {
    fn observe(&self, seconds: f64) {
        self.count.inc();
        self.latency.observe(seconds);
    }
}

/// The job queue's, webhooks' and outbox relay's metrics.
#[derive(Clone)]
struct JobMetrics {
    depth: IntGaugeVec,
    attempts: IntCounterVec,
    durations: HistogramVec,
    rescued: IntCounter,
    fired: IntCounterVec,
    outbound: IntCounterVec,
    inbound: IntCounterVec,
    published: IntCounterVec,
    publish_failures: IntCounterVec,
}

impl JobMetrics {
    fn new() -> Self {
        Self {
            depth: IntGaugeVec::new(Opts::new("jobs_queue_depth", "Jobs in the queue by state."), &["state"])
                .expect("valid metric definition"),
            attempts: IntCounterVec::new(
                Opts::new(
                    "job_attempts_total",
                    "Job attempts by kind and outcome (completed; retried and discarded are failures).",
                ),
                &["kind", "outcome"],
            )
            .expect("valid metric definition"),
            durations: HistogramVec::new(
                HistogramOpts::new("job_duration_seconds", "How long job attempts ran, by kind and outcome.")
                    .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0]),
                &["kind", "outcome"],
            )
            .expect("valid metric definition"),
            rescued: IntCounter::new(
                "jobs_rescued_total",
                "Jobs whose worker stopped renewing their lease (crash or hang), failed and retried by the rescuer.",
            )
            .expect("valid metric definition"),
            fired: IntCounterVec::new(
                Opts::new("schedule_firings_total", "Schedule slots this instance fired, by schedule."),
                &["schedule"],
            )
            .expect("valid metric definition"),
            outbound: IntCounterVec::new(
                Opts::new(
                    "webhook_deliveries_total",
                    "Outbound webhook attempts by outcome (delivered, retried, failed).",
                ),
                &["outcome"],
            )
            .expect("valid metric definition"),
            inbound: IntCounterVec::new(
                Opts::new("inbound_webhooks_total", "Inbound webhook deliveries processed, by provider and status."),
                &["provider", "status"],
            )
            .expect("valid metric definition"),
            published: IntCounterVec::new(
                Opts::new("events_published_total", "Domain events published from the outbox, by publisher."),
                &["publisher"],
            )
            .expect("valid metric definition"),
            publish_failures: IntCounterVec::new(
                Opts::new("events_publish_failures_total", "Failed publications of domain events, by publisher."),
                &["publisher"],
            )
            .expect("valid metric definition"),
        }
    }

    fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.depth.clone()),
            Box::new(self.attempts.clone()),
            Box::new(self.durations.clone()),
            Box::new(self.rescued.clone()),
            Box::new(self.fired.clone()),
            Box::new(self.outbound.clone()),
            Box::new(self.inbound.clone()),
            Box::new(self.published.clone()),
            Box::new(self.publish_failures.clone()),
        ]
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by method, route template and status."),
            &["method", "route", "status"],
        )
        .expect("valid metric definition");
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by method, route and status.")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["method", "route", "status"],
        )
        .expect("valid metric definition");
        let db_pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state (in_use, idle, max)."),
            &["state"],
        )
        .expect("valid metric definition");
        let dropped_log_lines =
            IntGauge::new("log_lines_dropped", "Log lines dropped because the log writer could not keep up.")
                .expect("valid metric definition");
        let websockets = IntGauge::new("websocket_connections", "Open WebSocket connections on this instance.")
            .expect("valid metric definition");
        let provider_calls = IntCounterVec::new(
            Opts::new("integration_provider_calls_total", "Third-party provider calls by provider and outcome."),
            &["provider", "outcome"],
        )
        .expect("valid metric definition");
        let provider_latency = HistogramVec::new(
            HistogramOpts::new("integration_provider_call_duration_seconds", "Third-party provider call latency.")
                .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["provider"],
        )
        .expect("valid metric definition");
        let answer_cache = IntCounterVec::new(
            Opts::new(
                "integration_cache_total",
                "Third-party answers by capability and cache outcome (hit, miss, stale).",
            ),
            &["capability", "outcome"],
        )
        .expect("valid metric definition");
        let upload_bytes = IntCounter::new("file_upload_bytes_total", "Bytes of files received by uploads.")
            .expect("valid metric definition");
        let uploads = IntCounter::new("file_uploads_total", "Uploads received whole (before checks).")
            .expect("valid metric definition");
        let media_seconds = HistogramVec::new(
            HistogramOpts::new(
                "media_processing_seconds",
                "Time to prepare an upload for storage (image re-encoding and thumbnail, audio headers), by class.",
            )
            .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["class"],
        )
        .expect("valid metric definition");
        let jobs = JobMetrics::new();
        for metric in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(db_pool.clone()),
            Box::new(dropped_log_lines.clone()),
            Box::new(websockets.clone()),
            Box::new(provider_calls.clone()),
            Box::new(provider_latency.clone()),
            Box::new(answer_cache.clone()),
            Box::new(upload_bytes.clone()),
            Box::new(uploads.clone()),
            Box::new(media_seconds.clone()),
        ]
        .into_iter()
        .chain(jobs.collectors())
        {
            registry.register(metric).expect("metric names are unique");
        }
        Self {
            registry,
            requests,
            latency,
            db_pool,
            dropped_log_lines,
            websockets,
            provider_calls,
            provider_latency,
            answer_cache,
            upload_bytes,
            uploads,
            media_seconds,
            jobs,
        }
    }

    /// Records how long preparing an upload of `class` (`image`, `audio`, `document`) took.
    pub fn observe_media(&self, class: &'static str, seconds: f64) {
        self.media_seconds.with_label_values(&[class]).observe(seconds);
    }

    /// Sets the queue depth gauges, read from the store at scrape time.
    pub fn set_queue_depth(&self, counts: &workbench_jobs::JobCounts) {
        for (state, count) in counts.iter() {
            self.jobs.depth.with_label_values(&[state.as_str()]).set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Open WebSockets on this instance.
    pub fn websockets(&self) -> i64 {
        self.websockets.get()
    }

    /// The count and latency of one method, route template and status.
    pub fn request_series(&self, method: &str, route: &str, status: u16) -> RequestSeries {
        let mut status_text = itoa::Buffer::new();
        let labels = [method, route, status_text.format(status)];
        RequestSeries {
            count: self.requests.with_label_values(&labels),
            latency: self.latency.with_label_values(&labels),
        }
    }

    /// The text exposition, with the pool gauges and the count of dropped log lines read at
    /// scrape time.
    pub fn render(&self, pool: PoolState, dropped_log_lines: u64) -> String {
        self.db_pool.with_label_values(&["in_use"]).set(i64::from(pool.in_use));
        self.db_pool.with_label_values(&["idle"]).set(i64::from(pool.idle));
        self.db_pool.with_label_values(&["max"]).set(i64::from(pool.max_size));
        self.dropped_log_lines.set(i64::try_from(dropped_log_lines).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// What the HTTP adapter counts: requests by series, sockets and uploads.
impl workbench_http::ports::HttpMetrics for Metrics {
    fn request_series(
        &self,
        method: &'static str,
        route: &str,
        status: u16,
    ) -> Box<dyn workbench_http::ports::RequestSeries> {
        Box::new(Metrics::request_series(self, method, route, status))
    }

    fn websocket_opened(&self) {
        self.websockets.inc();
    }

    fn websocket_closed(&self) {
        self.websockets.dec();
    }

    fn upload_received(&self, bytes: u64) {
        self.uploads.inc();
        self.upload_bytes.inc_by(bytes);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The figures of the live system metrics, read from the same counters `/metrics` shows: every
/// request, route and status summed.
impl workbench_system::AppGauges for Metrics {
    fn snapshot(&self) -> workbench_system::AppSnapshot {
        let mut snapshot = workbench_system::AppSnapshot {
            websockets: u64::try_from(self.websockets()).unwrap_or(0),
            ..workbench_system::AppSnapshot::default()
        };
        for series in prometheus::core::Collector::collect(&self.requests).iter().flat_map(|family| family.get_metric())
        {
            // Counters hold whole numbers; the exposition format keeps them as floats.
            let count = series.get_counter().get_value() as u64;
            snapshot.requests_total += count;
            let status = series.get_label().iter().find(|l| l.name() == "status").map(|l| l.value());
            if status.is_some_and(|s| s.starts_with('5')) {
                snapshot.errors_total += count;
            }
        }
        let latency = &mut snapshot.latency;
        for series in prometheus::core::Collector::collect(&self.latency).iter().flat_map(|family| family.get_metric())
        {
            let histogram = series.get_histogram();
            latency.count += histogram.get_sample_count();
            // Every series has the buckets the histogram was defined with, in the same order.
            for (i, bucket) in histogram.get_bucket().iter().enumerate() {
                match latency.buckets.get_mut(i) {
                    Some(sum) => sum.count += bucket.cumulative_count(),
                    None => latency.buckets.push(workbench_system::LatencyBucket {
                        le: bucket.upper_bound(),
                        count: bucket.cumulative_count(),
                    }),
                }
            }
        }
        snapshot
    }
}

impl workbench_jobs::JobsObserver for Metrics {
    fn attempt_finished(&self, kind: &str, outcome: workbench_jobs::AttemptOutcome, duration: std::time::Duration) {
        let labels = [kind, outcome.as_str()];
        self.jobs.attempts.with_label_values(&labels).inc();
        self.jobs.durations.with_label_values(&labels).observe(duration.as_secs_f64());
    }

    fn jobs_rescued(&self, count: usize) {
        self.jobs.rescued.inc_by(count as u64);
    }

    fn schedule_fired(&self, schedule: &str) {
        self.jobs.fired.with_label_values(&[schedule]).inc();
    }
}

impl workbench_webhooks::WebhookObserver for Metrics {
    fn outbound(&self, outcome: &'static str) {
        self.jobs.outbound.with_label_values(&[outcome]).inc();
    }

    fn inbound(&self, provider: workbench_webhooks::Provider, status: workbench_webhooks::InboundStatus) {
        self.jobs.inbound.with_label_values(&[provider.as_str(), status.as_str()]).inc();
    }
}

impl workbench_events::RelayObserver for Metrics {
    fn published(&self, publisher: &str, count: usize) {
        self.jobs.published.with_label_values(&[publisher]).inc_by(count as u64);
    }

    fn publish_failed(&self, publisher: &str) {
        self.jobs.publish_failures.with_label_values(&[publisher]).inc();
    }
}

impl workbench_integrations::IntegrationsObserver for Metrics {
    fn provider_called(
        &self,
        provider: &'static str,
        outcome: workbench_integrations::CallOutcome,
        latency: std::time::Duration,
    ) {
        self.provider_calls.with_label_values(&[provider, outcome.as_str()]).inc();
        self.provider_latency.with_label_values(&[provider]).observe(latency.as_secs_f64());
    }

    fn cache_used(
        &self,
        capability: workbench_integrations::Capability,
        outcome: workbench_integrations::CacheOutcome,
    ) {
        self.answer_cache.with_label_values(&[capability.as_str(), outcome.as_str()]).inc();
    }
}

#[cfg(test)]
mod tests {
    use workbench_http::ports::{HttpMetrics, RequestSeries as _};
    use workbench_system::AppGauges;

    use super::*;

    #[test]
    fn the_snapshot_sums_every_route_and_counts_5xx_as_errors() {
        let metrics = Metrics::new();
        assert_eq!(metrics.snapshot(), workbench_system::AppSnapshot::default());
        metrics.request_series("GET", "/api/v1/tasks", 200).observe(0.003);
        metrics.request_series("GET", "/api/v1/tasks", 200).observe(0.004);
        metrics.request_series("POST", "/api/v1/tasks", 503).observe(0.2);
        metrics.request_series("GET", "/health", 404).observe(0.0005);
        metrics.websocket_opened();
        metrics.websocket_opened();
        metrics.websocket_closed();
        let snapshot = metrics.snapshot();
        assert_eq!((snapshot.requests_total, snapshot.errors_total, snapshot.websockets), (4, 1, 1));
        assert_eq!(snapshot.latency.count, 4);
        let le = |bound: f64| snapshot.latency.buckets.iter().find(|b| b.le == bound).map(|b| b.count);
        assert_eq!((le(0.001), le(0.005), le(0.1), le(0.25), le(10.0)), (Some(1), Some(3), Some(3), Some(4), Some(4)));
        assert!(metrics.render(PoolState { in_use: 0, idle: 0, max_size: 1 }, 0).contains("websocket_connections 1"));
    }
}
