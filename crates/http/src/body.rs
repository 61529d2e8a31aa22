//! Reading request bodies: fields read leniently (so that every failing field is reported at
//! once, and `null` is told apart from a field left out) and instants in either of the accepted
//! forms; and the schemas that state, in the OpenAPI document, what such values accept.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use workbench_core::TypeFailures;
pub use workbench_core::WHITESPACE_CLASS;

/// A field of a request body read leniently: a value of the wrong JSON type is kept as a failure
/// instead of failing the whole body, so that it is reported together with every other invalid
/// field; and `null` is told apart from a field left out, since only nullable fields accept it.
/// Declare such fields `#[serde(default)]` and read them with [`lenient`] or [`nullable`] into a
/// domain draft, whose [`TypeFailures`] carry the failures into the domain's own validation.
#[derive(Debug, Clone, Default)]
pub enum Lenient<T> {
    /// Left out of the body.
    #[default]
    Absent,
    /// Sent as `null`.
    Null,
    Valid(T),
    /// Sent with the wrong type; what serde said about it.
    Invalid(String),
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        if value.is_null() {
            return Ok(Lenient::Null);
        }
        Ok(match serde_json::from_value(integral(value)) {
            Ok(v) => Lenient::Valid(v),
            Err(e) => Lenient::Invalid(e.to_string()),
        })
    }
}

impl<T: Serialize> Serialize for Lenient<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Lenient::Absent | Lenient::Null => s.serialize_none(),
            Lenient::Valid(v) => v.serialize(s),
            Lenient::Invalid(message) => s.serialize_str(message),
        }
    }
}

/// The value of a field that may be left out but not sent as `null`; a wrong type or a `null` is
/// recorded in `failures`, naming `field`.
pub fn lenient<T>(field: &str, raw: Lenient<T>, failures: &mut TypeFailures) -> Option<T> {
    match raw {
        Lenient::Null => {
            failures.record(field, "must not be null");
            None
        }
        other => nullable(field, other, failures),
    }
}

/// The value of a field for which `null` means "none"; a wrong type is recorded in `failures`.
pub fn nullable<T>(field: &str, raw: Lenient<T>, failures: &mut TypeFailures) -> Option<T> {
    match raw {
        Lenient::Absent | Lenient::Null => None,
        Lenient::Valid(v) => Some(v),
        Lenient::Invalid(message) => {
            failures.record(field, message);
            None
        }
    }
}

/// Distinguishes a field left out (`None`) from one sent as `null` (`Some(None)`).
pub(crate) fn present<'de, T: serde::de::DeserializeOwned, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    let value = integral(serde_json::Value::deserialize(d)?);
    Option::<T>::deserialize(value).map(Some).map_err(serde::de::Error::custom)
}

/// A number written with a fraction of zero (`72.0`) as the integer it is: JSON has one number
/// type, and JSON Schema's `integer` accepts `72.0`, so an integer field must too. Anything else
/// is left as it is, to be refused by the field's own type.
pub(crate) fn integral(value: serde_json::Value) -> serde_json::Value {
    match &value {
        serde_json::Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // `i64::MAX as f64` rounds up to 2^63, which is out of range: hence the strict bound.
            if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
                serde_json::Value::from(f as i64)
            } else {
                value
            }
        }
        _ => value,
    }
}

/// An id in a list, read as JSON Schema's `integer` reads it: `72.0` is 72.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(transparent)]
pub struct WholeNumber(pub i64);

impl<'de> Deserialize<'de> for WholeNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = integral_deep(serde_json::Value::deserialize(d)?);
        i64::deserialize(value).map(WholeNumber).map_err(serde::de::Error::custom)
    }
}

/// [`integral`] applied to every number inside `value`, however deeply nested.
pub(crate) fn integral_deep(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Array(items) => items.into_iter().map(integral_deep).collect(),
        serde_json::Value::Object(fields) => {
            serde_json::Value::Object(fields.into_iter().map(|(k, v)| (k, integral_deep(v))).collect())
        }
        number @ serde_json::Value::Number(_) => integral(number),
        other => other,
    }
}

