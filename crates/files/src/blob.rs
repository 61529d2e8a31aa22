//! Where file bytes live: the [`BlobStore`] port, the keys it is addressed by, byte ranges and
//! the errors every adapter reports in the same words.
//!
//! The port is built for streaming: a blob is written from a finished local file (never from a
//! buffer holding the whole upload) and read back as a stream of chunks, whole or as one range.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;

/// The longest key accepted. S3 allows 1 024 bytes; half leaves room for a bucket prefix.
pub const MAX_BLOB_KEY_LEN: usize = 512;

/// The name of a blob inside a store: a relative path of lower-case ASCII letters, digits and
/// `/ _ . -`, without empty segments, `.` or `..` segments, or a leading or trailing slash.
///
/// The alphabet is deliberately small: such a key means the same thing on every file system
/// and every S3 implementation, needs no escaping in URLs, and cannot climb out of the store's
/// root directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);

/// Why a string is not a [`BlobKey`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid blob key {key:?}: {reason}")]
pub struct InvalidBlobKey {
    /// The rejected key.
    pub key: String,
    /// What rule it broke.
    pub reason: &'static str,
}

impl BlobKey {
    /// Checks `raw` against the key rules.
    pub fn parse(raw: impl Into<String>) -> Result<Self, InvalidBlobKey> {
        let key = raw.into();
        let reason = if key.is_empty() {
            Some("must not be empty")
        } else if key.len() > MAX_BLOB_KEY_LEN {
            Some("is longer than 512 bytes")
        } else if !key.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'/' | b'_' | b'.' | b'-')) {
            Some("may only hold a-z, 0-9, '/', '_', '.' and '-'")
        } else if key.starts_with('/') || key.ends_with('/') {
            Some("must not start or end with '/'")
        } else if key.contains("..") {
            Some("must not contain '..'")
        } else if key.split('/').any(|segment| segment.is_empty() || segment == ".") {
            Some("must not have empty or '.' segments")
        } else {
            None
        };
        match reason {
            None => Ok(Self(key)),
            Some(reason) => Err(InvalidBlobKey { key, reason }),
        }
    }

    /// The key as text, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's `/`-separated segments, outermost first.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// Whether this key lies under `prefix` taken as a folder (`a/b` is under `a`, `ab` is not).
    pub fn is_under(&self, prefix: &BlobKey) -> bool {
        self.0.strip_prefix(prefix.as_str()).is_some_and(|rest| rest.starts_with('/'))
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for BlobKey {
    type Err = InvalidBlobKey;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// One byte range of a blob, in the three forms an HTTP `Range: bytes=` header can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last`: both ends inclusive, as HTTP counts. A `last` past the end of the
    /// blob means "to the end"; `first > last` is unsatisfiable.
    Bounded {
        /// The first byte's offset.
        first: u64,
        /// The last byte's offset, inclusive.
        last: u64,
    },
    /// `bytes=first-`: from `first` to the end.
    From(u64),
    /// `bytes=-n`: the last `n` bytes (the whole blob when it is shorter).
    Suffix(u64),
}

impl ByteRange {
    /// The half-open span of a blob of `size` bytes that this range selects, or
    /// [`BlobError::InvalidRange`] when it selects nothing (RFC 9110 §14.1.1): a start at or past
    /// the end, a suffix of zero bytes, `first > last`, or any range of an empty blob.
    pub fn resolve(self, size: u64) -> Result<Range<u64>, BlobError> {
        let unsatisfiable = Err(BlobError::InvalidRange { size });
        match self {
            ByteRange::Bounded { first, last } if first <= last && first < size => {
                Ok(first..last.saturating_add(1).min(size))
            }
            ByteRange::From(first) if first < size => Ok(first..size),
            ByteRange::Suffix(len) if len > 0 && size > 0 => Ok(size.saturating_sub(len)..size),
            _ => unsatisfiable,
        }
    }
}

/// What a store knows about one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobInfo {
    /// Its length in bytes.
    pub size: u64,
    /// When it was last written, as the store's clock saw it.
    pub last_modified: DateTime<Utc>,
}

/// One blob found by [`BlobStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobEntry {
    /// The blob's key.
    pub key: BlobKey,
    /// Its length in bytes.
    pub size: u64,
    /// When it was last written, as the store's clock saw it.
    pub last_modified: DateTime<Utc>,
}

/// The bytes of a blob, or of one range of it, as a stream of chunks.
pub type BlobStream = BoxStream<'static, Result<Bytes, BlobError>>;

/// The blobs under a prefix, as they are found.
pub type BlobListing = BoxStream<'static, Result<BlobEntry, BlobError>>;

/// An open read of a blob: how big the whole blob is, which bytes follow, and the bytes.
pub struct BlobRead {
    /// The size of the whole blob, whatever range was asked for (`Content-Range: bytes a-b/size`).
    pub size: u64,
    /// The half-open span of the blob that `body` yields; `0..size` for a whole read.
    pub range: Range<u64>,
    /// When the blob was last written.
    pub last_modified: DateTime<Utc>,
    /// Exactly `range.end - range.start` bytes, in order, in chunks of the store's choosing.
    pub body: BlobStream,
}

