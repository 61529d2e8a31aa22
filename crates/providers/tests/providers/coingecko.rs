//! CoinGecko: search for the exact symbol, then `simple/price`.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};
use workbench_integrations::{PriceProvider, ProviderError};
use workbench_providers::{ApiKey, CoinGecko, CoinGeckoConfig};

use crate::{TEST_TIMEOUT, TOO_SLOW, assert_malformed, price_query};

fn coin(id: &str, name: &str, symbol: &str, rank: Option<u64>) -> Value {
    json!({
        "id": id,
        "name": name,
        "api_symbol": id,
        "symbol": symbol,
        "market_cap_rank": rank,
        "thumb": format!("https://coin-images.coingecko.com/coins/images/1/thumb/{id}.png"),
        "large": format!("https://coin-images.coingecko.com/coins/images/1/large/{id}.png")
    })
}

/// What `GET /api/v3/search?query=ETH` answers: fuzzy matches, several with the symbol.
fn eth_search() -> Value {
    json!({
        "coins": [
            coin("ethereum-wormhole", "Ethereum (Wormhole)", "ETH", None),
            coin("ethereum-pow-iou", "EthereumPoW", "ETHW", Some(310)),
            coin("bridged-ether-starkgate", "Bridged Ether (StarkGate)", "eth", Some(1800)),
            coin("ethereum", "Ethereum", "ETH", Some(2)),
            coin("staked-ether", "Lido Staked Ether", "STETH", Some(6))
        ],
        "exchanges": [],
        "icos": [],
        "categories": [],
        "nfts": []
    })
}

/// What `GET /api/v3/simple/price?ids=ethereum&vs_currencies=eur&...` answers.
fn ethereum_in_eur() -> Value {
    json!({
        "ethereum": {
            "eur": 3120.55,
            "eur_market_cap": 376_242_342_129.44,
            "eur_24h_change": -1.8733,
            "last_updated_at": 1_768_473_000
        }
    })
}

fn adapter(server: &MockServer, key: Option<&str>) -> CoinGecko {
    CoinGecko::new(CoinGeckoConfig { api_url: server.uri(), api_key: key.and_then(ApiKey::new), timeout: TEST_TIMEOUT })
        .unwrap()
}

async fn search_answers(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET")).and(path("/api/v3/search")).respond_with(response).mount(server).await;
}

async fn price_answers(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET")).and(path("/api/v3/simple/price")).respond_with(response).mount(server).await;
}

#[tokio::test]
async fn the_exact_symbol_with_the_best_rank_is_priced() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/search"))
        .and(query_param("query", "ETH"))
        .respond_with(ResponseTemplate::new(200).set_body_json(eth_search()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/simple/price"))
        .and(query_param("ids", "ethereum"))
        .and(query_param("vs_currencies", "eur"))
        .and(query_param("include_24hr_change", "true"))
        .and(query_param("include_market_cap", "true"))
        .and(query_param("include_last_updated_at", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ethereum_in_eur()))
        .expect(1)
        .mount(&server)
        .await;

    let price = adapter(&server, None).price(&price_query("eth", "EUR")).await.unwrap().expect("a known symbol");
    assert_eq!((price.symbol.as_str(), price.name.as_str(), price.currency.as_str()), ("ETH", "Ethereum", "eur"));
    assert_eq!(price.price, 3120.55);
    assert_eq!(price.change_24h_percent, Some(-1.8733));
    assert_eq!(price.market_cap, Some(376_242_342_129.44));
    assert_eq!(price.updated_at, Utc.timestamp_opt(1_768_473_000, 0).unwrap());
    assert_eq!(price.source, "coingecko");
    assert!(!price.cached && !price.stale);

    let requests = server.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| !r.headers.contains_key("x-cg-demo-api-key")), "no key configured, none sent");
}

