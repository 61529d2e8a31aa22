//! Audio renditions: an audio file transcoded to MP3 or Opus at one of four bitrates.
//!
//! The first request for a rendition starts one transcode and streams its output as it is
//! written; every request for the same rendition that arrives meanwhile reads the same output
//! from its start (one transcode, however many listeners). Once finished, the rendition is stored
//! in the blob store with a record, served like any download, and kept until the total size of
//! all renditions passes the cache's budget, least recently used first.
//!
//! The work itself is the [`Transcoder`]'s: a bounded pool with a time limit, which refuses at
//! once when more wait than it can take, or when it has no encoder at all.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::stream::{self, BoxStream};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::watch;
use workbench_core::{FieldErrors, RepositoryError, Validator};
use workbench_users::Principal;

use crate::error::Missing;
use crate::service::{Scratch, new_key};
use crate::{BlobKey, BlobRead, BlobStore, BlobStream, ByteRange, FileError, FileId, FileService, StoredFile};

/// The codecs a rendition may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// MPEG-1 Layer III, `audio/mpeg`.
    Mp3,
    /// Opus in Ogg, `audio/ogg`.
    Opus,
}

impl AudioCodec {
    /// Every codec.
    pub const ALL: [AudioCodec; 2] = [AudioCodec::Mp3, AudioCodec::Opus];

    /// The codec named `raw` (`mp3`, `opus`, as the `format` parameter has it), if there is one.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }

    /// As the `format` parameter names it.
    pub fn as_str(self) -> &'static str {
        match self {
            AudioCodec::Mp3 => "mp3",
            AudioCodec::Opus => "opus",
        }
    }

    /// The media type it is served as.
    pub fn content_type(self) -> &'static str {
        match self {
            AudioCodec::Mp3 => "audio/mpeg",
            AudioCodec::Opus => "audio/ogg",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            AudioCodec::Mp3 => "mp3",
            AudioCodec::Opus => "ogg",
        }
    }
}

/// One rendition of an audio file: a codec at a bitrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rendition {
    /// The codec.
    pub codec: AudioCodec,
    /// Kilobits per second, one of [`Rendition::BITRATES`].
    pub kbps: u32,
}

impl Rendition {
    /// The bitrates offered, in kilobits per second.
    pub const BITRATES: [u32; 4] = [64, 96, 128, 192];
    /// What `GET /files/{id}/stream` serves when asked nothing: MP3 at 128 kbit/s.
    pub const DEFAULT: Rendition = Rendition { codec: AudioCodec::Mp3, kbps: 128 };

    /// The rendition the `format` and `bitrate` parameters ask for (each defaulting to MP3 at
    /// 128 kbit/s), or every parameter that names none, at once. `bitrate` arrives as a number:
    /// text that is not one was refused before (a value that cannot be read, not a wrong one).
    pub fn parse(format: Option<&str>, bitrate: Option<i64>) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        let codec = v
            .optional("format", format, |raw| AudioCodec::parse(raw.trim()).ok_or("must be one of mp3, opus"))
            .map(|c| c.unwrap_or(Self::DEFAULT.codec));
        let kbps = v
            .optional("bitrate", bitrate, |raw| {
                u32::try_from(raw).ok().filter(|k| Self::BITRATES.contains(k)).ok_or("must be one of 64, 96, 128, 192")
            })
            .map(|k| k.unwrap_or(Self::DEFAULT.kbps));
        v.finish_with(codec.ok().zip(kbps.ok()).map(|(codec, kbps)| Self { codec, kbps }))
    }
}

impl fmt::Display for Rendition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}k", self.codec.as_str(), self.kbps)
    }
}

/// A finished rendition, as its record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRendition {
    /// The audio file it is a rendition of.
    pub file: FileId,
    /// Which rendition it is.
    pub rendition: Rendition,
    /// Where its bytes are in the blob store.
    pub blob_key: BlobKey,
    /// Its length in bytes.
    pub size: u64,
    /// Hex SHA-256 of its bytes: the download's `ETag`.
    pub sha256: String,
    /// When it was last served: the least recently used go first when the budget is passed.
    pub last_used_at: DateTime<Utc>,
}

