//! CoinGecko: the coin with exactly the asked symbol and the best market-cap rank from its
//! search, then that coin's price from `simple/price`. Works without a key; a demo key, when
//! configured, raises the rate limit.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName};
use serde::Deserialize;
use serde_json::{Map, Value};
use workbench_integrations::{Price, PriceProvider, PriceQuery, ProviderError};

use crate::http::{DEFAULT_TIMEOUT, base_url, client, fetch_json, within};
use crate::{ApiKey, ProvidersError};

/// CoinGecko's public API (`CRYPTO_API_URL`).
pub const DEFAULT_CRYPTO_API_URL: &str = "https://api.coingecko.com";

const NAME: &str = "coingecko";

/// The header a demo key (`CRYPTO_API_KEY`) goes in.
const KEY_HEADER: HeaderName = HeaderName::from_static("x-cg-demo-api-key");

/// Where CoinGecko is, its key and how long a call may take.
#[derive(Debug, Clone)]
pub struct CoinGeckoConfig {
    pub api_url: String,
    pub api_key: Option<ApiKey>,
    /// The bound on a whole call: search and price together.
    pub timeout: Duration,
}

impl Default for CoinGeckoConfig {
    fn default() -> Self {
        Self { api_url: DEFAULT_CRYPTO_API_URL.to_owned(), api_key: None, timeout: DEFAULT_TIMEOUT }
    }
}

/// The [`PriceProvider`] of CoinGecko.
#[derive(Debug, Clone)]
pub struct CoinGecko {
    client: reqwest::Client,
    api_url: String,
    /// The key header, marked sensitive (its `Debug` shows `Sensitive`).
    headers: HeaderMap,
    key: Option<ApiKey>,
    timeout: Duration,
}

impl CoinGecko {
    /// # Errors
    ///
    /// [`ProvidersError::InvalidUrl`], [`ProvidersError::InvalidKey`] for a key that cannot be
    /// sent in a header, [`ProvidersError::Client`].
    pub fn new(config: CoinGeckoConfig) -> Result<Self, ProvidersError> {
        let mut headers = HeaderMap::new();
        if let Some(key) = &config.api_key {
            headers.insert(KEY_HEADER, key.header(NAME, "")?);
        }
        Ok(Self {
            client: client(NAME, config.timeout)?,
            api_url: base_url(NAME, &config.api_url)?,
            headers,
            key: config.api_key,
            timeout: config.timeout,
        })
    }
}

/// `GET /api/v3/search`.
#[derive(Deserialize)]
struct Search {
    coins: Vec<Coin>,
}

#[derive(Deserialize)]
struct Coin {
    id: String,
    name: String,
    symbol: String,
    market_cap_rank: Option<u64>,
}

/// The coin whose symbol is exactly `symbol` (in any case) with the best (lowest) market-cap
/// rank; unranked coins last, ties to the first listed.
fn pick(coins: Vec<Coin>, symbol: &str) -> Option<Coin> {
    coins
        .into_iter()
        .filter(|coin| coin.symbol.eq_ignore_ascii_case(symbol))
        .min_by_key(|coin| (coin.market_cap_rank.is_none(), coin.market_cap_rank))
}

#[async_trait]
impl PriceProvider for CoinGecko {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn price(&self, query: &PriceQuery) -> Result<Option<Price>, ProviderError> {
        within(self.timeout, async {
            let search = self
                .client
                .get(format!("{}/api/v3/search", self.api_url))
                .headers(self.headers.clone())
                .query(&[("query", query.symbol.as_str())]);
            let search: Search = fetch_json(search, "search", self.key.as_ref()).await?;
            let Some(coin) = pick(search.coins, query.symbol.as_str()) else { return Ok(None) };
            let currency = query.currency.as_str();
            let prices =
                self.client.get(format!("{}/api/v3/simple/price", self.api_url)).headers(self.headers.clone()).query(
                    &[
                        ("ids", coin.id.as_str()),
                        ("vs_currencies", currency),
                        ("include_24hr_change", "true"),
                        ("include_market_cap", "true"),
                        ("include_last_updated_at", "true"),
                    ],
                );
            let mut prices: Map<String, Value> = fetch_json(prices, "price", self.key.as_ref()).await?;
            // A coin without market data, or without a quote in that currency, is left out (or
            // answered with an empty object): no price to give.
            let Some(quote) = prices.remove(&coin.id) else { return Ok(None) };
            price(query, coin, &quote)
        })
        .await
    }
}

fn price(query: &PriceQuery, coin: Coin, quote: &Value) -> Result<Option<Price>, ProviderError> {
    let malformed = |reason: String| ProviderError::Malformed { reason: format!("price: {reason}") };
    let quote = quote.as_object().ok_or_else(|| malformed(format!("{:?} is not an object", coin.id)))?;
    let currency = query.currency.as_str();
    let number = |field: &str| -> Result<Option<f64>, ProviderError> {
        match quote.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value.as_f64().map(Some).ok_or_else(|| malformed(format!("{field} is not a number"))),
        }
    };
    let Some(price) = number(currency)? else { return Ok(None) };
    let updated_at = quote
        .get("last_updated_at")
        .and_then(Value::as_i64)
        .and_then(|seconds| DateTime::<Utc>::from_timestamp(seconds, 0))
        .ok_or_else(|| malformed("last_updated_at is missing or not a time".to_owned()))?;
    Ok(Some(Price {
        symbol: query.symbol.as_str().to_owned(),
        name: coin.name,
        currency: currency.to_owned(),
        price,
        change_24h_percent: number(&format!("{currency}_24h_change"))?,
        // CoinGecko says 0 when it does not know a market cap.
        market_cap: number(&format!("{currency}_market_cap"))?.filter(|cap| *cap != 0.0),
        updated_at,
        source: NAME.to_owned(),
        cached: false,
        stale: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coin(id: &str, symbol: &str, rank: Option<u64>) -> Coin {
        Coin { id: id.into(), name: id.into(), symbol: symbol.into(), market_cap_rank: rank }
    }

    #[test]
    fn the_exact_symbol_with_the_best_rank_wins() {
        let coins = || {
            vec![
                coin("ethereum-wormhole", "ETH", None),
                coin("ethereum-pow", "ETHW", Some(300)),
                coin("bridged-eth", "eth", Some(900)),
                coin("ethereum", "ETH", Some(2)),
            ]
        };
        assert_eq!(pick(coins(), "ETH").unwrap().id, "ethereum");
        assert_eq!(pick(coins(), "ETHW").unwrap().id, "ethereum-pow");
        assert!(pick(coins(), "ET").is_none(), "a prefix is not a match");
        let unranked = vec![coin("first", "ABC", None), coin("second", "ABC", None)];
        assert_eq!(pick(unranked, "ABC").unwrap().id, "first");
    }
}
