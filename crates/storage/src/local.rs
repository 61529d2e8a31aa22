//! The local-disk blob store: one file per blob under a root directory, the key as its relative
//! path. Writes go to a temporary name in the blob's own directory, are flushed to disk, then
//! renamed over the final name, so a reader sees the old blob or the new one, never a part.

use std::fs;
use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;
use workbench_files::{BlobEntry, BlobError, BlobInfo, BlobKey, BlobListing, BlobRead, BlobStore, ByteRange};

/// How much a read pulls from disk per chunk of the stream.
const READ_CHUNK: usize = 64 * 1024;

/// Temporary files carry this marker. `#` is not allowed in a [`BlobKey`], so no blob can be
/// mistaken for one, and listing skips them.
const TEMP_MARKER: char = '#';

/// Blobs as files under a directory.
///
/// `put_file` hard-links the source into place when it can (no copy when the upload's
/// temporary file is on the same file system), so the caller must not write to the source
/// after handing it over; removing it is fine. A process killed in the middle of a write can
/// leave a `.<name>#<uuid>.tmp` file beside the blob; listing ignores such files.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    /// A store rooted at `root`, which is created if missing.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    /// The directory blobs are kept under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &BlobKey) -> PathBuf {
        // A BlobKey has no empty, `.` or `..` segment and no leading slash, so this stays
        // under the root.
        self.root.join(key.as_str())
    }
}

fn unavailable(context: &str, error: io::Error) -> BlobError {
    BlobError::Unavailable(anyhow::Error::new(error).context(context.to_owned()))
}

fn modified(meta: &fs::Metadata) -> DateTime<Utc> {
    meta.modified().map(DateTime::<Utc>::from).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Runs blocking file-system work off the async executor.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| BlobError::Unavailable(anyhow::anyhow!("blocking file task failed: {e}")))?
}

/// Stores `source` at `target` through a temporary file beside it.
fn put_file_blocking(source: &Path, target: &Path) -> Result<BlobInfo, BlobError> {
    let dir = target.parent().ok_or_else(|| BlobError::Unavailable(anyhow::anyhow!("blob path has no parent")))?;
    fs::create_dir_all(dir).map_err(|e| unavailable("creating the blob's directory", e))?;
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("blob");
    let temp = dir.join(format!(".{name}{TEMP_MARKER}{}.tmp", uuid::Uuid::new_v4().simple()));

    let result = write_temp_then_rename(source, &temp, target, dir);
    if result.is_err() {
        // Best effort: the temporary file may not exist, or may already be renamed.
        let _ = fs::remove_file(&temp);
    }
    result
}

fn write_temp_then_rename(source: &Path, temp: &Path, target: &Path, dir: &Path) -> Result<BlobInfo, BlobError> {
    // A hard link costs no copy when the upload's temporary file is on the same file system
    // (it usually is: both live under DATA_DIR); otherwise copy (copy_file_range, no buffer).
    // Only a regular file is linked: linking a symbolic link would store the link itself.
    let is_regular = fs::symlink_metadata(source).is_ok_and(|m| m.file_type().is_file());
    if !is_regular || fs::hard_link(source, temp).is_err() {
        fs::copy(source, temp).map_err(|e| unavailable("copying the source file", e))?;
    }
    let file =
        fs::OpenOptions::new().write(true).open(temp).map_err(|e| unavailable("opening the temporary file", e))?;
    // The blob's age is when it was stored, not when its source was written: the orphan sweep
    // must not mistake a blob stored a moment ago from an old file for an old blob.
    file.set_modified(SystemTime::now()).map_err(|e| unavailable("stamping the temporary file", e))?;
    file.sync_all().map_err(|e| unavailable("flushing the temporary file", e))?;
    let meta = file.metadata().map_err(|e| unavailable("reading the temporary file", e))?;
    drop(file);
    fs::rename(temp, target).map_err(|e| unavailable("renaming the temporary file", e))?;
    // The rename itself is durable only once the directory is flushed.
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| unavailable("flushing the blob's directory", e))?;
    Ok(BlobInfo { size: meta.len(), last_modified: modified(&meta) })
}