/// Where the records of finished renditions live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RenditionRepository: Send + Sync {
    /// The record of `file`'s `rendition`, if it was finished and is still kept.
    async fn find(&self, file: FileId, rendition: Rendition) -> Result<Option<StoredRendition>, RepositoryError>;

    /// Records a finished rendition. MUST keep the record already there when the same rendition
    /// was recorded first (answering `false`), and MUST answer `MissingReference { field: "file" }`
    /// when the file is gone, decided by a foreign key.
    async fn insert(&self, rendition: StoredRendition) -> Result<bool, RepositoryError>;

    /// Notes that the rendition was served at `at`.
    async fn touch(&self, file: FileId, rendition: Rendition, at: DateTime<Utc>) -> Result<(), RepositoryError>;

    /// Deletes the records of the least recently used renditions until the rest total at most
    /// `budget` bytes, and answers their blob keys (the caller deletes the bytes).
    async fn evict_beyond(&self, budget: u64) -> Result<Vec<BlobKey>, RepositoryError>;
}

/// Why a transcode could not start, or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    /// This server has no encoder for the rendition (named, as `ffmpeg`).
    #[error("transcoding needs {encoder}, which this server does not have")]
    Unavailable {
        /// What is missing (`ffmpeg`).
        encoder: String,
    },
    /// More transcodes wait than the pool takes.
    #[error("every transcoding worker is busy")]
    Busy {
        /// When a transcode may have a worker, for `Retry-After`.
        retry_after: Duration,
    },
    /// The transcode failed; the cause is for the logs.
    #[error(transparent)]
    Failed(anyhow::Error),
}

/// How far a transcode got: the bytes written to its output so far, and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TranscodeProgress {
    /// How many bytes of the output are written so far.
    pub written: u64,
    /// `None` while it runs; the failure's words for the logs.
    pub outcome: Option<Result<(), String>>,
}

/// Turns audio into a rendition.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Transcoder: Send + Sync {
    /// Whether transcoding works at all here, in words for the start-up line.
    fn availability(&self) -> Result<String, TranscodeError>;

    /// Starts transcoding `input` (the file's bytes, passed as data) into the local file
    /// `output`, or refuses at once. MUST bound the transcodes running and waiting, bound each
    /// one's time, and report each chunk it writes through the returned progress.
    fn start(
        &self,
        input: BlobStream,
        rendition: Rendition,
        output: PathBuf,
    ) -> Result<watch::Receiver<TranscodeProgress>, TranscodeError>;
}

/// A rendition's bytes, as they can be served.
#[derive(Debug)]
pub enum RenditionBody {
    /// Finished and stored: a download, with ranges and an entity tag.
    Stored {
        /// Its record.
        rendition: StoredRendition,
        /// Its bytes (or the range asked).
        read: BlobRead,
    },
    /// Being transcoded: the output so far, then the rest as it is written.
    Live(LiveRendition),
}

/// The output of a transcode in progress, from its first byte.
pub struct LiveRendition {
    /// The output's bytes: what is written so far, then the rest as the transcode writes it.
    pub body: BoxStream<'static, std::io::Result<Bytes>>,
}

impl fmt::Debug for LiveRendition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveRendition").finish_non_exhaustive()
    }
}

/// One transcode in progress, shared by every request for its rendition. Its output file goes
/// when the last reader does.
struct Flight {
    output: PathBuf,
    progress: watch::Receiver<TranscodeProgress>,
    _scratch: Scratch,
}

type FlightKey = (FileId, Rendition);

/// How often a rendition's use is written: serving it again within this is not noted.
const TOUCH_EVERY: TimeDelta = TimeDelta::minutes(1);

/// How much of a transcode's output a reader takes at once.
const READ_CHUNK: usize = 64 * 1024;

/// Renditions: see the module documentation.
#[derive(Clone)]
pub struct RenditionService {
    files: FileService,
    blobs: Arc<dyn BlobStore>,
    renditions: Arc<dyn RenditionRepository>,
    transcoder: Arc<dyn Transcoder>,
    budget: u64,
    flights: Arc<Mutex<HashMap<FlightKey, Arc<Flight>>>>,
}

impl fmt::Debug for RenditionService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenditionService").field("budget", &self.budget).finish_non_exhaustive()
    }
}

impl RenditionService {
    /// Renditions of `files`' audio, kept within `budget` bytes in all.
    pub fn new(
        files: FileService,
        blobs: Arc<dyn BlobStore>,
        renditions: Arc<dyn RenditionRepository>,
        transcoder: Arc<dyn Transcoder>,
        budget: u64,
    ) -> Self {
        Self { files, blobs, renditions, transcoder, budget, flights: Arc::default() }
    }

    /// Whether transcoding works here, for the start-up line.
    pub fn availability(&self) -> Result<String, TranscodeError> {
        self.transcoder.availability()
    }

