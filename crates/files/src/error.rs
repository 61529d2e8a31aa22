//! What can go wrong with files, in the domain's words.

use workbench_core::{FieldErrors, RepositoryError};

use crate::{BlobError, MediaError, PdfError, ReportError};

/// The thing that was not found, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The file.
    File,
    /// A file that is not an image has no thumbnail.
    Thumbnail,
    /// The task to attach it to.
    Task,
    /// The collection item to attach it to.
    UserProduct,
    /// A share link: unknown, revoked, expired or used up, alike.
    ShareLink,
    /// Only audio has renditions.
    Audio,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Missing::File => "file",
            Missing::Thumbnail => "thumbnail",
            Missing::Task => "task",
            Missing::UserProduct => "user product",
            Missing::ShareLink => "share link",
            Missing::Audio => "audio file",
        })
    }
}

/// Failures of the file use cases. The HTTP adapter maps each variant to one status.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Invalid fields, every one of them (an unusable image is reported on `file`).
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    /// No such thing, or one the caller may not see: the two are indistinguishable on purpose.
    #[error("no such {0}")]
    NotFound(Missing),
    /// A share link with a password was opened without it, or with another one.
    #[error("this link needs its password")]
    PasswordRequired,
    /// The caller may see the file but not do this to it.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The requested byte range selects nothing of a file of `size` bytes.
    #[error("the range selects nothing of a file of {size} bytes")]
    RangeNotSatisfiable {
        /// The file's length in bytes.
        size: u64,
    },
    /// The document would be longer than the renderer allows.
    #[error("the document would have {pages} pages, more than the {max} allowed")]
    DocumentTooLong {
        /// How many pages it would have had.
        pages: usize,
        /// The most pages the renderer makes.
        max: usize,
    },
    /// The renderer abandoned the document at its time bound: the server could not give it the
    /// time, which a later attempt may find.
    #[error("rendering the document took longer than the {} s allowed", .limit.as_secs())]
    RenderTimedOut {
        /// The time bound the render ran past.
        limit: std::time::Duration,
    },
    /// The store, the blob store or a worker failed; the cause is for the logs.
    #[error(transparent)]
    Unavailable(anyhow::Error),
}

impl From<RepositoryError> for FileError {
    fn from(e: RepositoryError) -> Self {
        match e {
            RepositoryError::MissingReference { field } => {
                FieldErrors::single(field, "refers to something that no longer exists").into()
            }
            other => FileError::Unavailable(other.into()),
        }
    }
}

impl From<BlobError> for FileError {
    fn from(e: BlobError) -> Self {
        match e {
            // The record was there a moment ago: a concurrent deletion took the bytes.
            BlobError::NotFound => FileError::NotFound(Missing::File),
            BlobError::InvalidRange { size } => FileError::RangeNotSatisfiable { size },
            BlobError::Unavailable(e) => FileError::Unavailable(e),
        }
    }
}

impl From<MediaError> for FileError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::Invalid(message) => FieldErrors::single("file", message).into(),
            MediaError::Failed(e) => FileError::Unavailable(e),
        }
    }
}

impl From<PdfError> for FileError {
    fn from(e: PdfError) -> Self {
        match e {
            PdfError::TooLong { pages, max } => FileError::DocumentTooLong { pages, max },
            PdfError::TimedOut { limit } => FileError::RenderTimedOut { limit },
            PdfError::Failed(e) => FileError::Unavailable(e),
        }
    }
}

impl From<ReportError> for FileError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Validation(errors) => FileError::Validation(errors),
            ReportError::Unavailable(e) => e.into(),
        }
    }
}