/// An instant given as RFC 3339 (`2026-01-15T10:30:00Z`) or a bare date (`2026-01-15`, midnight
/// UTC), truncated to microseconds like every stored timestamp.
pub(crate) fn instant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Option::<String>::deserialize(d)?.map(|s| parse_instant(&s).map_err(serde::de::Error::custom)).transpose()
}

pub(crate) use workbench_core::parse_instant;

/// A calendar date in a request body: `YYYY-MM-DD`, surrounding whitespace ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarDate(pub NaiveDate);

impl From<CalendarDate> for NaiveDate {
    fn from(date: CalendarDate) -> Self {
        date.0
    }
}

impl<'de> Deserialize<'de> for CalendarDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        workbench_core::parse_calendar_date(s.trim())
            .map(CalendarDate)
            .ok_or_else(|| serde::de::Error::custom(format!("{:?} is not a date of the form YYYY-MM-DD", s.trim())))
    }
}

impl Serialize for CalendarDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// The schema of a [`CalendarDate`].
#[derive(Debug)]
pub struct CalendarDateSchema;

component!(CalendarDateSchema, "CalendarDate", {
    let w = WHITESPACE_CLASS;
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some(format!("^[{w}]*[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[{w}]*$")))
        .description(Some("A calendar date, `YYYY-MM-DD`"))
        .examples(["2026-01-15"])
});

/// `instant` for a field whose `null` clears it: outer `None` = left out.
pub(crate) fn nullable_instant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<DateTime<Utc>>>, D::Error> {
    instant(d).map(Some)
}

/// A pattern for text that, once trimmed, has `min` (0 or 1) to `max` (at least 2) characters.
pub fn trimmed_text_pattern(min: usize, max: usize) -> String {
    let w = WHITESPACE_CLASS;
    let inner = max.saturating_sub(2);
    let text = format!("[^{w}](?:[\\s\\S]{{0,{inner}}}[^{w}])?");
    let text = if min == 0 { format!("(?:{text})?") } else { text };
    format!("^[{w}]*{text}[{w}]*$")
}

/// A pattern for a comma-separated list of `names`, as the list parameters read it: items are
/// trimmed, and empty items (and so an empty list) are ignored.
pub fn name_list_pattern(names: &[&str]) -> String {
    let w = WHITESPACE_CLASS;
    let item = format!("[{w}]*(?:{})?[{w}]*", names.join("|"));
    format!("^{item}(?:,{item})*$")
}

/// A pattern for an absolute `http://` or `https://` URL of at most `max` characters, with a host
/// and neither whitespace nor control characters (`char::is_control`), surrounding whitespace
/// ignored; blank too when `blank` (a blank value then clears the field).
pub fn http_url_pattern(max: usize, blank: bool) -> String {
    let w = WHITESPACE_CLASS;
    let not_url = format!("{w}\\u0000-\\u001f\\u007f-\\u009f");
    let (http, https) = (max - "http://".len() - 1, max - "https://".len() - 1);
    let optional = if blank { "?" } else { "" };
    format!(
        "^[{w}]*(?:http://[^/{not_url}][^{not_url}]{{0,{http}}}|https://[^/{not_url}][^{not_url}]{{0,{https}}}){optional}[{w}]*$"
    )
}

/// A string schema with `pattern`, described as `description`.
pub fn patterned(pattern: String, description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).description(Some(description))
}

/// Trimmed text of `min` (0 or 1) to `max` characters, as a schema described as `description`.
pub fn trimmed_text(min: usize, max: usize, description: &str) -> ObjectBuilder {
    patterned(trimmed_text_pattern(min, max), description)
}

/// Declares a component schema named `$name`, built by `$schema`, for the type `$ty`.
macro_rules! component {
    ($ty:ident, $name:literal, $schema:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
                $schema.into()
            }
        }
        impl utoipa::ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed($name)
            }
        }
    };
}
pub(crate) use component;

/// The schema of an instant as `instant` reads it: RFC 3339 or a bare `YYYY-MM-DD` date.
#[derive(Debug)]
pub struct Instant;

