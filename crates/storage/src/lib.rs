//! Blob-store adapters for Workbench's files.
//!
//! Two implementations of the files domain's [`BlobStore`](workbench_files::BlobStore) port:
//! [`LocalBlobStore`], a directory on local disk (the default, under `DATA_DIR`), and
//! [`S3BlobStore`], an S3 bucket or S3-compatible server through `object_store`. Both write
//! atomically (a temporary name then a rename; a single PUT or a completed multipart upload),
//! read ranges without reading the rest, and pass the same contract suite (`tests/contract.rs`).
//! [`StorageUrl`] and [`open`] choose between them from `STORAGE_URL`.

mod config;
mod local;
mod s3;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{
    DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE, MIN_PART_SIZE, S3Settings, Secret, StorageError, StorageUrl, open,
};
pub use local::LocalBlobStore;
pub use s3::S3BlobStore;
