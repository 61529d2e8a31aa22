//! The S3 blob store, through `object_store`: AWS itself or any S3-compatible server (MinIO,
//! Ceph, Garage, s3s) at `S3_ENDPOINT`. Small files go up in one PUT, large ones as a
//! multipart upload that is aborted when anything fails; either way the object appears whole
//! or not at all. Ranged reads are sent as ranged GETs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::BytesMut;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart};
use tokio::io::AsyncReadExt;
use workbench_files::{BlobEntry, BlobError, BlobInfo, BlobKey, BlobListing, BlobRead, BlobStore, ByteRange};

use crate::config::{S3Settings, StorageError};

/// How many parts of one multipart upload are in flight at once. With the buffer being filled,
/// an upload holds at most `(MAX_PARTS_IN_FLIGHT + 1) × part size` in memory.
const MAX_PARTS_IN_FLIGHT: usize = 2;

/// How much is read from the source file at a time.
const READ_CHUNK: usize = 256 * 1024;

/// Blobs as objects in an S3 bucket, optionally under a key prefix.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    /// Every key is stored as `prefix/key`.
    prefix: Option<BlobKey>,
    multipart_threshold: u64,
    part_size: usize,
}

fn unavailable(context: &'static str, error: object_store::Error) -> BlobError {
    BlobError::Unavailable(anyhow::Error::new(error).context(context))
}

fn io_unavailable(context: &'static str, error: std::io::Error) -> BlobError {
    BlobError::Unavailable(anyhow::Error::new(error).context(context))
}

impl S3BlobStore {
    /// A store for `bucket` (and `prefix`) with these settings. Makes no request: an
    /// unreachable server or wrong credentials show at the first operation.
    pub fn new(bucket: &str, prefix: Option<BlobKey>, settings: &S3Settings) -> Result<Self, StorageError> {
        settings.check()?;
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(settings.region.as_deref().unwrap_or("us-east-1"))
            // Fail within a minute rather than the default three when the server is away.
            .with_retry(RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(60), ..Default::default() });
        if let Some(endpoint) = &settings.endpoint {
            // Local and S3-compatible servers are addressed by path (`endpoint/bucket/key`),
            // and often over plain HTTP.
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            builder = builder.with_access_key_id(id).with_secret_access_key(secret.expose());
        }
        // object_store's reqwest has rustls with no crypto provider compiled in; it takes the
        // process's default, which must be there before the client is built. An installed one
        // (by an earlier store) stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = builder.build().map_err(|e| StorageError::S3(e.to_string()))?;
        Ok(Self {
            store: Arc::new(store),
            bucket: bucket.to_owned(),
            prefix,
            multipart_threshold: settings.multipart_threshold,
            part_size: settings.multipart_part_size,
        })
    }

    /// The bucket this store writes to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn path_of(&self, key: &BlobKey) -> ObjectPath {
        match &self.prefix {
            Some(prefix) => ObjectPath::from(format!("{prefix}/{key}")),
            None => ObjectPath::from(key.as_str()),
        }
    }

    /// The key of an object listed under the store's prefix, if it is one of ours.
    fn key_of(&self, path: &ObjectPath) -> Option<BlobKey> {
        let raw: &str = path.as_ref();
        let relative = match &self.prefix {
            Some(prefix) => raw.strip_prefix(prefix.as_str())?.strip_prefix('/')?,
            None => raw,
        };
        BlobKey::parse(relative).ok()
    }

    async fn put_small(&self, path: &ObjectPath, source: &Path) -> Result<(), BlobError> {
        let bytes = tokio::fs::read(source).await.map_err(|e| io_unavailable("reading the source file", e))?;
        self.store.put(path, PutPayload::from(bytes)).await.map_err(|e| unavailable("uploading the blob", e))?;
        Ok(())
    }

    async fn put_multipart(&self, path: &ObjectPath, source: &Path, size: u64) -> Result<(), BlobError> {
        let mut file = tokio::fs::File::open(source).await.map_err(|e| io_unavailable("opening the source file", e))?;
        let upload = self.store.put_multipart(path).await.map_err(|e| unavailable("starting a multipart upload", e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size);
        let result = async {
            let mut sent = 0_u64;
            loop {
                let mut chunk = BytesMut::with_capacity(READ_CHUNK);
                let n = file.read_buf(&mut chunk).await.map_err(|e| io_unavailable("reading the source file", e))?;
                if n == 0 {
                    break;
                }
                writer.wait_for_capacity(MAX_PARTS_IN_FLIGHT).await.map_err(|e| unavailable("uploading a part", e))?;
                writer.put(chunk.freeze());
                sent += n as u64;
            }
            if sent == size {
                Ok(())
            } else {
                Err(BlobError::Unavailable(anyhow::anyhow!(
                    "the source file changed during the upload ({size} bytes, then {sent})"
                )))
            }
        }
        .await;
        match result {
            Ok(()) => {
                writer.finish().await.map_err(|e| unavailable("completing the multipart upload", e))?;
                Ok(())
            }
            Err(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, %path, "could not abort a failed multipart upload");
                }
                Err(e)
            }
        }
    }

    /// Makes sense of a ranged GET that failed. A range starting past the end fails with 416,
    /// which object_store reports as a generic error; and some S3-compatible servers fail a
    /// suffix longer than the object instead of returning all of it. So: ask for the size; an
    /// unsatisfiable range is [`BlobError::InvalidRange`], a satisfiable one is fetched again
    /// as the explicit span it stands for.
    async fn get_after_failed_range(&self, path: &ObjectPath, range: ByteRange) -> Result<BlobRead, BlobError> {
        let meta = match self.store.head(path).await {
            Ok(meta) => meta,
            Err(object_store::Error::NotFound { .. }) => return Err(BlobError::NotFound),
            Err(e) => return Err(unavailable("reading blob metadata", e)),
        };
        let span = range.resolve(meta.size)?;
        let options = GetOptions { range: Some(GetRange::Bounded(span)), ..Default::default() };
        match self.store.get_opts(path, options).await {
            Ok(read) => Ok(blob_read(read)),
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::NotFound),
            Err(e) => Err(unavailable("reading the blob", e)),
        }
    }
}

