//! `ETag`, `If-Match` and `If-None-Match`, derived from a resource's `version`.

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderValue};

use crate::body::{component, patterned};
use crate::problem::ApiError;

/// The schema of an `If-Match` header as [`if_match`] reads it.
#[derive(Debug)]
pub struct IfMatchSchema;

component!(
    IfMatchSchema,
    "IfMatch",
    patterned(
        r#"^[ \t]*(?:\*|(?:W/)?"[0-9]+"(?:[ \t]*,[ \t]*(?:W/)?"[0-9]+")*)[ \t]*$"#.to_owned(),
        "`*`, or the `ETag` the change is based on (`\"7\"`; a weak `W/\"7\"` is read the same; a comma-separated \
         list matches when any tag does). When no tag names the current version, nothing changes and the answer \
         is `412`"
    )
    .examples([r#""1""#])
);

/// The strong entity tag of a version: `"7"`. The representation of a version never changes, so
/// a strong tag is honest.
pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits and quotes are a valid header value")
}

/// What the client's `If-Match` requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    /// No header, or `*`: apply to whatever is current.
    Any,
    /// Apply only if the resource is at this version.
    Version(i64),
}

impl IfMatch {
    pub fn version(self) -> Option<i64> {
        match self {
            IfMatch::Any => None,
            IfMatch::Version(v) => Some(v),
        }
    }
}

/// Reads `If-Match`. Weak tags (`W/"7"`) are accepted as if strong: clients copy whatever `ETag`
/// they were given, and the version is what they mean. A header naming no version at all can
/// never match, so it is answered `412` at once.
pub fn if_match(req: &HttpRequest) -> Result<IfMatch, ApiError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else { return Ok(IfMatch::Any) };
    let value = value.to_str().map_err(|_| precondition_failed("If-Match is not a valid entity tag"))?.trim();
    if value == "*" {
        return Ok(IfMatch::Any);
    }
    value
        .split(',')
        .find_map(parse_tag)
        .map(IfMatch::Version)
        .ok_or_else(|| precondition_failed("If-Match names no current version of this resource"))
}

/// Whether `If-None-Match` already names `version` (so a `GET` may answer `304`).
pub fn none_match_hits(req: &HttpRequest, version: i64) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "*" || v.split(',').filter_map(parse_tag).any(|tag| tag == version))
}

fn parse_tag(tag: &str) -> Option<i64> {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

pub fn precondition_failed(detail: impl Into<String>) -> ApiError {
    ApiError::new(actix_web::http::StatusCode::PRECONDITION_FAILED, "precondition-failed", detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn reads_if_match() {
        let with = |v: &str| if_match(&TestRequest::default().insert_header((header::IF_MATCH, v)).to_http_request());
        assert_eq!(if_match(&TestRequest::default().to_http_request()).unwrap(), IfMatch::Any);
        assert_eq!(with("*").unwrap(), IfMatch::Any);
        assert_eq!(with("\"3\"").unwrap(), IfMatch::Version(3));
        assert_eq!(with("W/\"4\"").unwrap(), IfMatch::Version(4));
        assert_eq!(with("\"x\", \"5\"").unwrap(), IfMatch::Version(5));
        assert_eq!(with("garbage").unwrap_err().status(), 412);
    }

    #[test]
    fn reads_if_none_match() {
        let req = TestRequest::default().insert_header((header::IF_NONE_MATCH, "\"2\", \"3\"")).to_http_request();
        assert!(none_match_hits(&req, 3));
        assert!(!none_match_hits(&req, 4));
    }
}
