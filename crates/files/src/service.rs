//! `FileService`: uploads, reads, deletions and generated PDFs, with the rules on who may do what.
//!
//! Bytes are stored before their record: a failure between the two leaves bytes that no record
//! refers to, which the orphaned-blob sweep removes later; the reverse order could leave a record
//! whose bytes are missing. A deletion removes the record first, then the bytes, for the same
//! reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::RngCore;
use sha2::{Digest, Sha256};
use workbench_core::Validator;
use workbench_users::Principal;

use crate::error::Missing;
use crate::file::may_delete;
use crate::{
    Attachment, AttachmentTargets, BlobKey, BlobRead, BlobStore, ByteRange, ContentSniffer, FileError, FileId,
    FileKind, FileRepository, Invoice, InvoiceDraft, MediaProcessor, NewFile, PdfDocument, PdfRenderer, ReportSources,
    Sniff, StagedUpload, StoredFile, TaskAccess, TaskReportFilters, Thumbnail, UploadDraft,
};

/// Why a project's viewer may not attach a file to its task.
const VIEWERS_READ: &str = "A project's viewers read its tasks' files; attaching one is a change, for its editors.";

/// What a generated PDF is made from.
#[derive(Debug, Clone, PartialEq)]
pub enum PdfRequest {
    /// An invoice, from what the client sent.
    Invoice(InvoiceDraft),
    /// The caller's profile.
    Profile,
    /// The caller's visible tasks matching the filters.
    TaskReport(TaskReportFilters),
}

/// Where an upload goes: where the client said (`POST /files`), or where the route says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// `task_id` / `user_product_id` come from the upload's fields.
    AsRequested,
    /// The route names the task or item; the fields' own are ignored.
    Bound(Attachment),
}

/// Files: see the module documentation.
#[derive(Clone)]
pub struct FileService {
    files: Arc<dyn FileRepository>,
    blobs: Arc<dyn BlobStore>,
    media: Arc<dyn MediaProcessor>,
    sniffer: Arc<dyn ContentSniffer>,
    pdf: Arc<dyn PdfRenderer>,
    targets: Arc<dyn AttachmentTargets>,
    sources: Arc<dyn ReportSources>,
    /// Where temporary files are written (an upload's renditions, a rendered PDF).
    scratch: PathBuf,
}

impl std::fmt::Debug for FileService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileService").field("scratch", &self.scratch).finish_non_exhaustive()
    }
}

/// The parts a [`FileService`] is built from.
#[expect(missing_debug_implementations, reason = "a bag of ports, consumed at once by FileService::new")]
pub struct FileParts {
    /// Where file records are stored.
    pub files: Arc<dyn FileRepository>,
    /// Where file bytes are stored.
    pub blobs: Arc<dyn BlobStore>,
    /// Re-encodes images and reads audio headers.
    pub media: Arc<dyn MediaProcessor>,
    /// Decides what an upload is from its bytes.
    pub sniffer: Arc<dyn ContentSniffer>,
    /// Renders PDFs.
    pub pdf: Arc<dyn PdfRenderer>,
    /// Who may see a task, own a collection item or read a chat message carrying a file: the other
    /// domains' answers the file rules need.
    pub targets: Arc<dyn AttachmentTargets>,
    /// The data of the profile and task reports, owned by other domains.
    pub sources: Arc<dyn ReportSources>,
    /// A local directory for temporary files; created when missing.
    pub scratch: PathBuf,
}

impl FileService {
    /// The service, from its parts.
    pub fn new(parts: FileParts) -> Self {
        let FileParts { files, blobs, media, sniffer, pdf, targets, sources, scratch } = parts;
        Self { files, blobs, media, sniffer, pdf, targets, sources, scratch }
    }

    /// A look at one upload's bytes as they arrive: receivers feed it while they stage the file.
    pub fn sniff(&self) -> Box<dyn Sniff> {
        self.sniffer.start()
    }

    /// Where uploads are received before they are stored: the same directory as the service's
    /// own temporary files.
    pub fn scratch_dir(&self) -> &Path {
        &self.scratch
    }

