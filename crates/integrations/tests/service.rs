//! The rules of `IntegrationService`, with mockall mocks of the providers, an in-memory cache, a
//! recording observer and a clock the tests move by hand.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use tokio::sync::Notify;
use workbench_integrations::{
    AccountId, AnswerBody, AnswerCache, CacheKey, CacheOutcome, CallOutcome, Capability, Clock, IntegrationError,
    IntegrationService, IntegrationsObserver, MAX_BACK_OFF, MockAnswerCache, MockPriceProvider, MockTranslator,
    MockUsageBudget, MockWeatherProvider, Price, PriceRequest, ProviderError, Spending, StoredAnswer, Translation,
    TranslationRequest, Weather, WeatherProvider, WeatherQuery, WeatherRequest,
};

const TTL: Duration = Duration::from_secs(60);

/// The account translations are charged to.
const ANN: AccountId = AccountId(7);

/// A clock that moves only when told.
struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(Utc.with_ymd_and_hms(2026, 1, 15, 10, 0, 0).unwrap())))
    }

    fn advance(&self, seconds: u64) {
        let mut now = self.0.lock().unwrap();
        *now += chrono::Duration::seconds(i64::try_from(seconds).unwrap());
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// An in-memory cache that keeps everything and counts reads.
#[derive(Default)]
struct FakeCache {
    entries: Mutex<HashMap<CacheKey, StoredAnswer>>,
    reads: AtomicUsize,
}

#[async_trait]
impl AnswerCache for FakeCache {
    async fn get(&self, key: &CacheKey) -> Option<StoredAnswer> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.entries.lock().unwrap().get(key).cloned()
    }

    async fn put(&self, key: &CacheKey, answer: &StoredAnswer) {
        self.entries.lock().unwrap().insert(key.clone(), answer.clone());
    }
}

/// Remembers what it was told.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(&'static str, CallOutcome)>>,
    uses: Mutex<Vec<(Capability, CacheOutcome)>>,
}

impl Recorder {
    fn calls(&self) -> Vec<(&'static str, CallOutcome)> {
        self.calls.lock().unwrap().clone()
    }

    fn uses(&self) -> Vec<CacheOutcome> {
        self.uses.lock().unwrap().iter().map(|(_, outcome)| *outcome).collect()
    }
}

impl IntegrationsObserver for Recorder {
    fn provider_called(&self, provider: &'static str, outcome: CallOutcome, _: Duration) {
        self.calls.lock().unwrap().push((provider, outcome));
    }

    fn cache_used(&self, capability: Capability, outcome: CacheOutcome) {
        self.uses.lock().unwrap().push((capability, outcome));
    }
}

fn weather(temperature_c: f64) -> Weather {
    Weather {
        city: "Dakar".into(),
        country: Some("Senegal".into()),
        latitude: 14.6937,
        longitude: -17.44406,
        temperature_c,
        apparent_temperature_c: temperature_c + 1.0,
        humidity_percent: 61.0,
        wind_kph: 18.7,
        conditions: "partly cloudy".into(),
        observed_at: Utc.with_ymd_and_hms(2026, 1, 15, 9, 45, 0).unwrap(),
        source: "open-meteo".into(),
        cached: false,
        stale: false,
    }
}

fn dakar() -> WeatherRequest {
    WeatherRequest { city: Some("Dakar".into()) }
}

/// A weather provider mock answering with each of `answers` in turn, exactly once each.
fn weather_provider(answers: Vec<Result<Option<Weather>, ProviderError>>) -> MockWeatherProvider {
    let mut provider = MockWeatherProvider::new();
    provider.expect_name().return_const("open-meteo");
    let count = answers.len();
    let answers = Mutex::new(answers.into_iter());
    provider.expect_current().times(count).returning(move |_| answers.lock().unwrap().next().unwrap());
    provider
}

struct Setup {
    service: IntegrationService,
    clock: Arc<ManualClock>,
    cache: Arc<FakeCache>,
    recorder: Arc<Recorder>,
}

fn setup(configure: impl FnOnce(IntegrationService) -> IntegrationService) -> Setup {
    let (clock, cache, recorder) = (ManualClock::new(), Arc::new(FakeCache::default()), Arc::new(Recorder::default()));
    let service = IntegrationService::new(cache.clone())
        .with_clock(clock.clone())
        .with_observer(recorder.clone())
        .with_cache_ttl(TTL);
    Setup { service: configure(service), clock, cache, recorder }
}

