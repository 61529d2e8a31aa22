//! Open-Meteo: geocoding, then the forecast's `current` block.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};
use workbench_integrations::{ProviderError, WeatherProvider};
use workbench_providers::{OpenMeteo, OpenMeteoConfig};

use crate::{TEST_TIMEOUT, TOO_SLOW, assert_malformed, weather_query};

/// What `GET /v1/search?name=Dakar&count=1` answers.
fn dakar_geocoding() -> Value {
    json!({
        "results": [{
            "id": 2253354,
            "name": "Dakar",
            "latitude": 14.6937,
            "longitude": -17.44406,
            "elevation": 22.0,
            "feature_code": "PPLC",
            "country_code": "SN",
            "admin1_id": 2253350,
            "timezone": "Africa/Dakar",
            "population": 2476400,
            "country_id": 2245662,
            "country": "Senegal",
            "admin1": "Dakar"
        }],
        "generationtime_ms": 0.7889
    })
}

/// What `GET /v1/forecast?...&current=...` answers (GMT, the default time zone).
fn dakar_forecast() -> Value {
    json!({
        "latitude": 14.75,
        "longitude": -17.5,
        "generationtime_ms": 0.0404,
        "utc_offset_seconds": 0,
        "timezone": "GMT",
        "timezone_abbreviation": "GMT",
        "elevation": 22.0,
        "current_units": {
            "time": "iso8601",
            "interval": "seconds",
            "temperature_2m": "°C",
            "apparent_temperature": "°C",
            "relative_humidity_2m": "%",
            "wind_speed_10m": "km/h",
            "weather_code": "wmo code"
        },
        "current": {
            "time": "2026-01-15T10:30",
            "interval": 900,
            "temperature_2m": 24.3,
            "apparent_temperature": 25.1,
            "relative_humidity_2m": 61,
            "wind_speed_10m": 18.7,
            "weather_code": 2
        }
    })
}

fn adapter(server: &MockServer) -> OpenMeteo {
    OpenMeteo::new(OpenMeteoConfig { geocoding_url: server.uri(), api_url: server.uri(), timeout: TEST_TIMEOUT })
        .unwrap()
}

async fn geocoding_answers(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET")).and(path("/v1/search")).respond_with(response).mount(server).await;
}

async fn forecast_answers(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET")).and(path("/v1/forecast")).respond_with(response).mount(server).await;
}

