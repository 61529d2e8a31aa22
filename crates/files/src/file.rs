//! A stored file: its record, its kind, what it is attached to, and the rules on who may see,
//! attach and delete it.

use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use workbench_users::{Principal, UserId};

use crate::BlobKey;

/// A file's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub i64);

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a file is for. Clients may choose any kind; without one, the media class decides
/// (`image`, `audio`, `document`), and generated PDFs are `pdf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A picture: the default for JPEG, PNG, WebP and GIF uploads.
    Image,
    /// A recording: the default for MP3, Ogg, WAV and FLAC uploads.
    Audio,
    /// A document: the default for PDF and text uploads.
    Document,
    /// A product's manual.
    Manual,
    /// A warranty certificate.
    Warranty,
    /// A receipt or invoice.
    Invoice,
    /// A PDF Workbench rendered (`POST /files/pdf`).
    Pdf,
    /// A file attached to something, without a more telling kind.
    Attachment,
}

impl FileKind {
    /// Every kind.
    pub const ALL: [FileKind; 8] = [
        FileKind::Image,
        FileKind::Audio,
        FileKind::Document,
        FileKind::Manual,
        FileKind::Warranty,
        FileKind::Invoice,
        FileKind::Pdf,
        FileKind::Attachment,
    ];

    /// The kind's name on the wire and in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            FileKind::Image => "image",
            FileKind::Audio => "audio",
            FileKind::Document => "document",
            FileKind::Manual => "manual",
            FileKind::Warranty => "warranty",
            FileKind::Invoice => "invoice",
            FileKind::Pdf => "pdf",
            FileKind::Attachment => "attachment",
        }
    }

    /// Reads a kind as clients spell it (surrounding whitespace ignored, case-sensitive).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == raw)
            .ok_or_else(|| format!("must be one of {}", Self::ALL.map(FileKind::as_str).join(", ")))
    }

    /// The kind of a file whose client named none.
    pub const fn default_for(class: MediaClass) -> Self {
        match class {
            MediaClass::Image => FileKind::Image,
            MediaClass::Audio => FileKind::Audio,
            MediaClass::Document => FileKind::Document,
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The coarse class of an accepted upload, decided from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaClass {
    /// JPEG, PNG, WebP, GIF: re-encoded, with a thumbnail.
    Image,
    /// MP3, Ogg, WAV, FLAC: stored as received, with their stream headers read.
    Audio,
    /// PDF and UTF-8 text: stored as received.
    Document,
}

/// What a file is attached to: nothing, one task, or one item of its owner's collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    /// A file of its own.
    None,
    /// Attached to this task: whoever sees the task may read it, and it goes with the task.
    Task(i64),
    /// Attached to this item of its owner's collection (a manual, an invoice).
    UserProduct(i64),
}

/// What the stream headers of an audio file say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioMeta {
    /// How long it plays, in milliseconds.
    pub duration_ms: u64,
    /// Samples per second.
    pub sample_rate: u32,
    /// How many channels (1 mono, 2 stereo).
    pub channels: u16,
}

/// A stored file, as its record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// The file's id.
    pub id: FileId,
    /// Who uploaded (or rendered) it: they, and admins, may delete it.
    pub owner_id: UserId,
    /// The sanitised name shown to people and used in `Content-Disposition`.
    pub filename: String,
    /// The stored bytes' media type (an image's may differ from the upload's after re-encoding).
    pub content_type: String,
    /// The stored bytes' length.
    pub size: u64,
    /// What it is for.
    pub kind: FileKind,
    /// Hex SHA-256 of the stored bytes: also the download's strong `ETag`.
    pub sha256: String,
    /// An image's width in pixels, as stored.
    pub width: Option<u32>,
    /// An image's height in pixels, as stored.
    pub height: Option<u32>,
    /// An audio file's stream headers.
    pub audio: Option<AudioMeta>,
    /// What it is attached to.
    pub attachment: Attachment,
    /// Where its bytes are in the blob store.
    pub blob_key: BlobKey,
    /// Images only.
    pub thumbnail_key: Option<BlobKey>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

impl StoredFile {
    /// The task it is attached to, if any.
    pub fn task_id(&self) -> Option<i64> {
        match self.attachment {
            Attachment::Task(id) => Some(id),
            _ => None,
        }
    }

    /// The collection item it is attached to, if any.
    pub fn user_product_id(&self) -> Option<i64> {
        match self.attachment {
            Attachment::UserProduct(id) => Some(id),
            _ => None,
        }
    }
}

