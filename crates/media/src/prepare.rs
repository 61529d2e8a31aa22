//! The files domain's [`MediaProcessor`]: what an accepted upload becomes before it is stored.
//!
//! Images are re-encoded upright, bounded and without metadata, with a thumbnail; audio keeps its
//! bytes and gains its stream headers; documents are stored as received. Every file name is
//! sanitised and given an extension that fits the stored type.

use std::path::Path;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use workbench_files::{AudioMeta, MediaError, MediaProcessor, PreparedMedia, StagedUpload, Thumbnail};

use crate::audio::AudioError;
use crate::image::{ImageError, ImagePolicy};
use crate::{MediaClass, MediaType, MediaWorkers, sanitize_filename, with_extension_for};

/// The largest image file decoded. Larger uploads of an image type are refused before they are
/// read into memory (the pixel limits are checked from the header afterwards).
pub const MAX_IMAGE_BYTES: u64 = 64 * 1024 * 1024;

/// Prepares uploads on [`MediaWorkers`] (one job per core, off the async executor).
#[derive(Debug, Clone, Default)]
pub struct MediaPreparer {
    workers: MediaWorkers,
    policy: ImagePolicy,
}

impl MediaPreparer {
    pub fn new(workers: MediaWorkers, policy: ImagePolicy) -> Self {
        Self { workers, policy }
    }
}

#[async_trait]
impl MediaProcessor for MediaPreparer {
    async fn prepare(&self, upload: &StagedUpload, scratch: &Path) -> Result<PreparedMedia, MediaError> {
        let media_type = MediaType::parse(&upload.content_type).ok_or_else(|| {
            MediaError::Failed(anyhow::anyhow!("{} is not a type the sniffer accepts", upload.content_type))
        })?;
        let name = sanitize_filename(upload.filename.as_deref().unwrap_or_default());
        let as_received = |audio| PreparedMedia {
            path: upload.path.clone(),
            size: upload.size,
            sha256: upload.sha256.clone(),
            content_type: media_type.as_str().to_owned(),
            width: None,
            height: None,
            audio,
            thumbnail: None,
            filename: with_extension_for(&name, media_type),
        };
        match media_type.class() {
            MediaClass::Document => Ok(as_received(None)),
            MediaClass::Audio => {
                let info = self.workers.probe_audio(upload.path.clone(), media_type).await.map_err(|e| match e {
                    AudioError::Malformed(_) => MediaError::Invalid(e.to_string()),
                    other => MediaError::Failed(other.into()),
                })?;
                Ok(as_received(Some(AudioMeta {
                    duration_ms: info.duration_ms,
                    sample_rate: info.sample_rate,
                    channels: info.channels,
                })))
            }
            MediaClass::Image => {
                if upload.size > MAX_IMAGE_BYTES {
                    return Err(MediaError::Invalid(format!(
                        "images may be at most {} MiB",
                        MAX_IMAGE_BYTES / (1024 * 1024)
                    )));
                }
                let bytes = tokio::fs::read(&upload.path).await.map_err(|e| MediaError::Failed(e.into()))?;
                let processed = self.workers.process_image(bytes, self.policy).await.map_err(|e| match e {
                    ImageError::TooLarge { .. }
                    | ImageError::TooManyBytes { .. }
                    | ImageError::Malformed(_)
                    | ImageError::NotAnImage => MediaError::Invalid(e.to_string()),
                    other => MediaError::Failed(other.into()),
                })?;
                let (image, thumbnail) = (processed.image, processed.thumbnail);
                let path = scratch.join("image");
                let thumbnail_path = scratch.join("thumbnail");
                let sha256 = hex::encode(Sha256::digest(&image.bytes));
                let write = |path, bytes| async move {
                    tokio::fs::write(path, bytes).await.map_err(|e| MediaError::Failed(e.into()))
                };
                write(&path, &image.bytes).await?;
                write(&thumbnail_path, &thumbnail.bytes).await?;
                Ok(PreparedMedia {
                    path,
                    size: image.bytes.len() as u64,
                    sha256,
                    content_type: image.media_type.as_str().to_owned(),
                    width: Some(image.width),
                    height: Some(image.height),
                    audio: None,
                    thumbnail: Some(Thumbnail {
                        path: thumbnail_path,
                        content_type: thumbnail.media_type.as_str().to_owned(),
                    }),
                    filename: with_extension_for(&name, image.media_type),
                })
            }
        }
    }
}

impl From<MediaClass> for workbench_files::MediaClass {
    fn from(class: MediaClass) -> Self {
        match class {
            MediaClass::Image => workbench_files::MediaClass::Image,
            MediaClass::Audio => workbench_files::MediaClass::Audio,
            MediaClass::Document => workbench_files::MediaClass::Document,
        }
    }
}
