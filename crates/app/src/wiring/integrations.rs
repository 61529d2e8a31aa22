//! Third-party data: the providers of `WEATHER_*`, `CRYPTO_*` and `TRANSLATE_*` (real endpoints
//! unless set), answers cached in Redis when configured (instances share them), and each
//! account's budget of characters to translate (`TRANSLATE_CHARS_PER_HOUR`), a GCRA bucket with a
//! cost kept where the rate limits are kept: in Redis when configured, so that every instance
//! draws from one budget per account.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use workbench_cache::{MemoryAnswerCache, RedisAnswerCache};
use workbench_integrations::{AccountId, AnswerCache, Capability, IntegrationService, Spending, UsageBudget};
use workbench_providers::{ApiKey, ProvidersConfig};
use workbench_ratelimit::{LocalLimiter, Policy, RateLimiter, RedisLimiter};

use crate::config::Settings;
use workbench_metrics::Metrics;

pub fn service(
    settings: &Settings,
    redis: Option<&deadpool_redis::Pool>,
    metrics: &Metrics,
) -> anyhow::Result<IntegrationService> {
    let config = &settings.integrations;
    let providers = ProvidersConfig {
        weather_api_url: config.weather_api_url.clone(),
        weather_geocoding_url: config.weather_geocoding_url.clone(),
        crypto_api_url: config.crypto_api_url.clone(),
        crypto_api_key: config.crypto_api_key.clone().and_then(ApiKey::new),
        translate_provider: config
            .translate_provider
            .as_deref()
            .map(str::parse)
            .transpose()
            .context("TRANSLATE_PROVIDER")?
            .unwrap_or_default(),
        translate_api_url: config.translate_api_url.clone(),
        translate_api_key: config.translate_api_key.clone().and_then(ApiKey::new),
        timeout: None,
    }
    .build()?;
    let cache: Arc<dyn AnswerCache> = match redis {
        Some(pool) => Arc::new(RedisAnswerCache::new(pool.clone()).with_prefix(settings.redis.prefix.clone())),
        None => Arc::new(MemoryAnswerCache::default()),
    };
    let mut service =
        IntegrationService::new(cache).with_cache_ttl(config.cache_ttl).with_observer(Arc::new(metrics.clone()));
    // 0 turns the budget off, as it does the rate limits.
    if let Some(chars) = NonZeroU32::new(settings.limits.translate_chars_per_hour) {
        service = service.with_budget(Arc::new(TranslationBudget::new(chars, redis, &settings.redis.prefix)));
    }
    Ok(providers.install(service))
}

/// Characters translated per account and hour, as a rate-limit bucket whose cells are characters.
struct TranslationBudget {
    policy: Policy,
    limiter: Arc<dyn RateLimiter>,
}

impl TranslationBudget {
    fn new(chars_per_hour: NonZeroU32, redis: Option<&deadpool_redis::Pool>, prefix: &str) -> Self {
        let policy = Policy::per_hour("translate", chars_per_hour);
        let limiter: Arc<dyn RateLimiter> = match redis {
            Some(pool) => Arc::new(RedisLimiter::new(pool.clone(), prefix, LocalLimiter::new(&[policy]))),
            None => {
                let local = Arc::new(LocalLimiter::new(&[policy]));
                forget_idle_buckets(&local);
                local
            }
        };
        Self { policy, limiter }
    }
}

/// Every few minutes, drops the buckets of accounts whose budget is whole again, so that memory
/// follows the accounts translating this hour rather than every account that ever did.
fn forget_idle_buckets(local: &Arc<LocalLimiter>) {
    let sweeper = Arc::downgrade(local);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(300));
        loop {
            every.tick().await;
            let Some(local) = sweeper.upgrade() else { return };
            local.forget_idle();
        }
    });
}

#[async_trait]
impl UsageBudget for TranslationBudget {
    async fn spend(&self, capability: Capability, account: AccountId, amount: NonZeroU32) -> Spending {
        if capability != Capability::Translation {
            return Spending::Spent;
        }
        let key = format!("user:{account}");
        match self.limiter.check_n(&self.policy, &key, amount).await {
            Ok(decision) if decision.allowed => Spending::Spent,
            Ok(decision) => Spending::Short { retry_after: decision.retry_after.unwrap_or(self.policy.interval()) },
            Err(over) => Spending::OverBudget { budget: over.limit, period: self.policy.period },
        }
    }
}
