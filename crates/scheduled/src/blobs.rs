//! The orphaned-blob sweep: blobs no file refers to any more (an upload whose row was never
//! written, a deletion that removed the row but not the bytes).
//!
//! Listed in `CONTRACT_SCHEDULES`, but it needs the files table, which implements
//! [`KnownBlobs`]: the application registers it only once it has one to give.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use futures_util::StreamExt;
use workbench_core::RepositoryError;
use workbench_files::{BlobKey, BlobStore};
use workbench_jobs::{Job, JobFailure, JobHandler, JobOutcome};

pub const BLOB_SWEEP_KIND: &str = "blobs.sweep_orphans";

/// Keys asked about per round.
const CHUNK: usize = 500;

/// Which blob keys the file records refer to.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait KnownBlobs: Send + Sync {
    /// The keys among `keys` that no file record (original, thumbnail, rendition) refers to.
    async fn unknown(&self, keys: Vec<BlobKey>) -> Result<Vec<BlobKey>, RepositoryError>;
}

/// `blobs.sweep_orphans`: deletes blobs older than `min_age` that no file refers to. The age
/// keeps an upload in progress (bytes stored, row about to be written) safe.
pub struct OrphanBlobSweep {
    blobs: Arc<dyn BlobStore>,
    known: Arc<dyn KnownBlobs>,
    min_age: Duration,
}

impl std::fmt::Debug for OrphanBlobSweep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrphanBlobSweep").field("min_age", &self.min_age).finish_non_exhaustive()
    }
}

impl OrphanBlobSweep {
    pub fn new(blobs: Arc<dyn BlobStore>, known: Arc<dyn KnownBlobs>, min_age: Duration) -> Self {
        Self { blobs, known, min_age }
    }

    async fn sweep(&self, keys: Vec<BlobKey>) -> Result<u64, JobFailure> {
        let mut deleted = 0;
        for key in self.known.unknown(keys).await? {
            self.blobs.delete(&key).await.map_err(|e| JobFailure::new(e.to_string()))?;
            deleted += 1;
        }
        Ok(deleted)
    }
}

#[async_trait]
impl JobHandler for OrphanBlobSweep {
    async fn run(&self, _job: &Job) -> Result<JobOutcome, JobFailure> {
        let cutoff = workbench_jobs::now() - TimeDelta::from_std(self.min_age).unwrap_or(TimeDelta::days(1));
        let mut listing = self.blobs.list(None);
        let mut candidates = Vec::with_capacity(CHUNK);
        let mut deleted = 0;
        while let Some(entry) = listing.next().await {
            let entry = entry.map_err(|e| JobFailure::new(e.to_string()))?;
            if entry.last_modified < cutoff {
                candidates.push(entry.key);
            }
            if candidates.len() == CHUNK {
                deleted += self.sweep(std::mem::take(&mut candidates)).await?;
            }
        }
        if !candidates.is_empty() {
            deleted += self.sweep(candidates).await?;
        }
        Ok(JobOutcome::affected(deleted))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use workbench_files::{BlobEntry, MockBlobStore};

    use super::*;
    use crate::MockKnownBlobs;

    #[tokio::test]
    async fn only_old_unknown_blobs_are_deleted() {
        let key = |k: &str| BlobKey::parse(k).unwrap();
        let mut blobs = MockBlobStore::new();
        blobs.expect_list().returning(move |_| {
            let old = Utc::now() - TimeDelta::days(2);
            futures_util::stream::iter(vec![
                Ok(BlobEntry { key: BlobKey::parse("files/1").unwrap(), size: 1, last_modified: old }),
                Ok(BlobEntry { key: BlobKey::parse("files/2").unwrap(), size: 1, last_modified: old }),
                Ok(BlobEntry { key: BlobKey::parse("files/3").unwrap(), size: 1, last_modified: Utc::now() }),
            ])
            .boxed()
        });
        blobs.expect_delete().withf(move |k| *k == key("files/2")).times(1).returning(|_| Ok(()));
        let mut known = MockKnownBlobs::new();
        known
            .expect_unknown()
            .withf(move |keys| *keys == vec![key("files/1"), key("files/2")])
            .returning(|_| Ok(vec![BlobKey::parse("files/2").unwrap()]));
        let sweep = OrphanBlobSweep::new(Arc::new(blobs), Arc::new(known), Duration::from_secs(86_400));
        let outcome = sweep.run(&crate::users::tests::job(BLOB_SWEEP_KIND)).await.unwrap();
        assert_eq!(outcome.items_affected, Some(1));
    }
}
