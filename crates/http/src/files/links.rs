//! Share links: the owner of a file makes, lists and revokes links (`/files/{id}/links`), and
//! anyone holding one downloads the file without an account (`GET /s/{token}`, outside the
//! versioned API, limited per client address like the sign-in routes).

use actix_web::http::header::{self, HeaderName};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use workbench_core::TypeFailures;
use workbench_files::{
    FileError, FileId, LINK_PASSWORD_BYTES, MAX_LINK_DOWNLOADS, MAX_LINK_HOURS, ShareLink, ShareLinkDraft, ShareLinkId,
};

use super::serving;
use crate::body::{Lenient, nullable};
use crate::extract::{CurrentUser, parse_json};
use crate::problem::{ApiError, Problem};
use crate::responses::{BadRequest, NotFound, Unauthorized, Unprocessable};
use crate::state::AppState;

/// The header a visitor sends a link's password in.
pub const SHARE_PASSWORD: HeaderName = HeaderName::from_static("x-share-password");

/// `POST /files/{id}/links`: every field may be left out (or sent as `null`), and so may the
/// body itself.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateShareLinkRequest {
    /// How long the link opens, in hours: 1 to 720 (30 days); a week when left out.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 720, default = 168)]
    #[serde(default)]
    pub expires_in_hours: Lenient<i64>,
    /// How many downloads the link allows, 1 to 10,000; unlimited when left out. On a limited
    /// link every answer that sends bytes is a download, a `Range` answer too.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 10000)]
    #[serde(default)]
    pub max_downloads: Lenient<i64>,
    /// A password the visitor must send as `X-Share-Password`: 8 to 72 bytes, no control
    /// characters, no whitespace at either end (a header would lose it). Kept only as a bcrypt hash.
    #[schema(value_type = Option<String>, min_length = 8, max_length = 72, pattern = r"^[^\s\x00-\x1f\x7f]([^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$")]
    #[serde(default)]
    pub password: Lenient<String>,
}

impl CreateShareLinkRequest {
    fn into_draft(self) -> ShareLinkDraft {
        let mut type_failures = TypeFailures::default();
        let expires_in_hours = nullable("expires_in_hours", self.expires_in_hours, &mut type_failures);
        let max_downloads = nullable("max_downloads", self.max_downloads, &mut type_failures);
        let password = nullable("password", self.password, &mut type_failures);
        ShareLinkDraft { expires_in_hours, max_downloads, password, type_failures }
    }
}

const _: () = {
    assert!(MAX_LINK_HOURS == 720 && MAX_LINK_DOWNLOADS == 10_000);
    assert!(*LINK_PASSWORD_BYTES.start() == 8 && *LINK_PASSWORD_BYTES.end() == 72);
};

/// A share link as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareLinkResponse {
    pub id: i64,
    /// The link to hand out (`<PUBLIC_URL>/s/<token>`). Shown only when the link is made: the
    /// server keeps no more than a hash of its token, so listings show `null`.
    pub url: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// `null`: unlimited.
    pub max_downloads: Option<u32>,
    /// Downloads counted: answers that started at the file's first byte, and on a link with
    /// `max_downloads`, every answer that sent bytes.
    pub downloads: u32,
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
}

impl ShareLinkResponse {
    fn new(link: &ShareLink, url: Option<String>) -> Self {
        Self {
            id: link.id.0,
            url,
            expires_at: link.expires_at,
            max_downloads: link.max_downloads,
            downloads: link.downloads,
            has_password: link.has_password(),
            created_at: link.created_at,
        }
    }
}

/// The file's share links (not revoked), newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareLinkList {
    pub data: Vec<ShareLinkResponse>,
}

/// A body that may be absent: nothing at all, or JSON `null`, reads as `{}`; anything else must be
/// JSON.
fn optional_json<T: serde::de::DeserializeOwned + Default>(req: &HttpRequest, body: &[u8]) -> Result<T, ApiError> {
    // JSON's whitespace only (RFC 8259 §2): a form feed, which `trim_ascii` would drop too, is
    // not JSON, so a body of one is refused rather than read as no body (found by the fuzzer).
    let json_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let start = body.iter().position(|b| !json_space(b)).unwrap_or(body.len());
    let end = body.iter().rposition(|b| !json_space(b)).map_or(start, |i| i + 1);
    let body = &body[start..end];
    if body.is_empty() || body == b"null" {
        return Ok(T::default());
    }
    let is_json = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        let essence = v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        essence == "application/json" || essence.ends_with("+json")
    });
    if !is_json {
        return Err(ApiError::bad_request("The body must be JSON (Content-Type: application/json)."));
    }
    parse_json(body)
}

