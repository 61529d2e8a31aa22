//! The HTTP adapter's view of the deployment: readiness of the database and Redis, the metrics
//! exposition, and the rate limiter (in Redis when configured, so every instance shares one
//! limit; otherwise in process).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use workbench_http::limits::{Limits, TrustedProxies};
use workbench_http::ports::Operations;
use workbench_jobs::JobQueue;
use workbench_ratelimit::{LocalLimiter, Policy, RateLimiter, RedisLimiter};
use workbench_store::Database;

use crate::config::Settings;
use workbench_metrics::Metrics;

/// How long a readiness check waits for each dependency.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Readiness and metrics over the real database, Redis and job queue.
pub struct Deployment {
    pub db: Database,
    pub redis: Option<deadpool_redis::Pool>,
    pub jobs: JobQueue,
    pub metrics: Metrics,
}

#[async_trait]
impl Operations for Deployment {
    async fn readiness(&self) -> Result<Vec<&'static str>, String> {
        match tokio::time::timeout(CHECK_TIMEOUT, self.db.ping()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: database check failed");
                return Err("database: not reachable".into());
            }
            Err(_) => return Err("database: no answer within 3 s".into()),
        }
        let mut checks = vec!["database"];
        if let Some(redis) = &self.redis {
            match tokio::time::timeout(CHECK_TIMEOUT, workbench_cache::ping(redis)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "readiness: Redis check failed");
                    return Err("redis: not reachable".into());
                }
                Err(_) => return Err("redis: no answer within 3 s".into()),
            }
            checks.push("redis");
        }
        Ok(checks)
    }

    async fn metrics_text(&self) -> String {
        // The queue's depth is the database's to tell; a scrape while it is down shows the last one.
        match self.jobs.counts().await {
            Ok(counts) => self.metrics.set_queue_depth(&counts),
            Err(e) => tracing::warn!(error = %e, "could not count jobs for /metrics"),
        }
        self.metrics.render(self.db.pool_state(), crate::telemetry::dropped_lines())
    }
}

/// The rate limits of `RATE_LIMIT_*`; idle local buckets are forgotten every minute.
pub fn limits(settings: &Settings, redis: Option<deadpool_redis::Pool>) -> anyhow::Result<Limits> {
    let policy = |name, per_minute| NonZeroU32::new(per_minute).map(|n| Policy::new(name, n));
    let auth = policy("auth", settings.limits.auth_per_minute);
    // Users and anonymous addresses are told apart by their bucket keys, so one policy serves both.
    let general = policy("general", settings.limits.per_minute);
    let policies: Vec<Policy> = [auth, general].into_iter().flatten().collect();
    let local = Arc::new(LocalLimiter::new(&policies));
    let sweeper = Arc::downgrade(&local);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            let Some(local) = sweeper.upgrade() else { return };
            local.forget_idle();
        }
    });
    let limiter: Arc<dyn RateLimiter> = match redis {
        Some(pool) => Arc::new(RedisLimiter::new(pool, settings.redis.prefix.clone(), LocalLimiter::new(&policies))),
        None => local,
    };
    Ok(Limits { limiter, auth, general, proxies: TrustedProxies(settings.trusted_proxies()?.into()) })
}
