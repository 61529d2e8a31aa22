//! The online backup of an embedded SQLite database into `DATA_DIR/backups`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use workbench_core::RepositoryError;
use workbench_jobs::{Job, JobFailure, JobHandler, JobOutcome};

pub const BACKUP_KIND: &str = "db.backup";

const PREFIX: &str = "workbench-";
const SUFFIX: &str = ".db";

/// What a backup needs from the store.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait DatabaseBackup: Send + Sync {
    /// Writes a consistent copy of the whole database to `path` (which MUST NOT exist) while the
    /// database stays in use, and answers `true`; answers `false`, writing nothing, when the
    /// engine is not one this applies to (PostgreSQL is backed up by its own tools).
    async fn backup_into(&self, path: PathBuf) -> Result<bool, RepositoryError>;
}

/// `db.backup`: a copy named `workbench-<UTC time>.db` in `dir`, written under a temporary name
/// and renamed when complete, then all but the newest `keep` copies removed.
pub struct SqliteBackup {
    database: Arc<dyn DatabaseBackup>,
    dir: PathBuf,
    keep: usize,
}

impl std::fmt::Debug for SqliteBackup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackup").field("dir", &self.dir).field("keep", &self.keep).finish_non_exhaustive()
    }
}

impl SqliteBackup {
    /// `keep`: how many copies to keep (at least 1).
    pub fn new(database: Arc<dyn DatabaseBackup>, dir: PathBuf, keep: usize) -> Self {
        Self { database, dir, keep: keep.max(1) }
    }
}

#[async_trait]
impl JobHandler for SqliteBackup {
    async fn run(&self, job: &Job) -> Result<JobOutcome, JobFailure> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let at = job.schedule_slot().map_or_else(workbench_jobs::now, |s| s.slot);
        let name = format!("{PREFIX}{}{SUFFIX}", at.format("%Y%m%dT%H%M%SZ"));
        let target = self.dir.join(&name);
        let partial = self.dir.join(format!(".{name}.partial"));
        // A run interrupted earlier may have left its partial copy; VACUUM INTO refuses to
        // overwrite.
        let _ = tokio::fs::remove_file(&partial).await;
        if !self.database.backup_into(partial.clone()).await? {
            return Ok(JobOutcome::skipped(
                "not SQLite: back PostgreSQL up with its own tools (pg_dump, base backups)",
            ));
        }
        // SQLite makes a new database file `0644` less the umask; a copy holds every secret the
        // database does, so it is its owner's alone (as the directory is when the app made it).
        tokio::fs::set_permissions(&partial, std::os::unix::fs::PermissionsExt::from_mode(0o600)).await?;
        tokio::fs::rename(&partial, &target).await?;
        let removed = prune(&self.dir, self.keep).await?;
        Ok(JobOutcome::affected(1).with_note(format!("wrote {name}; removed {removed} older copies")))
    }
}

/// Removes all but the newest `keep` backups in `dir` (names sort by time); returns how many.
async fn prune(dir: &Path, keep: usize) -> std::io::Result<usize> {
    let mut names = Vec::new();
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        if let Some(name) = entry.file_name().to_str()
            && name.starts_with(PREFIX)
            && name.ends_with(SUFFIX)
        {
            names.push(name.to_owned());
        }
    }
    names.sort_unstable();
    let excess = names.len().saturating_sub(keep);
    for name in &names[..excess] {
        tokio::fs::remove_file(dir.join(name)).await?;
    }
    Ok(excess)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockDatabaseBackup;

    #[tokio::test]
    async fn copies_are_written_whole_and_only_the_newest_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        for old in ["workbench-20260101T020000Z.db", "workbench-20260102T020000Z.db", "notes.txt"] {
            std::fs::write(dir.path().join(old), b"old").unwrap();
        }
        let mut database = MockDatabaseBackup::new();
        database.expect_backup_into().returning(|path| {
            assert!(
                path.file_name().unwrap().to_str().unwrap().ends_with(".partial"),
                "written under a temporary name"
            );
            std::fs::write(path, b"copy").unwrap();
            Ok(true)
        });
        let handler = SqliteBackup::new(Arc::new(database), dir.path().to_owned(), 2);
        let outcome = handler.run(&crate::users::tests::job(BACKUP_KIND)).await.unwrap();
        assert_eq!(outcome.items_affected, Some(1));
        let mut names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names.len(), 3, "{names:?}");
        assert_eq!(names[0], "notes.txt");
        assert_eq!(names[1], "workbench-20260102T020000Z.db", "the oldest copy went");
        assert_eq!(std::fs::read(dir.path().join(&names[2])).unwrap(), b"copy");
    }

    #[tokio::test]
    async fn postgres_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut database = MockDatabaseBackup::new();
        database.expect_backup_into().returning(|_| Ok(false));
        let handler = SqliteBackup::new(Arc::new(database), dir.path().join("backups"), 7);
        assert!(handler.run(&crate::users::tests::job(BACKUP_KIND)).await.unwrap().skipped);
    }
}