/// The metadata of the blob at `path`, `None` when there is none (a directory is not a blob).
fn blob_metadata(path: &Path) -> Result<Option<fs::Metadata>, BlobError> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Some(meta)),
        Ok(_) => Ok(None),
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => Ok(None),
        Err(e) => Err(unavailable("reading blob metadata", e)),
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put_file(&self, key: &BlobKey, source: &Path) -> Result<BlobInfo, BlobError> {
        let (source, target) = (source.to_owned(), self.path_of(key));
        blocking(move || put_file_blocking(&source, &target)).await
    }

    async fn get(&self, key: &BlobKey, range: Option<ByteRange>) -> Result<BlobRead, BlobError> {
        let path = self.path_of(key);
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
                return Err(BlobError::NotFound);
            }
            Err(e) => return Err(unavailable("opening the blob", e)),
        };
        let meta = file.metadata().await.map_err(|e| unavailable("reading blob metadata", e))?;
        if !meta.is_file() {
            return Err(BlobError::NotFound);
        }
        let size = meta.len();
        let span = match range {
            Some(range) => range.resolve(size)?,
            None => 0..size,
        };
        if span.start > 0 {
            file.seek(SeekFrom::Start(span.start)).await.map_err(|e| unavailable("seeking in the blob", e))?;
        }
        let body = ReaderStream::with_capacity(file.take(span.end - span.start), READ_CHUNK)
            .map_err(|e| unavailable("reading the blob", e))
            .boxed();
        Ok(BlobRead { size, range: span, last_modified: modified(&meta), body })
    }

    async fn head(&self, key: &BlobKey) -> Result<Option<BlobInfo>, BlobError> {
        let path = self.path_of(key);
        let meta = blocking(move || blob_metadata(&path)).await?;
        Ok(meta.map(|meta| BlobInfo { size: meta.len(), last_modified: modified(&meta) }))
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        let path = self.path_of(key);
        blocking(move || {
            if blob_metadata(&path)?.is_none() {
                return Ok(());
            }
            match fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(unavailable("deleting the blob", e)),
            }
        })
        .await
    }

    fn list(&self, prefix: Option<BlobKey>) -> BlobListing {
        let start = match &prefix {
            Some(prefix) => self.path_of(prefix),
            None => self.root.clone(),
        };
        let walk = Walk { root: self.root.clone(), pending_dirs: vec![start], found: Vec::new() };
        stream::try_unfold(walk, |mut walk| async move {
            loop {
                if let Some(entry) = walk.found.pop() {
                    return Ok(Some((entry, walk)));
                }
                let Some(dir) = walk.pending_dirs.pop() else { return Ok(None) };
                let root = walk.root.clone();
                let (entries, subdirs) = blocking(move || read_dir_blocking(&root, &dir)).await?;
                walk.found = entries;
                walk.pending_dirs.extend(subdirs);
            }
        })
        .boxed()
    }
}

/// A directory walk in progress: directories still to read, and blobs found but not yet yielded.
struct Walk {
    root: PathBuf,
    pending_dirs: Vec<PathBuf>,
    found: Vec<BlobEntry>,
}

/// The blobs directly in `dir` and its subdirectories. Temporary files, symbolic links and
/// names that are not valid keys (files someone else put there) are skipped; a missing `dir`
/// is an empty listing.
fn read_dir_blocking(root: &Path, dir: &Path) -> Result<(Vec<BlobEntry>, Vec<PathBuf>), BlobError> {
    let mut blobs = Vec::new();
    let mut dirs = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
            return Ok((blobs, dirs));
        }
        Err(e) => return Err(unavailable("listing a blob directory", e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| unavailable("listing a blob directory", e))?;
        let file_type = entry.file_type().map_err(|e| unavailable("listing a blob directory", e))?;
        let path = entry.path();
        if file_type.is_dir() {
            dirs.push(path);
            continue;
        }
        if !file_type.is_file() || entry.file_name().to_string_lossy().contains(TEMP_MARKER) {
            continue;
        }
        let Some(key) =
            path.strip_prefix(root).ok().and_then(|rel| rel.to_str()).and_then(|rel| BlobKey::parse(rel).ok())
        else {
            continue;
        };
        match entry.metadata() {
            Ok(meta) => blobs.push(BlobEntry { key, size: meta.len(), last_modified: modified(&meta) }),
            // Deleted between listing and reading: it is gone, so it is not listed.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(unavailable("reading blob metadata", e)),
        }
    }
    Ok((blobs, dirs))
}
