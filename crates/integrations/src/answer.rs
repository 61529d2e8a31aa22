//! What the providers answer, as clients see it, and how answers are kept in a cache.
//!
//! The answer types are the response bodies of the contract, `cached` and `stale` included: a
//! provider leaves both `false` and the service sets them on the way out, so that a handler
//! serialises what the service returns as it is.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How long caches keep an answer, and so the age up to which a last good answer is served
/// (marked `stale`) while its provider fails.
pub const KEEP_ANSWERS_FOR: Duration = Duration::from_secs(24 * 3600);

/// The current weather at a place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Weather {
    /// The place as the provider names it (`Dakar`).
    #[cfg_attr(feature = "openapi", schema(example = "Dakar"))]
    pub city: String,
    /// The country it is in, when the provider says.
    #[cfg_attr(feature = "openapi", schema(example = "Senegal"))]
    pub country: Option<String>,
    /// The place's latitude, in degrees north.
    pub latitude: f64,
    /// The place's longitude, in degrees east.
    pub longitude: f64,
    /// Air temperature 2 m above ground, in °C.
    pub temperature_c: f64,
    /// How warm it feels, in °C.
    pub apparent_temperature_c: f64,
    /// Relative humidity 2 m above ground, 0–100.
    pub humidity_percent: f64,
    /// Wind speed 10 m above ground, in km/h.
    pub wind_kph: f64,
    /// The WMO weather code in words.
    #[cfg_attr(feature = "openapi", schema(example = "partly cloudy"))]
    pub conditions: String,
    /// When these values were observed (UTC).
    pub observed_at: DateTime<Utc>,
    /// The provider (`open-meteo`).
    #[cfg_attr(feature = "openapi", schema(example = "open-meteo"))]
    pub source: String,
    /// Whether this answer came from the cache.
    #[serde(default)]
    pub cached: bool,
    /// Whether this is a last good answer served because the provider is failing.
    #[serde(default)]
    pub stale: bool,
}

/// The price of a crypto-currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Price {
    /// The ticker symbol, upper-case (`BTC`).
    #[cfg_attr(feature = "openapi", schema(example = "BTC"))]
    pub symbol: String,
    /// The coin's name (`Bitcoin`).
    #[cfg_attr(feature = "openapi", schema(example = "Bitcoin"))]
    pub name: String,
    /// The currency of `price` and `market_cap`, lower-case (`usd`).
    #[cfg_attr(feature = "openapi", schema(example = "usd"))]
    pub currency: String,
    /// One coin's price in `currency`.
    pub price: f64,
    /// The change of the price over the last 24 hours, in percent, when known.
    pub change_24h_percent: Option<f64>,
    /// The market capitalisation in `currency`, when known.
    pub market_cap: Option<f64>,
    /// When the provider last updated this price (UTC).
    pub updated_at: DateTime<Utc>,
    /// The provider (`coingecko`).
    #[cfg_attr(feature = "openapi", schema(example = "coingecko"))]
    pub source: String,
    /// Whether this answer came from the cache.
    #[serde(default)]
    pub cached: bool,
    /// Whether this is a last good answer served because the provider is failing.
    #[serde(default)]
    pub stale: bool,
}

/// A translated text.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Translation {
    /// The text as given.
    #[cfg_attr(feature = "openapi", schema(example = "Bonjour"))]
    pub text: String,
    /// The text in `to`.
    #[cfg_attr(feature = "openapi", schema(example = "Hello"))]
    pub translated: String,
    /// The language of `text` (two letters): as given, or as the provider detected it; `null`
    /// when it was not given and the provider did not say.
    #[cfg_attr(feature = "openapi", schema(example = "fr"))]
    pub from: Option<String>,
    /// The language translated into (two letters).
    #[cfg_attr(feature = "openapi", schema(example = "en"))]
    pub to: String,
    /// The provider (`deepl` or `libretranslate`).
    #[cfg_attr(feature = "openapi", schema(example = "deepl"))]
    pub source: String,
    /// Whether this answer came from the cache.
    #[serde(default)]
    pub cached: bool,
    /// Whether this is a last good answer served because the provider is failing.
    #[serde(default)]
    pub stale: bool,
}

/// Sizes only: a client's text has no place in logs.
impl fmt::Debug for Translation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Translation")
            .field("text", &format_args!("{} chars", self.text.chars().count()))
            .field("translated", &format_args!("{} chars", self.translated.chars().count()))
            .field("from", &self.from)
            .field("to", &self.to)
            .field("source", &self.source)
            .field("cached", &self.cached)
            .field("stale", &self.stale)
            .finish()
    }
}

/// Where an answer is kept: the capability and the normalised query (see each query's
/// `cache_key`). Holds no client text and no secret, so it may be logged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(String);

impl CacheKey {
    pub(crate) fn new(key: String) -> Self {
        Self(key)
    }

    /// The key as text, for a cache's own key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a provider said about one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "answer", rename_all = "snake_case")]
pub enum AnswerBody {
    /// The current weather in a city.
    Weather(Weather),
    /// A coin's price.
    Price(Price),
    /// A text's translation.
    Translation(Translation),
    /// The provider does not know the city or symbol (kept so that repeated questions about it
    /// do not each cost a provider call).
    Unknown,
}

/// An answer in a cache, with when it was fetched from the provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAnswer {
    /// When the provider gave the answer: how old it is decides whether it is fresh or stale.
    pub fetched_at: DateTime<Utc>,
    /// What the provider said.
    pub body: AnswerBody,
}