fn with_weather(answers: Vec<Result<Option<Weather>, ProviderError>>) -> Setup {
    setup(|service| service.with_weather(Arc::new(weather_provider(answers))))
}

fn unavailable() -> ProviderError {
    ProviderError::Unavailable { reason: "HTTP 503".into() }
}

#[tokio::test]
async fn a_cold_answer_comes_from_the_provider_and_then_from_the_cache_until_the_ttl() {
    let s = with_weather(vec![Ok(Some(weather(24.0))), Ok(Some(weather(26.0)))]);

    let first = s.service.weather(dakar()).await.unwrap();
    assert_eq!((first.temperature_c, first.cached, first.stale), (24.0, false, false));

    s.clock.advance(59);
    let second = s.service.weather(WeatherRequest { city: Some("  dAkAr ".into()) }).await.unwrap();
    assert_eq!((second.temperature_c, second.cached, second.stale), (24.0, true, false), "same normalised key");

    s.clock.advance(1);
    let third = s.service.weather(dakar()).await.unwrap();
    assert_eq!((third.temperature_c, third.cached), (26.0, false), "past the TTL the provider is asked again");

    assert_eq!(s.recorder.uses(), [CacheOutcome::Miss, CacheOutcome::Hit, CacheOutcome::Miss]);
    assert_eq!(s.recorder.calls(), [("open-meteo", CallOutcome::Answered), ("open-meteo", CallOutcome::Answered)]);
}

#[tokio::test]
async fn a_failing_provider_is_covered_by_the_last_good_answer_marked_stale() {
    for failure in [
        unavailable(),
        ProviderError::Timeout,
        ProviderError::Malformed { reason: "missing field `current`".into() },
        ProviderError::Refused { status: 401, reason: "bad key".into() },
    ] {
        let s = with_weather(vec![Ok(Some(weather(24.0))), Err(failure.clone())]);
        s.service.weather(dakar()).await.unwrap();
        s.clock.advance(3 * 3600);

        let stale = s.service.weather(dakar()).await.unwrap();
        assert_eq!((stale.temperature_c, stale.cached, stale.stale), (24.0, true, true), "after {failure:?}");
        assert_eq!(s.recorder.uses().last(), Some(&CacheOutcome::Stale));
        assert_eq!(s.recorder.calls().last(), Some(&("open-meteo", failure.outcome())));
    }
}

#[tokio::test]
async fn with_nothing_cached_a_failing_provider_is_a_provider_unavailable_error() {
    let s = with_weather(vec![Err(unavailable())]);
    let error = s.service.weather(dakar()).await.unwrap_err();
    assert_eq!(error, IntegrationError::ProviderUnavailable { provider: "open-meteo", retry_after: None });
    assert_eq!(s.recorder.uses(), [CacheOutcome::Miss]);
}

#[tokio::test]
async fn an_answer_more_than_a_day_old_is_not_served() {
    let s = with_weather(vec![Ok(Some(weather(24.0))), Err(ProviderError::Timeout), Err(ProviderError::Timeout)]);
    s.service.weather(dakar()).await.unwrap();

    s.clock.advance(24 * 3600);
    assert!(s.service.weather(dakar()).await.unwrap().stale, "exactly a day old is still served");

    s.clock.advance(1);
    let error = s.service.weather(dakar()).await.unwrap_err();
    assert!(matches!(error, IntegrationError::ProviderUnavailable { .. }), "{error:?}");
}

