//! The files domain of Workbench.
//!
//! A [`StoredFile`] is a record (owner, name, stored media type, size, kind, SHA-256, image
//! dimensions or audio headers, what it is attached to) and the bytes it names in a
//! [`BlobStore`]. [`FileService`] holds the rules: uploads attached to a task the caller can see
//! or to an item of their collection, reads by the owner, admins and whoever can see the task,
//! deletion by the owner or an admin, and PDFs rendered from templates ([`PdfRenderer`], with the
//! validated inputs of each template: an [`Invoice`] whose totals are computed from its lines, a
//! [`ProfileReport`], a [`TaskReport`]). The ports: [`FileRepository`], [`BlobStore`],
//! [`MediaProcessor`] (sniffed uploads made ready to store), [`AttachmentTargets`] and
//! [`ReportSources`] (what the tasks, products and accounts domains know). [`ShareService`] hands
//! a file to someone without an account through a [`ShareLink`] ([`ShareLinkRepository`]).
//! [`RenditionService`] serves audio transcoded ([`Transcoder`]), one transcode per rendition,
//! kept within a budget ([`RenditionRepository`]). Nothing
//! here does I/O but the service's temporary files.

#![warn(missing_docs)]

mod blob;
mod error;
mod file;
mod pdf;
mod ports;
mod rendition;
mod service;
mod share;

pub use blob::{
    BlobEntry, BlobError, BlobInfo, BlobKey, BlobListing, BlobRead, BlobStore, BlobStream, ByteRange, InvalidBlobKey,
    MAX_BLOB_KEY_LEN,
};
pub use error::{FileError, Missing};
pub use file::{
    Attachment, AudioMeta, FileId, FileKind, MediaClass, NewFile, PreparedMedia, StagedUpload, StoredFile, Thumbnail,
    UploadDraft,
};
pub use pdf::{
    Currency, Customer, CustomerDraft, Invoice, InvoiceDraft, InvoiceLine, InvoiceLineDraft, MAX_DESCRIPTION_CHARS,
    MAX_INVOICE_LINES, MAX_QUANTITY, MAX_UNIT_PRICE_MINOR, PdfDocument, PdfError, PdfRenderer, PdfTemplate,
    ProfileReport, Quantity, RenderedPdf, ReportCount, TaskReport, TaskReportFilters, TaskReportRow, TaxRate,
};
pub use ports::{
    AttachmentTargets, ContentSniffer, FileRepository, MediaError, MediaProcessor, Refusal, ReportError, ReportSources,
    Sniff, SniffedType, TaskAccess,
};
pub use rendition::{
    AudioCodec, LiveRendition, Rendition, RenditionBody, RenditionError, RenditionRepository, RenditionService,
    StoredRendition, TranscodeError, TranscodeProgress, Transcoder,
};
pub use service::{Destination, FileParts, FileService, PdfRequest};
pub use share::{
    DEFAULT_LINK_HOURS, IssuedShareLink, LINK_PASSWORD_BYTES, MAX_LINK_DOWNLOADS, MAX_LINK_HOURS, NewShareLink,
    OpenedLink, ShareActivity, ShareLink, ShareLinkDraft, ShareLinkId, ShareLinkRepository, ShareService, ShareToken,
};

#[cfg(feature = "mock")]
pub use blob::MockBlobStore;
#[cfg(feature = "mock")]
pub use pdf::MockPdfRenderer;
#[cfg(feature = "mock")]
pub use ports::{MockAttachmentTargets, MockContentSniffer, MockFileRepository, MockMediaProcessor, MockReportSources};
#[cfg(feature = "mock")]
pub use rendition::{MockRenditionRepository, MockTranscoder};
#[cfg(feature = "mock")]
pub use share::{MockShareActivity, MockShareLinkRepository};