impl BlobRead {
    /// How many bytes `body` yields.
    pub fn len(&self) -> u64 {
        self.range.end - self.range.start
    }

    /// Whether `body` yields nothing (an empty blob read whole).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for BlobRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobRead")
            .field("size", &self.size)
            .field("range", &self.range)
            .field("last_modified", &self.last_modified)
            .finish_non_exhaustive()
    }
}

/// What can go wrong with a blob, in the same words for every store.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No blob has this key.
    #[error("no blob with this key")]
    NotFound,
    /// The requested range selects no byte of the blob (HTTP 416, with `Content-Range: bytes */size`).
    #[error("range not satisfiable for a blob of {size} bytes")]
    InvalidRange {
        /// The size of the whole blob.
        size: u64,
    },
    /// The store could not do what was asked (disk full, permissions, network, credentials, a
    /// missing source file); the cause is for the logs, not for clients.
    #[error("blob store unavailable: {0:#}")]
    Unavailable(#[source] anyhow::Error),
}

/// Where file bytes are kept: a local directory, an S3 bucket.
///
/// Every adapter MUST pass the shared contract suite (`workbench-storage`'s tests), which holds
/// it to the rules written on each method.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores the finished local file `source` under `key`, replacing any blob already there,
    /// and returns what was stored.
    ///
    /// MUST be atomic: until it returns `Ok`, readers see the old blob or none, never a partial
    /// one; when it fails (the source cannot be read, the store refuses), nothing is left under
    /// `key` that was not there before and no temporary data is left behind. MUST NOT hold the
    /// whole file in memory beyond a bounded buffer. `source` is left in place for the caller.
    async fn put_file(&self, key: &BlobKey, source: &Path) -> Result<BlobInfo, BlobError>;

    /// Opens the blob for reading, whole or only `range`.
    ///
    /// MUST return [`BlobError::NotFound`] when there is no such blob and
    /// [`BlobError::InvalidRange`] when `range` resolves to nothing (see [`ByteRange::resolve`]).
    /// MUST fetch only the bytes of the range from the backend, not the whole blob, and MUST
    /// stream them: the body yields bounded chunks as they arrive.
    async fn get(&self, key: &BlobKey, range: Option<ByteRange>) -> Result<BlobRead, BlobError>;

    /// Size and modification time of the blob, or `None` when there is no such blob.
    async fn head(&self, key: &BlobKey) -> Result<Option<BlobInfo>, BlobError>;

    /// Removes the blob. MUST be idempotent: deleting a missing key is `Ok`.
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;

    /// Every blob whose key lies under `prefix` taken as a folder (every blob when `None`), with
    /// its size and modification time, in no particular order, so that a sweep can find blobs
    /// older than some age that no file row refers to.
    ///
    /// MUST NOT list writes still in progress (temporary files, unfinished multipart uploads).
    fn list(&self, prefix: Option<BlobKey>) -> BlobListing;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_accept_nested_lower_case_paths() {
        for ok in ["a", "files/2026/01/abc-def_1.bin", "thumbs/x.y.z", "0/1/2"] {
            assert_eq!(BlobKey::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn keys_refuse_what_could_escape_or_mean_different_things() {
        for bad in
            ["", "/abs", "trailing/", "a//b", "../up", "a/../b", "a/./b", ".", "UPPER", "sp ace", "a\\b", "é", "a#b"]
        {
            assert!(BlobKey::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(BlobKey::parse("x".repeat(MAX_BLOB_KEY_LEN)).is_ok());
        assert!(BlobKey::parse("x".repeat(MAX_BLOB_KEY_LEN + 1)).is_err());
    }

    #[test]
    fn under_is_folder_wise() {
        let prefix = BlobKey::parse("a/b").unwrap();
        assert!(BlobKey::parse("a/b/c").unwrap().is_under(&prefix));
        assert!(!BlobKey::parse("a/bc").unwrap().is_under(&prefix));
        assert!(!BlobKey::parse("a/b").unwrap().is_under(&prefix));
    }

    #[test]
    fn ranges_resolve_as_http_says() {
        assert_eq!(ByteRange::Bounded { first: 0, last: 499 }.resolve(1000).unwrap(), 0..500);
        assert_eq!(ByteRange::Bounded { first: 900, last: 5000 }.resolve(1000).unwrap(), 900..1000);
        assert_eq!(ByteRange::From(999).resolve(1000).unwrap(), 999..1000);
        assert_eq!(ByteRange::Suffix(500).resolve(1000).unwrap(), 500..1000);
        assert_eq!(ByteRange::Suffix(5000).resolve(1000).unwrap(), 0..1000);
    }

    #[test]
    fn unsatisfiable_ranges_carry_the_size() {
        for range in [
            ByteRange::From(1000),
            ByteRange::Bounded { first: 1000, last: 1001 },
            ByteRange::Bounded { first: 5, last: 4 },
            ByteRange::Suffix(0),
        ] {
            assert!(matches!(range.resolve(1000), Err(BlobError::InvalidRange { size: 1000 })), "{range:?}");
        }
        assert!(matches!(ByteRange::Suffix(1).resolve(0), Err(BlobError::InvalidRange { size: 0 })));
        assert!(matches!(ByteRange::From(0).resolve(0), Err(BlobError::InvalidRange { size: 0 })));
    }
}
