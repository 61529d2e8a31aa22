//! What a client asks the providers for. Each input is a newtype whose constructor is the only
//! way to make one, so the service and the providers only ever see valid, normalised values; a
//! request's parse reports every failing parameter at once.

use std::fmt;
use std::num::NonZeroU32;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use workbench_core::{FieldErrors, TextError, Validator, at_most_chars};

use crate::CacheKey;

/// A place name as sent, of at most 100 characters and not only whitespace; kept trimmed and with
/// inner runs of whitespace collapsed to one space. Its case is kept for the provider; the cache
/// key ignores it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct City(String);

impl City {
    /// The most characters a city's name may have, as sent.
    pub const MAX_CHARS: usize = 100;

    /// A city from what a client sent; the message a `422` carries otherwise.
    pub fn parse(raw: &str) -> Result<Self, String> {
        // The bound is on what was sent, not on what is kept, so that the OpenAPI document can
        // state it exactly (`maxLength`).
        at_most_chars(raw, Self::MAX_CHARS)?;
        let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err(TextError::Blank.into());
        }
        Ok(Self(name))
    }

    /// The name, whitespace collapsed, case kept.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for City {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A ticker symbol such as `BTC`: 1–15 ASCII letters or digits, upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CryptoSymbol(String);

impl CryptoSymbol {
    /// The most characters of a symbol.
    pub const MAX_CHARS: usize = 15;

    /// A symbol from what a client sent, upper-cased; the message a `422` carries otherwise.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let symbol = raw.trim();
        if symbol.is_empty() {
            return Err(TextError::Blank.into());
        }
        if symbol.len() > Self::MAX_CHARS || !symbol.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format!("must be 1 to {} letters or digits, such as BTC", Self::MAX_CHARS));
        }
        Ok(Self(symbol.to_ascii_uppercase()))
    }

    /// The symbol, upper-case (`BTC`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CryptoSymbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every currency CoinGecko quotes prices in (its `vs_currencies`), in its own spelling.
///
/// Fixed here rather than fetched so that a bad currency is a 422 without a provider call; the
/// list changes rarely, and a currency it drops would answer 404 until this list follows.
pub const SUPPORTED_CURRENCIES: [&str; 63] = [
    "btc", "eth", "ltc", "bch", "bnb", "eos", "xrp", "xlm", "link", "dot", "yfi", "sol", "usd", "aed", "ars", "aud",
    "bdt", "bhd", "bmd", "brl", "cad", "chf", "clp", "cny", "czk", "dkk", "eur", "gbp", "gel", "hkd", "huf", "idr",
    "ils", "inr", "jpy", "krw", "kwd", "lkr", "mmk", "mxn", "myr", "ngn", "nok", "nzd", "php", "pkr", "pln", "rub",
    "sar", "sek", "sgd", "thb", "try", "twd", "uah", "vef", "vnd", "zar", "xdr", "xag", "xau", "bits", "sats",
];

/// The currency a price is quoted in: one of [`SUPPORTED_CURRENCIES`], lower-case; `usd` by
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(&'static str);

impl Currency {
    /// US dollars: the currency when the client names none.
    pub const USD: Currency = Currency("usd");

    /// A currency from what a client sent (any case); the message a `422` carries otherwise.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let wanted = raw.trim().to_ascii_lowercase();
        SUPPORTED_CURRENCIES.iter().find(|c| **c == wanted).map(|c| Self(c)).ok_or_else(|| {
            "is not a supported currency; use a code such as usd, eur, gbp, jpy or btc (the vs_currencies of CoinGecko)"
                .to_owned()
        })
    }

    /// The currency's code, lower-case (`usd`).
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl Default for Currency {
    fn default() -> Self {
        Self::USD
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Text to translate: 1–5 000 characters (Unicode scalar values), not only whitespace, kept
/// exactly as given.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TranslationText(String);

impl TranslationText {
    /// The most characters a text may have.
    pub const MAX_CHARS: usize = 5_000;

    /// A text from what a client sent, kept exactly; the message a `422` carries otherwise.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.trim().is_empty() {
            return Err(TextError::Blank.into());
        }
        Ok(Self(at_most_chars(raw, Self::MAX_CHARS)?.to_owned()))
    }

    /// The text, exactly as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its length in characters (Unicode scalar values), as the limits count it: never 0.
    pub fn chars(&self) -> NonZeroU32 {
        // At most MAX_CHARS, and not blank: always within 1..=u32::MAX.
        let count = u32::try_from(self.0.chars().count()).unwrap_or(u32::MAX);
        NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN)
    }
}