#[tokio::test]
async fn a_demo_key_goes_in_its_header_on_every_request() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/search"))
        .and(header("x-cg-demo-api-key", "CG-demo-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(eth_search()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v3/simple/price"))
        .and(header("x-cg-demo-api-key", "CG-demo-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ethereum": {"usd": 3400.1, "usd_market_cap": 0.0, "usd_24h_change": null, "last_updated_at": 1_768_473_000}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let adapter = adapter(&server, Some("CG-demo-key"));
    assert!(!format!("{adapter:?}").contains("CG-demo-key"), "the key is not in Debug output");

    let price = adapter.price(&price_query("ETH", "usd")).await.unwrap().unwrap();
    assert_eq!(price.change_24h_percent, None, "null when CoinGecko has no 24 h change");
    assert_eq!(price.market_cap, None, "CoinGecko's 0 for an unknown market cap");
}

#[tokio::test]
async fn an_unknown_symbol_is_none_without_asking_for_a_price() {
    let server = MockServer::start().await;
    search_answers(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({
            "coins": [coin("zzz-protocol", "ZZZ Protocol", "ZZZP", Some(4000))],
            "exchanges": [], "icos": [], "categories": [], "nfts": []
        })),
    )
    .await;
    Mock::given(path("/api/v3/simple/price")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    assert_eq!(adapter(&server, None).price(&price_query("ZZZ", "usd")).await.unwrap(), None);
}

#[tokio::test]
async fn a_coin_without_a_quote_is_none() {
    for prices in [json!({}), json!({"ethereum": {}})] {
        let server = MockServer::start().await;
        search_answers(&server, ResponseTemplate::new(200).set_body_json(eth_search())).await;
        price_answers(&server, ResponseTemplate::new(200).set_body_json(prices)).await;
        assert_eq!(adapter(&server, None).price(&price_query("ETH", "eur")).await.unwrap(), None);
    }
}

#[tokio::test]
async fn a_slow_search_times_out() {
    let server = MockServer::start().await;
    search_answers(&server, ResponseTemplate::new(200).set_body_json(eth_search()).set_delay(TOO_SLOW)).await;
    assert_eq!(adapter(&server, None).price(&price_query("ETH", "eur")).await, Err(ProviderError::Timeout));
}

#[tokio::test]
async fn a_server_error_is_unavailable() {
    let server = MockServer::start().await;
    search_answers(&server, ResponseTemplate::new(200).set_body_json(eth_search())).await;
    price_answers(&server, ResponseTemplate::new(503)).await;
    let error = adapter(&server, None).price(&price_query("ETH", "eur")).await.unwrap_err();
    assert!(matches!(&error, ProviderError::Unavailable { reason } if reason.contains("503")), "{error:?}");
}

#[tokio::test]
async fn a_429_is_rate_limited_with_its_retry_after() {
    let server = MockServer::start().await;
    search_answers(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "60").set_body_json(json!({
            "status": {"error_code": 429, "error_message": "You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing to subscribe to our API plans for higher rate limits."}
        })),
    )
    .await;
    assert_eq!(
        adapter(&server, None).price(&price_query("ETH", "eur")).await,
        Err(ProviderError::RateLimited { retry_after: Some(Duration::from_secs(60)) })
    );

    let without = MockServer::start().await;
    search_answers(&without, ResponseTemplate::new(429)).await;
    assert_eq!(
        adapter(&without, None).price(&price_query("ETH", "eur")).await,
        Err(ProviderError::RateLimited { retry_after: None })
    );
}

#[tokio::test]
async fn a_bad_key_is_refused_and_the_key_is_not_in_the_reason() {
    let server = MockServer::start().await;
    search_answers(
        &server,
        ResponseTemplate::new(401).set_body_json(json!({
            "status": {"error_code": 10002, "error_message": "API Key Missing or invalid: CG-wrong-key"}
        })),
    )
    .await;
    let error = adapter(&server, Some("CG-wrong-key")).price(&price_query("ETH", "eur")).await.unwrap_err();
    match error {
        ProviderError::Refused { status, reason } => {
            assert_eq!(status, 401);
            assert!(reason.contains("API Key Missing or invalid"), "{reason}");
            assert!(!reason.contains("CG-wrong-key"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn answers_of_another_shape_are_malformed() {
    let server = MockServer::start().await;
    search_answers(&server, ResponseTemplate::new(200).set_body_json(json!({"results": []}))).await;
    assert_malformed(adapter(&server, None).price(&price_query("ETH", "eur")).await);

    for prices in [
        json!({"ethereum": {"eur": "3120.55", "last_updated_at": 1_768_473_000}}),
        json!({"ethereum": {"eur": 3120.55}}),
        json!({"ethereum": [3120.55]}),
        json!([]),
    ] {
        let server = MockServer::start().await;
        search_answers(&server, ResponseTemplate::new(200).set_body_json(eth_search())).await;
        price_answers(&server, ResponseTemplate::new(200).set_body_json(prices)).await;
        assert_malformed(adapter(&server, None).price(&price_query("ETH", "eur")).await);
    }
}
