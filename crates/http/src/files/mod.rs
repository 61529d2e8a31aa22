//! Files: uploads (alone, to a task, to an item of the caller's collection), their records,
//! downloads with ranges and validators, thumbnails, deletion, and PDFs made from templates.
//!
//! Share links (`links`) hand a file to someone without an account.
//!
//! Who may read a file: its owner, admins, and anyone who can see the task it is attached to;
//! anyone else is told it does not exist.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::Serialize;
use workbench_files::{
    Attachment, Destination, FileError, FileId, InvoiceDraft, PdfRequest, Rendition, RenditionBody, RenditionError,
    StoredFile, TaskReportFilters,
};
use workbench_users::Principal;

pub mod dto;
mod errors;
pub mod links;
pub mod receiving;
mod schemas;
pub mod serving;

use crate::extract::{CurrentUser, Json, Query, parse_json_value};
use crate::groups::Routes;
use crate::idempotency::{Created, IdempotencyKeySchema};
use crate::pagination::DataList;
use crate::problem::{ApiError, Problem};
use crate::responses::{BadRequest, KEY_IN_USE, NOT_JSON_OR_BAD_KEY, NotFound, Unauthorized, Unprocessable};
use crate::state::AppState;
use dto::{
    BoundUploadForm, FileResponse, PdfRequestBody, PdfRequestSchema, PdfTemplateName, StreamQuery, TaskReportData,
    UploadForm,
};

fn file_response(state: &AppState, file: StoredFile) -> FileResponse {
    FileResponse::new(file, &state.web.public_url)
}

/// What identifies "the same upload" for `Idempotency-Key`: the bytes and the fields.
#[derive(Serialize)]
struct UploadFingerprint<'a> {
    sha256: &'a str,
    size: u64,
    filename: Option<&'a str>,
    kind: Option<&'a str>,
    task_id: Option<&'a str>,
    user_product_id: Option<&'a str>,
}

/// Receives an upload, then stores it where `destination` says (with `Idempotency-Key`).
async fn store_upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Principal,
    payload: web::Payload,
    destination: Destination,
) -> Result<HttpResponse, ApiError> {
    let accepted = match destination {
        Destination::AsRequested => receiving::Parts::All,
        Destination::Bound(_) => receiving::Parts::KindOnly,
    };
    let received = receiving::receive(&req, payload, &state.files, state.web.max_upload_bytes, accepted).await?;
    let staged = received.staged()?;
    let draft = received.draft.clone();
    state.metrics.upload_received(staged.size);
    let fingerprint = UploadFingerprint {
        sha256: &staged.sha256,
        size: staged.size,
        filename: staged.filename.as_deref(),
        kind: draft.kind.as_deref(),
        task_id: draft.task_id.as_deref(),
        user_product_id: draft.user_product_id.as_deref(),
    };
    state
        .idempotency
        .run(&req, user.id, &fingerprint, || async {
            let file = state.files.upload(&user, staged.clone(), draft.clone(), destination).await?;
            Ok(Created {
                location: Some(format!("/api/v1/files/{}", file.id)),
                etag: None,
                body: serde_json::value::to_raw_value(&file_response(&state, file)).map_err(ApiError::internal)?,
            })
        })
        .await
}

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    // `/files/pdf` before `/files/{id}`.
    if let Some(cfg) = routes.under("/files") {
        cfg.service(upload)
            .service(render_pdf)
            .service(get)
            .service(download)
            .service(stream)
            .service(thumbnail)
            .service(remove)
            .service(links::create_link)
            .service(links::list_links)
            .service(links::revoke_link);
    }
    if let Some(cfg) = routes.under("/tasks") {
        cfg.service(upload_to_task).service(task_attachments);
    }
    if let Some(cfg) = routes.under("/user-products") {
        cfg.service(upload_to_user_product).service(user_product_files);
    }
}

