//! LibreTranslate: `POST /translate`, the key (when the instance wants one) in the body.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use workbench_integrations::{LanguageCode, ProviderError, Translation, TranslationQuery, Translator};

use crate::http::{DEFAULT_TIMEOUT, base_url, client, fetch_json, within};
use crate::{ApiKey, ProvidersError};

/// The public LibreTranslate instance (it needs a key); self-hosted ones usually do not.
pub const DEFAULT_LIBRETRANSLATE_API_URL: &str = "https://libretranslate.com";

const NAME: &str = "libretranslate";

/// Where the LibreTranslate instance is, its key and how long a call may take.
#[derive(Debug, Clone)]
pub struct LibreTranslateConfig {
    pub api_url: String,
    pub api_key: Option<ApiKey>,
    pub timeout: Duration,
}

impl Default for LibreTranslateConfig {
    fn default() -> Self {
        Self { api_url: DEFAULT_LIBRETRANSLATE_API_URL.to_owned(), api_key: None, timeout: DEFAULT_TIMEOUT }
    }
}

/// The [`Translator`] of a LibreTranslate instance.
#[derive(Debug, Clone)]
pub struct LibreTranslate {
    client: reqwest::Client,
    api_url: String,
    key: Option<ApiKey>,
    timeout: Duration,
}

impl LibreTranslate {
    /// # Errors
    ///
    /// [`ProvidersError::InvalidUrl`], [`ProvidersError::Client`].
    pub fn new(config: LibreTranslateConfig) -> Result<Self, ProvidersError> {
        Ok(Self {
            client: client(NAME, config.timeout)?,
            api_url: base_url(NAME, &config.api_url)?,
            key: config.api_key,
            timeout: config.timeout,
        })
    }
}

#[derive(Serialize)]
struct Request<'a> {
    q: &'a str,
    source: &'a str,
    target: &'a str,
    format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    translated_text: String,
    /// Given only when the source was `auto`.
    detected_language: Option<Detected>,
}

#[derive(Deserialize)]
struct Detected {
    language: String,
}

#[async_trait]
impl Translator for LibreTranslate {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn translate(&self, query: &TranslationQuery) -> Result<Translation, ProviderError> {
        within(self.timeout, async {
            let body = Request {
                q: query.text.as_str(),
                source: query.from.as_ref().map_or("auto", LanguageCode::as_str),
                target: query.to.as_str(),
                format: "text",
                api_key: self.key.as_ref().map(ApiKey::expose),
            };
            let request = self.client.post(format!("{}/translate", self.api_url)).json(&body);
            let response: Response = fetch_json(request, "translate", self.key.as_ref()).await?;
            let from = query.from.map(|from| from.to_string()).or_else(|| {
                response.detected_language.and_then(|d| LanguageCode::parse(&d.language).ok()).map(|c| c.to_string())
            });
            Ok(Translation {
                text: query.text.as_str().to_owned(),
                translated: response.translated_text,
                from,
                to: query.to.to_string(),
                source: NAME.to_owned(),
                cached: false,
                stale: false,
            })
        })
        .await
    }
}
