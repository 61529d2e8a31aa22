//! Building the adapters from the operator's settings.

use std::sync::Arc;

use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use workbench_integrations::{AccountId, Capability, IntegrationService, NoObserver, TranslationRequest};
use workbench_providers::{ApiKey, ProvidersConfig, ProvidersError, TranslateProvider};

use crate::TEST_TIMEOUT;

#[test]
fn the_defaults_are_the_real_services_and_deepl_without_a_key_is_not_configured() {
    let providers = ProvidersConfig::default().build().unwrap();
    assert_eq!(providers.weather.name(), "open-meteo");
    assert_eq!(providers.prices.name(), "coingecko");
    assert!(providers.translator.is_none());

    let with_key = ProvidersConfig { translate_api_key: ApiKey::new("k"), ..ProvidersConfig::default() };
    assert_eq!(with_key.build().unwrap().translator.unwrap().name(), "deepl");

    let libre = ProvidersConfig { translate_provider: TranslateProvider::LibreTranslate, ..ProvidersConfig::default() };
    assert_eq!(libre.build().unwrap().translator.unwrap().name(), "libretranslate", "no key needed");
}

#[test]
fn translate_provider_names_are_read_in_any_case() {
    assert_eq!("DeepL".parse::<TranslateProvider>().unwrap(), TranslateProvider::DeepL);
    assert_eq!(" libretranslate ".parse::<TranslateProvider>().unwrap(), TranslateProvider::LibreTranslate);
    let error = "google".parse::<TranslateProvider>().unwrap_err();
    assert_eq!(error.to_string(), "unknown TRANSLATE_PROVIDER \"google\": use deepl or libretranslate");
}

#[test]
fn bad_settings_name_the_provider_and_never_the_key() {
    let bad_url = ProvidersConfig { crypto_api_url: Some("ftp://example.com".into()), ..ProvidersConfig::default() };
    let error = bad_url.build().unwrap_err();
    assert!(matches!(error, ProvidersError::InvalidUrl { provider: "coingecko", .. }), "{error}");

    let bad_key = ProvidersConfig { translate_api_key: ApiKey::new("abc\u{7f}def"), ..ProvidersConfig::default() };
    let error = bad_key.build().unwrap_err();
    assert!(matches!(error, ProvidersError::InvalidKey { provider: "deepl" }), "{error}");
    assert!(!error.to_string().contains("abc"));

    let config = ProvidersConfig {
        crypto_api_key: ApiKey::new("crypto-secret"),
        translate_api_key: ApiKey::new("translate-secret"),
        ..ProvidersConfig::default()
    };
    let shown = format!("{config:?} {:?}", config.build().unwrap());
    assert!(!shown.contains("secret"), "{shown}");
}

#[test]
fn blank_settings_mean_the_defaults() {
    let config = ProvidersConfig {
        weather_api_url: Some(" ".into()),
        crypto_api_url: Some(String::new()),
        ..ProvidersConfig::default()
    };
    assert!(config.build().is_ok());
}

#[tokio::test]
async fn installed_providers_serve_through_the_service() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/translate"))
        .and(header("authorization", "DeepL-Auth-Key k"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "translations": [{"detected_source_language": "FR", "text": "Hello"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let providers = ProvidersConfig {
        translate_api_url: Some(server.uri()),
        translate_api_key: ApiKey::new("k"),
        timeout: Some(TEST_TIMEOUT),
        ..ProvidersConfig::default()
    }
    .build()
    .unwrap();
    let service = providers.install(IntegrationService::new(Arc::new(NoCache)).with_observer(Arc::new(NoObserver)));
    assert!(service.is_configured(Capability::Translation));
    let translation = service
        .translate(AccountId(1), TranslationRequest { text: Some("Bonjour".into()), to: Some("en".into()), from: None })
        .await
        .unwrap();
    assert_eq!((translation.translated.as_str(), translation.from.as_deref()), ("Hello", Some("fr")));
}

/// A cache that keeps nothing.
struct NoCache;

#[async_trait::async_trait]
impl workbench_integrations::AnswerCache for NoCache {
    async fn get(&self, _: &workbench_integrations::CacheKey) -> Option<workbench_integrations::StoredAnswer> {
        None
    }

    async fn put(&self, _: &workbench_integrations::CacheKey, _: &workbench_integrations::StoredAnswer) {}
}