    /// Stores an upload whose bytes were received into `upload.path` and accepted by type.
    ///
    /// Every failing field is reported at once: `kind`, `task_id` and `user_product_id` (a task
    /// the caller cannot see, an item not in their collection, or both at once), and `file` for an
    /// image that cannot be used. With [`Destination::Bound`], a task the caller cannot see or an
    /// item of someone else is `NotFound`. Attaching is a change of the task: a task the caller
    /// sees but may not change (a project's viewers) is `Forbidden`, whichever way it is named.
    pub async fn upload(
        &self,
        caller: &Principal,
        upload: StagedUpload,
        draft: UploadDraft,
        destination: Destination,
    ) -> Result<StoredFile, FileError> {
        let mut v = Validator::default();
        let kind = v.optional("kind", draft.kind, |raw| FileKind::parse(&raw)).ok().flatten();
        let attachment = match destination {
            Destination::Bound(attachment) => {
                self.check_bound(caller, attachment, TaskAccess::Attach).await?;
                Some(attachment)
            }
            Destination::AsRequested => {
                self.requested_attachment(caller, &draft.task_id, &draft.user_product_id, &mut v).await?
            }
        };
        v.finish()?;
        let kind = kind.unwrap_or_else(|| FileKind::default_for(upload.class));
        let attachment = attachment.unwrap_or(Attachment::None);

        let scratch = Scratch::create(&self.scratch).await?;
        let prepared = self.media.prepare(&upload, scratch.path()).await?;
        let blob_key = new_key("files", None);
        let thumbnail_key = prepared.thumbnail.as_ref().map(|t| new_key("thumbs", Some(t.extension())));
        self.blobs.put_file(&blob_key, &prepared.path).await?;
        if let (Some(thumbnail), Some(key)) = (&prepared.thumbnail, &thumbnail_key)
            && let Err(e) = self.blobs.put_file(key, &thumbnail.path).await
        {
            self.forget_blobs(&blob_key, None).await;
            return Err(e.into());
        }
        let record = NewFile {
            owner_id: caller.id,
            filename: prepared.filename,
            content_type: prepared.content_type,
            size: prepared.size,
            kind,
            sha256: prepared.sha256,
            width: prepared.width,
            height: prepared.height,
            audio: prepared.audio,
            attachment,
            blob_key: blob_key.clone(),
            thumbnail_key: thumbnail_key.clone(),
            created_at: workbench_users::now(),
        };
        drop(scratch);
        self.insert(record, destination).await
    }

    /// Renders a PDF from a template and stores it as a file of kind `pdf`, owned by the caller.
    pub async fn render_pdf(&self, caller: &Principal, request: PdfRequest) -> Result<StoredFile, FileError> {
        let document = match request {
            PdfRequest::Invoice(draft) => PdfDocument::Invoice(Invoice::parse(draft)?),
            PdfRequest::Profile => PdfDocument::Profile(self.sources.profile(caller).await?),
            PdfRequest::TaskReport(filters) => {
                PdfDocument::TaskReport(self.sources.task_report(caller, filters).await?)
            }
        };
        let filename = document.file_name();
        let rendered = self.pdf.render(document).await?;
        let scratch = Scratch::create(&self.scratch).await?;
        let path = scratch.path().join("document.pdf");
        tokio::fs::write(&path, &rendered.bytes).await.map_err(|e| FileError::Unavailable(e.into()))?;
        let key = new_key("files", None);
        self.blobs.put_file(&key, &path).await?;
        let record = NewFile {
            owner_id: caller.id,
            filename,
            content_type: "application/pdf".to_owned(),
            size: rendered.bytes.len() as u64,
            kind: FileKind::Pdf,
            sha256: hex::encode(Sha256::digest(&rendered.bytes)),
            width: None,
            height: None,
            audio: None,
            attachment: Attachment::None,
            blob_key: key,
            thumbnail_key: None,
            created_at: workbench_users::now(),
        };
        drop(scratch);
        self.insert(record, Destination::AsRequested).await
    }

