//! DeepL: `POST /v2/translate`, the key in `Authorization`.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use workbench_integrations::{ProviderError, Translator};
use workbench_providers::{ApiKey, DeepL, DeepLConfig};

use crate::{TEST_TIMEOUT, TOO_SLOW, assert_malformed, translation_query};

const KEY: &str = "0f3c5a2e-1111-2222-3333-444455556666:fx";

fn adapter(server: &MockServer) -> DeepL {
    DeepL::new(DeepLConfig { api_url: server.uri(), api_key: ApiKey::new(KEY).unwrap(), timeout: TEST_TIMEOUT })
        .unwrap()
}

async fn translate_answers(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST")).and(path("/v2/translate")).respond_with(response).mount(server).await;
}

#[tokio::test]
async fn a_translation_with_the_detected_source_language() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/translate"))
        .and(header("authorization", format!("DeepL-Auth-Key {KEY}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"text": ["Bonjour le monde"], "target_lang": "EN-US"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "translations": [{"detected_source_language": "FR", "text": "Hello world"}]
        })))
        .expect(1)
        .mount(&server)
        .await;

    let translation = adapter(&server).translate(&translation_query("Bonjour le monde", "en", None)).await.unwrap();
    assert_eq!(translation.text, "Bonjour le monde");
    assert_eq!(translation.translated, "Hello world");
    assert_eq!(translation.from.as_deref(), Some("fr"));
    assert_eq!(translation.to, "en");
    assert_eq!(translation.source, "deepl");
    assert!(!translation.cached && !translation.stale);
}

#[tokio::test]
async fn a_given_source_language_is_sent_and_kept() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/translate"))
        .and(body_json(json!({"text": ["Hello"], "target_lang": "DE", "source_lang": "EN"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "translations": [{"detected_source_language": "EN", "text": "Hallo"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let translation = adapter(&server).translate(&translation_query("Hello", "DE", Some("en"))).await.unwrap();
    assert_eq!((translation.translated.as_str(), translation.from.as_deref()), ("Hallo", Some("en")));
}

#[tokio::test]
async fn the_key_is_never_shown() {
    let server = MockServer::start().await;
    let adapter = adapter(&server);
    assert!(!format!("{adapter:?}").contains(KEY), "{adapter:?}");

    translate_answers(
        &server,
        ResponseTemplate::new(403).set_body_json(json!({"message": format!("Wrong endpoint for key {KEY}")})),
    )
    .await;
    let error = adapter.translate(&translation_query("Bonjour", "en", None)).await.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(matches!(error, ProviderError::Refused { status: 403, .. }), "{text}");
    assert!(text.contains("Wrong endpoint") && !text.contains(KEY), "{text}");
}

#[tokio::test]
async fn a_used_up_quota_is_refused() {
    let server = MockServer::start().await;
    translate_answers(&server, ResponseTemplate::new(456).set_body_json(json!({"message": "Quota exceeded"}))).await;
    let error = adapter(&server).translate(&translation_query("Bonjour", "en", None)).await.unwrap_err();
    assert!(matches!(error, ProviderError::Refused { status: 456, .. }), "{error:?}");
}

#[tokio::test]
async fn a_slow_provider_times_out() {
    let server = MockServer::start().await;
    translate_answers(&server, ResponseTemplate::new(200).set_delay(TOO_SLOW)).await;
    assert_eq!(
        adapter(&server).translate(&translation_query("Bonjour", "en", None)).await,
        Err(ProviderError::Timeout)
    );
}

#[tokio::test]
async fn a_server_error_is_unavailable() {
    let server = MockServer::start().await;
    translate_answers(&server, ResponseTemplate::new(503).set_body_json(json!({"message": "Service unavailable"})))
        .await;
    let error = adapter(&server).translate(&translation_query("Bonjour", "en", None)).await.unwrap_err();
    assert!(matches!(error, ProviderError::Unavailable { .. }), "{error:?}");
}

#[tokio::test]
async fn a_429_with_an_http_date_is_rate_limited() {
    let server = MockServer::start().await;
    let in_two_minutes = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
    translate_answers(
        &server,
        ResponseTemplate::new(429)
            .insert_header("Retry-After", in_two_minutes.as_str())
            .set_body_json(json!({"message": "Too many requests"})),
    )
    .await;
    let error = adapter(&server).translate(&translation_query("Bonjour", "en", None)).await.unwrap_err();
    let ProviderError::RateLimited { retry_after: Some(wait) } = error else { panic!("{error:?}") };
    assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120), "{wait:?}");
}

#[tokio::test]
async fn answers_of_another_shape_are_malformed() {
    for body in [
        json!({"translations": []}),
        json!({"translation": {"text": "Hello"}}),
        json!({"translations": [{"detected_source_language": "FR"}]}),
    ] {
        let server = MockServer::start().await;
        translate_answers(&server, ResponseTemplate::new(200).set_body_json(body)).await;
        assert_malformed(adapter(&server).translate(&translation_query("Bonjour", "en", None)).await);
    }
}
