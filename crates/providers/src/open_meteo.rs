//! Open-Meteo: the city's coordinates from its geocoding API, then the current conditions there
//! from its forecast API. Keyless.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use workbench_integrations::{ProviderError, Weather, WeatherProvider, WeatherQuery, wmo_conditions};

use crate::ProvidersError;
use crate::http::{DEFAULT_TIMEOUT, base_url, client, fetch_json, within};

/// Open-Meteo's geocoding API (`WEATHER_GEOCODING_URL`).
pub const DEFAULT_WEATHER_GEOCODING_URL: &str = "https://geocoding-api.open-meteo.com";

/// Open-Meteo's forecast API (`WEATHER_API_URL`).
pub const DEFAULT_WEATHER_API_URL: &str = "https://api.open-meteo.com";

const NAME: &str = "open-meteo";

/// The variables asked for, in the order of the contract.
const CURRENT: &str = "temperature_2m,apparent_temperature,relative_humidity_2m,wind_speed_10m,weather_code";

/// Where Open-Meteo is and how long a call may take.
#[derive(Debug, Clone)]
pub struct OpenMeteoConfig {
    pub geocoding_url: String,
    pub api_url: String,
    /// The bound on a whole call: geocoding and forecast together.
    pub timeout: Duration,
}

impl Default for OpenMeteoConfig {
    fn default() -> Self {
        Self {
            geocoding_url: DEFAULT_WEATHER_GEOCODING_URL.to_owned(),
            api_url: DEFAULT_WEATHER_API_URL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The [`WeatherProvider`] of Open-Meteo.
#[derive(Debug, Clone)]
pub struct OpenMeteo {
    client: reqwest::Client,
    geocoding_url: String,
    api_url: String,
    timeout: Duration,
}

impl OpenMeteo {
    /// # Errors
    ///
    /// [`ProvidersError::InvalidUrl`] for a URL that is not `http(s)://host[/prefix]`,
    /// [`ProvidersError::Client`] when no HTTP client can be built.
    pub fn new(config: OpenMeteoConfig) -> Result<Self, ProvidersError> {
        let OpenMeteoConfig { geocoding_url, api_url, timeout } = config;
        Ok(Self {
            client: client(NAME, timeout)?,
            geocoding_url: base_url(NAME, &geocoding_url)?,
            api_url: base_url(NAME, &api_url)?,
            timeout,
        })
    }
}

/// `GET /v1/search`: `results` is left out when nothing matches.
#[derive(Deserialize)]
struct Geocoding {
    results: Option<Vec<Place>>,
}

#[derive(Deserialize)]
struct Place {
    name: String,
    latitude: f64,
    longitude: f64,
    country: Option<String>,
}

/// `GET /v1/forecast` with `current=...`: local times without an offset, in GMT unless a
/// `timezone` is asked for, with the offset beside them.
#[derive(Deserialize)]
struct Forecast {
    #[serde(default)]
    utc_offset_seconds: i64,
    current_units: Option<HashMap<String, String>>,
    current: Current,
}

#[derive(Deserialize)]
struct Current {
    time: String,
    temperature_2m: f64,
    apparent_temperature: f64,
    relative_humidity_2m: f64,
    wind_speed_10m: f64,
    weather_code: f64,
}

#[async_trait]
impl WeatherProvider for OpenMeteo {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn current(&self, query: &WeatherQuery) -> Result<Option<Weather>, ProviderError> {
        within(self.timeout, async {
            let search = self
                .client
                .get(format!("{}/v1/search", self.geocoding_url))
                .query(&[("name", query.city.as_str()), ("count", "1")]);
            let geocoding: Geocoding = fetch_json(search, "geocoding", None).await?;
            let Some(place) = geocoding.results.unwrap_or_default().into_iter().next() else {
                return Ok(None);
            };
            let forecast = self.client.get(format!("{}/v1/forecast", self.api_url)).query(&[
                ("latitude", place.latitude.to_string().as_str()),
                ("longitude", place.longitude.to_string().as_str()),
                ("current", CURRENT),
            ]);
            let forecast: Forecast = fetch_json(forecast, "forecast", None).await?;
            weather(place, forecast).map(Some)
        })
        .await
    }
}

fn weather(place: Place, forecast: Forecast) -> Result<Weather, ProviderError> {
    let malformed = |reason: String| ProviderError::Malformed { reason: format!("forecast: {reason}") };
    // Asked in the defaults (°C, km/h): any other unit means the API changed under us.
    for (variable, unit) in [("temperature_2m", "°C"), ("apparent_temperature", "°C"), ("wind_speed_10m", "km/h")] {
        if let Some(given) = forecast.current_units.as_ref().and_then(|units| units.get(variable))
            && given != unit
        {
            return Err(malformed(format!("{variable} is in {given}, not {unit}")));
        }
    }
    let current = forecast.current;
    let local = NaiveDateTime::parse_from_str(&current.time, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(&current.time, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|e| malformed(format!("time {:?}: {e}", current.time)))?;
    let observed_at = DateTime::<Utc>::from_naive_utc_and_offset(local, Utc)
        .checked_sub_signed(chrono::Duration::seconds(forecast.utc_offset_seconds))
        .ok_or_else(|| malformed("time out of range".to_owned()))?;
    let code = current.weather_code;
    if code.fract() != 0.0 || !(0.0..=255.0).contains(&code) {
        return Err(malformed(format!("weather_code {code} is not a WMO code")));
    }
    // A whole number from 0 to 255, checked just above: the cast is exact.
    let code = code as u16;
    let conditions = wmo_conditions(code).map_or_else(|| format!("unknown (WMO code {code})"), str::to_owned);
    Ok(Weather {
        city: place.name,
        country: place.country,
        latitude: place.latitude,
        longitude: place.longitude,
        temperature_c: current.temperature_2m,
        apparent_temperature_c: current.apparent_temperature,
        humidity_percent: current.relative_humidity_2m,
        wind_kph: current.wind_speed_10m,
        conditions,
        observed_at,
        source: NAME.to_owned(),
        cached: false,
        stale: false,
    })
}