/// A file record to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// Who uploads it.
    pub owner_id: UserId,
    /// The sanitised name.
    pub filename: String,
    /// The stored bytes' media type.
    pub content_type: String,
    /// The stored bytes' length.
    pub size: u64,
    /// What it is for.
    pub kind: FileKind,
    /// Hex SHA-256 of the stored bytes.
    pub sha256: String,
    /// An image's width in pixels.
    pub width: Option<u32>,
    /// An image's height in pixels.
    pub height: Option<u32>,
    /// An audio file's stream headers.
    pub audio: Option<AudioMeta>,
    /// What it is attached to, not yet checked to exist.
    pub attachment: Attachment,
    /// Where its bytes were stored (before the record, so a crash leaves bytes, never a record
    /// without them).
    pub blob_key: BlobKey,
    /// Where an image's thumbnail was stored.
    pub thumbnail_key: Option<BlobKey>,
    /// When it is stored.
    pub created_at: DateTime<Utc>,
}

/// An upload received whole into a local file, its bytes checked against the allowlist.
///
/// The upload path streams the request body into `path` while counting, hashing and sniffing
/// it, so that nothing larger than a chunk is ever held in memory; the service takes it from
/// there. The caller removes `path` afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedUpload {
    /// Where the upload was received.
    pub path: PathBuf,
    /// Its length in bytes.
    pub size: u64,
    /// Hex SHA-256 of the received bytes.
    pub sha256: String,
    /// The media type decided from the bytes (`image/png`, `text/plain; charset=utf-8`).
    pub content_type: String,
    /// Its class, decided from the bytes: what the media step does with it.
    pub class: MediaClass,
    /// The client's file name, not yet sanitised (`None` when the part had none).
    pub filename: Option<String>,
}

/// What a client asks of an upload besides its bytes, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadDraft {
    /// The kind the client chose (a [`FileKind`] name); the media class decides when missing.
    pub kind: Option<String>,
    /// The task to attach it to, as sent (a positive id).
    pub task_id: Option<String>,
    /// The collection item to attach it to, as sent (a positive id).
    pub user_product_id: Option<String>,
}

/// What the media step made of an upload: the bytes to store and what they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedMedia {
    /// The file to store: the upload itself, or its re-encoded image.
    pub path: PathBuf,
    /// Its length in bytes.
    pub size: u64,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
    /// Its media type.
    pub content_type: String,
    /// An image's width in pixels.
    pub width: Option<u32>,
    /// An image's height in pixels.
    pub height: Option<u32>,
    /// An audio file's stream headers.
    pub audio: Option<AudioMeta>,
    /// An image's thumbnail, ready to store.
    pub thumbnail: Option<Thumbnail>,
    /// The name to store: the client's, sanitised, with an extension that fits the stored type
    /// (`scan.gif` stored as PNG becomes `scan.png`).
    pub filename: String,
}

/// An image's thumbnail as the media step wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// Where the thumbnail was written.
    pub path: PathBuf,
    /// `image/jpeg`, or `image/png` for an image with transparency.
    pub content_type: String,
}

impl Thumbnail {
    /// The extension a thumbnail's blob key ends with, which tells its type when it is read back.
    pub fn extension(&self) -> &'static str {
        if self.content_type == "image/png" { "png" } else { "jpg" }
    }

    /// The media type of a thumbnail stored under `key`.
    pub fn content_type_of(key: &BlobKey) -> &'static str {
        if key.as_str().ends_with(".png") { "image/png" } else { "image/jpeg" }
    }
}

/// Who may do what with a file. Attachment visibility (can the caller see the task?) is
/// decided by the caller of these rules, which knows the tasks domain.
pub fn may_delete(caller: &Principal, file: &StoredFile) -> bool {
    file.owner_id == caller.id || caller.role.is_admin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_as_clients_spell_them() {
        for kind in FileKind::ALL {
            assert_eq!(FileKind::parse(kind.as_str()), Ok(kind));
        }
        assert_eq!(FileKind::parse(" manual "), Ok(FileKind::Manual));
        assert!(FileKind::parse("Manual").unwrap_err().contains("image, audio, document"));
        assert!(FileKind::parse("").is_err());
    }

    #[test]
    fn the_default_kind_follows_the_media_class() {
        assert_eq!(FileKind::default_for(MediaClass::Image), FileKind::Image);
        assert_eq!(FileKind::default_for(MediaClass::Audio), FileKind::Audio);
        assert_eq!(FileKind::default_for(MediaClass::Document), FileKind::Document);
    }
}