#[tokio::test]
async fn a_rate_limited_provider_is_left_alone_until_its_retry_after() {
    let s = with_weather(vec![
        Ok(Some(weather(24.0))),
        Err(ProviderError::RateLimited { retry_after: Some(Duration::from_secs(120)) }),
        Ok(Some(weather(27.0))),
    ]);
    s.service.weather(dakar()).await.unwrap();
    s.clock.advance(61);

    let answer = s.service.weather(dakar()).await.unwrap();
    assert!(answer.stale, "the 429 itself is covered by the last good answer");

    // During the back-off no call is made (the mock allows exactly three): the cache is served.
    s.clock.advance(100);
    assert!(s.service.weather(dakar()).await.unwrap().stale);
    let paris = s.service.weather(WeatherRequest { city: Some("Paris".into()) }).await.unwrap_err();
    assert_eq!(
        paris,
        IntegrationError::ProviderUnavailable { provider: "open-meteo", retry_after: Some(Duration::from_secs(20)) },
        "with nothing cached, a 502 saying how long the provider asked for"
    );

    s.clock.advance(20);
    let after = s.service.weather(dakar()).await.unwrap();
    assert_eq!((after.temperature_c, after.stale), (27.0, false), "asked again once the back-off is over");
    assert_eq!(s.recorder.calls().len(), 3);
}

#[tokio::test]
async fn a_429_without_retry_after_backs_off_for_the_default_and_a_huge_one_is_capped() {
    for (retry_after, expected) in [(None, Duration::from_secs(30)), (Some(Duration::from_secs(86_400)), MAX_BACK_OFF)]
    {
        let s = with_weather(vec![Err(ProviderError::RateLimited { retry_after })]);
        let error = s.service.weather(dakar()).await.unwrap_err();
        assert_eq!(
            error,
            IntegrationError::ProviderUnavailable { provider: "open-meteo", retry_after: Some(expected) }
        );
        s.clock.advance(expected.as_secs() - 1);
        let error = s.service.weather(dakar()).await.unwrap_err();
        assert_eq!(
            error,
            IntegrationError::ProviderUnavailable { provider: "open-meteo", retry_after: Some(Duration::from_secs(1)) },
            "still backed off one second before the end, without a call"
        );
    }
}

#[tokio::test]
async fn an_unknown_city_is_not_found_and_the_negative_answer_is_cached_for_the_ttl() {
    let s = with_weather(vec![Ok(None), Ok(None)]);
    let atlantis = || WeatherRequest { city: Some("Atlantis".into()) };

    let error = s.service.weather(atlantis()).await.unwrap_err();
    assert_eq!(error, IntegrationError::NotFound { what: "city \"Atlantis\"".into() });
    assert_eq!(error.to_string(), "city \"Atlantis\" is not known to the provider");

    s.clock.advance(30);
    assert!(matches!(s.service.weather(atlantis()).await, Err(IntegrationError::NotFound { .. })));
    assert_eq!(s.recorder.calls(), [("open-meteo", CallOutcome::NotFound)], "the second one came from the cache");

    s.clock.advance(30);
    assert!(matches!(s.service.weather(atlantis()).await, Err(IntegrationError::NotFound { .. })));
    assert_eq!(s.recorder.calls().len(), 2);
}

#[tokio::test]
async fn a_stale_unknown_is_not_a_last_good_answer() {
    let s = with_weather(vec![Ok(None), Err(unavailable())]);
    let atlantis = || WeatherRequest { city: Some("Atlantis".into()) };
    s.service.weather(atlantis()).await.unwrap_err();
    s.clock.advance(61);
    let error = s.service.weather(atlantis()).await.unwrap_err();
    assert!(matches!(error, IntegrationError::ProviderUnavailable { .. }), "{error:?}");
}

#[tokio::test]
async fn a_capability_without_a_provider_is_not_configured_after_validation() {
    let s = setup(|service| service);
    assert!(!s.service.is_configured(Capability::Translation));
    let error = s
        .service
        .translate(ANN, TranslationRequest { text: Some("Bonjour".into()), to: Some("en".into()), from: None })
        .await
        .unwrap_err();
    assert_eq!(error, IntegrationError::NotConfigured { capability: Capability::Translation });
    assert_eq!(error.to_string(), "no translation provider is configured");

    let error = s.service.translate(ANN, TranslationRequest::default()).await.unwrap_err();
    let IntegrationError::Validation(fields) = error else { panic!("expected a validation error, got {error:?}") };
    assert!(fields.contains("text") && fields.contains("to"));

    let error = s.service.price(PriceRequest { symbol: Some("BTC".into()), currency: None }).await.unwrap_err();
    assert_eq!(error, IntegrationError::NotConfigured { capability: Capability::Prices });
    let error = s.service.weather(dakar()).await.unwrap_err();
    assert_eq!(error, IntegrationError::NotConfigured { capability: Capability::Weather });
}

