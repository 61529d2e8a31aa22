//! Choosing and opening a blob store from configuration: `STORAGE_URL` (`file://…` or
//! `s3://bucket/prefix`) and the `S3_*` / `AWS_*` settings.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use workbench_files::{BlobKey, BlobStore};

use crate::{LocalBlobStore, S3BlobStore};

/// The smallest part S3 accepts in a multipart upload (all parts but the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// Files up to this size go up in one PUT by default; larger ones as multipart uploads.
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 8 * 1024 * 1024;
/// The default size of one multipart part.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;

/// Why storage could not be configured or opened.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// `STORAGE_URL` is not a URL this build understands.
    #[error("STORAGE_URL {url:?} is invalid: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The S3 settings do not fit together.
    #[error("S3 settings are invalid: {0}")]
    InvalidSettings(String),
    /// The local directory cannot be created or used.
    #[error("cannot use the storage directory {path}: {source}")]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The S3 client could not be built.
    #[error("cannot set up the S3 client: {0}")]
    S3(String),
}

/// Where blobs are kept, as `STORAGE_URL` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// `file://<path>`: a directory, absolute (`file:///var/lib/workbench/files`) or relative to
    /// the working directory (`file://data/files`).
    Local(PathBuf),
    /// `s3://bucket` or `s3://bucket/prefix`: objects in a bucket, optionally under a prefix.
    S3 { bucket: String, prefix: Option<BlobKey> },
}

impl StorageUrl {
    /// The default: `file://<DATA_DIR>/files`.
    pub fn default_for(data_dir: &Path) -> Self {
        StorageUrl::Local(data_dir.join("files"))
    }

    pub fn parse(raw: &str) -> Result<Self, StorageError> {
        let invalid = |reason: &str| StorageError::InvalidUrl { url: raw.to_owned(), reason: reason.to_owned() };
        if let Some(path) = raw.strip_prefix("file://") {
            if path.is_empty() {
                return Err(invalid("file:// needs a path, e.g. file:///var/lib/workbench/files"));
            }
            return Ok(StorageUrl::Local(PathBuf::from(path)));
        }
        if let Some(rest) = raw.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if !valid_bucket(bucket) {
                return Err(invalid(
                    "the bucket must be 3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit",
                ));
            }
            let prefix = prefix.trim_end_matches('/');
            let prefix = if prefix.is_empty() {
                None
            } else {
                Some(BlobKey::parse(prefix).map_err(|e| invalid(&format!("the prefix {}", e.reason)))?)
            };
            return Ok(StorageUrl::S3 { bucket: bucket.to_owned(), prefix });
        }
        let scheme = raw.split_once("://").map_or("none", |(scheme, _)| scheme);
        Err(invalid(&format!("unsupported scheme {scheme:?}: use file://<path> or s3://<bucket>[/<prefix>]")))
    }
}

fn valid_bucket(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-'))
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
}

impl FromStr for StorageUrl {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageUrl::Local(path) => write!(f, "file://{}", path.display()),
            StorageUrl::S3 { bucket, prefix: None } => write!(f, "s3://{bucket}"),
            StorageUrl::S3 { bucket, prefix: Some(prefix) } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How to reach S3 when `STORAGE_URL` is `s3://…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// `S3_ENDPOINT`: an S3-compatible server (`http://127.0.0.1:9000`). When set, requests use
    /// path-style addressing and plain `http://` is allowed. Unset: AWS itself.
    pub endpoint: Option<String>,
    /// `S3_REGION`; `us-east-1` when unset.
    pub region: Option<String>,
    /// `AWS_ACCESS_KEY_ID`. Without it (and the secret), AWS credentials come from the
    /// instance or container role; with `S3_ENDPOINT` both are required.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<Secret>,
    /// Files larger than this go up as multipart uploads.
    pub multipart_threshold: u64,
    /// The size of each multipart part, at least [`MIN_PART_SIZE`].
    pub multipart_part_size: usize,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            multipart_part_size: DEFAULT_PART_SIZE,
        }
    }
}

