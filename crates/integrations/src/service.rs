//! The third-party data use cases: validate, serve from the cache while fresh, otherwise charge
//! the caller's budget (translation) and ask the provider once per key however many requests
//! wait for it, and fall back to the last good answer when the provider fails or asked to be
//! left alone.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::answer::Answer;
use crate::{
    AccountId, AnswerBody, AnswerCache, CacheKey, CacheOutcome, CallOutcome, Capability, Clock, IntegrationError,
    IntegrationsObserver, KEEP_ANSWERS_FOR, NoObserver, Price, PriceProvider, PriceQuery, PriceRequest, ProviderError,
    Spending, StoredAnswer, SystemClock, Translation, TranslationQuery, TranslationRequest, Translator, Unlimited,
    UsageBudget, Weather, WeatherProvider, WeatherQuery, WeatherRequest,
};
use workbench_core::FieldErrors;
use workbench_core::SingleFlight;

/// How long an answer is served from the cache without asking the provider, unless configured
/// (`INTEGRATIONS_CACHE_TTL`).
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(60);

/// How long a provider that answered 429 without `Retry-After` is left alone.
pub const DEFAULT_BACK_OFF: Duration = Duration::from_secs(30);

/// The longest back-off a `Retry-After` can impose: past it one call tries again, so that a
/// mistaken or hostile header cannot switch a capability off for a day.
pub const MAX_BACK_OFF: Duration = Duration::from_secs(15 * 60);

/// How long the service waits for a provider call before counting it as timed out. Adapters
/// time out after their own 5 s; this only guards against one that never returns, which would
/// otherwise hold every request for its key.
pub const PROVIDER_DEADLINE: Duration = Duration::from_secs(10);

/// Weather, crypto prices and translations from third-party providers, cached and resilient.
///
/// Built with [`IntegrationService::new`] and the `with_*` methods; a capability without a
/// provider answers [`IntegrationError::NotConfigured`].
///
/// Translations are paid for from the caller's [`UsageBudget`], in characters, when and only
/// when the provider is about to be asked: an answer from the cache (fresh, or the last good one
/// while the provider is backed off) costs the provider nothing, so it costs the caller nothing
/// either. A request that finds the cache cold is charged before it joins or starts the provider
/// call, so two requests for one cold text at the same moment each pay, although one call answers
/// both; so does a request whose call finds the answer another instance stored meanwhile. A
/// provider that then fails is no refund: the quota may have been spent all the same.
///
/// Cheap to clone: clones share the providers, the cache, the budget, the calls under way and
/// the back-offs. Its methods must run within a Tokio runtime: a provider call runs on a task of
/// its own, so that it completes (and its answer is cached) even when the request that started
/// it goes away.
#[derive(Clone)]
pub struct IntegrationService {
    weather: Option<Arc<dyn WeatherProvider>>,
    prices: Option<Arc<dyn PriceProvider>>,
    translator: Option<Arc<dyn Translator>>,
    cache: Arc<dyn AnswerCache>,
    budget: Arc<dyn UsageBudget>,
    observer: Arc<dyn IntegrationsObserver>,
    clock: Arc<dyn Clock>,
    cache_ttl: Duration,
    deadline: Duration,
    flights: Arc<SingleFlight<Outcome>>,
    back_offs: Arc<BackOffs>,
}

impl std::fmt::Debug for IntegrationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationService")
            .field("weather", &self.weather.as_ref().map(|p| p.name()))
            .field("prices", &self.prices.as_ref().map(|p| p.name()))
            .field("translator", &self.translator.as_ref().map(|p| p.name()))
            .field("cache_ttl", &self.cache_ttl)
            .field("flights", &self.flights)
            .finish_non_exhaustive()
    }
}

/// How a provider call (or the look at the cache just before it) turned out, as every request
/// waiting for it sees it.
#[derive(Debug, Clone)]
enum Outcome {
    /// A fresh answer was in the cache after all (stored by another flight or instance).
    Cached(StoredAnswer),
    /// The provider answered (a [`AnswerBody::Unknown`] for "no such thing"); it is stored.
    Fetched(AnswerBody),
    /// The provider failed, or was not asked because it is backed off.
    Failed { retry_after: Option<Duration> },
}

impl IntegrationService {
    /// A service with no provider yet, answers cached in `cache` for [`DEFAULT_CACHE_TTL`], no
    /// budget, the system clock and no metrics.
    pub fn new(cache: Arc<dyn AnswerCache>) -> Self {
        Self {
            weather: None,
            prices: None,
            translator: None,
            cache,
            budget: Arc::new(Unlimited),
            observer: Arc::new(NoObserver),
            clock: Arc::new(SystemClock),
            cache_ttl: DEFAULT_CACHE_TTL,
            deadline: PROVIDER_DEADLINE,
            flights: Arc::new(SingleFlight::new()),
            back_offs: Arc::new(BackOffs::default()),
        }
    }

