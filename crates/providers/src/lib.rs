//! Adapters of the third-party data ports of `workbench-integrations`, over reqwest:
//! [`OpenMeteo`] ([`WeatherProvider`]), [`CoinGecko`] ([`PriceProvider`]), [`DeepL`] and
//! [`LibreTranslate`] ([`Translator`]).
//!
//! Every adapter bounds a whole call by its timeout (5 s unless configured), follows no
//! redirect, and maps what comes back to an answer or a
//! [`ProviderError`](workbench_integrations::ProviderError): connection failures and 5xx are
//! `Unavailable`, 429 is `RateLimited` with its `Retry-After`, other 4xx `Refused`, an answer of
//! an unexpected shape `Malformed`. Keys are [`ApiKey`]s: never in a URL, in headers marked
//! sensitive, masked in reasons, hidden from `Debug`.
//!
//! [`ProvidersConfig`] builds the three from the operator's settings.

mod coingecko;
mod deepl;
mod http;
mod libretranslate;
mod open_meteo;

use std::sync::Arc;
use std::time::Duration;

use workbench_integrations::{IntegrationService, PriceProvider, Translator, WeatherProvider};

pub use coingecko::{CoinGecko, CoinGeckoConfig, DEFAULT_CRYPTO_API_URL};
pub use deepl::{DEFAULT_DEEPL_API_URL, DeepL, DeepLConfig};
pub use http::{ApiKey, DEFAULT_TIMEOUT};
pub use libretranslate::{DEFAULT_LIBRETRANSLATE_API_URL, LibreTranslate, LibreTranslateConfig};
pub use open_meteo::{DEFAULT_WEATHER_API_URL, DEFAULT_WEATHER_GEOCODING_URL, OpenMeteo, OpenMeteoConfig};

/// Why the providers cannot be built from the configuration. Names the setting to fix; never
/// shows a key.
#[derive(Debug, thiserror::Error)]
pub enum ProvidersError {
    #[error("invalid {provider} URL {url:?}: {reason}")]
    InvalidUrl { provider: &'static str, url: String, reason: String },
    /// The key holds characters an HTTP header cannot carry.
    #[error("the {provider} API key cannot be sent in an HTTP header (it holds a control or non-ASCII character)")]
    InvalidKey { provider: &'static str },
    #[error("unknown TRANSLATE_PROVIDER {0:?}: use deepl or libretranslate")]
    UnknownTranslateProvider(String),
    #[error("cannot build the HTTP client for {provider}: {reason}")]
    Client { provider: &'static str, reason: String },
}

/// Which translator to use (`TRANSLATE_PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TranslateProvider {
    #[default]
    DeepL,
    LibreTranslate,
}

impl std::str::FromStr for TranslateProvider {
    type Err = ProvidersError;

    /// `deepl` or `libretranslate`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "deepl" => Ok(Self::DeepL),
            "libretranslate" => Ok(Self::LibreTranslate),
            _ => Err(ProvidersError::UnknownTranslateProvider(s.to_owned())),
        }
    }
}

/// The operator's provider settings; `None` (or blank) for any of them means its default.
#[derive(Debug, Clone, Default)]
pub struct ProvidersConfig {
    /// `WEATHER_API_URL`, default [`DEFAULT_WEATHER_API_URL`].
    pub weather_api_url: Option<String>,
    /// `WEATHER_GEOCODING_URL`, default [`DEFAULT_WEATHER_GEOCODING_URL`].
    pub weather_geocoding_url: Option<String>,
    /// `CRYPTO_API_URL`, default [`DEFAULT_CRYPTO_API_URL`].
    pub crypto_api_url: Option<String>,
    /// `CRYPTO_API_KEY`: a CoinGecko demo key, optional.
    pub crypto_api_key: Option<ApiKey>,
    /// `TRANSLATE_PROVIDER`, default DeepL.
    pub translate_provider: TranslateProvider,
    /// `TRANSLATE_API_URL`, default [`DEFAULT_DEEPL_API_URL`] or [`DEFAULT_LIBRETRANSLATE_API_URL`].
    pub translate_api_url: Option<String>,
    /// `TRANSLATE_API_KEY`: required by DeepL, optional for LibreTranslate.
    pub translate_api_key: Option<ApiKey>,
    /// The bound on one provider call, default [`DEFAULT_TIMEOUT`] (tests shorten it).
    pub timeout: Option<Duration>,
}

/// The adapters built from a [`ProvidersConfig`].
#[derive(Clone)]
pub struct Providers {
    pub weather: Arc<dyn WeatherProvider>,
    pub prices: Arc<dyn PriceProvider>,
    /// `None` when the translator is not configured (DeepL without a key).
    pub translator: Option<Arc<dyn Translator>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("weather", &self.weather.name())
            .field("prices", &self.prices.name())
            .field("translator", &self.translator.as_ref().map(|t| t.name()))
            .finish()
    }
}

impl Providers {
    /// `service` with these providers plugged in.
    pub fn install(self, service: IntegrationService) -> IntegrationService {
        let service = service.with_weather(self.weather).with_prices(self.prices);
        match self.translator {
            Some(translator) => service.with_translator(translator),
            None => service,
        }
    }
}

impl ProvidersConfig {
    /// The three adapters.
    ///
    /// # Errors
    ///
    /// An unusable URL or key, naming the provider.
    pub fn build(&self) -> Result<Providers, ProvidersError> {
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let or = |url: &Option<String>, default: &str| {
            url.as_deref().map(str::trim).filter(|url| !url.is_empty()).unwrap_or(default).to_owned()
        };
        let weather = OpenMeteo::new(OpenMeteoConfig {
            geocoding_url: or(&self.weather_geocoding_url, DEFAULT_WEATHER_GEOCODING_URL),
            api_url: or(&self.weather_api_url, DEFAULT_WEATHER_API_URL),
            timeout,
        })?;
        let prices = CoinGecko::new(CoinGeckoConfig {
            api_url: or(&self.crypto_api_url, DEFAULT_CRYPTO_API_URL),
            api_key: self.crypto_api_key.clone(),
            timeout,
        })?;
        let translator: Option<Arc<dyn Translator>> = match self.translate_provider {
            TranslateProvider::DeepL => match &self.translate_api_key {
                Some(key) => Some(Arc::new(DeepL::new(DeepLConfig {
                    api_url: or(&self.translate_api_url, DEFAULT_DEEPL_API_URL),
                    api_key: key.clone(),
                    timeout,
                })?)),
                None => None,
            },
            TranslateProvider::LibreTranslate => Some(Arc::new(LibreTranslate::new(LibreTranslateConfig {
                api_url: or(&self.translate_api_url, DEFAULT_LIBRETRANSLATE_API_URL),
                api_key: self.translate_api_key.clone(),
                timeout,
            })?)),
        };
        Ok(Providers { weather: Arc::new(weather), prices: Arc::new(prices), translator })
    }
}