/// Only the length: a client's text has no place in logs.
impl fmt::Debug for TranslationText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TranslationText({} chars)", self.0.chars().count())
    }
}

/// A two-letter ISO 639-1 language code, lower-cased (`en`, `fr`). Only its shape is checked:
/// whether a provider translates that language is the provider's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LanguageCode([u8; 2]);

impl LanguageCode {
    /// A language code from what a client sent (any case); the message a `422` carries otherwise.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Ok(Self([a.to_ascii_lowercase(), b.to_ascii_lowercase()]))
            }
            _ => Err("must be a two-letter ISO 639-1 language code, such as en or fr".to_owned()),
        }
    }

    /// The code, lower-case (`fr`).
    pub fn as_str(&self) -> &str {
        // Two ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for LanguageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `None` for a parameter left out or sent empty (`?currency=`), which both mean "the default".
fn given(raw: Option<String>) -> Option<String> {
    raw.filter(|s| !s.trim().is_empty())
}

/// The query of `GET /weather`, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct WeatherRequest {
    /// The place, such as `Dakar`: at most 100 characters, not only whitespace.
    #[cfg_attr(feature = "openapi", param(required = true, example = "Dakar", value_type = schemas::CityParam, inline))]
    pub city: Option<String>,
}

/// A valid weather question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeatherQuery {
    /// The city whose weather to find.
    pub city: City,
}

impl WeatherQuery {
    /// # Errors
    ///
    /// Every failing parameter: `city` missing, blank or too long.
    pub fn parse(request: WeatherRequest) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        let city = v.required("city", request.city, |raw| City::parse(&raw));
        v.finish()?;
        // `finish` succeeded, so every required field parsed.
        Ok(Self { city: city.ok_or_else(|| FieldErrors::single("city", "is required"))? })
    }

    /// `weather:` and the city in lower case: `Dakar`, ` dakar ` and `DAKAR` share an answer.
    pub fn cache_key(&self) -> CacheKey {
        CacheKey::new(format!("weather:{}", self.city.as_str().to_lowercase()))
    }
}

/// The query of `GET /crypto`, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct PriceRequest {
    /// The ticker symbol, such as `BTC` (1–15 letters or digits, any case).
    #[cfg_attr(feature = "openapi", param(required = true, example = "BTC", value_type = schemas::SymbolParam, inline))]
    pub symbol: Option<String>,
    /// The currency of the price, `usd` by default (also when blank); one of CoinGecko's
    /// `vs_currencies`, in any case.
    #[cfg_attr(feature = "openapi", param(example = "eur", value_type = Option<schemas::CurrencyParam>, inline))]
    pub currency: Option<String>,
}

/// A valid price question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceQuery {
    /// The coin whose price to find.
    pub symbol: CryptoSymbol,
    /// The currency to quote it in.
    pub currency: Currency,
}

impl PriceQuery {
    /// # Errors
    ///
    /// Every failing parameter: `symbol` missing or malformed, `currency` unsupported.
    pub fn parse(request: PriceRequest) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        let symbol = v.required("symbol", request.symbol, |raw| CryptoSymbol::parse(&raw));
        let currency = v.optional("currency", given(request.currency), |raw| Currency::parse(&raw));
        v.finish()?;
        Ok(Self {
            symbol: symbol.ok_or_else(|| FieldErrors::single("symbol", "is required"))?,
            currency: currency.ok().flatten().unwrap_or_default(),
        })
    }

    /// `crypto:` symbol `:` currency, as in `crypto:BTC:usd`.
    pub fn cache_key(&self) -> CacheKey {
        CacheKey::new(format!("crypto:{}:{}", self.symbol, self.currency))
    }
}

/// The query of `GET /translate`, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct TranslationRequest {
    /// The text to translate: 1–5 000 characters, not only whitespace.
    #[cfg_attr(feature = "openapi", param(required = true, example = "Bonjour", value_type = schemas::TextParam, inline))]
    pub text: Option<String>,
    /// The language to translate into: a two-letter ISO 639-1 code.
    #[cfg_attr(feature = "openapi", param(required = true, example = "en", value_type = schemas::ToParam, inline))]
    pub to: Option<String>,
    /// The language of `text`; detected by the provider when left out or blank.
    #[cfg_attr(feature = "openapi", param(example = "fr", value_type = Option<schemas::FromParam>, inline))]
    pub from: Option<String>,
}

