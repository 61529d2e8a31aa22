//! Third-party data through the running server, against a local fake of the providers that
//! answers as Open-Meteo, CoinGecko and LibreTranslate do: cold and cached answers, stale
//! answers while a provider is down, 502 with nothing cached, 503 for a provider left
//! unconfigured, 404 for unknown names and 422 for bad parameters; and each account's budget of
//! characters to translate, spent only on what the provider translates, one budget however many
//! instances serve the account.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};
use workbench_e2e::{Account, Backend, TestApp, engines_with_fake, error_fields, expect_problem, per_engine};

use crate::tasks::{as_user, expect_json};

async fn provider() -> MockServer {
    MockServer::start().await
}

fn point_at(settings: &mut workbench_app::config::Settings, fake: &str) {
    settings.integrations.weather_api_url = Some(fake.to_owned());
    settings.integrations.weather_geocoding_url = Some(fake.to_owned());
    settings.integrations.crypto_api_url = Some(fake.to_owned());
    settings.integrations.translate_provider = Some("libretranslate".to_owned());
    settings.integrations.translate_api_url = Some(fake.to_owned());
    // Short enough that a test can outlive a cached answer.
    settings.integrations.cache_ttl = Duration::from_millis(600);
}

async fn get(app: &TestApp, who: &Account, path: &str) -> reqwest::Response {
    as_user(app, who, Method::GET, path).send().await.unwrap()
}

async fn dakar_is_known(fake: &MockServer) {
    let place = json!({"results": [{"name": "Dakar", "latitude": 14.6937, "longitude": -17.44406, "country": "Senegal",
                                     "country_code": "SN", "timezone": "Africa/Dakar"}]});
    Mock::given(method("GET"))
        .and(path("/v1/search"))
        .and(query_param("name", "Dakar"))
        .respond_with(ResponseTemplate::new(200).set_body_json(place))
        .mount(fake)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/search"))
        .and(query_param("name", "Atlantis"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"generationtime_ms": 0.4})))
        .mount(fake)
        .await;
}

async fn forecast_answers(fake: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET")).and(path("/v1/forecast")).respond_with(response).mount(fake).await;
}

fn dakar_now() -> Value {
    json!({"latitude": 14.75, "longitude": -17.5, "utc_offset_seconds": 0, "timezone": "GMT",
           "current": {"time": "2026-01-15T10:30", "interval": 900, "temperature_2m": 24.3,
                       "apparent_temperature": 25.1, "relative_humidity_2m": 61, "wind_speed_10m": 18.7,
                       "weather_code": 61}})
}