impl StoredAnswer {
    /// About how many bytes the answer takes, for caches bounded by size.
    pub fn approximate_size(&self) -> usize {
        let text = match &self.body {
            AnswerBody::Weather(w) => {
                w.city.len() + w.country.as_ref().map_or(0, String::len) + w.conditions.len() + w.source.len()
            }
            AnswerBody::Price(p) => p.symbol.len() + p.name.len() + p.currency.len() + p.source.len(),
            AnswerBody::Translation(t) => t.text.len() + t.translated.len() + t.source.len() + 8,
            AnswerBody::Unknown => 0,
        };
        size_of::<Self>() + text
    }
}

/// The answer types the service serves, and how each is kept in an [`AnswerBody`].
pub(crate) trait Answer: Clone + Send + Sync + 'static {
    fn into_body(self) -> AnswerBody;
    /// `None` for a body of another kind (which a key's capability prefix rules out).
    fn from_body(body: AnswerBody) -> Option<Self>;
    /// The same answer, marked as it is served.
    fn served(self, cached: bool, stale: bool) -> Self;
}

macro_rules! answer {
    ($type:ident) => {
        impl Answer for $type {
            fn into_body(self) -> AnswerBody {
                AnswerBody::$type(self)
            }

            fn from_body(body: AnswerBody) -> Option<Self> {
                match body {
                    AnswerBody::$type(answer) => Some(answer),
                    _ => None,
                }
            }

            fn served(self, cached: bool, stale: bool) -> Self {
                Self { cached, stale, ..self }
            }
        }
    };
}

answer!(Weather);
answer!(Price);
answer!(Translation);

/// The WMO weather interpretation code (as Open-Meteo and others report it) in words; `None`
/// for a code outside the table.
pub fn wmo_conditions(code: u16) -> Option<&'static str> {
    Some(match code {
        0 => "clear sky",
        1 => "mainly clear",
        2 => "partly cloudy",
        3 => "overcast",
        45 => "fog",
        48 => "depositing rime fog",
        51 => "light drizzle",
        53 => "moderate drizzle",
        55 => "dense drizzle",
        56 => "light freezing drizzle",
        57 => "dense freezing drizzle",
        61 => "slight rain",
        63 => "moderate rain",
        65 => "heavy rain",
        66 => "light freezing rain",
        67 => "heavy freezing rain",
        71 => "slight snow fall",
        73 => "moderate snow fall",
        75 => "heavy snow fall",
        77 => "snow grains",
        80 => "slight rain showers",
        81 => "moderate rain showers",
        82 => "violent rain showers",
        85 => "slight snow showers",
        86 => "heavy snow showers",
        95 => "thunderstorm",
        96 => "thunderstorm with slight hail",
        99 => "thunderstorm with heavy hail",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn translation() -> Translation {
        Translation {
            text: "mot de passe: hunter2".into(),
            translated: "password: hunter2".into(),
            from: Some("fr".into()),
            to: "en".into(),
            source: "deepl".into(),
            cached: false,
            stale: false,
        }
    }

    #[test]
    fn answers_serialise_as_the_contract_says() {
        let price = Price {
            symbol: "BTC".into(),
            name: "Bitcoin".into(),
            currency: "usd".into(),
            price: 67_187.33,
            change_24h_percent: Some(3.64),
            market_cap: None,
            updated_at: Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).unwrap(),
            source: "coingecko".into(),
            cached: false,
            stale: false,
        }
        .served(true, true);
        let json = serde_json::to_value(&price).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "symbol",
                "name",
                "currency",
                "price",
                "change_24h_percent",
                "market_cap",
                "updated_at",
                "source",
                "cached",
                "stale"
            ]
        );
        assert_eq!(json["updated_at"], "2026-01-15T10:30:00Z");
        assert_eq!(json["cached"], true);
        assert_eq!(json["stale"], true);
    }

    #[test]
    fn stored_answers_survive_a_json_round_trip() {
        let stored = StoredAnswer {
            fetched_at: Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).unwrap(),
            body: AnswerBody::Translation(translation()),
        };
        let json = serde_json::to_string(&stored).unwrap();
        assert_eq!(serde_json::from_str::<StoredAnswer>(&json).unwrap(), stored);
        let unknown = StoredAnswer { body: AnswerBody::Unknown, ..stored };
        let json = serde_json::to_string(&unknown).unwrap();
        assert_eq!(serde_json::from_str::<StoredAnswer>(&json).unwrap(), unknown);
    }

    #[test]
    fn debug_output_does_not_show_a_clients_text() {
        let debug = format!("{:?}", translation());
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("21 chars"), "{debug}");
    }

    #[test]
    fn wmo_codes_read_as_words() {
        assert_eq!(wmo_conditions(0), Some("clear sky"));
        assert_eq!(wmo_conditions(63), Some("moderate rain"));
        assert_eq!(wmo_conditions(99), Some("thunderstorm with heavy hail"));
        assert_eq!(wmo_conditions(4), None);
    }
}