/// Upload a file: streamed to storage, its type decided by its bytes, images re-encoded
/// (upright, bounded to 2048 px, metadata stripped) with a 256 px thumbnail. Attach it to a task
/// the caller may change (`task_id`) or to an item of their collection (`user_product_id`), or
/// to nothing. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "files",
    operation_id = "upload_file",
    security(("bearer_auth" = ["files:write"])),
    params(("Idempotency-Key" = inline(Option<IdempotencyKeySchema>), Header, nullable = false, description = "Replays the first response for 24 h")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = FileResponse, headers(("Location" = String)),
            links(
                ("GetFile" = (operation_id = "get_file", parameters(("id" = "$response.body#/id")))),
                ("DownloadFile" = (operation_id = "download_file", parameters(("id" = "$response.body#/id")))),
                ("DeleteFile" = (operation_id = "delete_file", parameters(("id" = "$response.body#/id")))),
            )),
        (status = 400, description = "Not a multipart body, or a bad Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`task_id` names a task the caller sees but may not change (a viewer of its project): attaching is a change", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = KEY_IN_USE, body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is larger than `MAX_UPLOAD_BYTES`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The bytes are not of an accepted type; text that opens as HTML, XML or SVG is not plain text", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No `file` part, or a part the form does not have (every one named, with `file` when it is missing too); an unknown `kind`; a task the caller cannot see or an item not theirs; both at once; an image whose decoded size would pass `MAX_IMAGE_PIXELS` or 512 MiB (refused before decoding), or damaged", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/files")]
pub async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    store_upload(req, state, user, payload, Destination::AsRequested).await
}

/// Upload a file attached to an item of the caller's collection (see `POST /files`).
#[utoipa::path(
    tag = "files",
    operation_id = "upload_user_product_file",
    security(("bearer_auth" = ["files:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Item id"),
        ("Idempotency-Key" = inline(Option<IdempotencyKeySchema>), Header, nullable = false, description = "Replays the first response for 24 h"),
    ),
    request_body(content = BoundUploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = FileResponse, headers(("Location" = String))),
        (status = 400, description = "Not a multipart body, or a bad Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, description = KEY_IN_USE, body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is larger than `MAX_UPLOAD_BYTES`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The bytes are not of an accepted type; text that opens as HTML, XML or SVG is not plain text", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No `file` part, or a part the form does not have (every one named, with `file` when it is missing too); an unknown `kind`; an image whose decoded size would pass `MAX_IMAGE_PIXELS` or 512 MiB (refused before decoding), or damaged", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/user-products/{id}/files")]
pub async fn upload_to_user_product(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let destination = Destination::Bound(Attachment::UserProduct(id.into_inner()));
    store_upload(req, state, user, payload, destination).await
}

