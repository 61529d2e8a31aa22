//! What the third-party data domain needs from the outside world. Each method's doc says what an
//! adapter MUST do.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    CacheKey, CacheOutcome, CallOutcome, Capability, Price, PriceQuery, ProviderError, StoredAnswer, Translation,
    TranslationQuery, Weather, WeatherQuery,
};

/// A source of current weather.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WeatherProvider: Send + Sync {
    /// The provider's name, lower-case (`open-meteo`): the answers' `source`, and a label in
    /// logs and metrics.
    fn name(&self) -> &'static str;

    /// The current weather in `query.city`, with `source` set to [`Self::name`] and `cached`,
    /// `stale` false.
    ///
    /// MUST return `Ok(None)` when the provider knows no such place; MUST give up with
    /// [`ProviderError::Timeout`] after the adapter's timeout (the whole operation, however many
    /// requests it takes); MUST map every other failure to a [`ProviderError`] (never panic) and
    /// MUST NOT put an API key in any error or log.
    async fn current(&self, query: &WeatherQuery) -> Result<Option<Weather>, ProviderError>;
}

/// A source of crypto-currency prices.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PriceProvider: Send + Sync {
    /// The provider's name, lower-case (`coingecko`).
    fn name(&self) -> &'static str;

    /// The price of `query.symbol` in `query.currency`, with `symbol` upper-case, `currency` as
    /// asked, `source` set to [`Self::name`] and `cached`, `stale` false.
    ///
    /// MUST return `Ok(None)` when the provider knows no coin with exactly that symbol (or has no
    /// price for it in that currency); otherwise as [`WeatherProvider::current`].
    async fn price(&self, query: &PriceQuery) -> Result<Option<Price>, ProviderError>;
}

/// A machine translator.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Translator: Send + Sync {
    /// The provider's name, lower-case (`deepl`, `libretranslate`).
    fn name(&self) -> &'static str;

    /// `query.text` translated into `query.to`, with `text` as given, `to` and `from` as
    /// two-letter lower-case codes (`from` as given, else as detected, else `None`), `source`
    /// set to [`Self::name`] and `cached`, `stale` false.
    ///
    /// Failures as [`WeatherProvider::current`]; a language the provider does not support is
    /// [`ProviderError::Refused`].
    async fn translate(&self, query: &TranslationQuery) -> Result<Translation, ProviderError>;
}

/// Where answers are kept, in this process or shared by every instance.
///
/// Implementations MUST NOT fail: an unreachable or unreadable cache behaves as an empty one
/// (and logs), so that a cache outage only costs provider calls.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AnswerCache: Send + Sync {
    /// The answer last stored under `key`, if it is still kept; `None` on any failure.
    async fn get(&self, key: &CacheKey) -> Option<StoredAnswer>;

    /// Stores `answer` under `key`, replacing what was there, and keeps it for at least
    /// [`KEEP_ANSWERS_FOR`](crate::KEEP_ANSWERS_FOR) (unless evicted for room); a failure is
    /// logged and skipped. The service decides freshness from `fetched_at`, not the cache.
    async fn put(&self, key: &CacheKey, answer: &StoredAnswer);
}

/// The account a request for third-party data is charged to: the signed-in user's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What became of an attempt to spend from an account's [`UsageBudget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spending {
    /// Spent: the provider may be asked.
    Spent,
    /// Not that much is left; it will be after `retry_after`. Nothing was spent.
    Short {
        /// How long until that much is left.
        retry_after: Duration,
    },
    /// More than the whole budget, `budget` per `period`: no wait is enough. Nothing was spent.
    OverBudget {
        /// The whole budget, in the capability's unit (characters).
        budget: u32,
        /// The period the budget is granted for.
        period: Duration,
    },
}

/// How much of the deployment's provider quota each account may use: the characters it has the
/// translator translate, over a rolling window (`TRANSLATE_CHARS_PER_HOUR`). The service spends
/// from it only when it is about to call the provider, never for an answer from the cache.
///
/// With several instances the budget MUST be shared by all of them (one account's requests may
/// reach any), or an account could spend it once per instance.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UsageBudget: Send + Sync {
    /// Spends `amount` (in the capability's unit: characters for translation) of `account`'s
    /// budget for `capability`: all of it, or nothing when not that much is left. A capability
    /// without a budget is [`Spending::Spent`].
    ///
    /// MUST NOT fail: an adapter that cannot reach a shared store decides on its own (and logs).
    async fn spend(&self, capability: Capability, account: AccountId, amount: NonZeroU32) -> Spending;
}

/// No budget at all: every amount is spent. For deployments that set none (and tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unlimited;

#[async_trait]
impl UsageBudget for Unlimited {
    async fn spend(&self, _: Capability, _: AccountId, _: NonZeroU32) -> Spending {
        Spending::Spent
    }
}

/// Told what happens, for metrics. Implementations MUST be cheap and MUST NOT block: they are
/// called on the request path.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait IntegrationsObserver: Send + Sync {
    /// One call to `provider` ended with `outcome` after `latency`.
    fn provider_called(&self, provider: &'static str, outcome: CallOutcome, latency: Duration);

    /// One request for `capability` was answered (or failed) with its answer coming from
    /// `outcome`.
    fn cache_used(&self, capability: Capability, outcome: CacheOutcome);
}

/// An observer that ignores everything, for when nobody collects metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl IntegrationsObserver for NoObserver {
    fn provider_called(&self, _: &'static str, _: CallOutcome, _: Duration) {}

    fn cache_used(&self, _: Capability, _: CacheOutcome) {}
}

/// The time, from which the ages of answers and the ends of back-offs are reckoned. Tests use
/// one they can move.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