    /// The rendition of an audio file the caller may read: stored (whole, or the range `range`
    /// picks given the stored rendition's SHA-256), or being transcoded (from its first byte). A
    /// file that is not audio is `NotFound`, as is one the caller may not read.
    pub async fn open(
        &self,
        caller: &Principal,
        id: FileId,
        rendition: Rendition,
        range: impl FnOnce(&str) -> Option<ByteRange>,
    ) -> Result<RenditionBody, RenditionError> {
        let file = self.files.get(caller, id).await?;
        if !file.content_type.starts_with("audio/") {
            return Err(FileError::NotFound(Missing::Audio).into());
        }
        if let Some(stored) = self.renditions.find(id, rendition).await.map_err(FileError::from)? {
            match self.blobs.get(&stored.blob_key, range(&stored.sha256)).await {
                Ok(read) => {
                    self.note_use(&stored);
                    return Ok(RenditionBody::Stored { rendition: stored, read });
                }
                // Evicted by another request meanwhile: transcode it again.
                Err(crate::BlobError::NotFound) => {}
                Err(e) => return Err(FileError::from(e).into()),
            }
        }
        let flight = self.join_or_start(&file, rendition).await?;
        Ok(RenditionBody::Live(LiveRendition { body: follow(flight) }))
    }

    /// A rendition of `file`, read on behalf of a rule that already decided it may be (a station
    /// playing its owner's audio): stored, or being transcoded.
    pub async fn open_owned(&self, file: &StoredFile, rendition: Rendition) -> Result<RenditionBody, RenditionError> {
        if let Some(stored) = self.renditions.find(file.id, rendition).await.map_err(FileError::from)?
            && let Ok(read) = self.blobs.get(&stored.blob_key, None).await
        {
            self.note_use(&stored);
            return Ok(RenditionBody::Stored { rendition: stored, read });
        }
        let flight = self.join_or_start(file, rendition).await?;
        Ok(RenditionBody::Live(LiveRendition { body: follow(flight) }))
    }

    /// The transcode of `rendition` in progress, or a new one.
    async fn join_or_start(&self, file: &StoredFile, rendition: Rendition) -> Result<Arc<Flight>, RenditionError> {
        let key = (file.id, rendition);
        if let Some(flight) = self.flights().get(&key) {
            return Ok(flight.clone());
        }
        // Read and scratch space first, so that the map is only locked while nothing is awaited.
        let input = self.blobs.get(&file.blob_key, None).await.map_err(FileError::from)?;
        let scratch = Scratch::create(self.files.scratch_dir()).await?;
        let output = scratch.path().join(format!("rendition.{}", rendition.codec.extension()));
        let mut flights = self.flights();
        if let Some(flight) = flights.get(&key) {
            return Ok(flight.clone());
        }
        let progress = self.transcoder.start(input.body, rendition, output.clone())?;
        let flight = Arc::new(Flight { output, progress, _scratch: scratch });
        flights.insert(key, flight.clone());
        drop(flights);
        tokio::spawn(self.clone().keep(key, flight.clone()));
        Ok(flight)
    }

    /// Waits for the transcode's end; stores a finished rendition, then lets the flight go.
    async fn keep(self, key: FlightKey, flight: Arc<Flight>) {
        let mut progress = flight.progress.clone();
        let outcome = loop {
            if let Some(outcome) = progress.borrow_and_update().outcome.clone() {
                break outcome;
            }
            if progress.changed().await.is_err() {
                break Err("the transcoder went away".to_owned());
            }
        };
        match outcome {
            Ok(()) => {
                if let Err(e) = self.store(key, &flight).await {
                    tracing::warn!(file = key.0.0, rendition = %key.1, error = %e, "could not keep a rendition");
                }
            }
            Err(why) => tracing::warn!(file = key.0.0, rendition = %key.1, error = %why, "transcode failed"),
        }
        self.flights().remove(&key);
    }

    async fn store(&self, (file, rendition): FlightKey, flight: &Flight) -> Result<(), FileError> {
        let (size, sha256) = digest(&flight.output).await.map_err(|e| FileError::Unavailable(e.into()))?;
        let key = new_key("renditions", Some(rendition.codec.extension()));
        self.blobs.put_file(&key, &flight.output).await?;
        let record = StoredRendition {
            file,
            rendition,
            blob_key: key.clone(),
            size,
            sha256,
            last_used_at: workbench_users::now(),
        };
        let kept = match self.renditions.insert(record).await {
            Ok(kept) => kept,
            Err(e) => {
                let _ = self.blobs.delete(&key).await;
                // The file was deleted while it was transcoded: nothing to keep.
                return match e {
                    RepositoryError::MissingReference { .. } => Ok(()),
                    e => Err(e.into()),
                };
            }
        };
        if !kept {
            let _ = self.blobs.delete(&key).await;
        }
        for evicted in self.renditions.evict_beyond(self.budget).await? {
            if let Err(e) = self.blobs.delete(&evicted).await {
                tracing::warn!(key = %evicted, error = %e, "could not delete an evicted rendition; the orphan sweep will");
            }
        }
        Ok(())
    }