impl S3Settings {
    /// Checks that the settings fit together.
    pub fn check(&self) -> Result<(), StorageError> {
        let invalid = |reason: &str| Err(StorageError::InvalidSettings(reason.to_owned()));
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            return invalid("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
        }
        if let Some(endpoint) = &self.endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return invalid("S3_ENDPOINT must be an http:// or https:// URL");
            }
            if self.access_key_id.is_none() {
                return invalid("S3_ENDPOINT needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
            }
        }
        if self.multipart_part_size < MIN_PART_SIZE {
            return invalid("the multipart part size must be at least 5 MiB, as S3 requires");
        }
        Ok(())
    }
}

/// Opens the store `url` names. A local directory is created if missing; an S3 store makes no
/// request until it is used.
pub fn open(url: &StorageUrl, s3: &S3Settings) -> Result<Arc<dyn BlobStore>, StorageError> {
    match url {
        StorageUrl::Local(path) => {
            let store =
                LocalBlobStore::open(path).map_err(|source| StorageError::Directory { path: path.clone(), source })?;
            Ok(Arc::new(store))
        }
        StorageUrl::S3 { bucket, prefix } => Ok(Arc::new(S3BlobStore::new(bucket, prefix.clone(), s3)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_take_absolute_and_relative_paths() {
        assert_eq!(StorageUrl::parse("file:///var/lib/wb").unwrap(), StorageUrl::Local("/var/lib/wb".into()));
        assert_eq!(StorageUrl::parse("file://data/files").unwrap(), StorageUrl::Local("data/files".into()));
        assert_eq!(StorageUrl::default_for(Path::new("./data")).to_string(), "file://./data/files");
        assert!(StorageUrl::parse("file://").is_err());
    }

    #[test]
    fn s3_urls_name_a_bucket_and_an_optional_prefix() {
        assert_eq!(
            StorageUrl::parse("s3://my-bucket").unwrap(),
            StorageUrl::S3 { bucket: "my-bucket".into(), prefix: None }
        );
        let url = StorageUrl::parse("s3://my-bucket/workbench/files/").unwrap();
        assert_eq!(
            url,
            StorageUrl::S3 { bucket: "my-bucket".into(), prefix: Some(BlobKey::parse("workbench/files").unwrap()) }
        );
        assert_eq!(url.to_string(), "s3://my-bucket/workbench/files");
        for bad in ["s3://", "s3://UPPER", "s3://ab", "s3://-bucket", "s3://bucket/../x", "s3://bucket/A"] {
            assert!(StorageUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_schemes_are_refused_clearly() {
        let message = StorageUrl::parse("gs://bucket").unwrap_err().to_string();
        assert!(message.contains("unsupported scheme \"gs\""), "{message}");
        assert!(StorageUrl::parse("/plain/path").unwrap_err().to_string().contains("file://"));
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let settings = S3Settings {
            access_key_id: Some("AKIDEXAMPLE".into()),
            secret_access_key: Some(Secret::new("wJalrXUtnFEMI/K7MDENG")),
            ..Default::default()
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        let half = S3Settings { access_key_id: Some("a".into()), ..Default::default() };
        assert!(half.check().is_err());
        let no_keys = S3Settings { endpoint: Some("http://127.0.0.1:9000".into()), ..Default::default() };
        assert!(no_keys.check().is_err());
        let small_parts = S3Settings { multipart_part_size: 1024, ..Default::default() };
        assert!(small_parts.check().is_err());
        assert!(S3Settings::default().check().is_ok());
    }

    #[test]
    fn a_local_url_opens_and_creates_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("nested/files");
        open(&StorageUrl::Local(root.clone()), &S3Settings::default()).unwrap();
        assert!(root.is_dir());
    }
}