async fn weather_is_fetched_cached_and_served_stale_while_the_provider_is_down(app: TestApp, fake: MockServer) {
    let ann = app.signup("ann").await;
    dakar_is_known(&fake).await;
    forecast_answers(&fake, ResponseTemplate::new(200).set_body_json(dakar_now())).await;

    let cold = expect_json(get(&app, &ann, "/api/v1/weather?city=Dakar").await, 200).await;
    assert_eq!(cold["city"], "Dakar");
    assert_eq!(cold["country"], "Senegal");
    assert_eq!(cold["temperature_c"], 24.3);
    assert_eq!(cold["humidity_percent"].as_f64(), Some(61.0));
    assert_eq!(cold["conditions"], "slight rain");
    assert_eq!(cold["observed_at"], "2026-01-15T10:30:00Z");
    assert_eq!((cold["cached"].as_bool(), cold["stale"].as_bool()), (Some(false), Some(false)));
    let cached = expect_json(get(&app, &ann, "/api/v1/weather?city=%20%20dakar%20").await, 200).await;
    assert_eq!(cached["cached"], true, "the normalised query is the key: {cached}");
    assert_eq!(cached["temperature_c"], 24.3);

    // The provider goes down; once the answer is no longer fresh, the last good one is served stale.
    fake.reset().await;
    dakar_is_known(&fake).await;
    forecast_answers(&fake, ResponseTemplate::new(503)).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let stale = expect_json(get(&app, &ann, "/api/v1/weather?city=Dakar").await, 200).await;
    assert_eq!((stale["stale"].as_bool(), stale["temperature_c"].as_f64()), (Some(true), Some(24.3)), "{stale}");

    // With nothing cached there is nothing to serve.
    Mock::given(method("GET"))
        .and(path("/v1/search"))
        .and(query_param("name", "Paris"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&fake)
        .await;
    let down = expect_problem(get(&app, &ann, "/api/v1/weather?city=Paris").await, 502).await;
    assert!(down["type"].as_str().unwrap().ends_with("provider-unavailable"), "{down}");

    expect_problem(get(&app, &ann, "/api/v1/weather?city=Atlantis").await, 404).await;
    let bad = expect_problem(get(&app, &ann, "/api/v1/weather").await, 422).await;
    assert_eq!(error_fields(&bad), ["city"]);
    expect_problem(app.get("/api/v1/weather?city=Dakar").send().await.unwrap(), 401).await;
}

async fn prices_name_the_coin_and_refuse_unknown_symbols_and_currencies(app: TestApp, fake: MockServer) {
    let ann = app.signup("ann").await;
    let coins = json!({"coins": [
        {"id": "bitcoin-token", "name": "Bitcoin Token", "symbol": "BTC", "market_cap_rank": null},
        {"id": "bitcoin", "name": "Bitcoin", "symbol": "BTC", "market_cap_rank": 1}
    ]});
    Mock::given(method("GET"))
        .and(path("/api/v3/search"))
        .and(query_param("query", "BTC"))
        .respond_with(ResponseTemplate::new(200).set_body_json(coins))
        .mount(&fake)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/search"))
        .and(query_param("query", "NOPE"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"coins": []})))
        .mount(&fake)
        .await;
    let price = json!({"bitcoin": {"eur": 81234.5, "eur_market_cap": 1.6e12, "eur_24h_change": 2.5,
                                   "last_updated_at": 1_768_473_000}});
    Mock::given(method("GET"))
        .and(path("/api/v3/simple/price"))
        .and(query_param("ids", "bitcoin"))
        .and(query_param("vs_currencies", "eur"))
        .respond_with(ResponseTemplate::new(200).set_body_json(price))
        .expect(1)
        .mount(&fake)
        .await;

    let btc = expect_json(get(&app, &ann, "/api/v1/crypto?symbol=btc&currency=EUR").await, 200).await;
    assert_eq!((btc["symbol"].as_str(), btc["name"].as_str()), (Some("BTC"), Some("Bitcoin")), "{btc}");
    assert_eq!((btc["currency"].as_str(), btc["price"].as_f64()), (Some("eur"), Some(81234.5)), "{btc}");
    assert_eq!(btc["cached"], false);
    let again = expect_json(get(&app, &ann, "/api/v1/crypto?symbol=BTC&currency=eur").await, 200).await;
    assert_eq!(again["cached"], true);

    expect_problem(get(&app, &ann, "/api/v1/crypto?symbol=NOPE").await, 404).await;
    let bad = expect_problem(get(&app, &ann, "/api/v1/crypto?symbol=BTC&currency=doubloons").await, 422).await;
    assert_eq!(error_fields(&bad), ["currency"]);
}

async fn translations_are_checked_then_cached(app: TestApp, fake: MockServer) {
    let ann = app.signup("ann").await;
    Mock::given(method("POST"))
        .and(path("/translate"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"translatedText": "Hello", "detectedLanguage": {"confidence": 90, "language": "fr"}}),
        ))
        .expect(1)
        .mount(&fake)
        .await;
    let hello = expect_json(get(&app, &ann, "/api/v1/translate?text=Bonjour&to=en").await, 200).await;
    assert_eq!(hello["translated"], "Hello");
    assert_eq!((hello["from"].as_str(), hello["to"].as_str()), (Some("fr"), Some("en")), "{hello}");
    let again = expect_json(get(&app, &ann, "/api/v1/translate?text=Bonjour&to=EN").await, 200).await;
    assert_eq!(again["cached"], true);

    let bad = expect_problem(get(&app, &ann, "/api/v1/translate?text=&to=english&from=x").await, 422).await;
    assert_eq!(error_fields(&bad), ["text", "to", "from"]);
}

async fn a_provider_left_unconfigured_is_503(app: TestApp, _fake: MockServer) {
    let ann = app.signup("ann").await;
    // DeepL, the default translator, needs a key; none is set.
    let problem = expect_problem(get(&app, &ann, "/api/v1/translate?text=Bonjour&to=en").await, 503).await;
    assert_eq!(problem["status"], 503);
}

engines_with_fake!(
    provider, point_at;
    weather_is_fetched_cached_and_served_stale_while_the_provider_is_down,
    prices_name_the_coin_and_refuse_unknown_symbols_and_currencies,
    translations_are_checked_then_cached,
);

fn deepl_without_key(settings: &mut workbench_app::config::Settings, fake: &str) {
    point_at(settings, fake);
    settings.integrations.translate_provider = Some("deepl".to_owned());
    settings.integrations.translate_api_key = None;
}