/// Upload a file attached to a task the caller may change (see `POST /files`): attaching is a
/// change, so a project's viewers, who see its tasks, are refused.
#[utoipa::path(
    tag = "files",
    operation_id = "upload_task_attachment",
    security(("bearer_auth" = ["files:write"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Task id"),
        ("Idempotency-Key" = inline(Option<IdempotencyKeySchema>), Header, nullable = false, description = "Replays the first response for 24 h"),
    ),
    request_body(content = BoundUploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = FileResponse, headers(("Location" = String))),
        (status = 400, description = "Not a multipart body, or a bad Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The caller sees the task but may not change it (a viewer of its project)", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = NotFound),
        (status = 409, description = KEY_IN_USE, body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is larger than `MAX_UPLOAD_BYTES`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The bytes are not of an accepted type; text that opens as HTML, XML or SVG is not plain text", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No `file` part, or a part the form does not have (every one named, with `file` when it is missing too); an unknown `kind`; an image whose decoded size would pass `MAX_IMAGE_PIXELS` or 512 MiB (refused before decoding), or damaged", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tasks/{id}/attachments")]
pub async fn upload_to_task(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    store_upload(req, state, user, payload, Destination::Bound(Attachment::Task(id.into_inner()))).await
}

/// The files of an item of the caller's collection, oldest first. Not paginated.
#[utoipa::path(
    tag = "files",
    operation_id = "list_user_product_files",
    security(("bearer_auth" = ["files:read"])),
    params(("id" = i64, Path, minimum = 1, description = "Item id")),
    responses(
        (status = 200, body = DataList<FileResponse>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[get("/user-products/{id}/files")]
pub async fn user_product_files(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<web::Json<DataList<FileResponse>>, ApiError> {
    let files = state.files.item_files(&user, id.into_inner()).await?;
    Ok(web::Json(DataList { data: files.into_iter().map(|f| file_response(&state, f)).collect() }))
}

/// The files attached to a task the caller can see, oldest first. Not paginated.
#[utoipa::path(
    tag = "files",
    operation_id = "list_task_attachments",
    security(("bearer_auth" = ["files:read"])),
    params(("id" = i64, Path, minimum = 1, description = "Task id")),
    responses(
        (status = 200, body = DataList<FileResponse>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[get("/tasks/{id}/attachments")]
pub async fn task_attachments(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<web::Json<DataList<FileResponse>>, ApiError> {
    let files = state.files.task_attachments(&user, id.into_inner()).await?;
    Ok(web::Json(DataList { data: files.into_iter().map(|f| file_response(&state, f)).collect() }))
}

/// A file's record.
#[utoipa::path(
    tag = "files",
    operation_id = "get_file",
    security(("bearer_auth" = ["files:read"])),
    params(("id" = i64, Path, minimum = 1, description = "File id")),
    responses(
        (status = 200, body = FileResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[get("/files/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<web::Json<FileResponse>, ApiError> {
    let file = state.files.get(&user, FileId(id.into_inner())).await?;
    Ok(web::Json(file_response(&state, file)))
}

/// The file's bytes, as an attachment with its stored type and a strong `ETag` (its SHA-256).
/// `If-None-Match` answers `304`; one `Range` answers `206` (several are answered whole);
/// `If-Range` with another tag answers the whole file.
#[utoipa::path(
    tag = "files",
    operation_id = "download_file",
    security(("bearer_auth" = ["files:read"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "File id"),
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
        (status = 304, description = "Not modified: the client's `If-None-Match` names the file"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 416, description = "The range selects nothing of the file", body = Problem, content_type = "application/problem+json",
            headers(("Content-Range" = String, description = "`bytes */<size>`"))),
    )
)]
#[get("/files/{id}/download")]
pub async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = FileId(id.into_inner());
    let file = state.files.get(&user, id).await?;
    if serving::not_modified(&req, &file.sha256) {
        return Ok(serving::not_modified_response(&file.sha256));
    }
    let range = serving::requested_range(&req, &file.sha256);
    match state.files.open(&user, id, range).await {
        Ok((file, read)) => Ok(serving::respond(&file, read, range.is_some())),
        Err(FileError::RangeNotSatisfiable { size }) => Ok(serving::unsatisfiable(size)),
        Err(e) => Err(e.into()),
    }
}

/// The audio file transcoded: MP3 or Opus (in Ogg) at 64, 96, 128 or 192 kbit/s. The first
/// request streams while it transcodes (chunked, `Accept-Ranges: none`), and requests that arrive
/// meanwhile share that transcode; afterwards the rendition is served like a download (`ETag`,
/// `Range` → `206`) until `RENDITION_CACHE_BYTES` pushes it out, least recently used first.
#[utoipa::path(
    tag = "files",
    operation_id = "stream_file",
    security(("bearer_auth" = ["files:read"])),
    params(
        ("id" = i64, Path, minimum = 1, description = "File id"),
        StreamQuery,
        ("Range" = Option<String>, Header, nullable = false, description = "`bytes=first-last`, `bytes=first-` or `bytes=-suffix`; honoured once the rendition is stored"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "`ETag`s the client holds; the stored rendition's answers `304`"),
    ),
    responses(
        (status = 200, description = "The rendition, whole: stored (with `ETag` and `Accept-Ranges: bytes`) or streamed as it is transcoded (chunked, `Accept-Ranges: none`)",
            content((Vec<u8> = "audio/mpeg"), (Vec<u8> = "audio/ogg")),
            headers(("ETag" = String), ("Accept-Ranges" = String))),
        (status = 206, description = "One range of the stored rendition", content((Vec<u8> = "audio/mpeg"), (Vec<u8> = "audio/ogg")),
            headers(("Content-Range" = String), ("ETag" = String))),
        (status = 304, description = "Not modified: the client's `If-None-Match` names the stored rendition"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such file, one the caller may not read, or a file that is not audio", body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "The range selects nothing of the stored rendition", body = Problem, content_type = "application/problem+json",
            headers(("Content-Range" = String, description = "`bytes */<size>`"))),
        (status = 422, description = "An unknown `format` or `bitrate` (each named)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No encoder on this server (named), or more transcodes waiting than `TRANSCODE_WORKERS` can take (`Retry-After`)", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String))),
    )
)]
#[get("/files/{id}/stream")]
pub async fn stream(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    query: Query<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
    let StreamQuery { format, bitrate } = query.into_inner();
    let rendition = Rendition::parse(format.as_deref(), bitrate).map_err(ApiError::validation)?;
    let opened = state
        .renditions
        .open(&user, FileId(id.into_inner()), rendition, |tag| serving::requested_range(&req, tag))
        .await;
    match opened {
        Ok(RenditionBody::Stored { rendition: stored, read }) => {
            if serving::not_modified(&req, &stored.sha256) {
                return Ok(serving::not_modified_response(&stored.sha256));
            }
            let partial = serving::requested_range(&req, &stored.sha256).is_some();
            Ok(serving::rendition(rendition.codec.content_type(), &stored.sha256, read, partial))
        }
        Ok(RenditionBody::Live(live)) => Ok(serving::live_rendition(rendition.codec.content_type(), live)),
        Err(RenditionError::File(FileError::RangeNotSatisfiable { size })) => Ok(serving::unsatisfiable(size)),
        Err(e) => Err(e.into()),
    }
}

/// An image's thumbnail (256 px square, JPEG, or PNG for an image with transparency); any other
/// file has none (`404`).
#[utoipa::path(
    tag = "files",
    operation_id = "get_file_thumbnail",
    security(("bearer_auth" = ["files:read"])),
    params(("id" = i64, Path, minimum = 1, description = "File id")),
    responses(
        (status = 200, description = "The thumbnail", content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png")),
            headers(("ETag" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[get("/files/{id}/thumbnail")]
pub async fn thumbnail(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (file, content_type, read) = state.files.thumbnail(&user, FileId(id.into_inner())).await?;
    let tag = format!("thumb-{}", file.sha256);
    if serving::not_modified(&req, &tag) {
        return Ok(serving::not_modified_response(&tag));
    }
    Ok(serving::thumbnail(&tag, content_type, read))
}

/// Delete a file and its bytes: its owner or an admin.
#[utoipa::path(
    tag = "files",
    operation_id = "delete_file",
    security(("bearer_auth" = ["files:write"])),
    params(("id" = i64, Path, minimum = 1, description = "File id")),
    responses(
        (status = 204, description = "Deleted, bytes and thumbnail too"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The caller may read the file (through its task) but not delete it", body = Problem, content_type = "application/problem+json"),
        (status = 404, response = NotFound),
    )
)]
#[delete("/files/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state.files.delete(&user, FileId(id.into_inner())).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Render a PDF from a template and store it as a file of kind `pdf`: `invoice` (from `data`,
/// totals computed from the lines), `profile` (the caller's), `task_report` (the caller's visible
/// tasks matching `data`'s filters). Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "files",
    operation_id = "render_pdf",
    security(("bearer_auth" = ["files:write"])),
    params(("Idempotency-Key" = inline(Option<IdempotencyKeySchema>), Header, nullable = false, description = "Replays the first response for 24 h")),
    request_body = PdfRequestSchema,
    responses(
        (status = 201, body = FileResponse, headers(("Location" = String)),
            links(
                ("GetPdf" = (operation_id = "get_file", parameters(("id" = "$response.body#/id")))),
                ("DownloadPdf" = (operation_id = "download_file", parameters(("id" = "$response.body#/id")))),
            )),
        (status = 400, description = NOT_JSON_OR_BAD_KEY, body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 409, description = KEY_IN_USE, body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
        (status = 503, description = "`pdf-render-timeout`: the render ran past its time bound and was abandoned; try again after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
#[post("/files/pdf")]
pub async fn render_pdf(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: Json<PdfRequestBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    state
        .idempotency
        .run(&req, user.id, &body, || async {
            let request = pdf_request(&body)?;
            let file = state.files.render_pdf(&user, request).await.map_err(in_data)?;
            Ok(Created {
                location: Some(format!("/api/v1/files/{}", file.id)),
                etag: None,
                body: serde_json::value::to_raw_value(&file_response(&state, file)).map_err(ApiError::internal)?,
            })
        })
        .await
}

/// The template's data, read as its template wants it; a wrong type names the field under `data`.
fn pdf_request(body: &PdfRequestBody) -> Result<PdfRequest, ApiError> {
    let data = || if body.data.is_null() { serde_json::Value::Object(Default::default()) } else { body.data.clone() };
    match body.template {
        PdfTemplateName::Invoice => {
            let draft: InvoiceDraft = parse_json_value(data(), "data")?;
            Ok(PdfRequest::Invoice(draft))
        }
        PdfTemplateName::Profile => {
            if !data().is_object() {
                return Err(ApiError::invalid_field("data", "must be an object (or left out)"));
            }
            Ok(PdfRequest::Profile)
        }
        PdfTemplateName::TaskReport => {
            let filters: TaskReportData = parse_json_value(data(), "data")?;
            Ok(PdfRequest::TaskReport(TaskReportFilters {
                status: filters.status,
                due_after: filters.due_after,
                due_before: filters.due_before,
            }))
        }
    }
}

/// A template's fields live under `data` on the wire: name them so.
fn in_data(e: FileError) -> ApiError {
    match e {
        FileError::Validation(errors) => {
            let mut named = ApiError::validation(errors);
            named.rename_fields(|field| format!("data.{field}"));
            named
        }
        other => other.into(),
    }
}
