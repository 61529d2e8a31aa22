//! Serving a file's bytes (RFC 9110): a strong `ETag` from the content hash, `If-None-Match`,
//! one `Range` (with `If-Range`), `Content-Disposition: attachment` with the sanitised name, the
//! stored type, and the body streamed from the blob store as it arrives.

use actix_web::http::StatusCode;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue, HeaderValue,
};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use futures_util::TryStreamExt;
use workbench_files::{BlobRead, ByteRange, LiveRendition, StoredFile};

use crate::problem::ApiError;

/// The strong entity tag of content whose hash (or other stable name) is `tag`.
fn entity_tag(tag: &str) -> String {
    format!("\"{tag}\"")
}

/// Whether `If-None-Match` names the content (weak comparison, as RFC 9110 §13.1.2 asks).
pub fn not_modified(req: &HttpRequest, tag: &str) -> bool {
    let Some(value) = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let ours = entity_tag(tag);
    value.split(',').map(str::trim).any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == ours)
}

pub fn not_modified_response(tag: &str) -> HttpResponse {
    HttpResponse::NotModified().insert_header((header::ETAG, entity_tag(tag))).finish()
}

/// The one range the client asked for, when it should be honoured: `Range: bytes=...` with a
/// single range, and `If-Range` (when sent) naming this content. Anything else is answered whole,
/// as RFC 9110 §14.2 allows for a range the server does not support.
pub fn requested_range(req: &HttpRequest, tag: &str) -> Option<ByteRange> {
    let range = req.headers().get(header::RANGE)?.to_str().ok()?;
    if let Some(if_range) = req.headers().get(header::IF_RANGE) {
        // Only a strong tag can validate a range; a date or another tag means "send it all".
        if if_range.to_str().ok()?.trim() != entity_tag(tag) {
            return None;
        }
    }
    parse_range(range)
}

/// `bytes=first-last`, `bytes=first-` or `bytes=-suffix`; `None` for anything else (another unit,
/// several ranges, bad syntax).
fn parse_range(value: &str) -> Option<ByteRange> {
    let spec = value.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, false) => Some(ByteRange::Suffix(number(last)?)),
        (false, true) => Some(ByteRange::From(number(first)?)),
        (false, false) => Some(ByteRange::Bounded { first: number(first)?, last: number(last)? }),
        (true, true) => None,
    }
}

/// `Content-Disposition: attachment` with an ASCII fallback name and the exact one in UTF-8
/// (RFC 6266), so that every browser saves the file under a safe name.
fn disposition(filename: &str) -> ContentDisposition {
    let ascii: String = filename
        .chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '_' })
        .collect::<String>()
        .replace('"', "_");
    let mut parameters = vec![DispositionParam::Filename(ascii.clone())];
    if ascii != filename {
        parameters.push(DispositionParam::FilenameExt(ExtendedValue {
            charset: Charset::Ext("UTF-8".to_owned()),
            language_tag: None,
            value: filename.as_bytes().to_vec(),
        }));
    }
    ContentDisposition { disposition: DispositionType::Attachment, parameters }
}

/// The file's bytes, whole (`200`) or the range that `read` holds (`206`).
pub fn respond(file: &StoredFile, read: BlobRead, partial: bool) -> HttpResponse {
    let mut response = if partial { HttpResponse::PartialContent() } else { HttpResponse::Ok() };
    if partial {
        let (start, end) = (read.range.start, read.range.end.saturating_sub(1));
        response.insert_header((header::CONTENT_RANGE, format!("bytes {start}-{end}/{}", read.size)));
    }
    response
        .insert_header((header::CONTENT_TYPE, file.content_type.as_str()))
        .insert_header((header::CONTENT_DISPOSITION, disposition(&file.filename)))
        .insert_header((header::ETAG, entity_tag(&file.sha256)))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        // Behind authentication: shared caches must not keep it; the client revalidates by ETag.
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .insert_header(identity_encoding());
    let len = read.len();
    response.no_chunking(len).streaming(read.body.map_err(actix_web::error::ErrorInternalServerError))
}

/// A stored rendition, whole (`200`) or the range that `read` holds (`206`), shown inline.
pub fn rendition(content_type: &'static str, tag: &str, read: BlobRead, partial: bool) -> HttpResponse {
    let mut response = if partial { HttpResponse::PartialContent() } else { HttpResponse::Ok() };
    if partial {
        let (start, end) = (read.range.start, read.range.end.saturating_sub(1));
        response.insert_header((header::CONTENT_RANGE, format!("bytes {start}-{end}/{}", read.size)));
    }
    response
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, entity_tag(tag)))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .insert_header(identity_encoding());
    let len = read.len();
    response.no_chunking(len).streaming(read.body.map_err(actix_web::error::ErrorInternalServerError))
}

/// A rendition as it is transcoded: chunked, no ranges (its length is not known yet), no tag.
pub fn live_rendition(content_type: &'static str, live: LiveRendition) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ACCEPT_RANGES, "none"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header(identity_encoding())
        .streaming(live.body.map_err(actix_web::error::ErrorInternalServerError))
}

/// An image's thumbnail, shown inline.
pub fn thumbnail(tag: &str, content_type: &'static str, read: BlobRead) -> HttpResponse {
    let len = read.len();
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, entity_tag(tag)))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .insert_header(identity_encoding())
        .no_chunking(len)
        .streaming(read.body.map_err(actix_web::error::ErrorInternalServerError))
}

/// `416` with `Content-Range: bytes */size`, as RFC 9110 §15.5.17 asks.
pub fn unsatisfiable(size: u64) -> HttpResponse {
    let mut response = ApiError::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range-not-satisfiable",
        format!("The range selects nothing of this file of {size} bytes."),
    )
    .error_response();
    if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
    response
}

/// `Content-Encoding: identity` keeps the compressor off bytes that are media already (the
/// outer middleware removes the header before it reaches the client).
pub(crate) fn identity_encoding() -> (header::HeaderName, HeaderValue) {
    (header::CONTENT_ENCODING, HeaderValue::from_static("identity"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_writes_them() {
        assert_eq!(parse_range("bytes=0-499"), Some(ByteRange::Bounded { first: 0, last: 499 }));
        assert_eq!(parse_range("bytes=500-"), Some(ByteRange::From(500)));
        assert_eq!(parse_range("bytes=-200"), Some(ByteRange::Suffix(200)));
        assert_eq!(parse_range(" bytes= 1 - 2 "), Some(ByteRange::Bounded { first: 1, last: 2 }));
        for ignored in ["bytes=0-1,5-6", "items=0-1", "bytes=-", "bytes=a-b", "bytes=+1-2", "bytes=1"] {
            assert_eq!(parse_range(ignored), None, "{ignored}");
        }
    }

    #[test]
    fn names_fall_back_to_ascii_and_keep_the_exact_one() {
        let shown = disposition("Größe \"x\".pdf").to_string();
        assert!(shown.starts_with("attachment; filename=\"Gr__e _x_.pdf\""), "{shown}");
        assert!(shown.contains("filename*=UTF-8''Gr%C3%B6%C3%9Fe%20%22x%22.pdf"), "{shown}");
        assert_eq!(disposition("plain.txt").to_string(), "attachment; filename=\"plain.txt\"");
    }
}