#[tokio::test]
async fn the_current_weather_of_a_known_city() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/search"))
        .and(query_param("name", "dakar"))
        .and(query_param("count", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(dakar_geocoding()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/forecast"))
        .and(query_param("latitude", "14.6937"))
        .and(query_param("longitude", "-17.44406"))
        .and(query_param(
            "current",
            "temperature_2m,apparent_temperature,relative_humidity_2m,wind_speed_10m,weather_code",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(dakar_forecast()))
        .expect(1)
        .mount(&server)
        .await;

    let weather = adapter(&server).current(&weather_query(" dakar ")).await.unwrap().expect("a known city");
    // The geocoder's spelling of the place, not the client's.
    assert_eq!(weather.city, "Dakar");
    assert_eq!(weather.country.as_deref(), Some("Senegal"));
    assert_eq!((weather.latitude, weather.longitude), (14.6937, -17.44406));
    assert_eq!((weather.temperature_c, weather.apparent_temperature_c), (24.3, 25.1));
    assert_eq!((weather.humidity_percent, weather.wind_kph), (61.0, 18.7));
    assert_eq!(weather.conditions, "partly cloudy");
    assert_eq!(weather.observed_at, Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).unwrap());
    assert_eq!(weather.source, "open-meteo");
    assert!(!weather.cached && !weather.stale);
}

#[tokio::test]
async fn local_times_are_turned_into_utc() {
    let server = MockServer::start().await;
    geocoding_answers(&server, ResponseTemplate::new(200).set_body_json(dakar_geocoding())).await;
    let mut forecast = dakar_forecast();
    forecast["utc_offset_seconds"] = json!(3600);
    forecast["current"]["time"] = json!("2026-01-15T11:30");
    forecast["current"]["weather_code"] = json!(95);
    forecast_answers(&server, ResponseTemplate::new(200).set_body_json(forecast)).await;

    let weather = adapter(&server).current(&weather_query("Dakar")).await.unwrap().unwrap();
    assert_eq!(weather.observed_at, Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).unwrap());
    assert_eq!(weather.conditions, "thunderstorm");
}

#[tokio::test]
async fn an_unknown_city_is_none_and_no_forecast_is_asked_for() {
    let server = MockServer::start().await;
    // Open-Meteo leaves `results` out when nothing matches.
    geocoding_answers(&server, ResponseTemplate::new(200).set_body_json(json!({"generationtime_ms": 0.5}))).await;
    Mock::given(path("/v1/forecast")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    assert_eq!(adapter(&server).current(&weather_query("Atlantis")).await.unwrap(), None);

    let empty = MockServer::start().await;
    geocoding_answers(&empty, ResponseTemplate::new(200).set_body_json(json!({"results": []}))).await;
    assert_eq!(adapter(&empty).current(&weather_query("Atlantis")).await.unwrap(), None);
}

#[tokio::test]
async fn a_slow_provider_times_out() {
    let server = MockServer::start().await;
    geocoding_answers(&server, ResponseTemplate::new(200).set_body_json(dakar_geocoding())).await;
    forecast_answers(&server, ResponseTemplate::new(200).set_body_json(dakar_forecast()).set_delay(TOO_SLOW)).await;
    assert_eq!(adapter(&server).current(&weather_query("Dakar")).await, Err(ProviderError::Timeout));
}

#[tokio::test]
async fn a_server_error_is_unavailable() {
    let server = MockServer::start().await;
    geocoding_answers(&server, ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>")).await;
    let error = adapter(&server).current(&weather_query("Dakar")).await.unwrap_err();
    assert!(matches!(&error, ProviderError::Unavailable { reason } if reason.contains("502")), "{error:?}");
}

#[tokio::test]
async fn nothing_listening_is_unavailable() {
    // A port just freed: nothing listens there (wiremock keeps its servers alive in a pool).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let adapter =
        OpenMeteo::new(OpenMeteoConfig { geocoding_url: uri.clone(), api_url: uri, timeout: TEST_TIMEOUT }).unwrap();
    let error = adapter.current(&weather_query("Dakar")).await.unwrap_err();
    assert!(matches!(error, ProviderError::Unavailable { .. }), "{error:?}");
}

#[tokio::test]
async fn a_429_is_rate_limited_with_its_retry_after() {
    let server = MockServer::start().await;
    geocoding_answers(&server, ResponseTemplate::new(200).set_body_json(dakar_geocoding())).await;
    forecast_answers(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "17").set_body_json(
            json!({"error": true, "reason": "Minutely API request limit exceeded. Please try again in one minute."}),
        ),
    )
    .await;
    assert_eq!(
        adapter(&server).current(&weather_query("Dakar")).await,
        Err(ProviderError::RateLimited { retry_after: Some(Duration::from_secs(17)) })
    );
}

#[tokio::test]
async fn a_refused_request_keeps_the_providers_reason() {
    let server = MockServer::start().await;
    geocoding_answers(&server, ResponseTemplate::new(200).set_body_json(dakar_geocoding())).await;
    forecast_answers(
        &server,
        ResponseTemplate::new(400).set_body_json(
            json!({"error": true, "reason": "Cannot initialize WeatherVariable from invalid String value"}),
        ),
    )
    .await;
    let error = adapter(&server).current(&weather_query("Dakar")).await.unwrap_err();
    match error {
        ProviderError::Refused { status, reason } => {
            assert_eq!(status, 400);
            assert!(reason.contains("Cannot initialize WeatherVariable"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn answers_of_another_shape_are_malformed() {
    let mut missing_current = dakar_forecast();
    missing_current.as_object_mut().unwrap().remove("current");
    let mut renamed = dakar_forecast();
    renamed["current"].as_object_mut().unwrap().remove("temperature_2m");
    renamed["current"]["temperature"] = json!(24.3);
    let mut fahrenheit = dakar_forecast();
    fahrenheit["current_units"]["temperature_2m"] = json!("°F");
    let mut bad_time = dakar_forecast();
    bad_time["current"]["time"] = json!("yesterday");
    for forecast in [
        ResponseTemplate::new(200).set_body_json(missing_current),
        ResponseTemplate::new(200).set_body_json(renamed),
        ResponseTemplate::new(200).set_body_json(fahrenheit),
        ResponseTemplate::new(200).set_body_json(bad_time),
        ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"),
    ] {
        let server = MockServer::start().await;
        geocoding_answers(&server, ResponseTemplate::new(200).set_body_json(dakar_geocoding())).await;
        forecast_answers(&server, forecast).await;
        assert_malformed(adapter(&server).current(&weather_query("Dakar")).await);
    }

    let server = MockServer::start().await;
    geocoding_answers(&server, ResponseTemplate::new(200).set_body_json(json!({"results": [{"name": "Dakar"}]}))).await;
    assert_malformed(adapter(&server).current(&weather_query("Dakar")).await);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    geocoding_answers(
        &server,
        ResponseTemplate::new(302).insert_header("Location", format!("{}/elsewhere", server.uri()).as_str()),
    )
    .await;
    Mock::given(path("/elsewhere")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let error = adapter(&server).current(&weather_query("Dakar")).await.unwrap_err();
    assert!(matches!(&error, ProviderError::Unavailable { reason } if reason.contains("redirect")), "{error:?}");
}