engines_with_fake!(provider, deepl_without_key; a_provider_left_unconfigured_is_503);

/// Thirty characters an hour (one back every two minutes), and answers cached long enough for a
/// test to reuse them.
fn with_budget(settings: &mut workbench_app::config::Settings, fake: &str) {
    point_at(settings, fake);
    settings.integrations.cache_ttl = Duration::from_secs(60);
    settings.limits.translate_chars_per_hour = 30;
}

/// The fake translator answers every text, `calls` times in all.
async fn translator_answers(fake: &MockServer, calls: u64) {
    Mock::given(method("POST"))
        .and(path("/translate"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"translatedText": "Hello", "detectedLanguage": {"confidence": 90, "language": "fr"}}),
        ))
        .expect(calls)
        .mount(fake)
        .await;
}

async fn translate(app: &TestApp, who: &Account, text: &str) -> reqwest::Response {
    as_user(app, who, Method::GET, "/api/v1/translate").query(&[("text", text), ("to", "en")]).send().await.unwrap()
}

/// A refusal for want of budget: its problem, and its `Retry-After` in seconds.
async fn budget_spent(res: reqwest::Response) -> (Value, u64) {
    let retry_after = res.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    let problem = expect_problem(res, 429).await;
    assert!(problem["type"].as_str().unwrap().ends_with("/translation-budget-exhausted"), "{problem}");
    (problem, retry_after.expect("Retry-After, in whole seconds"))
}

async fn the_translation_budget_pays_for_what_the_provider_translates_only(app: TestApp, fake: MockServer) {
    // Bonjour, the twenty characters, Bob's Bonsoir and Oui: four calls, whatever Ann asks after.
    translator_answers(&fake, 4).await;
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);

    let first = expect_json(translate(&app, &ann, "Bonjour").await, 200).await;
    assert_eq!(first["cached"], false);
    for _ in 0..5 {
        let again = expect_json(translate(&app, &ann, "Bonjour").await, 200).await;
        assert_eq!(again["cached"], true, "a cached answer costs nothing: 7 characters spent so far");
    }
    // Twenty characters in twenty-two bytes: 27 spent, 3 left.
    expect_json(translate(&app, &ann, "Bonne nuit à demain!").await, 200).await;

    let (problem, retry_after) = budget_spent(translate(&app, &ann, "Bonsoir").await).await;
    assert_eq!(problem["status"], 429);
    // Four characters short, one back every two minutes.
    assert!((470..=480).contains(&retry_after), "Retry-After: {retry_after}");

    // Bob has a budget of his own, and what he paid for is in the cache for anyone.
    expect_json(translate(&app, &bob, "Bonsoir").await, 200).await;
    let cached = expect_json(translate(&app, &ann, "Bonsoir").await, 200).await;
    assert_eq!(cached["cached"], true, "served from the cache although Ann's budget is spent");

    // The rest of the budget can be spent to the last character, and then nothing.
    expect_json(translate(&app, &ann, "Oui").await, 200).await;
    budget_spent(translate(&app, &ann, "Non").await).await;

    // A text longer than the whole budget could never be paid for: no wait helps, so no 429.
    let problem = expect_problem(translate(&app, &bob, &"a".repeat(31)).await, 422).await;
    assert_eq!(error_fields(&problem), ["text"]);
}

engines_with_fake!(provider, with_budget; the_translation_budget_pays_for_what_the_provider_translates_only);

/// Two instances on one Redis draw one account's characters from one budget: what is spent
/// through one is gone through the other.
async fn the_translation_budget_is_one_across_instances(backend: Backend) {
    let fake = provider().await;
    translator_answers(&fake, 2).await;
    let uri = fake.uri();
    let Some(apps) = TestApp::spawn_cluster_with(backend, 2, |s| with_budget(s, &uri)).await else { return };
    let (one, two) = (&apps[0], &apps[1]);
    let ann = one.signup("ann").await;

    // 25 characters through one: 5 left.
    expect_json(translate(one, &ann, "Bonjour à vous, mes amis.").await, 200).await;
    let (_, retry_after) = budget_spent(translate(two, &ann, "Bonsoir").await).await;
    assert!((230..=240).contains(&retry_after), "two characters short: {retry_after}");
    expect_json(translate(two, &ann, "Salut").await, 200).await;
    budget_spent(translate(one, &ann, "Oui").await).await;
}

per_engine!(the_translation_budget_is_one_across_instances);