#[tokio::test]
async fn bad_parameters_never_reach_the_provider() {
    let s = with_weather(vec![]);
    let error = s.service.weather(WeatherRequest { city: Some("   ".into()) }).await.unwrap_err();
    assert!(matches!(error, IntegrationError::Validation(ref f) if f.contains("city")), "{error:?}");
    assert!(s.recorder.calls().is_empty());
}

/// A weather provider that counts its calls and answers only when released.
struct GatedProvider {
    calls: AtomicUsize,
    release: Notify,
}

#[async_trait]
impl WeatherProvider for GatedProvider {
    fn name(&self) -> &'static str {
        "open-meteo"
    }

    async fn current(&self, _: &WeatherQuery) -> Result<Option<Weather>, ProviderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.release.notified().await;
        Ok(Some(weather(24.0)))
    }
}

#[tokio::test]
async fn twenty_concurrent_requests_for_a_cold_key_make_one_provider_call() {
    let provider = Arc::new(GatedProvider { calls: AtomicUsize::new(0), release: Notify::new() });
    let s = setup(|service| service.with_weather(provider.clone()));

    let requests: Vec<_> = (0..20)
        .map(|_| {
            let service = s.service.clone();
            tokio::spawn(async move { service.weather(dakar()).await })
        })
        .collect();
    // Each request reads the cache once and joins the flight in the same step; the flight reads
    // it once more before calling the provider. So 21 reads and one call mean all 20 wait.
    while s.cache.reads.load(Ordering::SeqCst) < 21 || provider.calls.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    provider.release.notify_one();

    for request in requests {
        let answer = request.await.unwrap().unwrap();
        assert_eq!((answer.temperature_c, answer.cached, answer.stale), (24.0, false, false));
    }
    assert_eq!(provider.calls.load(Ordering::SeqCst), 1);
    assert_eq!(s.recorder.calls().len(), 1);
    assert!(s.service.weather(dakar()).await.unwrap().cached, "the shared answer was stored");
}

/// A weather provider that never answers.
struct SilentProvider;

#[async_trait]
impl WeatherProvider for SilentProvider {
    fn name(&self) -> &'static str {
        "open-meteo"
    }

    async fn current(&self, _: &WeatherQuery) -> Result<Option<Weather>, ProviderError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_provider_that_never_answers_counts_as_timed_out() {
    let s = setup(|service| {
        service.with_weather(Arc::new(SilentProvider)).with_provider_deadline(Duration::from_millis(50))
    });
    let error = s.service.weather(dakar()).await.unwrap_err();
    assert!(matches!(error, IntegrationError::ProviderUnavailable { .. }), "{error:?}");
    assert_eq!(s.recorder.calls(), [("open-meteo", CallOutcome::Timeout)]);
    assert!(s.service.weather(dakar()).await.is_err(), "the key is free for the next request");
}

#[tokio::test]
async fn an_answer_stored_by_an_instance_whose_clock_runs_ahead_counts_as_fresh() {
    let s = with_weather(vec![]);
    let key = WeatherQuery::parse(dakar()).unwrap().cache_key();
    let ahead = StoredAnswer {
        fetched_at: s.clock.now() + chrono::Duration::seconds(5),
        body: AnswerBody::Weather(weather(21.0)),
    };
    s.cache.put(&key, &ahead).await;
    let answer = s.service.weather(dakar()).await.unwrap();
    assert_eq!((answer.temperature_c, answer.cached), (21.0, true));
}

#[tokio::test]
async fn an_unreachable_cache_only_costs_provider_calls() {
    let mut cache = MockAnswerCache::new();
    cache.expect_get().returning(|_| None);
    cache.expect_put().returning(|_, _| ());
    let service = IntegrationService::new(Arc::new(cache))
        .with_weather(Arc::new(weather_provider(vec![Ok(Some(weather(24.0))), Ok(Some(weather(25.0)))])));
    assert!(!service.weather(dakar()).await.unwrap().cached);
    assert_eq!(service.weather(dakar()).await.unwrap().temperature_c, 25.0);
}

