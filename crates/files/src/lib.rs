//! The files domain of Workbench.
//!
//! For now it holds what the storage and PDF adapters implement: the [`BlobStore`] port with
//! its keys ([`BlobKey`]), byte ranges ([`ByteRange`]) and errors ([`BlobError`]); and the
//! [`PdfRenderer`] port with the inputs of each PDF template — a validated [`Invoice`] whose
//! totals are computed from its lines, a [`ProfileReport`] and a [`TaskReport`]. Nothing here
//! does I/O.

mod blob;
mod pdf;

pub use blob::{
    BlobEntry, BlobError, BlobInfo, BlobKey, BlobListing, BlobRead, BlobStore, BlobStream, ByteRange, InvalidBlobKey,
    MAX_BLOB_KEY_LEN,
};
pub use pdf::{
    Currency, Customer, CustomerDraft, Invoice, InvoiceDraft, InvoiceLine, InvoiceLineDraft, MAX_DESCRIPTION_CHARS,
    MAX_INVOICE_LINES, MAX_QUANTITY, MAX_UNIT_PRICE_MINOR, PdfDocument, PdfError, PdfRenderer, PdfTemplate,
    ProfileReport, Quantity, RenderedPdf, ReportCount, TaskReport, TaskReportFilters, TaskReportRow, TaxRate,
};

#[cfg(feature = "mock")]
pub use blob::MockBlobStore;
#[cfg(feature = "mock")]
pub use pdf::MockPdfRenderer;
