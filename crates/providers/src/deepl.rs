//! DeepL: `POST /v2/translate` with the key in the `Authorization` header. Not usable without
//! a key.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::{Deserialize, Serialize};
use workbench_integrations::{LanguageCode, ProviderError, Translation, TranslationQuery, Translator};

use crate::http::{DEFAULT_TIMEOUT, base_url, client, fetch_json, within};
use crate::{ApiKey, ProvidersError};

/// DeepL's API for free accounts (`TRANSLATE_API_URL`); Pro accounts use
/// `https://api.deepl.com`.
pub const DEFAULT_DEEPL_API_URL: &str = "https://api-free.deepl.com";

const NAME: &str = "deepl";

/// Where DeepL is, the key and how long a call may take.
#[derive(Debug, Clone)]
pub struct DeepLConfig {
    pub api_url: String,
    pub api_key: ApiKey,
    pub timeout: Duration,
}

impl DeepLConfig {
    /// The public endpoint, with `api_key`.
    pub fn new(api_key: ApiKey) -> Self {
        Self { api_url: DEFAULT_DEEPL_API_URL.to_owned(), api_key, timeout: DEFAULT_TIMEOUT }
    }
}

/// The [`Translator`] of DeepL.
#[derive(Debug, Clone)]
pub struct DeepL {
    client: reqwest::Client,
    api_url: String,
    /// `DeepL-Auth-Key {key}`, marked sensitive.
    authorization: HeaderValue,
    key: ApiKey,
    timeout: Duration,
}

impl DeepL {
    /// # Errors
    ///
    /// [`ProvidersError::InvalidUrl`], [`ProvidersError::InvalidKey`], [`ProvidersError::Client`].
    pub fn new(config: DeepLConfig) -> Result<Self, ProvidersError> {
        Ok(Self {
            client: client(NAME, config.timeout)?,
            api_url: base_url(NAME, &config.api_url)?,
            authorization: config.api_key.header(NAME, "DeepL-Auth-Key ")?,
            key: config.api_key,
            timeout: config.timeout,
        })
    }
}

#[derive(Serialize)]
struct Request<'a> {
    text: [&'a str; 1],
    target_lang: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_lang: Option<String>,
}

#[derive(Deserialize)]
struct Response {
    translations: Vec<Translated>,
}

#[derive(Deserialize)]
struct Translated {
    text: String,
    detected_source_language: Option<String>,
}

/// DeepL's code for a target language. English and Portuguese are asked for in a named
/// variant (American English, Brazilian Portuguese): DeepL keeps the bare `EN` and `PT` only
/// for backward compatibility.
fn target_lang(to: LanguageCode) -> String {
    match to.as_str() {
        "en" => "EN-US".to_owned(),
        "pt" => "PT-BR".to_owned(),
        // ISO 639-1 `no` (Norwegian) is Bokmål, which DeepL calls `NB`.
        "no" => "NB".to_owned(),
        other => other.to_ascii_uppercase(),
    }
}

/// DeepL's code for a source language: the bare language, upper-case.
fn source_lang(from: LanguageCode) -> String {
    match from.as_str() {
        "no" => "NB".to_owned(),
        other => other.to_ascii_uppercase(),
    }
}

/// A code DeepL detected (`FR`, or a variant such as `EN-GB`) as two lower-case letters.
fn detected(code: &str) -> Option<String> {
    let language = code.split('-').next()?;
    LanguageCode::parse(language).ok().map(|code| code.to_string())
}

#[async_trait]
impl Translator for DeepL {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn translate(&self, query: &TranslationQuery) -> Result<Translation, ProviderError> {
        within(self.timeout, async {
            let body = Request {
                text: [query.text.as_str()],
                target_lang: target_lang(query.to),
                source_lang: query.from.map(source_lang),
            };
            let request = self
                .client
                .post(format!("{}/v2/translate", self.api_url))
                .header(AUTHORIZATION, self.authorization.clone())
                .json(&body);
            let response: Response = fetch_json(request, "translate", Some(&self.key)).await?;
            let Some(translated) = response.translations.into_iter().next() else {
                return Err(ProviderError::Malformed { reason: "translate: no translation in the answer".to_owned() });
            };
            let from = query
                .from
                .map(|from| from.to_string())
                .or_else(|| translated.detected_source_language.as_deref().and_then(detected));
            Ok(Translation {
                text: query.text.as_str().to_owned(),
                translated: translated.text,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> LanguageCode {
        LanguageCode::parse(s).unwrap()
    }

    #[test]
    fn language_codes_follow_deepl() {
        assert_eq!(target_lang(code("en")), "EN-US");
        assert_eq!(target_lang(code("pt")), "PT-BR");
        assert_eq!(target_lang(code("fr")), "FR");
        assert_eq!(target_lang(code("no")), "NB");
        assert_eq!(source_lang(code("en")), "EN");
        assert_eq!(detected("EN-GB").as_deref(), Some("en"));
        assert_eq!(detected("FR").as_deref(), Some("fr"));
        assert_eq!(detected("???"), None);
    }
}