fn price() -> Price {
    Price {
        symbol: "BTC".into(),
        name: "Bitcoin".into(),
        currency: "eur".into(),
        price: 61_000.5,
        change_24h_percent: Some(-1.25),
        market_cap: Some(1.2e12),
        updated_at: Utc.with_ymd_and_hms(2026, 1, 15, 9, 59, 0).unwrap(),
        source: "coingecko".into(),
        cached: false,
        stale: false,
    }
}

#[tokio::test]
async fn prices_are_asked_for_by_normalised_symbol_and_currency() {
    let mut provider = MockPriceProvider::new();
    provider.expect_name().return_const("coingecko");
    provider
        .expect_price()
        .withf(|query| query.symbol.as_str() == "BTC" && query.currency.as_str() == "eur")
        .times(1)
        .returning(|_| Ok(Some(price())));
    provider.expect_price().withf(|query| query.symbol.as_str() == "NOPE").times(1).returning(|_| Ok(None));
    let s = setup(|service| service.with_prices(Arc::new(provider)));

    let ask =
        |symbol: &str, currency: &str| PriceRequest { symbol: Some(symbol.into()), currency: Some(currency.into()) };
    assert!(!s.service.price(ask("btc", "EUR")).await.unwrap().cached);
    assert!(s.service.price(ask(" BTC", "eur")).await.unwrap().cached);
    let error = s.service.price(ask("nope", "usd")).await.unwrap_err();
    assert_eq!(error, IntegrationError::NotFound { what: "symbol \"NOPE\"".into() });
    let error = s.service.price(ask("btc", "usdt")).await.unwrap_err();
    assert!(matches!(error, IntegrationError::Validation(ref f) if f.contains("currency")), "{error:?}");
}

fn translation(from: Option<&str>) -> Translation {
    Translation {
        text: "Bonjour".into(),
        translated: "Hello".into(),
        from: from.map(Into::into),
        to: "en".into(),
        source: "deepl".into(),
        cached: false,
        stale: false,
    }
}

#[tokio::test]
async fn translations_are_cached_per_text_and_language_pair() {
    let mut translator = MockTranslator::new();
    translator.expect_name().return_const("deepl");
    translator
        .expect_translate()
        .withf(|query| query.from.is_none() && query.to.as_str() == "en")
        .times(1)
        .returning(|_| Ok(translation(Some("fr"))));
    translator
        .expect_translate()
        .withf(|query| query.from.is_some_and(|from| from.as_str() == "fr"))
        .times(1)
        .returning(|_| Ok(translation(Some("fr"))));
    let s = setup(|service| service.with_translator(Arc::new(translator)));

    let ask = |from: Option<&str>| TranslationRequest {
        text: Some("Bonjour".into()),
        to: Some("EN".into()),
        from: from.map(Into::into),
    };
    let first = s.service.translate(ANN, ask(None)).await.unwrap();
    assert_eq!((first.translated.as_str(), first.from.as_deref(), first.cached), ("Hello", Some("fr"), false));
    assert!(s.service.translate(ANN, ask(None)).await.unwrap().cached);
    assert!(!s.service.translate(ANN, ask(Some("fr"))).await.unwrap().cached, "a given source is another question");
    assert!(s.service.translate(ANN, ask(Some("FR"))).await.unwrap().cached);
}

#[tokio::test]
async fn a_failing_translator_serves_the_stale_translation() {
    let mut translator = MockTranslator::new();
    translator.expect_name().return_const("libretranslate");
    let mut answers = vec![Ok(translation(Some("fr"))), Err(ProviderError::Timeout)].into_iter();
    translator.expect_translate().times(2).returning(move |_| answers.next().unwrap());
    let s = setup(|service| service.with_translator(Arc::new(translator)));
    let ask = || TranslationRequest { text: Some("Bonjour".into()), to: Some("en".into()), from: None };

    s.service.translate(ANN, ask()).await.unwrap();
    s.clock.advance(120);
    let stale = s.service.translate(ANN, ask()).await.unwrap();
    assert_eq!((stale.cached, stale.stale), (true, true));
    assert_eq!(s.recorder.uses(), [CacheOutcome::Miss, CacheOutcome::Stale]);
}

/// What a budget was asked to spend, in order.
type Spent = Arc<Mutex<Vec<(Capability, AccountId, u32)>>>;

