//! What can go wrong with third-party data: in the domain's words for clients
//! ([`IntegrationError`]), and in a provider's for the service ([`ProviderError`]).

use std::fmt;
use std::time::Duration;

use workbench_core::FieldErrors;

/// The three kinds of third-party data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// The current weather of a city (Open-Meteo).
    Weather,
    /// Prices of cryptocurrencies (CoinGecko).
    Prices,
    /// Translation of text (DeepL or LibreTranslate).
    Translation,
}

impl Capability {
    /// A stable lower-case name, for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Weather => "weather",
            Capability::Prices => "prices",
            Capability::Translation => "translation",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a request for third-party data has no answer. The app maps each variant to one status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrationError {
    /// Bad parameters (422), every failing one named.
    #[error("invalid parameters: {0}")]
    Validation(#[from] FieldErrors),
    /// The provider does not know the city or symbol (404). `what` names it for a person, such
    /// as `city "Atlantis"`.
    #[error("{what} is not known to the provider")]
    NotFound {
        /// What is unknown, for a person (`city "Atlantis"`).
        what: String,
    },
    /// No provider is configured for this capability (503): an operator's matter.
    #[error("no {capability} provider is configured")]
    NotConfigured {
        /// The capability without a provider.
        capability: Capability,
    },
    /// The provider failed, timed out, or is being left alone after a 429, and there is no
    /// answer up to a day old to serve instead (502 `provider-unavailable`). `retry_after`,
    /// when set, is how long the provider asked to be left alone (for a `Retry-After` header).
    #[error("the {provider} service is unavailable; try again later")]
    ProviderUnavailable {
        /// The provider's name, for the message (`open-meteo`).
        provider: &'static str,
        /// How long the provider asked to be left alone, if it did.
        retry_after: Option<Duration>,
    },
    /// The caller's budget for `capability` (its share of the provider's quota) cannot pay for
    /// this request now (429); it can after `retry_after`.
    #[error("the {capability} budget of this account is spent; try again in {retry_after:?}")]
    BudgetExhausted {
        /// The capability whose budget is spent.
        capability: Capability,
        /// How long until this request's cost fits in the budget again.
        retry_after: Duration,
    },
}

/// Why a provider gave no usable answer. Adapters map every failure to one of these; the
/// service serves a stale answer (or a 502) for any of them.
///
/// Reasons are for logs: they MUST NOT hold an API key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// No answer within the adapter's timeout.
    #[error("no answer in time")]
    Timeout,
    /// The provider could not be reached, or answered 5xx.
    #[error("unavailable: {reason}")]
    Unavailable {
        /// What went wrong, for the log (never an API key).
        reason: String,
    },
    /// The provider answered 429; `retry_after` is its `Retry-After`, when it sent one.
    #[error("rate limited (retry after {retry_after:?})")]
    RateLimited {
        /// The provider's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// The answer does not have the shape the adapter knows: the provider changed its API.
    #[error("malformed answer: {reason}")]
    Malformed {
        /// What did not parse, for the log.
        reason: String,
    },
    /// The provider refused the request with a 4xx other than 429 (a bad or missing key, a quota
    /// used up, a parameter it does not accept).
    #[error("refused with HTTP {status}: {reason}")]
    Refused {
        /// The HTTP status the provider answered.
        status: u16,
        /// The provider's explanation, for the log (never an API key).
        reason: String,
    },
}

impl ProviderError {
    /// What happened, as a metric label.
    pub fn outcome(&self) -> CallOutcome {
        match self {
            ProviderError::Timeout => CallOutcome::Timeout,
            ProviderError::Unavailable { .. } => CallOutcome::Unavailable,
            ProviderError::RateLimited { .. } => CallOutcome::RateLimited,
            ProviderError::Malformed { .. } => CallOutcome::Malformed,
            ProviderError::Refused { .. } => CallOutcome::Refused,
        }
    }
}

/// How one provider call ended, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    /// The provider answered.
    Answered,
    /// The provider answered that it does not know the city or symbol.
    NotFound,
    /// No answer within the adapter's timeout.
    Timeout,
    /// The provider could not be reached, or answered 5xx.
    Unavailable,
    /// The provider answered 429.
    RateLimited,
    /// The answer did not have the shape the adapter knows.
    Malformed,
    /// The provider refused the request with another 4xx.
    Refused,
}

impl CallOutcome {
    /// A stable lower-case name, for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Answered => "answered",
            CallOutcome::NotFound => "not_found",
            CallOutcome::Timeout => "timeout",
            CallOutcome::Unavailable => "unavailable",
            CallOutcome::RateLimited => "rate_limited",
            CallOutcome::Malformed => "malformed",
            CallOutcome::Refused => "refused",
        }
    }

    /// Whether the provider did its job (an answer or a clear "unknown").
    pub fn is_success(self) -> bool {
        matches!(self, CallOutcome::Answered | CallOutcome::NotFound)
    }
}

/// Where a request's answer came from, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheOutcome {
    /// A fresh cached answer (or a cached "unknown").
    Hit,
    /// Nothing fresh in the cache: the provider was asked (or, backed off, could not be).
    Miss,
    /// A last good answer, served because the provider failed or is backed off.
    Stale,
}

impl CacheOutcome {
    /// A stable lower-case name, for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Miss => "miss",
            CacheOutcome::Stale => "stale",
        }
    }
}