/// Make a share link to one of the caller's files: anyone holding it downloads the file without
/// an account until it expires, runs out of downloads or is revoked. Only the file's owner makes,
/// lists and revokes its links; to anyone else the file is not found.
#[utoipa::path(
    tag = "files",
    operation_id = "create_share_link",
    security(("bearer_auth" = ["files:write"])),
    params(("id" = i64, Path, minimum = 1, description = "File id")),
    request_body(content = Option<CreateShareLinkRequest>, description = "May be left out: a week, unlimited, no password"),
    responses(
        (status = 201, body = ShareLinkResponse, description = "The link, with its URL (shown only here)"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[post("/files/{id}/links")]
pub async fn create_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let draft = optional_json::<CreateShareLinkRequest>(&req, &body)?.into_draft();
    let issued = state.shares.create(&user, FileId(id.into_inner()), draft).await?;
    let url = format!("{}/s/{}", state.web.public_url, issued.token.expose());
    Ok(HttpResponse::Created().json(ShareLinkResponse::new(&issued.link, Some(url))))
}

/// The share links of one of the caller's files that are not revoked, newest first; expired and
/// used-up ones included, with their downloads. Tokens are never shown again.
#[utoipa::path(
    tag = "files",
    operation_id = "list_share_links",
    security(("bearer_auth" = ["files:read"])),
    params(("id" = i64, Path, minimum = 1, description = "File id")),
    responses(
        (status = 200, body = ShareLinkList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[get("/files/{id}/links")]
pub async fn list_links(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<web::Json<ShareLinkList>, ApiError> {
    let links = state.shares.list(&user, FileId(id.into_inner())).await?;
    Ok(web::Json(ShareLinkList { data: links.iter().map(|l| ShareLinkResponse::new(l, None)).collect() }))
}

/// Revoke a share link: it stops working at once and leaves the listing.
#[utoipa::path(
    tag = "files",
    operation_id = "revoke_share_link",
    security(("bearer_auth" = ["files:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "File id"),
        ("link_id" = i64, Path, minimum = 1, description = "Share link id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[delete("/files/{id}/links/{link_id}")]
pub async fn revoke_link(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (file, link) = path.into_inner();
    state.shares.revoke(&user, FileId(file), ShareLinkId(link)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Download a shared file, no account needed: the bytes as an attachment, with a strong `ETag`
/// and one `Range` honoured (`206`). An answer that starts at the first byte counts as a
/// download; on a link with `max_downloads`, every answer that sends bytes does (a `Range` answer
/// too). A link with a password needs it in `X-Share-Password`. Unknown, revoked, expired and
/// used-up links, and the links of a disabled account's files, are all `404`. Limited per client
/// address (`RATE_LIMIT_AUTH_PER_MINUTE`).
#[utoipa::path(
    tag = "files",
    operation_id = "download_shared_file",
    params(
        ("token" = String, Path, description = "The link's token"),
        ("X-Share-Password" = Option<String>, Header, nullable = false, description = "The link's password, when it has one"),
        ("Range" = Option<String>, Header, nullable = false, description = "`bytes=first-last`, `bytes=first-` or `bytes=-suffix`"),
        ("If-Range" = Option<String>, Header, nullable = false, description = "The `ETag` the client's partial copy has"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "`ETag`s the client holds; the current one answers `304`"),
    ),
    responses(
        (status = 200, description = "The whole file, with its stored type", content(
                (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "image/webp"), (Vec<u8> = "image/gif"),
                (Vec<u8> = "application/pdf"), (Vec<u8> = "text/plain"), (Vec<u8> = "audio/mpeg"),
                (Vec<u8> = "audio/ogg"), (Vec<u8> = "audio/wav"), (Vec<u8> = "audio/flac")),
            headers(("ETag" = String), ("Content-Disposition" = String), ("Accept-Ranges" = String))),
        (status = 206, description = "One range of the file, with its stored type", content(
                (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "image/webp"), (Vec<u8> = "image/gif"),
                (Vec<u8> = "application/pdf"), (Vec<u8> = "text/plain"), (Vec<u8> = "audio/mpeg"),
                (Vec<u8> = "audio/ogg"), (Vec<u8> = "audio/wav"), (Vec<u8> = "audio/flac")),
            headers(("Content-Range" = String), ("ETag" = String))),
        (status = 304, description = "Not modified: the client's `If-None-Match` names the file (not counted)"),
        (status = 401, description = "The link has a password and `X-Share-Password` is missing or wrong", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = NotFound),
        (status = 416, description = "The range selects nothing of the file", body = Problem, content_type = "application/problem+json",
            headers(("Content-Range" = String, description = "`bytes */<size>`"))),
        (status = 429, description = "Too many requests from this address (`Retry-After`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/s/{token}")]
pub async fn download_shared(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // Read as UTF-8 bytes, not only visible ASCII: a password may be any text.
    let password =
        req.headers().get(SHARE_PASSWORD).and_then(|v| std::str::from_utf8(v.as_bytes()).ok()).map(str::to_owned);
    let opened = state.shares.open(&token, password).await?;
    let tag = &opened.file.sha256;
    if serving::not_modified(&req, tag) {
        return Ok(serving::not_modified_response(tag));
    }
    let range = serving::requested_range(&req, tag);
    let mut response = match state.shares.read(&opened, range).await {
        Ok(read) => serving::respond(&opened.file, read, range.is_some()),
        Err(FileError::RangeNotSatisfiable { size }) => serving::unsatisfiable(size),
        Err(e) => return Err(e.into()),
    };
    // Whoever holds the link may fetch it again; nobody else's cache should keep it, and a
    // referrer must not carry the token to another site.
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("private, no-store"));
    response.headers_mut().insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    Ok(response)
}