/// A budget that records what it was asked to spend and answers with `answer`.
fn budget(answer: Spending, spent: &Spent) -> MockUsageBudget {
    let mut budget = MockUsageBudget::new();
    let spent = Arc::clone(spent);
    budget.expect_spend().returning(move |capability, account, amount| {
        spent.lock().unwrap().push((capability, account, amount.get()));
        answer
    });
    budget
}

#[tokio::test]
async fn a_translation_is_charged_by_its_characters_only_when_the_translator_is_asked() {
    let mut translator = MockTranslator::new();
    translator.expect_name().return_const("deepl");
    let mut answers = vec![Ok(translation(Some("fr"))), Err(ProviderError::Timeout)].into_iter();
    translator.expect_translate().times(2).returning(move |_| answers.next().unwrap());
    let spent = Arc::new(Mutex::new(Vec::new()));
    let budget = budget(Spending::Spent, &spent);
    let s = setup(|service| service.with_translator(Arc::new(translator)).with_budget(Arc::new(budget)));
    // Eight characters in eleven bytes: characters are what is counted.
    let ask = || TranslationRequest { text: Some("Çà et là".into()), to: Some("en".into()), from: None };

    assert!(!s.service.translate(ANN, ask()).await.unwrap().cached);
    assert_eq!(*spent.lock().unwrap(), [(Capability::Translation, ANN, 8)]);
    assert!(s.service.translate(AccountId(8), ask()).await.unwrap().cached, "anyone's cached answer is free");
    assert_eq!(spent.lock().unwrap().len(), 1);

    s.clock.advance(120);
    let stale = s.service.translate(ANN, ask()).await.unwrap();
    assert!(stale.stale);
    assert_eq!(spent.lock().unwrap().len(), 2, "the translator was asked (and failed): the call is paid for");
}

#[tokio::test]
async fn a_spent_budget_refuses_before_the_translator_is_asked() {
    let mut translator = MockTranslator::new();
    translator.expect_name().return_const("deepl");
    translator.expect_translate().never();
    let spent = Arc::new(Mutex::new(Vec::new()));
    let short = Spending::Short { retry_after: Duration::from_secs(40) };
    let s = setup(|service| service.with_translator(Arc::new(translator)).with_budget(Arc::new(budget(short, &spent))));
    let ask = TranslationRequest { text: Some("Bonjour".into()), to: Some("en".into()), from: None };

    let error = s.service.translate(ANN, ask).await.unwrap_err();
    assert_eq!(
        error,
        IntegrationError::BudgetExhausted { capability: Capability::Translation, retry_after: Duration::from_secs(40) }
    );
    assert!(s.recorder.calls().is_empty());
}

#[tokio::test]
async fn a_text_longer_than_the_whole_budget_is_invalid_and_a_bad_query_costs_nothing() {
    let mut translator = MockTranslator::new();
    translator.expect_name().return_const("deepl");
    translator.expect_translate().never();
    let spent = Arc::new(Mutex::new(Vec::new()));
    let over = Spending::OverBudget { budget: 5, period: Duration::from_secs(3600) };
    let s = setup(|service| service.with_translator(Arc::new(translator)).with_budget(Arc::new(budget(over, &spent))));

    let error = s
        .service
        .translate(ANN, TranslationRequest { text: Some("Bonjour".into()), to: Some("en".into()), from: None })
        .await
        .unwrap_err();
    let IntegrationError::Validation(fields) = error else { panic!("expected a validation error, got {error:?}") };
    assert_eq!(fields.as_slice()[0].field, "text");
    assert_eq!(
        fields.as_slice()[0].message,
        "is longer than the 5 characters an account may have translated in an hour"
    );

    let bad = TranslationRequest { text: Some("Bonjour".into()), to: Some("english".into()), from: None };
    assert!(matches!(s.service.translate(ANN, bad).await, Err(IntegrationError::Validation(_))));
    assert_eq!(spent.lock().unwrap().len(), 1, "only the valid query reached the budget");
}

#[tokio::test]
async fn weather_and_prices_are_not_charged() {
    let mut budget = MockUsageBudget::new();
    budget.expect_spend().never();
    let s = setup(|service| {
        service.with_weather(Arc::new(weather_provider(vec![Ok(Some(weather(24.0)))]))).with_budget(Arc::new(budget))
    });
    s.service.weather(dakar()).await.unwrap();
}
