//! The files domain: records in the database, bytes in the blob store, uploads typed by their
//! bytes, images and audio prepared on the media workers, PDFs rendered by Typst; and what the
//! files domain asks of the other domains, answered by their services. Wiring only: the rules
//! stay in each domain.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use workbench_chat::ChatService;
use workbench_core::{FieldErrors, PageRequest, RepositoryError, Validator, parse_instant};
use workbench_files::{
    AttachmentTargets, BlobStore, FileId, FileParts, FileService, MediaClass, MediaError, MediaProcessor,
    PreparedMedia, ProfileReport, RenditionService, ReportCount, ReportError, ReportSources, ShareService,
    StagedUpload, TaskAccess, TaskReport, TaskReportFilters, TaskReportRow,
};
use workbench_products::{CollectionService, ProductError, UserProductId};
use workbench_tasks::{Access, RawTaskFilter, TaskError, TaskFilter, TaskId, TaskService};
use workbench_users::{PasswordHasher, Principal, UserError, UserId, UserService, now};

use anyhow::Context;
use workbench_media::image::{ImagePolicy, Limits};
use workbench_media::{AllowlistSniffer, FfmpegTranscoder, MediaPreparer, MediaWorkers};
use workbench_pdf::TypstPdfRenderer;
use workbench_store::{Database, DieselFileRepository, DieselRenditionRepository, DieselShareLinkRepository};

use crate::config::Settings;
use workbench_metrics::Metrics;

/// The most tasks a task report lists; a report over more is refused as too long (narrow the
/// filters) rather than rendered for minutes.
const MAX_REPORT_TASKS: u64 = 5_000;

/// What the files service is built from besides the settings.
pub struct FilesParts<'a> {
    pub db: &'a Database,
    pub blobs: Arc<dyn BlobStore>,
    pub metrics: &'a Metrics,
    pub tasks: &'a TaskService,
    pub collection: &'a CollectionService,
    pub users: &'a UserService,
    pub chat: &'a ChatService,
}

/// The files service. Temporary files go to a directory of this process's own under
/// `DATA_DIR/tmp` (instances may share a data directory).
pub fn service(settings: &Settings, parts: FilesParts<'_>) -> anyhow::Result<FileService> {
    let FilesParts { db, blobs, metrics, tasks, collection, users, chat } = parts;
    let root = settings.server.data_dir.join("tmp");
    forget_stale_scratch(&root);
    let scratch = root.join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    let limits = Limits { max_pixels: settings.files.max_image_pixels, ..Limits::default() };
    let policy = ImagePolicy { limits, ..ImagePolicy::default() };
    let media = Arc::new(TimedMedia {
        inner: Arc::new(MediaPreparer::new(MediaWorkers::new(), policy)),
        metrics: metrics.clone(),
    });
    Ok(FileService::new(FileParts {
        files: Arc::new(DieselFileRepository::new(db.clone())),
        blobs,
        media,
        sniffer: Arc::new(AllowlistSniffer),
        pdf: Arc::new(TypstPdfRenderer::new()),
        targets: Arc::new(Targets { tasks: tasks.clone(), collection: collection.clone(), chat: chat.clone() }),
        sources: Arc::new(Reports { users: users.clone(), tasks: tasks.clone() }),
        scratch,
    }))
}