/// A valid translation question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslationQuery {
    /// The text to translate.
    pub text: TranslationText,
    /// The language to translate it into.
    pub to: LanguageCode,
    /// `None`: the provider detects the language.
    pub from: Option<LanguageCode>,
}

impl TranslationQuery {
    /// # Errors
    ///
    /// Every failing parameter: `text` missing, blank or too long; `to` missing or not a language
    /// code; `from` not a language code.
    pub fn parse(request: TranslationRequest) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        let text = v.required("text", request.text, |raw| TranslationText::parse(&raw));
        let to = v.required("to", given(request.to), |raw| LanguageCode::parse(&raw));
        let from = v.optional("from", given(request.from), |raw| LanguageCode::parse(&raw));
        v.finish()?;
        Ok(Self {
            text: text.ok_or_else(|| FieldErrors::single("text", "is required"))?,
            to: to.ok_or_else(|| FieldErrors::single("to", "is required"))?,
            from: from.ok().flatten(),
        })
    }

    /// `translate:` target `:` source (or `auto`) `:` the SHA-256 of the exact text, so that keys
    /// stay short and never hold a client's text.
    pub fn cache_key(&self) -> CacheKey {
        let hash = hex::encode(Sha256::digest(self.text.as_str().as_bytes()));
        let from = self.from.as_ref().map_or("auto", LanguageCode::as_str);
        CacheKey::new(format!("translate:{}:{from}:{hash}", self.to))
    }
}

/// The parameters' rules as OpenAPI schemas, so that the document accepts a value exactly when
/// the parsers above do (surrounding whitespace included: the parsers trim it).
#[cfg(feature = "openapi")]
mod schemas {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::{RefOr, Schema};
    use workbench_core::WHITESPACE_CLASS as W;

    use super::{City, SUPPORTED_CURRENCIES, TranslationText};

