//! LibreTranslate: `POST /translate`, the key (when set) in the body.

use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use workbench_integrations::{ProviderError, Translator};
use workbench_providers::{ApiKey, LibreTranslate, LibreTranslateConfig};

use crate::{TEST_TIMEOUT, TOO_SLOW, assert_malformed, translation_query};

fn adapter(server: &MockServer, key: Option<&str>) -> LibreTranslate {
    LibreTranslate::new(LibreTranslateConfig {
        api_url: server.uri(),
        api_key: key.and_then(ApiKey::new),
        timeout: TEST_TIMEOUT,
    })
    .unwrap()
}

async fn translate_answers(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST")).and(path("/translate")).respond_with(response).mount(server).await;
}

#[tokio::test]
async fn auto_detection_gives_the_source_language() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/translate"))
        .and(body_json(json!({"q": "Bonjour", "source": "auto", "target": "en", "format": "text"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "detectedLanguage": {"confidence": 90.0, "language": "fr"},
            "translatedText": "Hello"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let translation = adapter(&server, None).translate(&translation_query("Bonjour", "EN", None)).await.unwrap();
    assert_eq!(translation.translated, "Hello");
    assert_eq!((translation.from.as_deref(), translation.to.as_str()), (Some("fr"), "en"));
    assert_eq!(translation.source, "libretranslate");
}

#[tokio::test]
async fn a_given_source_and_the_key_are_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/translate"))
        .and(body_json(json!({
            "q": "Hola", "source": "es", "target": "fr", "format": "text", "api_key": "lt-key"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"translatedText": "Salut"})))
        .expect(1)
        .mount(&server)
        .await;
    let adapter = adapter(&server, Some("lt-key"));
    assert!(!format!("{adapter:?}").contains("lt-key"), "{adapter:?}");
    let translation = adapter.translate(&translation_query("Hola", "fr", Some("es"))).await.unwrap();
    assert_eq!((translation.translated.as_str(), translation.from.as_deref()), ("Salut", Some("es")));
}

#[tokio::test]
async fn without_detection_the_source_is_unknown() {
    let server = MockServer::start().await;
    translate_answers(&server, ResponseTemplate::new(200).set_body_json(json!({"translatedText": "Hello"}))).await;
    let translation = adapter(&server, None).translate(&translation_query("Bonjour", "en", None)).await.unwrap();
    assert_eq!(translation.from, None);
}

#[tokio::test]
async fn a_bad_key_is_refused() {
    let server = MockServer::start().await;
    translate_answers(
        &server,
        ResponseTemplate::new(403)
            .set_body_json(json!({"error": "Invalid API key: lt-wrong. Visit https://portal.libretranslate.com"})),
    )
    .await;
    let error = adapter(&server, Some("lt-wrong")).translate(&translation_query("Bonjour", "en", None)).await;
    match error {
        Err(ProviderError::Refused { status: 403, reason }) => {
            assert!(reason.contains("Invalid API key") && !reason.contains("lt-wrong"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_slow_instance_times_out() {
    let server = MockServer::start().await;
    translate_answers(&server, ResponseTemplate::new(200).set_delay(TOO_SLOW)).await;
    let error = adapter(&server, None).translate(&translation_query("Bonjour", "en", None)).await;
    assert_eq!(error, Err(ProviderError::Timeout));
}

#[tokio::test]
async fn a_server_error_is_unavailable_and_a_429_rate_limited() {
    let server = MockServer::start().await;
    translate_answers(&server, ResponseTemplate::new(500).set_body_json(json!({"error": "Internal error"}))).await;
    let error = adapter(&server, None).translate(&translation_query("Bonjour", "en", None)).await.unwrap_err();
    assert!(matches!(error, ProviderError::Unavailable { .. }), "{error:?}");

    let limited = MockServer::start().await;
    translate_answers(
        &limited,
        ResponseTemplate::new(429).set_body_json(json!({"error": "Slowdown: 30 per 1 minute"})),
    )
    .await;
    let error = adapter(&limited, None).translate(&translation_query("Bonjour", "en", None)).await;
    assert_eq!(error, Err(ProviderError::RateLimited { retry_after: None }));
}

#[tokio::test]
async fn answers_of_another_shape_are_malformed() {
    for body in [json!({"translated_text": "Hello"}), json!({"translatedText": ["Hello"]}), json!(null)] {
        let server = MockServer::start().await;
        translate_answers(&server, ResponseTemplate::new(200).set_body_json(body)).await;
        assert_malformed(adapter(&server, None).translate(&translation_query("Bonjour", "en", None)).await);
    }
}