fn blob_read(read: object_store::GetResult) -> BlobRead {
    BlobRead {
        size: read.meta.size,
        range: read.range.clone(),
        last_modified: read.meta.last_modified,
        body: read.into_stream().map_err(|e| unavailable("reading the blob", e)).boxed(),
    }
}

fn get_range(range: ByteRange) -> GetRange {
    match range {
        ByteRange::Bounded { first, last } => GetRange::Bounded(first..last.saturating_add(1)),
        ByteRange::From(first) => GetRange::Offset(first),
        ByteRange::Suffix(len) => GetRange::Suffix(len),
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put_file(&self, key: &BlobKey, source: &Path) -> Result<BlobInfo, BlobError> {
        let size = tokio::fs::metadata(source).await.map_err(|e| io_unavailable("reading the source file", e))?.len();
        let path = self.path_of(key);
        if size <= self.multipart_threshold {
            self.put_small(&path, source).await?;
        } else {
            self.put_multipart(&path, source, size).await?;
        }
        let meta = self.store.head(&path).await.map_err(|e| unavailable("reading the stored blob", e))?;
        Ok(BlobInfo { size: meta.size, last_modified: meta.last_modified })
    }

    async fn get(&self, key: &BlobKey, range: Option<ByteRange>) -> Result<BlobRead, BlobError> {
        let path = self.path_of(key);
        let Some(range) = range else {
            return match self.store.get(&path).await {
                Ok(read) => Ok(blob_read(read)),
                Err(object_store::Error::NotFound { .. }) => Err(BlobError::NotFound),
                Err(e) => Err(unavailable("reading the blob", e)),
            };
        };
        // Ranges that select nothing whatever the size never reach the server as a GET: their
        // 416 needs the size, which only a HEAD gives.
        let hopeless = matches!(range, ByteRange::Suffix(0))
            || matches!(range, ByteRange::Bounded { first, last } if first > last);
        if !hopeless {
            let options = GetOptions { range: Some(get_range(range)), ..Default::default() };
            match self.store.get_opts(&path, options).await {
                Ok(read) => return Ok(blob_read(read)),
                Err(object_store::Error::NotFound { .. }) => return Err(BlobError::NotFound),
                Err(e) => tracing::debug!(error = %e, %path, ?range, "ranged GET failed; checking the size"),
            }
        }
        self.get_after_failed_range(&path, range).await
    }

    async fn head(&self, key: &BlobKey) -> Result<Option<BlobInfo>, BlobError> {
        match self.store.head(&self.path_of(key)).await {
            Ok(meta) => Ok(Some(BlobInfo { size: meta.size, last_modified: meta.last_modified })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(unavailable("reading blob metadata", e)),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match self.store.delete(&self.path_of(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(unavailable("deleting the blob", e)),
        }
    }

    fn list(&self, prefix: Option<BlobKey>) -> BlobListing {
        let under = match (&self.prefix, &prefix) {
            (Some(root), Some(prefix)) => Some(ObjectPath::from(format!("{root}/{prefix}"))),
            (Some(root), None) => Some(ObjectPath::from(root.as_str())),
            (None, Some(prefix)) => Some(ObjectPath::from(prefix.as_str())),
            (None, None) => None,
        };
        let this = self.clone();
        self.store
            .list(under.as_ref())
            .map_err(|e| unavailable("listing blobs", e))
            .try_filter_map(move |meta| {
                let entry = this.key_of(&meta.location).map(|key| BlobEntry {
                    key,
                    size: meta.size,
                    last_modified: meta.last_modified,
                });
                async move { Ok(entry) }
            })
            .boxed()
    }
}