    /// The file's record, when the caller may read it: its owner, admins, anyone who can see the
    /// task it is attached to, and anyone who may read a chat message carrying it. Anyone else is
    /// told it does not exist. Every way to a file (metadata, bytes, thumbnail) asks here.
    pub async fn get(&self, caller: &Principal, id: FileId) -> Result<StoredFile, FileError> {
        let file = self.files.find(id).await?.ok_or(FileError::NotFound(Missing::File))?;
        if self.may_read(caller, &file).await? { Ok(file) } else { Err(FileError::NotFound(Missing::File)) }
    }

    /// The file, when `owner` owns it (other domains' rules on their own users' files, as a
    /// station's playlist).
    pub async fn find_owned(
        &self,
        owner: workbench_users::UserId,
        id: FileId,
    ) -> Result<Option<StoredFile>, FileError> {
        Ok(self.files.find(id).await?.filter(|file| file.owner_id == owner))
    }

    /// Opens the file's bytes, whole or one range.
    pub async fn open(
        &self,
        caller: &Principal,
        id: FileId,
        range: Option<ByteRange>,
    ) -> Result<(StoredFile, BlobRead), FileError> {
        let file = self.get(caller, id).await?;
        let read = self.blobs.get(&file.blob_key, range).await?;
        Ok((file, read))
    }

    /// Opens an image's thumbnail (any other file has none), with its media type.
    pub async fn thumbnail(
        &self,
        caller: &Principal,
        id: FileId,
    ) -> Result<(StoredFile, &'static str, BlobRead), FileError> {
        let file = self.get(caller, id).await?;
        let key = file.thumbnail_key.clone().ok_or(FileError::NotFound(Missing::Thumbnail))?;
        let read = self.blobs.get(&key, None).await?;
        Ok((file, Thumbnail::content_type_of(&key), read))
    }

    /// Deletes the file and its bytes: its owner or an admin. Someone who may only read it is
    /// refused; anyone else is told it does not exist.
    pub async fn delete(&self, caller: &Principal, id: FileId) -> Result<(), FileError> {
        let file = self.get(caller, id).await?;
        if !may_delete(caller, &file) {
            return Err(FileError::Forbidden("Only the file's owner or an admin may delete it."));
        }
        if let Some(file) = self.files.delete(id).await? {
            self.forget_blobs(&file.blob_key, file.thumbnail_key.as_ref()).await;
        }
        Ok(())
    }

    /// The files attached to a task the caller can see, oldest first.
    pub async fn task_attachments(&self, caller: &Principal, task: i64) -> Result<Vec<StoredFile>, FileError> {
        self.check_bound(caller, Attachment::Task(task), TaskAccess::Read).await?;
        Ok(self.files.attached(Attachment::Task(task)).await?)
    }

    /// The files of an item of the caller's collection, oldest first.
    pub async fn item_files(&self, caller: &Principal, item: i64) -> Result<Vec<StoredFile>, FileError> {
        self.check_bound(caller, Attachment::UserProduct(item), TaskAccess::Read).await?;
        Ok(self.files.attached(Attachment::UserProduct(item)).await?)
    }

    /// At most `limit` of the caller's files whose name contains `text` (admins: anyone's).
    pub async fn search(&self, caller: &Principal, text: &str, limit: u32) -> Result<Vec<StoredFile>, FileError> {
        let owner = if caller.role.is_admin() { None } else { Some(caller.id) };
        Ok(self.files.search(owner, text.to_owned(), limit).await?)
    }

    /// How many files [`Self::search`] finds when nothing limits it.
    pub async fn search_total(&self, caller: &Principal, text: &str) -> Result<u64, FileError> {
        let owner = if caller.role.is_admin() { None } else { Some(caller.id) };
        Ok(self.files.count_matching(owner, text.to_owned()).await?)
    }

    async fn may_read(&self, caller: &Principal, file: &StoredFile) -> Result<bool, FileError> {
        if file.owner_id == caller.id || caller.role.is_admin() {
            return Ok(true);
        }
        let through_task = match file.attachment {
            Attachment::Task(task) => self.targets.task_access(caller, task).await? >= TaskAccess::Read,
            // An item's files are its owner's alone, unless they send one in a message.
            Attachment::UserProduct(_) | Attachment::None => false,
        };
        Ok(through_task || self.targets.carried_to(caller, file.id).await?)
    }