    /// Names a parameter's schema for `#[param(value_type = ..., inline)]`, which, unlike
    /// `schema_with`, keeps the parameter's `required`.
    macro_rules! parameter {
        ($name:ident, $schema:ident) => {
            pub(super) struct $name;
            impl utoipa::PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    $schema()
                }
            }
            impl utoipa::ToSchema for $name {}
        };
    }
    parameter!(CityParam, city);
    parameter!(SymbolParam, symbol);
    parameter!(CurrencyParam, currency);
    parameter!(TextParam, text);
    parameter!(ToParam, to);
    parameter!(FromParam, from);

    fn string(pattern: String) -> ObjectBuilder {
        ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern))
    }

    pub(super) fn city() -> RefOr<Schema> {
        string(format!("^[{W}]*[^{W}][\\s\\S]*$")).max_length(Some(City::MAX_CHARS)).into()
    }

    pub(super) fn symbol() -> RefOr<Schema> {
        string(format!("^[{W}]*[A-Za-z0-9]{{1,15}}[{W}]*$")).into()
    }

    /// Blank, or one of the currencies in any case (`[uU][sS][dD]`: JSON Schema has no flag for it).
    pub(super) fn currency() -> RefOr<Schema> {
        let any_case = |code: &str| {
            code.chars().map(|c| format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())).collect::<String>()
        };
        let codes = SUPPORTED_CURRENCIES.iter().map(|c| any_case(c)).collect::<Vec<_>>().join("|");
        string(format!("^[{W}]*(?:(?:{codes})[{W}]*)?$")).into()
    }

    pub(super) fn text() -> RefOr<Schema> {
        string(format!("^[{W}]*[^{W}][\\s\\S]*$")).max_length(Some(TranslationText::MAX_CHARS)).into()
    }

    pub(super) fn to() -> RefOr<Schema> {
        string(format!("^[{W}]*[A-Za-z]{{2}}[{W}]*$")).into()
    }

    pub(super) fn from() -> RefOr<Schema> {
        string(format!("^[{W}]*(?:[A-Za-z]{{2}}[{W}]*)?$")).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: &FieldErrors) -> Vec<&str> {
        e.as_slice().iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn cities_are_trimmed_collapsed_and_bounded() {
        assert_eq!(City::parse("  New \t  York ").unwrap().as_str(), "New York");
        assert_eq!(City::parse("   ").unwrap_err(), "must not be blank");
        assert!(City::parse(&"é".repeat(100)).is_ok(), "100 characters, 200 bytes");
        assert!(City::parse(&"é".repeat(101)).is_err());
        // Bounded as sent, before blankness is judged.
        assert_eq!(City::parse(&" ".repeat(101)).unwrap_err(), "must be at most 100 characters");
    }

    #[test]
    fn weather_keys_ignore_case_and_spacing() {
        let key = |city: &str| WeatherQuery::parse(WeatherRequest { city: Some(city.into()) }).unwrap().cache_key();
        assert_eq!(key(" São   PAULO "), key("são paulo"));
        assert_eq!(key("Dakar").as_str(), "weather:dakar");
        assert_ne!(key("Dakar"), key("Paris"));
    }

    #[test]
    fn a_missing_city_is_named() {
        let e = WeatherQuery::parse(WeatherRequest::default()).unwrap_err();
        assert_eq!(fields(&e), ["city"]);
        assert_eq!(e.as_slice()[0].message, "is required");
    }

    #[test]
    fn symbols_are_upper_cased_ascii_alphanumerics() {
        assert_eq!(CryptoSymbol::parse(" btc ").unwrap().as_str(), "BTC");
        assert_eq!(CryptoSymbol::parse("1inch").unwrap().as_str(), "1INCH");
        for bad in ["", "BT C", "BTC-USD", "ÉTH", "ABCDEFGHIJKLMNOP"] {
            assert!(CryptoSymbol::parse(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(CryptoSymbol::parse("ABCDEFGHIJKLMNO").is_ok(), "15 characters");
    }

    #[test]
    fn currency_defaults_to_usd_and_must_be_supported() {
        let parse = |currency: Option<&str>| {
            PriceQuery::parse(PriceRequest { symbol: Some("eth".into()), currency: currency.map(Into::into) })
        };
        assert_eq!(parse(None).unwrap().currency, Currency::USD);
        assert_eq!(parse(Some("")).unwrap().currency, Currency::USD);
        assert_eq!(parse(Some("EUR")).unwrap().currency.as_str(), "eur");
        assert_eq!(parse(Some("sats")).unwrap().cache_key().as_str(), "crypto:ETH:sats");
        let e = parse(Some("usdt")).unwrap_err();
        assert_eq!(fields(&e), ["currency"]);
    }

    #[test]
    fn every_bad_price_parameter_is_reported_at_once() {
        let e = PriceQuery::parse(PriceRequest { symbol: Some("B-T-C".into()), currency: Some("doge".into()) })
            .unwrap_err();
        assert_eq!(fields(&e), ["symbol", "currency"]);
    }

    #[test]
    fn text_is_counted_in_characters_and_kept_exactly() {
        assert!(TranslationText::parse(&"é".repeat(5_000)).is_ok());
        assert!(TranslationText::parse(&"é".repeat(5_001)).is_err());
        assert_eq!(TranslationText::parse(" Bonjour ").unwrap().as_str(), " Bonjour ");
        assert!(TranslationText::parse(" \n ").is_err());
        assert_eq!(TranslationText::parse(&" ".repeat(5_001)).unwrap_err(), "must not be blank");
        assert_eq!(format!("{:?}", TranslationText::parse("secret words").unwrap()), "TranslationText(12 chars)");
    }

    #[test]
    fn language_codes_are_two_letters_lower_cased() {
        assert_eq!(LanguageCode::parse("EN").unwrap().as_str(), "en");
        for bad in ["e", "eng", "en-US", "e1", "éa", ""] {
            assert!(LanguageCode::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn every_bad_translation_parameter_is_reported_at_once() {
        let e = TranslationQuery::parse(TranslationRequest {
            text: Some(String::new()),
            to: None,
            from: Some("french".into()),
        })
        .unwrap_err();
        assert_eq!(fields(&e), ["text", "to", "from"]);
    }

    #[test]
    fn translation_keys_name_both_languages_and_hash_the_exact_text() {
        let key = |text: &str, from: Option<&str>| {
            TranslationQuery::parse(TranslationRequest {
                text: Some(text.into()),
                to: Some("EN".into()),
                from: from.map(Into::into),
            })
            .unwrap()
            .cache_key()
        };
        let auto = key("Bonjour", None);
        assert!(auto.as_str().starts_with("translate:en:auto:"), "{auto}");
        assert!(!auto.as_str().contains("Bonjour"));
        assert!(key("Bonjour", Some("fr")).as_str().starts_with("translate:en:fr:"));
        assert_ne!(auto, key("Bonjour ", None), "the exact text counts");
        assert_eq!(auto, key("Bonjour", Some("")), "an empty `from` is no `from`");
    }
}

#[cfg(all(test, feature = "openapi"))]
mod openapi_tests {
    use utoipa::IntoParams;
    use utoipa::openapi::path::ParameterIn;

    use super::*;

    #[test]
    fn query_parameters_are_documented_with_the_required_ones_marked() {
        let described = |params: Vec<utoipa::openapi::path::Parameter>| {
            params
                .into_iter()
                .map(|p| {
                    assert!(matches!(p.parameter_in, ParameterIn::Query), "{} is a query parameter", p.name);
                    (p.name, matches!(p.required, utoipa::openapi::Required::True))
                })
                .collect::<Vec<_>>()
        };
        let query = || Some(ParameterIn::Query);
        assert_eq!(described(WeatherRequest::into_params(query)), [("city".to_owned(), true)]);
        assert_eq!(
            described(PriceRequest::into_params(query)),
            [("symbol".to_owned(), true), ("currency".to_owned(), false)]
        );
        assert_eq!(
            described(TranslationRequest::into_params(query)),
            [("text".to_owned(), true), ("to".to_owned(), true), ("from".to_owned(), false)]
        );
    }

    #[test]
    fn answer_schemas_list_every_field_of_the_contract() {
        let properties = |schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>| {
            let json = serde_json::to_value(schema).unwrap();
            let mut names: Vec<String> = json["properties"].as_object().unwrap().keys().cloned().collect();
            names.sort();
            (names, json["required"].clone())
        };
        let (names, required) = properties(<crate::Weather as utoipa::PartialSchema>::schema());
        assert_eq!(
            names,
            [
                "apparent_temperature_c",
                "cached",
                "city",
                "conditions",
                "country",
                "humidity_percent",
                "latitude",
                "longitude",
                "observed_at",
                "source",
                "stale",
                "temperature_c",
                "wind_kph"
            ]
        );
        assert!(!required.as_array().unwrap().contains(&"country".into()), "country may be null");
        let (names, _) = properties(<crate::Price as utoipa::PartialSchema>::schema());
        assert_eq!(names.len(), 10);
        let (names, _) = properties(<crate::Translation as utoipa::PartialSchema>::schema());
        assert_eq!(names, ["cached", "from", "source", "stale", "text", "to", "translated"]);
    }

    /// Each parameter's schema accepts a value exactly when its parser does.
    #[cfg(feature = "openapi")]
    #[test]
    fn the_documented_schemas_accept_what_the_parsers_accept() {
        use utoipa::openapi::{RefOr, Schema};

        fn accepts(schema: RefOr<Schema>, value: &str) -> bool {
            let RefOr::T(Schema::Object(object)) = schema else { panic!("an inline object schema") };
            let pattern = regex::Regex::new(object.pattern.as_deref().expect("a pattern")).unwrap();
            pattern.is_match(value) && object.max_length.is_none_or(|max| value.chars().count() <= max)
        }
        let samples = [
            "",
            " ",
            "\u{3000}\t",
            "Dakar",
            "  Saint   Louis ",
            "btc",
            " BTC ",
            "USD",
            "\u{a0}eur\u{2029}",
            "xx",
            "usdx",
            "dogecoin1234567",
            "dogecoin12345678",
            "en",
            " FR ",
            "e n",
            "é",
            "x\u{0}",
            "a,b",
        ];
        let long = ["a".repeat(100), format!("{} ", "a".repeat(100)), "é".repeat(5000), "é".repeat(5001)];
        for value in samples.iter().copied().chain(long.iter().map(String::as_str)) {
            let cases: [(&str, RefOr<Schema>, bool); 6] = [
                ("city", schemas::city(), City::parse(value).is_ok()),
                ("symbol", schemas::symbol(), CryptoSymbol::parse(value).is_ok()),
                (
                    "currency",
                    schemas::currency(),
                    given(Some(value.into())).is_none_or(|c| Currency::parse(&c).is_ok()),
                ),
                ("text", schemas::text(), TranslationText::parse(value).is_ok()),
                ("to", schemas::to(), given(Some(value.into())).is_some_and(|c| LanguageCode::parse(&c).is_ok())),
                ("from", schemas::from(), given(Some(value.into())).is_none_or(|c| LanguageCode::parse(&c).is_ok())),
            ];
            for (name, schema, parsed) in cases {
                assert_eq!(accepts(schema, value), parsed, "{name} of {value:?}");
            }
        }
    }
}
