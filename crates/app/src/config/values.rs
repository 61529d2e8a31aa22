//! How setting values are read: durations in seconds or words, schedules that may be switched off.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration given as whole seconds (`900`) or in words (`15m`, `7d`, `1h 30m`).
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Seconds(s) => Ok(Duration::from_secs(s)),
        Raw::Text(t) => match t.trim().parse::<u64>() {
            Ok(s) => Ok(Duration::from_secs(s)),
            Err(_) => humantime::parse_duration(t.trim()).map_err(|e| {
                serde::de::Error::custom(format!("{t:?} is not a duration ({e}); use seconds or e.g. 15m"))
            }),
        },
    }
}

/// The words that switch a schedule off.
pub const OFF: [&str; 4] = ["off", "false", "disabled", "none"];

/// A schedule setting: a cron expression, or a word (or boolean) switching it off; `true` keeps
/// the default.
pub fn schedule_setting<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Flag(bool),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None | Some(Raw::Flag(true)) => None,
        Some(Raw::Flag(false)) => Some("off".to_owned()),
        Some(Raw::Text(text)) => Some(text),
    })
}

pub fn serialize_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}