    /// A route's task must be visible to the caller (and, with `need` of `Attach`, theirs to
    /// change: else `Forbidden`), a route's item in their collection.
    async fn check_bound(&self, caller: &Principal, attachment: Attachment, need: TaskAccess) -> Result<(), FileError> {
        let (allowed, missing) = match attachment {
            Attachment::Task(task) => match self.targets.task_access(caller, task).await? {
                TaskAccess::Hidden => (false, Missing::Task),
                access if access < need => return Err(FileError::Forbidden(VIEWERS_READ)),
                _ => (true, Missing::Task),
            },
            Attachment::UserProduct(item) => {
                (self.targets.owns_user_product(caller.id, item).await?, Missing::UserProduct)
            }
            Attachment::None => (true, Missing::File),
        };
        if allowed { Ok(()) } else { Err(FileError::NotFound(missing)) }
    }

    /// The attachment the upload's fields ask for, each reference checked; failures are added to `v`.
    async fn requested_attachment(
        &self,
        caller: &Principal,
        task_id: &Option<String>,
        user_product_id: &Option<String>,
        v: &mut Validator,
    ) -> Result<Option<Attachment>, FileError> {
        let task = v.optional("task_id", task_id.clone(), |raw| parse_id(&raw)).ok().flatten().flatten();
        let item =
            v.optional("user_product_id", user_product_id.clone(), |raw| parse_id(&raw)).ok().flatten().flatten();
        match (task, item) {
            (Some(_), Some(_)) => {
                v.fail("user_product_id", "a file is attached to a task or to an item, not both");
                Ok(None)
            }
            (Some(task), None) => match self.targets.task_access(caller, task).await? {
                TaskAccess::Attach => Ok(Some(Attachment::Task(task))),
                TaskAccess::Read => Err(FileError::Forbidden(VIEWERS_READ)),
                TaskAccess::Hidden => {
                    v.fail("task_id", "must be a task you can see");
                    Ok(None)
                }
            },
            (None, Some(item)) => {
                if self.targets.owns_user_product(caller.id, item).await? {
                    Ok(Some(Attachment::UserProduct(item)))
                } else {
                    v.fail("user_product_id", "must be an item of your collection");
                    Ok(None)
                }
            }
            (None, None) => Ok(None),
        }
    }

    /// Inserts the record; when that fails the stored bytes are removed again. A target deleted
    /// meanwhile is reported as the route or the field named it.
    async fn insert(&self, record: NewFile, destination: Destination) -> Result<StoredFile, FileError> {
        let (blob_key, thumbnail_key) = (record.blob_key.clone(), record.thumbnail_key.clone());
        match self.files.insert(record).await {
            Ok(file) => Ok(file),
            Err(e) => {
                self.forget_blobs(&blob_key, thumbnail_key.as_ref()).await;
                Err(match (destination, FileError::from(e)) {
                    (Destination::Bound(Attachment::Task(_)), FileError::Validation(_)) => {
                        FileError::NotFound(Missing::Task)
                    }
                    (Destination::Bound(Attachment::UserProduct(_)), FileError::Validation(_)) => {
                        FileError::NotFound(Missing::UserProduct)
                    }
                    (_, other) => other,
                })
            }
        }
    }

    /// Deletes blobs whose record is gone or was never written. A failure is logged, not
    /// returned: the orphaned-blob sweep removes what is left.
    async fn forget_blobs(&self, key: &BlobKey, thumbnail: Option<&BlobKey>) {
        for key in std::iter::once(key).chain(thumbnail) {
            if let Err(e) = self.blobs.delete(key).await {
                tracing::warn!(key = %key, error = %e, "could not delete a blob; the orphan sweep will");
            }
        }
    }
}

/// Ids in multipart fields are text: a positive integer, surrounding whitespace ignored; empty or
/// `null` (how clients encode a JSON null in a form field) means none.
fn parse_id(raw: &str) -> Result<Option<i64>, String> {
    let raw = raw.trim();
    if raw.is_empty() || raw == "null" {
        return Ok(None);
    }
    match raw.parse::<i64>() {
        Ok(id) if id > 0 => Ok(Some(id)),
        _ => Err("must be a positive integer".to_owned()),
    }
}