    /// Notes the use of a stored rendition, off the request's path and at most once a minute.
    fn note_use(&self, stored: &StoredRendition) {
        let now = workbench_users::now();
        if now - stored.last_used_at < TOUCH_EVERY {
            return;
        }
        let (renditions, file, rendition) = (self.renditions.clone(), stored.file, stored.rendition);
        tokio::spawn(async move {
            if let Err(e) = renditions.touch(file, rendition, now).await {
                tracing::debug!(error = %e, "could not note a rendition's use");
            }
        });
    }

    fn flights(&self) -> std::sync::MutexGuard<'_, HashMap<FlightKey, Arc<Flight>>> {
        self.flights.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Why a rendition cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum RenditionError {
    /// The file cannot be read by the caller, is not audio, or the rendition is unknown.
    #[error(transparent)]
    File(#[from] FileError),
    /// The transcode could not start, or failed.
    #[error(transparent)]
    Transcode(#[from] TranscodeError),
}

/// The size and SHA-256 of a finished output.
async fn digest(path: &std::path::Path) -> std::io::Result<(u64, String)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; READ_CHUNK];
    let mut size = 0;
    loop {
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            return Ok((size, hex::encode(hasher.finalize())));
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
}

/// A reader's place in a flight's output.
struct Reader {
    flight: Arc<Flight>,
    progress: watch::Receiver<TranscodeProgress>,
    file: Option<tokio::fs::File>,
    offset: u64,
    ended: bool,
}

/// The flight's output from its first byte, following the transcode until it ends.
fn follow(flight: Arc<Flight>) -> BoxStream<'static, std::io::Result<Bytes>> {
    let progress = flight.progress.clone();
    let reader = Reader { flight, progress, file: None, offset: 0, ended: false };
    Box::pin(stream::unfold(reader, |mut reader| async move {
        if reader.ended {
            return None;
        }
        match reader.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), reader)),
            Ok(None) => None,
            Err(e) => {
                reader.ended = true;
                Some((Err(e), reader))
            }
        }
    }))
}

impl Reader {
    async fn next_chunk(&mut self) -> std::io::Result<Option<Bytes>> {
        loop {
            let (written, outcome) = {
                let progress = self.progress.borrow_and_update();
                (progress.written, progress.outcome.clone())
            };
            if self.offset < written {
                return self.read_up_to(written).await.map(Some);
            }
            match outcome {
                Some(Ok(())) => return Ok(None),
                Some(Err(why)) => return Err(std::io::Error::other(why)),
                None => {
                    if self.progress.changed().await.is_err() {
                        return Err(std::io::Error::other("the transcoder went away"));
                    }
                }
            }
        }
    }

    async fn read_up_to(&mut self, written: u64) -> std::io::Result<Bytes> {
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let mut file = tokio::fs::File::open(&self.flight.output).await?;
                file.seek(std::io::SeekFrom::Start(self.offset)).await?;
                self.file.insert(file)
            }
        };
        let want = usize::try_from(written - self.offset).unwrap_or(READ_CHUNK).min(READ_CHUNK);
        let mut buffer = vec![0_u8; want];
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            return Err(std::io::Error::other("a transcode's output is shorter than reported"));
        }
        buffer.truncate(n);
        self.offset += n as u64;
        Ok(Bytes::from(buffer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_default_to_mp3_at_128_and_name_every_bad_one() {
        assert_eq!(Rendition::parse(None, None).unwrap(), Rendition::DEFAULT);
        assert_eq!(Rendition::parse(Some("opus"), Some(64)).unwrap(), Rendition { codec: AudioCodec::Opus, kbps: 64 });
        let errors = Rendition::parse(Some("wav"), Some(100)).unwrap_err();
        let fields: Vec<_> = errors.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["format", "bitrate"]);
        assert!(Rendition::parse(Some("mp3"), Some(-128)).is_err());
        assert!(Rendition::parse(Some("mp3"), Some(i64::from(u32::MAX) + 128)).is_err(), "no wrap-around");
        assert!(Rendition::parse(Some(""), None).is_err());
        assert!(Rendition::parse(Some("MP3"), None).is_err(), "names are lower case, as documented");
    }
}