component!(Instant, "Instant", {
    let w = WHITESPACE_CLASS;
    let date = "[0-9]{4}-[0-9]{2}-[0-9]{2}";
    let format = |f, pattern: String| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(f)))
            .pattern(Some(format!("^[{w}]*{pattern}[{w}]*$")))
    };
    let time = "[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.][0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})";
    AnyOfBuilder::new()
        .item(format(KnownFormat::DateTime, format!("{date}{time}")).examples(["2026-01-15T10:30:00Z"]))
        .item(format(KnownFormat::Date, date.to_owned()).examples(["2026-01-15"]))
        .description(Some("An RFC 3339 timestamp, or a `YYYY-MM-DD` date meaning midnight UTC"))
});

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default)]
        months: Lenient<i64>,
        #[serde(default, deserialize_with = "present")]
        assignee: Option<Option<i64>>,
        #[serde(default)]
        ratio: Lenient<f64>,
    }

    #[test]
    fn integer_fields_accept_numbers_written_with_a_zero_fraction() {
        let body: Body = serde_json::from_str(r#"{"months": 72.0, "assignee": 7.0, "ratio": 2}"#).unwrap();
        assert!(matches!(body.months, Lenient::Valid(72)));
        assert_eq!(body.assignee, Some(Some(7)));
        assert!(matches!(body.ratio, Lenient::Valid(r) if r == 2.0));
    }

    #[test]
    fn integer_fields_still_refuse_fractions_and_out_of_range_numbers() {
        let body: Body = serde_json::from_str(r#"{"months": 72.5, "ratio": 0.5}"#).unwrap();
        assert!(matches!(body.months, Lenient::Invalid(_)));
        assert!(matches!(body.ratio, Lenient::Valid(r) if r == 0.5));
        let body: Body = serde_json::from_str(r#"{"months": 1e300}"#).unwrap();
        assert!(matches!(body.months, Lenient::Invalid(_)));
        assert!(serde_json::from_str::<Body>(r#"{"assignee": 1.5}"#).is_err());
        let body: Body = serde_json::from_str(r#"{"assignee": null}"#).unwrap();
        assert_eq!(body.assignee, Some(None));
    }

    /// Found by the fuzzer: without exact float parsing, `2251799813685247.0` was read as
    /// `2251799813685247.25` and refused as a fraction.
    #[test]
    fn large_integral_numbers_are_read_exactly() {
        let body: Body =
            serde_json::from_str(r#"{"months": 2251799813685247.0, "assignee": 9007199254740991.0}"#).unwrap();
        assert!(matches!(body.months, Lenient::Valid(2_251_799_813_685_247)));
        assert_eq!(body.assignee, Some(Some(9_007_199_254_740_991)));
    }

    /// The URL pattern accepts a value exactly when the domain's rules do (the product website's
    /// and the avatar's, which share it).
    #[test]
    fn the_url_pattern_states_the_domains_rule() {
        let with_blank = regex::Regex::new(&http_url_pattern(2048, true)).unwrap();
        let without = regex::Regex::new(&http_url_pattern(2048, false)).unwrap();
        let long = |n: usize| format!("https://example.com/{}", "a".repeat(n - "https://example.com/".len()));
        let samples = [
            String::new(),
            " ".into(),
            "http://a".into(),
            " https://example.com/x?y=1#z ".into(),
            "https://".into(),
            "https:///x".into(),
            "http://a b".into(),
            "http://a\u{7}".into(),
            "ftp://a".into(),
            "www.a.com".into(),
            "HTTP://A".into(),
            "http://\u{e9}t\u{e9}".into(),
            "\u{a0}http://a\u{3000}".into(),
            long(2048),
            long(2049),
        ];
        for value in &samples {
            let website = workbench_products::Website::unless_blank(Some(value.clone()));
            let accepted = website.is_none_or(|w| workbench_products::Website::parse(w).is_ok());
            assert_eq!(with_blank.is_match(value), accepted, "website {value:?}");
            let avatar = workbench_users::ProfileChanges::parse_avatar_url(Some(value.clone())).is_ok();
            assert_eq!(with_blank.is_match(value), avatar, "avatar {value:?}");
            let present = !value.trim().is_empty();
            assert_eq!(without.is_match(value), present && accepted, "required website {value:?}");
        }
    }
}
