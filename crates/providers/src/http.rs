//! What every provider adapter does over HTTP: one reqwest client per adapter (timeout, no
//! redirects), base URLs checked at start-up, and the mapping of whatever comes back to an
//! answer or a [`ProviderError`].

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode, redirect};
use serde::de::DeserializeOwned;
use workbench_integrations::ProviderError;

use crate::ProvidersError;

/// How long a provider call may take, every request and body read of it together.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer read from a provider; theirs are a few kilobytes.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How much of a refusal's body goes into its reason (for the logs).
const REASON_CHARS: usize = 200;

/// An API key. Its `Debug` shows no part of it, and it is sent only in headers marked
/// sensitive (or in a request body), never in a URL.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// The key, trimmed; `None` for a blank one (an environment variable set but empty).
    pub fn new(key: impl Into<String>) -> Option<Self> {
        let key = key.into();
        let key = key.trim();
        (!key.is_empty()).then(|| Self(key.to_owned()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// A header value carrying the key, marked sensitive so that no HTTP layer logs it.
    pub(crate) fn header(&self, provider: &'static str, prefix: &str) -> Result<HeaderValue, ProvidersError> {
        let mut value = HeaderValue::from_str(&format!("{prefix}{}", self.0))
            .map_err(|_| ProvidersError::InvalidKey { provider })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// A client for one provider: every request and its body bounded by `timeout`, redirects not
/// followed (a provider that moves is a failure to look at, not something to chase).
pub(crate) fn client(provider: &'static str, timeout: Duration) -> Result<reqwest::Client, ProvidersError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(redirect::Policy::none())
        .user_agent(concat!("workbench/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ProvidersError::Client { provider, reason: e.to_string() })
}

/// A base URL (`https://host[:port][/prefix]`) without its trailing slash, to which paths such
/// as `/v1/search` are appended.
pub(crate) fn base_url(provider: &'static str, url: &str) -> Result<String, ProvidersError> {
    let invalid = |reason: String| ProvidersError::InvalidUrl { provider, url: url.to_owned(), reason };
    let parsed = url::Url::parse(url.trim()).map_err(|e| invalid(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https".to_owned()));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("a base URL has no query or fragment".to_owned()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("credentials go in the key setting, not in the URL".to_owned()));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// Sends `request` (one `step` of a provider call, named in reasons) and decodes a 2xx answer's
/// JSON body as `T`.
///
/// Connection failures and 5xx are `Unavailable`, timeouts `Timeout`, 429 `RateLimited` with
/// its `Retry-After`, other 4xx `Refused`, a body that is not the expected JSON `Malformed`.
/// `secret`, when given, is masked in any text taken from the provider's answer.
pub(crate) async fn fetch_json<T: DeserializeOwned>(
    request: RequestBuilder,
    step: &str,
    secret: Option<&ApiKey>,
) -> Result<T, ProviderError> {
    let mut response = request.send().await.map_err(|e| transport(e, step))?;
    let status = response.status();
    if status.is_success() {
        let body = read_body(&mut response, step).await?;
        return serde_json::from_slice(&body).map_err(|e| ProviderError::Malformed { reason: format!("{step}: {e}") });
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(ProviderError::RateLimited { retry_after: retry_after(response.headers(), SystemTime::now()) });
    }
    if status.is_client_error() {
        // The provider's own words help the operator (a bad key, an unsupported language); the
        // body is optional to that, so a failure to read it is no matter.
        let body = read_body(&mut response, step).await.unwrap_or_default();
        return Err(ProviderError::Refused { status: status.as_u16(), reason: excerpt(step, &body, secret) });
    }
    let reason = if status.is_redirection() {
        let to = response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok()).unwrap_or("?");
        format!("{step}: HTTP {status}, a redirect to {to} (redirects are not followed)")
    } else {
        format!("{step}: HTTP {status}")
    };
    Err(ProviderError::Unavailable { reason })
}

/// A failure before a status arrived, or while reading the body.
fn transport(e: reqwest::Error, step: &str) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
    } else {
        // Without the URL: the reason names the step, and the URL would only add noise.
        let e = e.without_url();
        let mut reason = format!("{step}: {e}");
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            reason.push_str(": ");
            reason.push_str(&cause.to_string());
            source = cause.source();
        }
        ProviderError::Unavailable { reason }
    }
}

/// The body, up to [`MAX_BODY_BYTES`].
async fn read_body(response: &mut reqwest::Response, step: &str) -> Result<Vec<u8>, ProviderError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(ProviderError::Malformed {
                        reason: format!("{step}: the answer is larger than {MAX_BODY_BYTES} bytes"),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(transport(e, step)),
        }
    }
}

/// The start of a refusal's body on one line, with `secret` masked.
fn excerpt(step: &str, body: &[u8], secret: Option<&ApiKey>) -> String {
    let mut text: String = String::from_utf8_lossy(body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(secret) = secret {
        text = text.replace(secret.expose(), "***");
    }
    let text: String = text.chars().take(REASON_CHARS).collect();
    if text.is_empty() { step.to_owned() } else { format!("{step}: {text}") }
}

/// `Retry-After` as a delay: whole seconds, or an HTTP date (a past one is no delay). `None`
/// when absent or unreadable.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Runs a whole provider call (however many requests it takes) within `timeout`.
pub(crate) async fn within<T>(
    timeout: Duration,
    call: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    tokio::time::timeout(timeout, call).await.unwrap_or(Err(ProviderError::Timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_784_000_000);
        let headers = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
            h
        };
        assert_eq!(retry_after(&headers("120"), now), Some(Duration::from_secs(120)));
        let in_90_s = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(retry_after(&headers(&in_90_s), now), Some(Duration::from_secs(90)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(retry_after(&headers(&past), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn keys_are_never_shown() {
        let key = ApiKey::new(" s3cret-key ").unwrap();
        assert_eq!(format!("{key:?}"), "ApiKey(***)");
        assert_eq!(key.expose(), "s3cret-key");
        assert!(ApiKey::new("  ").is_none());
        let header = key.header("deepl", "DeepL-Auth-Key ").unwrap();
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("s3cret"));
    }

    #[test]
    fn refusal_excerpts_are_short_single_lines_without_the_key() {
        let key = ApiKey::new("abc123").unwrap();
        let reason = excerpt("translate", b"{\"message\":\n\"key abc123 is wrong\"}", Some(&key));
        assert_eq!(reason, "translate: {\"message\": \"key *** is wrong\"}");
        assert_eq!(excerpt("search", b"", None), "search");
        assert_eq!(excerpt("search", "x".repeat(500).as_bytes(), None).len(), "search: ".len() + REASON_CHARS);
    }

    #[test]
    fn base_urls_are_checked_and_lose_their_trailing_slash() {
        assert_eq!(base_url("p", "https://api.example.com/").unwrap(), "https://api.example.com");
        assert_eq!(base_url("p", "http://127.0.0.1:9000/fake/").unwrap(), "http://127.0.0.1:9000/fake");
        for bad in ["ftp://example.com", "not a url", "https://example.com/?q=1", "https://u:p@example.com"] {
            assert!(base_url("p", bad).is_err(), "{bad} must be refused");
        }
    }
}
