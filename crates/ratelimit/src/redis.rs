//! Buckets in Redis, shared by every instance.
//!
//! Each check is one `EVALSHA` of a GCRA script that reads the bucket's theoretical arrival time
//! (TAT), decides, and stores the new TAT with an expiry — atomically on the server, on the
//! server's clock, so instances with skewed clocks still agree. A Redis that does not answer
//! within a short bound sends the check to the local buckets instead (logged at most every few
//! seconds), so an outage loosens the limit to per-instance and never fails a request.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use deadpool_redis::Pool;

use crate::{Decision, LocalLimiter, OverCapacity, Policy, RateLimiter};

/// How long one check may wait for Redis before deciding locally.
const CHECK_TIMEOUT: Duration = Duration::from_millis(100);
/// How often a Redis outage is logged, at most.
const WARN_EVERY_SECS: u64 = 10;

/// GCRA with a cost, over milliseconds. KEYS[1] the bucket; ARGV[1] the limit (burst), ARGV[2]
/// the period in ms for that many cells, ARGV[3] the cells this request costs (at most the limit:
/// the caller refuses more). Returns {allowed, remaining, reset_ms, retry_after_ms}.
///
/// It reckons from `ahead`, how far the bucket's theoretical arrival time lies past now (what
/// was spent and has not come back), rather than from absolute times: near `TIME`'s 10^12 ms a
/// sum and a difference each round, and a request of the whole burst on a full bucket must land
/// exactly on the period, not a rounding past it.
const GCRA: &str = r"
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]))
local ahead = 0
if tat and tat > now then ahead = tat - now end
local after = ahead + period * cost / limit
if after > period then
    return {0, math.floor((period - ahead) * limit / period), math.ceil(ahead), math.ceil(after - period)}
end
redis.call('SET', KEYS[1], string.format('%.3f', now + after), 'PX', math.ceil(after))
return {1, math.floor((period - after) * limit / period), math.ceil(after), 0}
";

/// Buckets in Redis under `{prefix}:rl:{policy}:{key}`, with local buckets as the fallback.
pub struct RedisLimiter {
    pool: Pool,
    prefix: String,
    script: redis::Script,
    fallback: LocalLimiter,
    warned_at: AtomicU64,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl RedisLimiter {
    /// A limiter in `pool`'s server; `fallback` decides while Redis cannot be reached.
    pub fn new(pool: Pool, prefix: impl Into<String>, fallback: LocalLimiter) -> Self {
        Self { pool, prefix: prefix.into(), script: redis::Script::new(GCRA), fallback, warned_at: AtomicU64::new(0) }
    }

    async fn remote(&self, policy: &Policy, key: &str, cost: NonZeroU32) -> Result<Decision, String> {
        let bucket = format!("{}:rl:{}:{key}", self.prefix, policy.name);
        let period_ms = u64::try_from(policy.period.as_millis()).unwrap_or(u64::MAX);
        let mut call = self.script.prepare_invoke();
        call.key(bucket).arg(policy.limit.get()).arg(period_ms).arg(cost.get());
        let run = async {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            call.invoke_async::<(i64, i64, i64, i64)>(&mut conn).await.map_err(|e| e.to_string())
        };
        let (allowed, remaining, reset_ms, retry_ms) =
            tokio::time::timeout(CHECK_TIMEOUT, run).await.map_err(|_| "timed out".to_owned())??;
        let millis = |ms: i64| Duration::from_millis(u64::try_from(ms).unwrap_or(0));
        Ok(Decision {
            allowed: allowed == 1,
            limit: policy.limit.get(),
            remaining: u32::try_from(remaining).unwrap_or(0),
            reset: millis(reset_ms),
            retry_after: (allowed != 1).then(|| millis(retry_ms)),
        })
    }

    /// `cost` cells from the shared bucket, or from the local one while Redis is out of reach.
    async fn spend(&self, policy: &Policy, key: &str, cost: NonZeroU32) -> Result<Decision, OverCapacity> {
        policy.fits(cost)?;
        match self.remote(policy, key, cost).await {
            Ok(decision) => Ok(decision),
            Err(reason) => {
                if self.warn_now() {
                    tracing::warn!(reason, "rate limiting in process: Redis is unreachable");
                }
                self.fallback.decide_n(policy, key, cost)
            }
        }
    }

    fn warn_now(&self) -> bool {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let last = self.warned_at.load(Ordering::Relaxed);
        now >= last + WARN_EVERY_SECS
            && self.warned_at.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, policy: &Policy, key: &str) -> Decision {
        // One cell always fits: a limit is at least 1.
        self.spend(policy, key, NonZeroU32::MIN).await.unwrap_or_else(|_| self.fallback.decide(policy, key))
    }

    async fn check_n(&self, policy: &Policy, key: &str, cost: NonZeroU32) -> Result<Decision, OverCapacity> {
        self.spend(policy, key, cost).await
    }
}