    /// Answers weather questions with `provider`.
    #[must_use]
    pub fn with_weather(mut self, provider: Arc<dyn WeatherProvider>) -> Self {
        self.weather = Some(provider);
        self
    }

    /// Answers price questions with `provider`.
    #[must_use]
    pub fn with_prices(mut self, provider: Arc<dyn PriceProvider>) -> Self {
        self.prices = Some(provider);
        self
    }

    /// Answers translation questions with `provider`.
    #[must_use]
    pub fn with_translator(mut self, provider: Arc<dyn Translator>) -> Self {
        self.translator = Some(provider);
        self
    }

    /// How long an answer is served from the cache before the provider is asked again.
    #[must_use]
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Charges translations to their callers' `budget`.
    #[must_use]
    pub fn with_budget(mut self, budget: Arc<dyn UsageBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// Tells `observer` about every provider call and every answer's origin (for metrics).
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn IntegrationsObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// Reckons ages and back-offs by `clock` instead of the system's (for tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Another bound on a provider call than [`PROVIDER_DEADLINE`].
    #[must_use]
    pub fn with_provider_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Whether a provider is configured for `capability`.
    pub fn is_configured(&self, capability: Capability) -> bool {
        match capability {
            Capability::Weather => self.weather.is_some(),
            Capability::Prices => self.prices.is_some(),
            Capability::Translation => self.translator.is_some(),
        }
    }

    /// `GET /weather`: validates the query, then as [`Self::weather_for`].
    ///
    /// # Errors
    ///
    /// `Validation` before anything else, then as [`Self::weather_for`].
    pub async fn weather(&self, request: WeatherRequest) -> Result<Weather, IntegrationError> {
        self.weather_for(&WeatherQuery::parse(request)?).await
    }

    /// The current weather in a city: cached for the TTL, stale up to a day while the provider
    /// fails.
    ///
    /// # Errors
    ///
    /// `NotConfigured` without a weather provider, `NotFound` for a city the provider does not
    /// know, `ProviderUnavailable` when it fails with no answer to fall back on.
    pub async fn weather_for(&self, query: &WeatherQuery) -> Result<Weather, IntegrationError> {
        let provider = Arc::clone(self.weather.as_ref().ok_or_else(|| not_configured(Capability::Weather))?);
        let request = Request {
            capability: Capability::Weather,
            provider: provider.name(),
            key: query.cache_key(),
            what: format!("city {:?}", query.city.as_str()),
            charge: None,
        };
        let query = query.clone();
        self.serve(request, move || async move { provider.current(&query).await }.boxed()).await
    }

    /// `GET /crypto`: validates the query, then as [`Self::price_for`].
    ///
    /// # Errors
    ///
    /// `Validation` before anything else, then as [`Self::price_for`].
    pub async fn price(&self, request: PriceRequest) -> Result<Price, IntegrationError> {
        self.price_for(&PriceQuery::parse(request)?).await
    }

    /// The price of a crypto-currency, cached and resilient like [`Self::weather_for`].
    ///
    /// # Errors
    ///
    /// `NotConfigured`, `NotFound` for an unknown symbol, `ProviderUnavailable`.
    pub async fn price_for(&self, query: &PriceQuery) -> Result<Price, IntegrationError> {
        let provider = Arc::clone(self.prices.as_ref().ok_or_else(|| not_configured(Capability::Prices))?);
        let request = Request {
            capability: Capability::Prices,
            provider: provider.name(),
            key: query.cache_key(),
            what: format!("symbol {:?}", query.symbol.as_str()),
            charge: None,
        };
        let query = query.clone();
        self.serve(request, move || async move { provider.price(&query).await }.boxed()).await
    }

    /// `GET /translate` for `account`: validates the query, then as [`Self::translate_for`].
    ///
    /// # Errors
    ///
    /// `Validation` before anything else, then as [`Self::translate_for`].
    pub async fn translate(
        &self,
        account: AccountId,
        request: TranslationRequest,
    ) -> Result<Translation, IntegrationError> {
        self.translate_for(account, &TranslationQuery::parse(request)?).await
    }

    /// A translation, cached and resilient like [`Self::weather_for`]; the text's characters
    /// are charged to `account`'s budget when the translator has to be asked.
    ///
    /// # Errors
    ///
    /// `NotConfigured` without a translator; `BudgetExhausted` when the budget cannot pay for
    /// the text yet, `Validation` (on `text`) when it never could, being longer than the whole
    /// budget; `ProviderUnavailable`.
    pub async fn translate_for(
        &self,
        account: AccountId,
        query: &TranslationQuery,
    ) -> Result<Translation, IntegrationError> {
        let provider = Arc::clone(self.translator.as_ref().ok_or_else(|| not_configured(Capability::Translation))?);
        let request = Request {
            capability: Capability::Translation,
            provider: provider.name(),
            key: query.cache_key(),
            what: "the text".to_owned(),
            charge: Some(Charge { account, amount: query.text.chars() }),
        };
        let query = query.clone();
        self.serve(request, move || async move { provider.translate(&query).await.map(Some) }.boxed()).await
    }

    /// The rules every capability shares.
    async fn serve<T, F>(&self, request: Request, call: F) -> Result<T, IntegrationError>
    where
        T: Answer,
        F: FnOnce() -> BoxFuture<'static, Result<Option<T>, ProviderError>> + Send + 'static,
    {
        let now = self.clock.now();
        let cached = self.cache.get(&request.key).await;
        if let Some(stored) = cached.as_ref().filter(|stored| fresh(stored, now, self.cache_ttl)) {
            self.observer.cache_used(request.capability, CacheOutcome::Hit);
            return request.answer(stored.body.clone(), true);
        }
        if let Some(remaining) = self.back_offs.remaining(request.provider, now) {
            return self.fall_back(&request, cached, now, Some(remaining));
        }
        if let Some(charge) = &request.charge {
            self.pay(request.capability, charge).await?;
        }
        let flight = self.flight(&request, call);
        match self.flights.run(request.key.as_str(), flight, Outcome::Failed { retry_after: None }).await {
            Outcome::Cached(stored) => {
                self.observer.cache_used(request.capability, CacheOutcome::Hit);
                request.answer(stored.body, true)
            }
            Outcome::Fetched(body) => {
                self.observer.cache_used(request.capability, CacheOutcome::Miss);
                request.answer(body, false)
            }
            Outcome::Failed { retry_after } => self.fall_back(&request, cached, self.clock.now(), retry_after),
        }
    }

    /// The work of one flight: look at the cache once more (another flight or instance may have
    /// just filled it), then ask the provider unless it is backed off, store what it said, and
    /// note a 429's back-off.
    fn flight<T, F>(&self, request: &Request, call: F) -> impl Future<Output = Outcome> + Send + 'static
    where
        T: Answer,
        F: FnOnce() -> BoxFuture<'static, Result<Option<T>, ProviderError>> + Send + 'static,
    {
        let (cache, observer, clock) = (Arc::clone(&self.cache), Arc::clone(&self.observer), Arc::clone(&self.clock));
        let back_offs = Arc::clone(&self.back_offs);
        let (ttl, deadline, provider, key) = (self.cache_ttl, self.deadline, request.provider, request.key.clone());
        async move {
            let now = clock.now();
            if let Some(stored) = cache.get(&key).await.filter(|stored| fresh(stored, now, ttl)) {
                return Outcome::Cached(stored);
            }
            if let Some(remaining) = back_offs.remaining(provider, now) {
                return Outcome::Failed { retry_after: Some(remaining) };
            }
            let started = Instant::now();
            let result = tokio::time::timeout(deadline, call()).await.unwrap_or(Err(ProviderError::Timeout));
            let latency = started.elapsed();
            match result {
                Ok(answer) => {
                    let outcome = if answer.is_some() { CallOutcome::Answered } else { CallOutcome::NotFound };
                    observer.provider_called(provider, outcome, latency);
                    let body = answer.map_or(AnswerBody::Unknown, |answer| answer.served(false, false).into_body());
                    cache.put(&key, &StoredAnswer { fetched_at: clock.now(), body: body.clone() }).await;
                    Outcome::Fetched(body)
                }
                Err(error) => {
                    observer.provider_called(provider, error.outcome(), latency);
                    let retry_after = match &error {
                        ProviderError::RateLimited { retry_after } => {
                            let wait = retry_after.unwrap_or(DEFAULT_BACK_OFF).min(MAX_BACK_OFF);
                            back_offs.start(provider, clock.now(), wait);
                            tracing::warn!(provider, ?wait, %key, "provider rate limited us; leaving it alone meanwhile");
                            Some(wait)
                        }
                        ProviderError::Malformed { reason } => {
                            tracing::warn!(provider, reason, %key, "provider answer no longer parses; treated as a failure");
                            None
                        }
                        other => {
                            tracing::warn!(provider, error = %other, %key, "provider call failed");
                            None
                        }
                    };
                    Outcome::Failed { retry_after }
                }
            }
        }
    }

    /// Spends `charge` from its account's budget, or says why it cannot be.
    async fn pay(&self, capability: Capability, charge: &Charge) -> Result<(), IntegrationError> {
        match self.budget.spend(capability, charge.account, charge.amount).await {
            Spending::Spent => Ok(()),
            Spending::Short { retry_after } => {
                tracing::debug!(
                    account = %charge.account, %capability, amount = charge.amount, ?retry_after,
                    "usage budget spent"
                );
                Err(IntegrationError::BudgetExhausted { capability, retry_after })
            }
            Spending::OverBudget { budget, period } => {
                // Only translations are charged, by the characters of their text: that field is
                // what no wait can make affordable.
                let within = match period.as_secs() {
                    3600 => "an hour".to_owned(),
                    60 => "a minute".to_owned(),
                    secs => format!("{secs} s"),
                };
                let message =
                    format!("is longer than the {budget} characters an account may have translated in {within}");
                Err(FieldErrors::single("text", message).into())
            }
        }
    }

    /// The last good answer, up to a day old, marked stale; else `ProviderUnavailable`.
    fn fall_back<T: Answer>(
        &self,
        request: &Request,
        cached: Option<StoredAnswer>,
        now: DateTime<Utc>,
        retry_after: Option<Duration>,
    ) -> Result<T, IntegrationError> {
        let last_good =
            cached.filter(|stored| age(stored, now) <= KEEP_ANSWERS_FOR).and_then(|stored| T::from_body(stored.body));
        match last_good {
            Some(answer) => {
                self.observer.cache_used(request.capability, CacheOutcome::Stale);
                Ok(answer.served(true, true))
            }
            None => {
                self.observer.cache_used(request.capability, CacheOutcome::Miss);
                Err(IntegrationError::ProviderUnavailable { provider: request.provider, retry_after })
            }
        }
    }
}

/// What one request is about.
struct Request {
    capability: Capability,
    provider: &'static str,
    key: CacheKey,
    /// The subject of a `NotFound`.
    what: String,
    /// What asking the provider costs, and whom.
    charge: Option<Charge>,
}

/// An amount to spend from an account's budget.
#[derive(Debug, Clone, Copy)]
struct Charge {
    account: AccountId,
    amount: NonZeroU32,
}

impl Request {
    /// `body` served as fresh, or `NotFound` for an [`AnswerBody::Unknown`].
    fn answer<T: Answer>(&self, body: AnswerBody, cached: bool) -> Result<T, IntegrationError> {
        match body {
            AnswerBody::Unknown => Err(IntegrationError::NotFound { what: self.what.clone() }),
            // A body of another kind under this key cannot be stored by this service: it would be
            // another deployment's, so it counts as no answer.
            body => T::from_body(body)
                .map(|answer| answer.served(cached, false))
                .ok_or(IntegrationError::ProviderUnavailable { provider: self.provider, retry_after: None }),
        }
    }
}

fn not_configured(capability: Capability) -> IntegrationError {
    IntegrationError::NotConfigured { capability }
}

/// How old a stored answer is; an answer from the future (another instance's clock running
/// ahead) counts as just fetched.
fn age(stored: &StoredAnswer, now: DateTime<Utc>) -> Duration {
    (now - stored.fetched_at).to_std().unwrap_or(Duration::ZERO)
}

fn fresh(stored: &StoredAnswer, now: DateTime<Utc>, ttl: Duration) -> bool {
    age(stored, now) < ttl
}

/// Until when each provider that answered 429 is left alone.
#[derive(Debug, Default)]
struct BackOffs {
    until: Mutex<HashMap<&'static str, DateTime<Utc>>>,
}

impl BackOffs {
    /// How much longer `provider` is left alone, if it is.
    fn remaining(&self, provider: &'static str, now: DateTime<Utc>) -> Option<Duration> {
        let mut until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        let end = *until.get(provider)?;
        match (end - now).to_std() {
            Ok(remaining) if !remaining.is_zero() => Some(remaining),
            _ => {
                until.remove(provider);
                None
            }
        }
    }

    /// Leaves `provider` alone for `wait` from `now`, unless it already is for longer.
    fn start(&self, provider: &'static str, now: DateTime<Utc>, wait: Duration) {
        let end = chrono::Duration::from_std(wait)
            .ok()
            .and_then(|wait| now.checked_add_signed(wait))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = until.entry(provider).or_insert(end);
        *entry = (*entry).max(end);
    }
}
