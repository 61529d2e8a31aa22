//! Running media jobs off the async executor, at most one per core at a time.
//!
//! The choice: a [`tokio::sync::Semaphore`] with one permit per core
//! (`std::thread::available_parallelism`), and [`tokio::task::spawn_blocking`] for the job once a
//! permit is held. Rather than a dedicated rayon pool, because:
//! - the wait for a permit is asynchronous and FIFO: a burst of uploads queues as futures
//!   costing a few bytes each, not as parked threads, and no request starves;
//! - the permit travels with the blocking job and is released when the job ends, even if the
//!   request that started it was dropped meanwhile: the bound holds for the CPU actually in use;
//! - tokio's blocking pool is already there; a second pool would be one more thing to size and
//!   shut down. (rayon's work stealing would help only if one image were split across cores,
//!   which with one job per core is not wanted.)

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::audio::{self, AudioError, AudioInfo};
use crate::image::{self, EncodedImage, ImageError, ImagePolicy, ProcessedImage, Transform};
use crate::sniff::MediaType;

/// Runs image and audio jobs on tokio's blocking pool, never more at once than its concurrency.
/// Cheap to clone; clones share the bound.
#[derive(Debug, Clone)]
pub struct MediaWorkers {
    permits: Arc<Semaphore>,
    concurrency: usize,
}

impl Default for MediaWorkers {
    fn default() -> Self {
        Self::new()
    }
}

impl MediaWorkers {
    /// One job per core, as `std::thread::available_parallelism` counts them (1 if unknown).
    pub fn new() -> Self {
        Self::with_concurrency(std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
    }

    /// At most `concurrency` jobs at a time.
    pub fn with_concurrency(concurrency: NonZeroUsize) -> Self {
        Self { permits: Arc::new(Semaphore::new(concurrency.get())), concurrency: concurrency.get() }
    }

    /// How many jobs may run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// [`image::process`] on a worker. Must be called within a tokio runtime.
    pub async fn process_image<B>(&self, input: B, policy: ImagePolicy) -> Result<ProcessedImage, ImageError>
    where
        B: AsRef<[u8]> + Send + 'static,
    {
        self.run(move || image::process(input.as_ref(), &policy), ImageError::Worker).await
    }

    /// [`image::transform`] on a worker. Must be called within a tokio runtime.
    pub async fn transform_image<B>(&self, input: B, request: Transform) -> Result<EncodedImage, ImageError>
    where
        B: AsRef<[u8]> + Send + 'static,
    {
        self.run(move || image::transform(input.as_ref(), &request), ImageError::Worker).await
    }

    /// [`audio::probe_file`] on a worker (it reads the file, and may walk an MP3's frames).
    pub async fn probe_audio(&self, path: PathBuf, media_type: MediaType) -> Result<AudioInfo, AudioError> {
        self.run(move || audio::probe_file(&path, media_type), AudioError::Worker).await
    }

    async fn run<T, E>(
        &self,
        job: impl FnOnce() -> Result<T, E> + Send + 'static,
        stopped: fn(String) -> E,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        // The semaphore is never closed, so acquiring fails only in theory.
        let permit = Arc::clone(&self.permits).acquire_owned().await.map_err(|e| stopped(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await
        .map_err(|e| stopped(e.to_string()))?
    }
}
