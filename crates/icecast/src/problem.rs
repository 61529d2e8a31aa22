//! The source listener's answers to what it refuses: RFC 9457 problem documents, shaped as the
//! API's are (`workbench_http::problem`: the same `type` URIs, titles and fields), written here
//! because an adapter does not depend on another.

use std::time::Duration;

use serde::Serialize;
use workbench_radio::RadioError;

/// Where the API's problem types live; the last segment is the problem's stable slug.
const TYPE_BASE: &str = "https://workbench.dev/problems/";

/// The challenge of every `401` here: sources authenticate with Basic credentials.
const CHALLENGE: &str = "WWW-Authenticate: Basic realm=\"Workbench radio\"\r\n";

/// Seconds a source turned away for a cap is told to wait: a source client that reconnects at
/// once (as most do) would only be turned away again.
pub(crate) const RETRY_AFTER: u64 = 10;

/// A refusal, as the client will read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    status: u16,
    slug: &'static str,
    detail: String,
    /// Header lines of its own (each ending in CRLF).
    headers: String,
}

/// The body of a problem response.
#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "type")]
    problem_type: String,
    title: &'static str,
    status: u16,
    detail: &'a str,
}

impl Problem {
    fn new(status: u16, slug: &'static str, detail: impl Into<String>) -> Self {
        Self { status, slug, detail: detail.into(), headers: String::new() }
    }

    fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push_str(&format!("{name}: {value}\r\n"));
        self
    }

    fn retry_after(self, seconds: u64) -> Self {
        self.with_header("Retry-After", &seconds.to_string())
    }

    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    pub(crate) fn malformed_head() -> Self {
        Self::new(400, "bad-request", "The request head cannot be read.")
    }

    pub(crate) fn head_too_large(max: usize) -> Self {
        Self::new(431, "headers-too-large", format!("The request head is larger than {} KiB.", max / 1024))
    }

    pub(crate) fn head_too_slow(deadline: Duration) -> Self {
        let seconds = deadline.as_secs_f64();
        Self::new(408, "request-timeout", format!("The request head did not arrive whole within {seconds} s."))
    }

    pub(crate) fn method_not_allowed() -> Self {
        Self::new(405, "method-not-allowed", "Sources stream with PUT or SOURCE.").with_header("Allow", "PUT, SOURCE")
    }

    pub(crate) fn not_a_source_path() -> Self {
        Self::new(404, "not-found", "Sources stream to /radio/{slug}/source; nothing else is served here.")
    }

    pub(crate) fn no_credentials() -> Self {
        let mut problem = Self::new(401, "unauthorized", "Basic credentials of user `source` are needed.");
        problem.headers.push_str(CHALLENGE);
        problem
    }

    /// A wrong key, or a station that does not exist: one answer, byte for byte.
    pub(crate) fn wrong_key() -> Self {
        let mut problem = Self::new(401, "invalid-source-key", "Wrong source key.");
        problem.headers.push_str(CHALLENGE);
        problem
    }

    /// The listener holds `max` connections, the most it may.
    pub(crate) fn full(max: usize) -> Self {
        Self::new(
            503,
            "service-unavailable",
            format!("The source listener holds {max} connections, the most it may at once; try again shortly."),
        )
        .retry_after(RETRY_AFTER)
    }

    /// The client's address holds `max` connections, the most it may.
    pub(crate) fn too_many_from_address(max: usize) -> Self {
        Self::new(
            429,
            "too-many-connections",
            format!("This address holds {max} connections to the source listener, the most it may at once."),
        )
        .retry_after(RETRY_AFTER)
    }

    /// What the station refused.
    pub(crate) fn from_radio(error: &RadioError) -> Self {
        match error {
            // An unknown station is a wrong key (the domain says so already; said again here so
            // that no answer of this port can tell the two apart).
            RadioError::WrongKey | RadioError::NotFound => Self::wrong_key(),
            RadioError::SourceConnected => Self::new(409, "conflict", "A source is already connected to this station."),
            RadioError::WrongFormat(content_type) => {
                Self::new(415, "unsupported-media-type", format!("This station carries {content_type}."))
            }
            RadioError::Unavailable(_) => Self::new(
                503,
                "database-unavailable",
                "The database cannot be reached at the moment; try again shortly.",
            )
            .retry_after(1),
            RadioError::Validation(_)
            | RadioError::Forbidden
            | RadioError::SlugTaken
            | RadioError::OffAir
            | RadioError::TooManyListeners(_) => Self::new(500, "internal-error", "Something went wrong on our side."),
        }
    }

    /// The whole response: status line, headers and the document; the connection closes after it.
    pub(crate) fn response(&self) -> Vec<u8> {
        let title = title(self.status);
        let document = Document {
            problem_type: format!("{TYPE_BASE}{}", self.slug),
            title,
            status: self.status,
            detail: &self.detail,
        };
        let body = serde_json::to_vec(&document).unwrap_or_default();
        let mut response = format!(
            "HTTP/1.0 {} {title}\r\nContent-Type: application/problem+json\r\n{}Content-Length: {}\r\n\
             Connection: close\r\n\r\n",
            self.status,
            self.headers,
            body.len()
        )
        .into_bytes();
        response.extend_from_slice(&body);
        response
    }
}

