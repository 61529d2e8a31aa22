//! What the files domain needs from the outside world, besides the [`BlobStore`](crate::BlobStore)
//! and the [`PdfRenderer`](crate::PdfRenderer). Each method's doc says what an adapter MUST do.

use std::path::Path;

use async_trait::async_trait;
use workbench_core::{FieldErrors, RepositoryError};
use workbench_users::{Principal, UserId};

use crate::{
    Attachment, FileId, MediaClass, NewFile, PreparedMedia, ProfileReport, StagedUpload, StoredFile, TaskReport,
};
use crate::{BlobKey, TaskReportFilters};

/// Where file records live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait FileRepository: Send + Sync {
    /// Stores a new record. MUST return `MissingReference { field: "task_id" }` or
    /// `MissingReference { field: "user_product_id" }` when the task or the item it is attached to
    /// no longer exists, decided by a foreign key so that a concurrent deletion cannot leave a file
    /// attached to nothing.
    async fn insert(&self, file: NewFile) -> Result<StoredFile, RepositoryError>;

    /// The record of file `id`, if any.
    async fn find(&self, id: FileId) -> Result<Option<StoredFile>, RepositoryError>;

    /// Deletes the record and returns it, or `None` when there was none. The blobs are the
    /// caller's to delete.
    async fn delete(&self, id: FileId) -> Result<Option<StoredFile>, RepositoryError>;

    /// The files attached to a task or an item, oldest first.
    async fn attached(&self, to: Attachment) -> Result<Vec<StoredFile>, RepositoryError>;

    /// At most `limit` files whose name contains `text` (compared without regard to case, in
    /// every script), newest first: `owner`'s, or everyone's when `owner` is `None`.
    async fn search(&self, owner: Option<UserId>, text: String, limit: u32)
    -> Result<Vec<StoredFile>, RepositoryError>;

    /// How many files [`FileRepository::search`] finds when nothing limits it.
    async fn count_matching(&self, owner: Option<UserId>, text: String) -> Result<u64, RepositoryError>;

    /// The keys among `keys` that no record refers to (as its bytes or its thumbnail).
    async fn unknown_blobs(&self, keys: Vec<BlobKey>) -> Result<Vec<BlobKey>, RepositoryError>;
}

/// Why the media step refused or failed an upload.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The bytes are of an accepted type but cannot be used (an image too large to decode, or
    /// damaged): a client error naming `file`.
    #[error("{0}")]
    Invalid(String),
    /// The processing itself failed; the cause is for the logs.
    #[error(transparent)]
    Failed(anyhow::Error),
}

/// Turns an accepted upload into what is stored: images re-encoded (upright, bounded, without
/// metadata) with a thumbnail, audio's stream headers read, anything else as received.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MediaProcessor: Send + Sync {
    /// Prepares `upload` for storage, writing any new file into the directory `scratch` (the
    /// caller removes it). MUST do its CPU work off the async executor, a bounded number of jobs
    /// at a time, and MUST refuse an image whose declared dimensions exceed the limits before
    /// decoding its pixels.
    async fn prepare(&self, upload: &StagedUpload, scratch: &Path) -> Result<PreparedMedia, MediaError>;
}

/// What a caller may do with a task's files, in increasing power (the derived order), as the
/// tasks domain decides who may see and change the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskAccess {
    /// The task is not theirs to see, or does not exist: they are told it does not exist.
    Hidden,
    /// They see the task, and read its files (a project's viewers).
    Read,
    /// They may also change it, and attaching a file is a change (its owner and assignee, a
    /// project's editors and admins, moderators and admins).
    Attach,
}

/// What the files domain asks of the tasks and products domains.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AttachmentTargets: Send + Sync {
    /// What `caller` may do with the task: `Hidden` when they may not see it or it does not
    /// exist, `Read` when they may see but not change it, `Attach` when they may change it.
    async fn task_access(&self, caller: &Principal, task: i64) -> Result<TaskAccess, RepositoryError>;

    /// Whether the item belongs to `owner`'s collection.
    async fn owns_user_product(&self, owner: UserId, item: i64) -> Result<bool, RepositoryError>;

    /// Whether a chat message `caller` may read carries the file (tombstones carry nothing).
    async fn carried_to(&self, caller: &Principal, file: FileId) -> Result<bool, RepositoryError>;
}

/// Why a report's data could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The filters are invalid, every one of them.
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    /// The store could not read the data.
    #[error(transparent)]
    Unavailable(#[from] RepositoryError),
}

/// The data of the generated documents that other domains own.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ReportSources: Send + Sync {
    /// The caller's profile as the `profile` template prints it.
    async fn profile(&self, caller: &Principal) -> Result<ProfileReport, ReportError>;

    /// The tasks the caller sees that match `filters` (validated here: field names `status`,
    /// `due_after`, `due_before`), as the `task_report` template prints them.
    async fn task_report(&self, caller: &Principal, filters: TaskReportFilters) -> Result<TaskReport, ReportError>;
}

/// Tells an upload's type from its bytes as they arrive, against the allowlist, never from what
/// the client claims.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait ContentSniffer: Send + Sync {
    /// A fresh look at one upload.
    fn start(&self) -> Box<dyn Sniff>;
}

/// The look at one upload, fed its bytes in order as they stream in.
pub trait Sniff: Send {
    /// Feeds the next chunk; chunks may be of any size.
    fn feed(&mut self, chunk: &[u8]);

    /// A refusal already certain from the bytes seen so far (a format not on the allowlist), so
    /// that the rest of the upload need not be stored.
    fn early_refusal(&self) -> Option<Refusal>;

    /// The verdict once every byte was fed.
    fn finish(self: Box<Self>) -> Result<SniffedType, Refusal>;
}

/// What an accepted upload's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniffedType {
    /// The media type the file is stored and served as.
    pub content_type: String,
    /// Its class: what the media step does with it.
    pub class: MediaClass,
}

/// Why an upload's bytes are not accepted, in words for the client (`the file is empty`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);
