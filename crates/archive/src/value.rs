//! Column kinds and the canonical form of their values.
//!
//! The archive holds one form per kind, whichever engine wrote it, so that either engine reads
//! what the other wrote: booleans `true`/`false`, timestamps `YYYY-MM-DDTHH:MM:SS.ffffff` (always
//! six digits: the store keeps microseconds on both engines), dates `YYYY-MM-DD`, binary as
//! base64, JSON columns as JSON values, NULL as `null`. Each engine's reader gives its own
//! spelling (SQLite booleans are 0/1, its timestamps `YYYY-MM-DD HH:MM:SS.fff`, PostgreSQL's bytea
//! `\x…`), normalised here; each writer gets the spelling its engine and Diesel read back.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::Value;
use workbench_store::Backend;

/// What a column holds, from its declared type (the catalogue's, on either engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Integer,
    Real,
    Bool,
    Text,
    Timestamp,
    Date,
    Blob,
    Json,
}

impl Kind {
    /// The kind of a declared type: PostgreSQL's `format_type` (`timestamp without time zone`,
    /// `character varying(64)`, `bigint`) or SQLite's declaration as written (`BIGINT`,
    /// `TIMESTAMP`, `BOOLEAN`). SQLite's own affinity rules would call `BOOLEAN` and `TIMESTAMP`
    /// numeric; the migrations' words are what says what the store means.
    pub fn of_declared(declared: &str) -> Self {
        let t = declared.to_ascii_lowercase();
        if t.contains("bool") {
            Kind::Bool
        } else if t.contains("timestamp") || t.contains("datetime") {
            Kind::Timestamp
        } else if t == "date" {
            Kind::Date
        } else if t.contains("int") || t.contains("serial") {
            Kind::Integer
        } else if t.contains("bytea") || t.contains("blob") {
            Kind::Blob
        } else if t.contains("json") {
            Kind::Json
        } else if t.contains("real") || t.contains("double") || t.contains("float") || t.contains("numeric") {
            Kind::Real
        } else {
            Kind::Text
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Integer => "integer",
            Kind::Real => "real",
            Kind::Bool => "bool",
            Kind::Text => "text",
            Kind::Timestamp => "timestamp",
            Kind::Date => "date",
            Kind::Blob => "blob",
            Kind::Json => "json",
        }
    }
}

const CANONICAL_TIMESTAMP: &str = "%Y-%m-%dT%H:%M:%S%.6f";
/// What Diesel writes for a `Timestamp` on SQLite, and so what the store compares against.
const SQLITE_TIMESTAMP: &str = "%Y-%m-%d %H:%M:%S%.f";

/// A value that could not be read as its kind, given back so that the caller can name it
/// (values that pass through unchanged are never copied to keep one for an error message).
#[derive(Debug)]
pub struct BadValue {
    pub kind: &'static str,
    pub value: Value,
}

fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|at| at.naive_utc()))
        .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
}

fn decode_base64(value: &Value) -> Option<Vec<u8>> {
    BASE64.decode(value.as_str()?).ok()
}