/// A fresh, unguessable key under `folder`, spread over 256 sub-folders so that no directory of
/// a local store grows too large, with an extension when one tells the blob's type.
pub(crate) fn new_key(folder: &str, extension: Option<&str>) -> BlobKey {
    let mut bytes = [0_u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let id = hex::encode(bytes);
    let dot = extension.map(|e| format!(".{e}")).unwrap_or_default();
    BlobKey::parse(format!("{folder}/{}/{id}{dot}", &id[..2]))
        .expect("lower-case hex and a lower-case extension under a fixed folder is a valid key")
}

/// A temporary directory of the service's own, removed when dropped.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) async fn create(root: &Path) -> Result<Self, FileError> {
        let mut bytes = [0_u8; 8];
        rand::rng().fill_bytes(&mut bytes);
        let path = root.join(format!("work-{}", hex::encode(bytes)));
        tokio::fs::create_dir_all(&path).await.map_err(|e| FileError::Unavailable(e.into()))?;
        Ok(Self(path))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Small files at most (a rendition, a PDF): removing them inline is cheaper than a task.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use workbench_core::RepositoryError;
    use workbench_users::{Role, User, UserId};

    use super::*;
    use crate::{
        MediaClass, MockAttachmentTargets, MockBlobStore, MockContentSniffer, MockFileRepository, MockMediaProcessor,
        MockPdfRenderer, MockReportSources, PreparedMedia,
    };

    fn caller(id: i64, role: Role) -> Principal {
        let mut user = User::sample(id);
        user.role = role;
        Principal::from(&user)
    }

    fn key(k: &str) -> BlobKey {
        BlobKey::parse(k).unwrap()
    }

    fn stored(id: i64, owner: i64, attachment: Attachment, thumbnail: bool) -> StoredFile {
        StoredFile {
            id: FileId(id),
            owner_id: UserId(owner),
            filename: "a.png".into(),
            content_type: "image/png".into(),
            size: 3,
            kind: FileKind::Image,
            sha256: "00".into(),
            width: Some(1),
            height: Some(1),
            audio: None,
            attachment,
            blob_key: key("files/aa/1"),
            thumbnail_key: thumbnail.then(|| key("thumbs/aa/1")),
            created_at: Utc::now(),
        }
    }

    fn upload() -> StagedUpload {
        StagedUpload {
            path: "/nonexistent/upload".into(),
            size: 3,
            sha256: "00".into(),
            content_type: "text/plain; charset=utf-8".into(),
            class: MediaClass::Document,
            filename: Some("notes.txt".into()),
        }
    }

    struct Mocks {
        files: MockFileRepository,
        blobs: MockBlobStore,
        media: MockMediaProcessor,
        targets: MockAttachmentTargets,
    }

    impl Mocks {
        fn new() -> Self {
            Self {
                files: MockFileRepository::new(),
                blobs: MockBlobStore::new(),
                media: MockMediaProcessor::new(),
                targets: MockAttachmentTargets::new(),
            }
        }

        fn service(self) -> FileService {
            FileService::new(FileParts {
                files: Arc::new(self.files),
                blobs: Arc::new(self.blobs),
                media: Arc::new(self.media),
                sniffer: Arc::new(MockContentSniffer::new()),
                pdf: Arc::new(MockPdfRenderer::new()),
                targets: Arc::new(self.targets),
                sources: Arc::new(MockReportSources::new()),
                scratch: std::env::temp_dir().join("workbench-files-unit"),
            })
        }
    }

    fn prepared() -> PreparedMedia {
        PreparedMedia {
            path: "/nonexistent/upload".into(),
            size: 3,
            sha256: "00".into(),
            content_type: "text/plain; charset=utf-8".into(),
            width: None,
            height: None,
            audio: None,
            thumbnail: None,
            filename: "notes.txt".into(),
        }
    }

    #[tokio::test]
    async fn every_failing_field_of_an_upload_is_reported_at_once_and_nothing_is_stored() {
        let mut m = Mocks::new();
        m.targets.expect_task_access().returning(|_, _| Ok(TaskAccess::Hidden));
        let draft = UploadDraft { kind: Some("photo".into()), task_id: Some("7".into()), user_product_id: None };
        let err = m.service().upload(&caller(1, Role::User), upload(), draft, Destination::AsRequested).await;
        let Err(FileError::Validation(errors)) = err else { panic!("{err:?}") };
        assert!(errors.contains("kind") && errors.contains("task_id"), "{errors}");

        let draft = UploadDraft { kind: None, task_id: Some("x".into()), user_product_id: Some("1".into()) };
        let mut m = Mocks::new();
        m.targets.expect_owns_user_product().returning(|_, _| Ok(true));
        let err = m.service().upload(&caller(1, Role::User), upload(), draft, Destination::AsRequested).await;
        let Err(FileError::Validation(errors)) = err else { panic!("{err:?}") };
        assert!(errors.contains("task_id"), "{errors}");
    }

    #[tokio::test]
    async fn a_file_goes_to_a_task_or_an_item_not_both() {
        let draft = UploadDraft { kind: None, task_id: Some("1".into()), user_product_id: Some("2".into()) };
        let err =
            Mocks::new().service().upload(&caller(1, Role::User), upload(), draft, Destination::AsRequested).await;
        let Err(FileError::Validation(errors)) = err else { panic!("{err:?}") };
        assert!(errors.contains("user_product_id"), "{errors}");
    }

    #[tokio::test]
    async fn attaching_to_a_task_is_a_change_whichever_way_the_task_is_named() {
        for destination in [Destination::Bound(Attachment::Task(7)), Destination::AsRequested] {
            let mut m = Mocks::new();
            m.targets.expect_task_access().returning(|_, _| Ok(TaskAccess::Read));
            m.media.expect_prepare().never();
            m.blobs.expect_put_file().never();
            let draft = UploadDraft { task_id: Some("7".into()), ..UploadDraft::default() };
            let err = m.service().upload(&caller(4, Role::User), upload(), draft, destination).await;
            assert!(matches!(err, Err(FileError::Forbidden(_))), "{destination:?}: {err:?}");
        }
        // Reading the task's files is not.
        let mut m = Mocks::new();
        m.targets.expect_task_access().returning(|_, _| Ok(TaskAccess::Read));
        m.files.expect_attached().returning(|_| Ok(vec![stored(1, 2, Attachment::Task(7), false)]));
        assert_eq!(m.service().task_attachments(&caller(4, Role::User), 7).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_route_naming_someone_elses_item_is_not_found() {
        let mut m = Mocks::new();
        m.targets.expect_owns_user_product().returning(|_, _| Ok(false));
        let bound = Destination::Bound(Attachment::UserProduct(5));
        let err = m.service().upload(&caller(1, Role::User), upload(), UploadDraft::default(), bound).await;
        assert!(matches!(err, Err(FileError::NotFound(Missing::UserProduct))), "{err:?}");
    }

    #[tokio::test]
    async fn an_upload_stores_its_bytes_then_its_record_with_the_default_kind() {
        let mut m = Mocks::new();
        m.media.expect_prepare().returning(|_, _| Ok(prepared()));
        m.blobs.expect_put_file().times(1).returning(|_, _| Ok(crate::BlobInfo { size: 3, last_modified: Utc::now() }));
        m.files.expect_insert().withf(|f| f.kind == FileKind::Document && f.attachment == Attachment::None).returning(
            |f| {
                let mut file = stored(1, f.owner_id.0, f.attachment, false);
                file.kind = f.kind;
                Ok(file)
            },
        );
        let file = m
            .service()
            .upload(&caller(1, Role::User), upload(), UploadDraft::default(), Destination::AsRequested)
            .await
            .unwrap();
        assert_eq!(file.kind, FileKind::Document);
    }

    #[tokio::test]
    async fn a_record_that_cannot_be_written_takes_its_bytes_with_it() {
        let mut m = Mocks::new();
        m.media.expect_prepare().returning(|_, _| Ok(prepared()));
        m.blobs.expect_put_file().returning(|_, _| Ok(crate::BlobInfo { size: 3, last_modified: Utc::now() }));
        m.targets.expect_task_access().returning(|_, _| Ok(TaskAccess::Attach));
        m.files.expect_insert().returning(|_| Err(RepositoryError::MissingReference { field: "task_id" }));
        m.blobs.expect_delete().times(1).returning(|_| Ok(()));
        let bound = Destination::Bound(Attachment::Task(3));
        let err = m.service().upload(&caller(1, Role::User), upload(), UploadDraft::default(), bound).await;
        assert!(matches!(err, Err(FileError::NotFound(Missing::Task))), "a task deleted meanwhile: {err:?}");
    }

    #[tokio::test]
    async fn who_may_read_a_file() {
        let on_task = stored(1, 2, Attachment::Task(9), false);
        for (who, task_access, readable) in [
            (caller(2, Role::User), TaskAccess::Hidden, true),      // the owner
            (caller(3, Role::Admin), TaskAccess::Hidden, true),     // an admin
            (caller(4, Role::User), TaskAccess::Read, true),        // someone who sees the task
            (caller(5, Role::User), TaskAccess::Hidden, false),     // anyone else
            (caller(6, Role::Moderator), TaskAccess::Attach, true), // moderators see every task
        ] {
            let mut m = Mocks::new();
            let file = on_task.clone();
            m.files.expect_find().returning(move |_| Ok(Some(file.clone())));
            m.targets.expect_task_access().returning(move |_, _| Ok(task_access));
            m.targets.expect_carried_to().returning(|_, _| Ok(false));
            let got = m.service().get(&who, FileId(1)).await;
            assert_eq!(got.is_ok(), readable, "{who:?}: {got:?}");
            if !readable {
                assert!(matches!(got, Err(FileError::NotFound(Missing::File))));
            }
        }
        // An item's files are its owner's (and admins') alone...
        let mut m = Mocks::new();
        m.files.expect_find().returning(|_| Ok(Some(stored(1, 2, Attachment::UserProduct(4), false))));
        m.targets.expect_carried_to().returning(|_, _| Ok(false));
        assert!(m.service().get(&caller(6, Role::Moderator), FileId(1)).await.is_err());
        // ...unless a chat message the caller may read carries one.
        let mut m = Mocks::new();
        m.files.expect_find().returning(|_| Ok(Some(stored(1, 2, Attachment::UserProduct(4), false))));
        m.targets.expect_carried_to().withf(|who, file| who.id.0 == 7 && *file == FileId(1)).returning(|_, _| Ok(true));
        assert!(m.service().get(&caller(7, Role::User), FileId(1)).await.is_ok());
    }

    #[tokio::test]
    async fn a_reader_who_is_not_the_owner_may_not_delete() {
        let mut m = Mocks::new();
        m.files.expect_find().returning(|_| Ok(Some(stored(1, 2, Attachment::Task(9), true))));
        m.targets.expect_task_access().returning(|_, _| Ok(TaskAccess::Read));
        m.files.expect_delete().never();
        let err = m.service().delete(&caller(4, Role::User), FileId(1)).await;
        assert!(matches!(err, Err(FileError::Forbidden(_))), "{err:?}");
    }

    #[tokio::test]
    async fn deleting_removes_the_record_then_the_bytes_and_the_thumbnail() {
        let mut m = Mocks::new();
        m.files.expect_find().returning(|_| Ok(Some(stored(1, 2, Attachment::None, true))));
        m.files.expect_delete().times(1).returning(|_| Ok(Some(stored(1, 2, Attachment::None, true))));
        m.blobs.expect_delete().times(2).returning(|_| Ok(()));
        m.service().delete(&caller(2, Role::User), FileId(1)).await.unwrap();
    }

    #[tokio::test]
    async fn only_images_have_thumbnails() {
        let mut m = Mocks::new();
        m.files.expect_find().returning(|_| Ok(Some(stored(1, 2, Attachment::None, false))));
        let err = m.service().thumbnail(&caller(2, Role::User), FileId(1)).await;
        assert!(matches!(err, Err(FileError::NotFound(Missing::Thumbnail))), "{err:?}");
    }
}
