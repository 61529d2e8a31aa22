//! The third-party data domain of Workbench: current weather, crypto-currency prices and
//! translations from outside providers.
//!
//! Inputs are validated newtypes ([`City`], [`CryptoSymbol`], [`Currency`], [`TranslationText`],
//! [`LanguageCode`]) gathered in one query per capability; answers ([`Weather`], [`Price`],
//! [`Translation`]) are the contract's response bodies. One port per capability
//! ([`WeatherProvider`], [`PriceProvider`], [`Translator`]) is implemented by the adapters of
//! `workbench-providers`; [`AnswerCache`] by those of `workbench-cache`; [`UsageBudget`] (each
//! account's share of the providers' quota) and [`IntegrationsObserver`] by the app.
//!
//! [`IntegrationService`] holds the rules: answers are cached for a TTL under a normalised key;
//! a failing provider is covered by the last good answer up to [`KEEP_ANSWERS_FOR`] old, marked
//! `stale`; a provider that answered 429 is left alone for its `Retry-After`; concurrent requests
//! for one cold key make one provider call; a translation that needs the provider is paid for
//! from the caller's budget first.

#![warn(missing_docs)]

mod answer;
mod error;
mod ports;
mod query;
mod service;

pub use answer::{AnswerBody, CacheKey, KEEP_ANSWERS_FOR, Price, StoredAnswer, Translation, Weather, wmo_conditions};
pub use error::{CacheOutcome, CallOutcome, Capability, IntegrationError, ProviderError};
pub use ports::{
    AccountId, AnswerCache, Clock, IntegrationsObserver, NoObserver, PriceProvider, Spending, SystemClock, Translator,
    Unlimited, UsageBudget, WeatherProvider,
};
pub use query::{
    City, CryptoSymbol, Currency, LanguageCode, PriceQuery, PriceRequest, SUPPORTED_CURRENCIES, TranslationQuery,
    TranslationRequest, TranslationText, WeatherQuery, WeatherRequest,
};
pub use service::{DEFAULT_BACK_OFF, DEFAULT_CACHE_TTL, IntegrationService, MAX_BACK_OFF, PROVIDER_DEADLINE};

#[cfg(feature = "mock")]
pub use ports::{
    MockAnswerCache, MockIntegrationsObserver, MockPriceProvider, MockTranslator, MockUsageBudget, MockWeatherProvider,
};