/// The reason phrase of a status this listener answers, which is the problem's title too.
fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head's lines and the parsed document of a response.
    fn read(response: &[u8]) -> (Vec<String>, serde_json::Value) {
        let text = std::str::from_utf8(response).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let lines: Vec<String> = head.split("\r\n").map(str::to_owned).collect();
        let length = format!("Content-Length: {}", body.len());
        assert!(lines.contains(&length), "{lines:?}");
        (lines, serde_json::from_str(body).unwrap())
    }

    #[test]
    fn a_refusal_is_a_problem_document_as_the_api_writes_them() {
        let (lines, document) = read(&Problem::full(64).response());
        assert_eq!(lines[0], "HTTP/1.0 503 Service Unavailable");
        assert!(lines.contains(&"Content-Type: application/problem+json".to_owned()));
        assert!(lines.contains(&"Retry-After: 10".to_owned()));
        assert_eq!(document["type"], "https://workbench.dev/problems/service-unavailable");
        assert_eq!(document["title"], "Service Unavailable");
        assert_eq!(document["status"], 503);
        assert!(document["detail"].as_str().unwrap().contains("64"));
        assert_eq!(document.as_object().unwrap().len(), 4, "type, title, status, detail: {document}");
    }

    #[test]
    fn an_unknown_station_reads_as_a_wrong_key() {
        let unknown = Problem::from_radio(&RadioError::NotFound).response();
        assert_eq!(unknown, Problem::from_radio(&RadioError::WrongKey).response());
        let (lines, document) = read(&unknown);
        assert_eq!(lines[0], "HTTP/1.0 401 Unauthorized");
        assert!(lines.contains(&"WWW-Authenticate: Basic realm=\"Workbench radio\"".to_owned()));
        assert_eq!(document["type"], "https://workbench.dev/problems/invalid-source-key");
    }

    #[test]
    fn every_refusal_has_its_status_in_the_line_and_the_document() {
        for problem in [
            Problem::malformed_head(),
            Problem::head_too_large(16 * 1024),
            Problem::head_too_slow(Duration::from_secs(10)),
            Problem::method_not_allowed(),
            Problem::not_a_source_path(),
            Problem::no_credentials(),
            Problem::too_many_from_address(8),
            Problem::from_radio(&RadioError::SourceConnected),
            Problem::from_radio(&RadioError::WrongFormat("audio/mpeg")),
            Problem::from_radio(&RadioError::OffAir),
        ] {
            let (lines, document) = read(&problem.response());
            let status = problem.status();
            assert_eq!(lines[0], format!("HTTP/1.0 {status} {}", title(status)));
            assert_eq!(
                (document["status"].as_u64(), document["title"].as_str()),
                (Some(status.into()), Some(title(status)))
            );
        }
    }
}
