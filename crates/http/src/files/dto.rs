//! Wire shapes of files: the record as clients see it, the multipart upload as documented, and
//! the PDF request.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use workbench_files::{FileKind, StoredFile};

use utoipa::openapi::schema::{ObjectBuilder, Type};
use workbench_files::Rendition;

use crate::body::{Instant, component};
pub use crate::files::schemas::{InvoiceDataSchema, PdfRequestSchema, TaskStatusListSchema};

/// What a file is for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileKindName {
    Image,
    Audio,
    Document,
    Manual,
    Warranty,
    Invoice,
    Pdf,
    Attachment,
}

impl From<FileKind> for FileKindName {
    fn from(kind: FileKind) -> Self {
        match kind {
            FileKind::Image => Self::Image,
            FileKind::Audio => Self::Audio,
            FileKind::Document => Self::Document,
            FileKind::Manual => Self::Manual,
            FileKind::Warranty => Self::Warranty,
            FileKind::Invoice => Self::Invoice,
            FileKind::Pdf => Self::Pdf,
            FileKind::Attachment => Self::Attachment,
        }
    }
}

/// A stored file.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileResponse {
    pub id: i64,
    pub owner_id: i64,
    /// The sanitised name, with an extension that fits the stored type.
    pub filename: String,
    /// The stored bytes' media type: an image may have been re-encoded to another format.
    #[schema(examples("image/jpeg"))]
    pub content_type: String,
    /// The stored bytes' length.
    pub size: u64,
    pub kind: FileKindName,
    /// Hex SHA-256 of the stored bytes (after re-encoding, for images); the download's `ETag`.
    pub sha256: String,
    /// Images only, in pixels as displayed.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Audio only: the playable length, the sample rate and the number of channels.
    pub duration_ms: Option<u64>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u16>,
    pub task_id: Option<i64>,
    pub user_product_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// Where the bytes are (`GET /files/{id}/download`).
    pub download_url: String,
    /// Images only: `GET /files/{id}/thumbnail`.
    pub thumbnail_url: Option<String>,
}

impl FileResponse {
    /// `base` is the public URL of the server, without a trailing slash.
    pub fn new(file: StoredFile, base: &str) -> Self {
        let url = format!("{base}/api/v1/files/{}", file.id);
        Self {
            id: file.id.0,
            owner_id: file.owner_id.0,
            task_id: file.task_id(),
            user_product_id: file.user_product_id(),
            filename: file.filename,
            content_type: file.content_type,
            size: file.size,
            kind: file.kind.into(),
            sha256: file.sha256,
            width: file.width,
            height: file.height,
            duration_ms: file.audio.map(|a| a.duration_ms),
            sample_rate: file.audio.map(|a| a.sample_rate),
            channels: file.audio.map(|a| a.channels),
            created_at: file.created_at,
            thumbnail_url: file.thumbnail_key.is_some().then(|| format!("{url}/thumbnail")),
            download_url: format!("{url}/download"),
        }
    }
}

/// `POST /files`, as `multipart/form-data`. Only `file` is required; the other parts are text,
/// and any other part is refused. The bytes decide the type (JPEG, PNG, WebP, GIF, PDF, UTF-8
/// text, MP3, Ogg, WAV, FLAC), never the part's `Content-Type`. (Deserialize is derived only for
/// the document's `additionalProperties: false`.)
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadForm {
    /// The file (at most `MAX_UPLOAD_BYTES`, 10 MiB by default).
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    pub file: Vec<u8>,
    /// `image`, `audio` or `document` by default, from the bytes.
    #[schema(required = false)]
    pub kind: FileKindName,
    /// Attach to a task the caller may change (a viewer of its project is refused with `403`;
    /// a task they cannot see is `422` naming this field).
    #[schema(minimum = 1)]
    pub task_id: Option<i64>,
    /// Attach to an item of the caller's collection (not together with `task_id`).
    #[schema(minimum = 1)]
    pub user_product_id: Option<i64>,
}

/// `POST /user-products/{id}/files` and `POST /tasks/{id}/attachments`: the route names what the
/// file is attached to. Any part but `file` and `kind` is refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BoundUploadForm {
    /// The file (at most `MAX_UPLOAD_BYTES`, 10 MiB by default).
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    pub file: Vec<u8>,
    /// `image`, `audio` or `document` by default, from the bytes.
    #[schema(required = false)]
    pub kind: FileKindName,
}

/// The templates of `POST /files/pdf`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PdfTemplateName {
    Invoice,
    Profile,
    TaskReport,
}

/// `POST /files/pdf` as read: the template, and its data read as that template wants it
/// (documented by [`PdfRequestSchema`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PdfRequestBody {
    pub template: PdfTemplateName,
    #[serde(default)]
    pub data: serde_json::Value,
}

/// `task_report`'s filters, with the names and forms `GET /tasks` reads.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TaskReportData {
    /// Comma-separated statuses (`pending,in_progress`; empty items are ignored).
    #[schema(value_type = Option<TaskStatusListSchema>, nullable)]
    #[serde(default)]
    pub status: Option<String>,
    /// Due at or after: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[schema(value_type = Option<Instant>, nullable)]
    #[serde(default)]
    pub due_after: Option<String>,
    /// Due strictly before: RFC 3339 or `YYYY-MM-DD` (midnight UTC).
    #[schema(value_type = Option<Instant>, nullable)]
    #[serde(default)]
    pub due_before: Option<String>,
}

/// `GET /files/{id}/stream`: which rendition.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// `mp3` (the default, `audio/mpeg`) or `opus` (Opus in Ogg, `audio/ogg`).
    #[param(nullable = false, pattern = "^(mp3|opus)$", example = "mp3")]
    pub format: Option<String>,
    /// Kilobits per second: `64`, `96`, `128` (the default) or `192`. Text that is not an
    /// integer is `400`; another integer is `422` naming `bitrate`.
    #[param(value_type = Option<BitrateSchema>, nullable = false, example = 128)]
    pub bitrate: Option<i64>,
}

/// The schema of a rendition's bitrate: an integer, one of those offered.
#[derive(Debug)]
pub struct BitrateSchema;

component!(
    BitrateSchema,
    "Bitrate",
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some(Rendition::BITRATES))
        .description(Some("Kilobits per second"))
);