/// How long one transcode may take before it is killed: a two-hour file at 20x real time takes
/// six minutes.
const TRANSCODE_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Audio renditions, transcoded by `ffmpeg` when this machine has it (with its MP3 and Opus
/// encoders); says at start-up whether it does, so that a server without it still runs the rest.
pub fn renditions(
    settings: &Settings,
    db: &Database,
    blobs: Arc<dyn BlobStore>,
    files: &FileService,
) -> RenditionService {
    let workers = settings
        .files
        .transcode_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let transcoder = Arc::new(FfmpegTranscoder::new(&settings.files.ffmpeg_path, workers, TRANSCODE_TIME_LIMIT));
    let service = RenditionService::new(
        files.clone(),
        blobs,
        Arc::new(DieselRenditionRepository::new(db.clone())),
        transcoder,
        settings.files.rendition_cache_bytes,
    );
    match service.availability() {
        Ok(how) => tracing::info!(transcoder = %how, "audio renditions available"),
        Err(e) => tracing::warn!("audio renditions unavailable: {e}; GET /files/{{id}}/stream answers 503"),
    }
    service
}

/// Share links, on the same records and bytes as the files service.
pub fn shares(db: &Database, blobs: Arc<dyn BlobStore>, hasher: Arc<dyn PasswordHasher>) -> ShareService {
    ShareService::new(
        Arc::new(DieselFileRepository::new(db.clone())),
        Arc::new(DieselShareLinkRepository::new(db.clone())),
        blobs,
        hasher,
    )
}

/// Where file bytes are kept (`STORAGE_URL`).
pub fn blobs(settings: &Settings) -> anyhow::Result<Arc<dyn BlobStore>> {
    let (storage_url, s3) = settings.storage()?;
    workbench_storage::open(&storage_url, &s3).with_context(|| format!("STORAGE_URL {storage_url}"))
}

/// Removes what processes that stopped mid-upload left under `root` a day or more ago (a running
/// instance's own directory is younger, or touched by its uploads).
fn forget_stale_scratch(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    let day = std::time::Duration::from_secs(24 * 3600);
    for entry in entries.flatten() {
        let stale = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age > day));
        if stale {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> RepositoryError {
    RepositoryError::Unavailable(anyhow::anyhow!("{e}"))
}

/// Task visibility, item ownership and messages carrying a file, from the tasks, products and
/// chat services (the task cache included, so that checking an attachment's task usually costs
/// no round trip).
#[derive(Clone)]
struct Targets {
    pub tasks: TaskService,
    pub collection: CollectionService,
    pub chat: ChatService,
}

#[async_trait]
impl AttachmentTargets for Targets {
    async fn task_access(&self, caller: &Principal, task: i64) -> Result<TaskAccess, RepositoryError> {
        Ok(match self.tasks.access_to(caller, TaskId(task)).await.map_err(unavailable)? {
            Access::None => TaskAccess::Hidden,
            Access::Read => TaskAccess::Read,
            Access::Change | Access::Delete => TaskAccess::Attach,
        })
    }

    async fn owns_user_product(&self, owner: UserId, item: i64) -> Result<bool, RepositoryError> {
        // Ownership does not depend on role or status: a principal naming the owner suffices.
        let caller = Principal {
            id: owner,
            role: workbench_users::Role::User,
            status: workbench_users::UserStatus::Active,
            token_generation: 0,
        };
        match self.collection.get(&caller, UserProductId(item)).await {
            Ok(_) => Ok(true),
            Err(ProductError::NotFound(_)) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn carried_to(&self, caller: &Principal, file: FileId) -> Result<bool, RepositoryError> {
        self.chat.may_read_attachment(caller, file.0).await.map_err(unavailable)
    }
}

/// The profile and task-report data, from the accounts and tasks services.
#[derive(Clone)]
struct Reports {
    pub users: UserService,
    pub tasks: TaskService,
}

impl Reports {
    fn user_error(e: UserError) -> ReportError {
        ReportError::Unavailable(unavailable(e))
    }

    fn task_error(e: TaskError) -> ReportError {
        match e {
            TaskError::Validation(errors) => ReportError::Validation(errors),
            other => ReportError::Unavailable(unavailable(other)),
        }
    }
}

#[async_trait]
impl ReportSources for Reports {
    async fn profile(&self, caller: &Principal) -> Result<ProfileReport, ReportError> {
        let user = self.users.me(caller).await.map_err(Self::user_error)?;
        let stats = self.tasks.stats(caller).await.map_err(Self::task_error)?;
        Ok(ProfileReport {
            username: user.username,
            first_name: user.first_name,
            last_name: user.last_name,
            email: user.email,
            role: user.role.as_str().to_owned(),
            member_since: user.created_at,
            bio: user.bio,
            counts: vec![
                ReportCount::new("Tasks", stats.total),
                ReportCount::new("Pending", stats.pending),
                ReportCount::new("In progress", stats.in_progress),
                ReportCount::new("Completed", stats.completed),
                ReportCount::new("Overdue", stats.overdue),
            ],
            generated_at: now(),
        })
    }

    async fn task_report(&self, caller: &Principal, filters: TaskReportFilters) -> Result<TaskReport, ReportError> {
        let mut v = Validator::default();
        let due_after = v.optional("due_after", filters.due_after.clone(), |s| parse_instant(&s)).ok().flatten();
        let due_before = v.optional("due_before", filters.due_before.clone(), |s| parse_instant(&s)).ok().flatten();
        v.finish()?;
        let raw = RawTaskFilter {
            status: filters.status.clone(),
            due_after,
            due_before,
            sort: Some("due_date".to_owned()),
            ..RawTaskFilter::default()
        };
        let filter = TaskFilter::parse(raw, now())?;
        let mut rows = Vec::new();
        let mut usernames: HashMap<UserId, String> = HashMap::new();
        let mut page_number = 1;
        loop {
            let page = PageRequest::new(Some(page_number), Some(100)).map_err(ReportError::Validation)?;
            let page = self.tasks.list(caller, filter.clone(), page).await.map_err(Self::task_error)?;
            if page.total > MAX_REPORT_TASKS {
                return Err(ReportError::Validation(FieldErrors::single(
                    "data",
                    format!(
                        "selects {} tasks; a report lists at most {MAX_REPORT_TASKS}: narrow the filters",
                        page.total
                    ),
                )));
            }
            let last = page_number >= page.pages();
            let notes = self.tasks.structure_notes(&page.items).await.map_err(Self::task_error)?;
            for (task, notes) in page.items.into_iter().zip(notes) {
                let assignee = match task.assignee_id {
                    None => None,
                    Some(id) => Some(match usernames.get(&id) {
                        Some(name) => name.clone(),
                        None => {
                            let name = match self.users.get(caller, id).await {
                                Ok(user) => user.username,
                                // A disabled assignee hidden from this caller still has tasks.
                                Err(_) => format!("user {}", id.0),
                            };
                            usernames.insert(id, name.clone());
                            name
                        }
                    }),
                };
                rows.push(TaskReportRow {
                    title: task.title,
                    status: task.status.as_str().to_owned(),
                    priority: task.priority.as_str().to_owned(),
                    due_date: task.due_date.map(|d| d.date_naive()),
                    assignee,
                    notes,
                });
            }
            if last {
                break;
            }
            page_number += 1;
        }
        let user = self.users.me(caller).await.map_err(Self::user_error)?;
        Ok(TaskReport { prepared_for: user.username, filters, rows, generated_at: now() })
    }
}

/// The media step, timed for `/metrics` (`media_processing_seconds` by class).
struct TimedMedia {
    pub inner: Arc<dyn MediaProcessor>,
    pub metrics: Metrics,
}

#[async_trait]
impl MediaProcessor for TimedMedia {
    async fn prepare(&self, upload: &StagedUpload, scratch: &Path) -> Result<PreparedMedia, MediaError> {
        let started = Instant::now();
        let prepared = self.inner.prepare(upload, scratch).await;
        let class = match upload.class {
            MediaClass::Image => "image",
            MediaClass::Audio => "audio",
            MediaClass::Document => "document",
        };
        self.metrics.observe_media(class, started.elapsed().as_secs_f64());
        prepared
    }
}
