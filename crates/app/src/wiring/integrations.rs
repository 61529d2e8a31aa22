//! Third-party data: the providers of `WEATHER_*`, `CRYPTO_*` and `TRANSLATE_*` (real endpoints
//! unless set), answers cached in Redis when configured (instances share them).

use std::sync::Arc;

use anyhow::Context;
use workbench_cache::{MemoryAnswerCache, RedisAnswerCache};
use workbench_integrations::{AnswerCache, IntegrationService};
use workbench_providers::{ApiKey, ProvidersConfig};

use crate::config::Settings;
use crate::metrics::Metrics;

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
    let service =
        IntegrationService::new(cache).with_cache_ttl(config.cache_ttl).with_observer(Arc::new(metrics.clone()));
    Ok(providers.install(service))
}