/// The canonical form of `value` as `engine`'s reader gave it.
pub fn canonical(kind: Kind, engine: Backend, value: Value) -> Result<Value, BadValue> {
    if value.is_null() || matches!((kind, &value), (Kind::Bool, Value::Bool(_))) {
        return Ok(value);
    }
    let converted = match kind {
        Kind::Bool => match &value {
            Value::Number(n) => n.as_i64().map(|n| Value::Bool(n != 0)),
            Value::String(s) => Some(Value::Bool(matches!(s.as_str(), "t" | "true" | "1" | "TRUE"))),
            _ => None,
        },
        Kind::Timestamp => {
            value.as_str().and_then(parse_timestamp).map(|at| Value::String(at.format(CANONICAL_TIMESTAMP).to_string()))
        }
        Kind::Date => value
            .as_str()
            .and_then(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
            .map(|date| Value::String(date.format("%Y-%m-%d").to_string())),
        // PostgreSQL's `row_to_json` spells bytea `\x…`; the SQLite reader selects `hex(c)`.
        Kind::Blob => value
            .as_str()
            .and_then(|text| match engine {
                Backend::Postgres => text.strip_prefix("\\x"),
                Backend::Sqlite => Some(text),
            })
            .and_then(|digits| hex::decode(digits).ok())
            .map(|bytes| Value::String(BASE64.encode(bytes))),
        // SQLite's dynamic typing can leave a number in a text column (or text in an integer
        // one); kept as found rather than guessed at, so nothing is lost.
        Kind::Integer | Kind::Real | Kind::Text | Kind::Json => return Ok(value),
    };
    converted.ok_or(BadValue { kind: kind.as_str(), value })
}

/// `value` (canonical) as `engine`'s writer takes it: PostgreSQL through
/// `json_populate_recordset`, SQLite through `json_each` and `->>`.
pub fn for_engine(kind: Kind, engine: Backend, value: Value) -> Result<Value, BadValue> {
    if value.is_null() {
        return Ok(value);
    }
    let converted = match (engine, kind, &value) {
        (Backend::Postgres, Kind::Blob, _) => {
            decode_base64(&value).map(|bytes| Value::String(format!("\\x{}", hex::encode(bytes))))
        }
        // A JSON column filled from an engine that keeps JSON as text.
        (Backend::Postgres, Kind::Json, Value::String(s)) => serde_json::from_str(s).ok(),
        (Backend::Postgres, Kind::Bool, Value::Number(n)) => n.as_i64().map(|n| Value::Bool(n != 0)),
        (Backend::Sqlite, Kind::Bool, Value::Bool(b)) => Some(Value::from(i64::from(*b))),
        (Backend::Sqlite, Kind::Timestamp, _) => {
            value.as_str().and_then(parse_timestamp).map(|at| Value::String(at.format(SQLITE_TIMESTAMP).to_string()))
        }
        (Backend::Sqlite, Kind::Blob, _) => decode_base64(&value).map(|bytes| Value::String(hex::encode_upper(bytes))),
        (Backend::Sqlite, Kind::Json, Value::Array(_) | Value::Object(_) | Value::Number(_) | Value::Bool(_)) => {
            Some(Value::String(value.to_string()))
        }
        _ => return Ok(value),
    };
    converted.ok_or(BadValue { kind: kind.as_str(), value })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn declared_types_map_to_kinds() {
        assert_eq!(Kind::of_declared("timestamp without time zone"), Kind::Timestamp);
        assert_eq!(Kind::of_declared("TIMESTAMP"), Kind::Timestamp);
        assert_eq!(Kind::of_declared("character varying(64)"), Kind::Text);
        assert_eq!(Kind::of_declared("BOOLEAN"), Kind::Bool);
        assert_eq!(Kind::of_declared("INTEGER"), Kind::Integer);
        assert_eq!(Kind::of_declared("smallint"), Kind::Integer);
        assert_eq!(Kind::of_declared("date"), Kind::Date);
        assert_eq!(Kind::of_declared("bytea"), Kind::Blob);
        assert_eq!(Kind::of_declared("jsonb"), Kind::Json);
        assert_eq!(Kind::of_declared("TEXT"), Kind::Text);
    }

    #[test]
    fn both_engines_spellings_meet_in_one_form() {
        let pg = canonical(Kind::Timestamp, Backend::Postgres, json!("2026-03-04T05:06:07.0012")).unwrap();
        let lite = canonical(Kind::Timestamp, Backend::Sqlite, json!("2026-03-04 05:06:07.001200")).unwrap();
        assert_eq!(pg, json!("2026-03-04T05:06:07.001200"));
        assert_eq!(pg, lite);
        assert_eq!(canonical(Kind::Bool, Backend::Sqlite, json!(1)).unwrap(), json!(true));
        assert_eq!(canonical(Kind::Blob, Backend::Postgres, json!("\\x00ff")).unwrap(), json!("AP8="));
        assert_eq!(canonical(Kind::Blob, Backend::Sqlite, json!("00FF")).unwrap(), json!("AP8="));
        assert!(canonical(Kind::Timestamp, Backend::Sqlite, json!("yesterday")).is_err());
    }

    #[test]
    fn writers_get_their_engines_spelling() {
        let at = json!("2026-03-04T05:06:07.000000");
        assert_eq!(for_engine(Kind::Timestamp, Backend::Sqlite, at.clone()).unwrap(), json!("2026-03-04 05:06:07"));
        assert_eq!(for_engine(Kind::Timestamp, Backend::Postgres, at.clone()).unwrap(), at);
        assert_eq!(for_engine(Kind::Bool, Backend::Sqlite, json!(true)).unwrap(), json!(1));
        assert_eq!(for_engine(Kind::Blob, Backend::Postgres, json!("AP8=")).unwrap(), json!("\\x00ff"));
        assert_eq!(for_engine(Kind::Blob, Backend::Sqlite, json!("AP8=")).unwrap(), json!("00FF"));
    }
}
