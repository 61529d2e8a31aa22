//! The provider adapters against local fakes (wiremock) answering as the real providers do:
//! their real answer shapes, unknown names, timeouts, 5xx, 429 with `Retry-After`, refusals,
//! malformed answers and the keys sent.

mod coingecko;
mod config;
mod deepl;
mod libretranslate;
mod open_meteo;

use std::time::Duration;

use workbench_integrations::{
    PriceQuery, PriceRequest, ProviderError, TranslationQuery, TranslationRequest, WeatherQuery, WeatherRequest,
};

/// Short enough to keep the timeout tests quick, long enough for a loaded machine to answer a
/// local fake well within it.
pub const TEST_TIMEOUT: Duration = Duration::from_millis(1_500);

/// Longer than [`TEST_TIMEOUT`]: a fake that waits this long before answering is too slow.
pub const TOO_SLOW: Duration = Duration::from_secs(4);

pub fn weather_query(city: &str) -> WeatherQuery {
    WeatherQuery::parse(WeatherRequest { city: Some(city.to_owned()) }).unwrap()
}

pub fn price_query(symbol: &str, currency: &str) -> PriceQuery {
    PriceQuery::parse(PriceRequest { symbol: Some(symbol.to_owned()), currency: Some(currency.to_owned()) }).unwrap()
}

pub fn translation_query(text: &str, to: &str, from: Option<&str>) -> TranslationQuery {
    TranslationQuery::parse(TranslationRequest {
        text: Some(text.to_owned()),
        to: Some(to.to_owned()),
        from: from.map(str::to_owned),
    })
    .unwrap()
}

/// Asserts that `result` failed as a malformed answer.
#[track_caller]
pub fn assert_malformed<T: std::fmt::Debug>(result: Result<T, ProviderError>) {
    match result {
        Err(ProviderError::Malformed { reason }) => assert!(!reason.is_empty()),
        other => panic!("expected a malformed answer, got {other:?}"),
    }
}
