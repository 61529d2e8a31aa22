//! File records (the files domain's `FileRepository`, and the scheduled sweep's `KnownBlobs`).
//!
//! What a file is attached to is the database's to guard: a file's task or item is a foreign key,
//! so a task or item deleted while an upload is being stored refuses the record, and an item
//! with files refuses its own deletion (see the migration).

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use workbench_core::RepositoryError;
use workbench_files::{Attachment, AudioMeta, BlobKey, FileId, FileKind, FileRepository, NewFile, StoredFile};
use workbench_scheduled::KnownBlobs;
use workbench_users::UserId;

use crate::database::stored;
use crate::error::{corrupt, db, map_db_error};
use crate::like::contains_pattern;
use crate::schema::files;
use crate::{AnyConnection, Database};

/// Keys asked about in one statement by [`KnownBlobs::unknown`] (well below SQLite's limit on
/// bound parameters).
const KEYS_PER_QUERY: usize = 250;

/// `FileRepository` on the shared database.
#[derive(Debug, Clone)]
pub struct DieselFileRepository {
    db: Database,
}

impl DieselFileRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// The audio column: what the stream headers said, as JSON.
#[derive(Debug, Serialize, Deserialize)]
struct AudioColumn {
    duration_ms: u64,
    sample_rate: u32,
    channels: u16,
}

#[derive(Debug, Queryable)]
struct FileRow {
    id: i64,
    owner_id: i64,
    filename: String,
    _name_key: String,
    content_type: String,
    size: i64,
    kind: String,
    sha256: String,
    width: Option<i32>,
    height: Option<i32>,
    audio: Option<String>,
    task_id: Option<i64>,
    user_product_id: Option<i64>,
    blob_key: String,
    thumbnail_key: Option<String>,
    created_at: NaiveDateTime,
}

impl FileRow {
    fn into_file(self) -> Result<StoredFile, RepositoryError> {
        let dimension =
            |v: Option<i32>, column| v.map(|n| u32::try_from(n).map_err(|e| corrupt(column, e))).transpose();
        let key = |k: String, column| BlobKey::parse(k).map_err(|e| corrupt(column, e));
        let audio = self
            .audio
            .map(|json| serde_json::from_str::<AudioColumn>(&json).map_err(|e| corrupt("files.audio", e)))
            .transpose()?
            .map(|a| AudioMeta { duration_ms: a.duration_ms, sample_rate: a.sample_rate, channels: a.channels });
        let attachment = match (self.task_id, self.user_product_id) {
            (Some(task), _) => Attachment::Task(task),
            (None, Some(item)) => Attachment::UserProduct(item),
            (None, None) => Attachment::None,
        };
        Ok(StoredFile {
            id: FileId(self.id),
            owner_id: UserId(self.owner_id),
            filename: self.filename,
            content_type: self.content_type,
            size: u64::try_from(self.size).map_err(|e| corrupt("files.size", e))?,
            kind: FileKind::parse(&self.kind).map_err(|e| corrupt("files.kind", e))?,
            sha256: self.sha256,
            width: dimension(self.width, "files.width")?,
            height: dimension(self.height, "files.height")?,
            audio,
            attachment,
            blob_key: key(self.blob_key, "files.blob_key")?,
            thumbnail_key: self.thumbnail_key.map(|k| key(k, "files.thumbnail_key")).transpose()?,
            created_at: self.created_at.and_utc(),
        })
    }
}

fn into_files(rows: Vec<FileRow>) -> Result<Vec<StoredFile>, RepositoryError> {
    rows.into_iter().map(FileRow::into_file).collect()
}

#[derive(Insertable)]
#[diesel(table_name = files, treat_none_as_default_value = false)]
struct NewFileRow<'a> {
    owner_id: i64,
    filename: &'a str,
    name_key: String,
    content_type: &'a str,
    size: i64,
    kind: &'static str,
    sha256: &'a str,
    width: Option<i32>,
    height: Option<i32>,
    audio: Option<String>,
    task_id: Option<i64>,
    user_product_id: Option<i64>,
    blob_key: &'a str,
    thumbnail_key: Option<&'a str>,
    created_at: NaiveDateTime,
}

fn insert(conn: &mut AnyConnection, file: &NewFile) -> Result<StoredFile, RepositoryError> {
    let int = |n: Option<u32>, column| n.map(|n| i32::try_from(n).map_err(|e| corrupt(column, e))).transpose();
    let audio = file
        .audio
        .map(|a| {
            serde_json::to_string(&AudioColumn {
                duration_ms: a.duration_ms,
                sample_rate: a.sample_rate,
                channels: a.channels,
            })
        })
        .transpose()
        .map_err(|e| RepositoryError::Unavailable(e.into()))?;
    let row = NewFileRow {
        owner_id: file.owner_id.0,
        filename: &file.filename,
        name_key: file.filename.to_lowercase(),
        content_type: &file.content_type,
        size: i64::try_from(file.size).map_err(|e| corrupt("files.size", e))?,
        kind: file.kind.as_str(),
        sha256: &file.sha256,
        width: int(file.width, "files.width")?,
        height: int(file.height, "files.height")?,
        audio,
        task_id: file.task_id(),
        user_product_id: file.user_product_id(),
        blob_key: file.blob_key.as_str(),
        thumbnail_key: file.thumbnail_key.as_ref().map(BlobKey::as_str),
        // Microseconds, as PostgreSQL keeps them, so that both engines give back the same value.
        created_at: stored(file.created_at),
    };
    diesel::insert_into(files::table)
        .values(&row)
        .returning(files::all_columns)
        .get_result::<FileRow>(conn)
        .map_err(|e| match map_db_error(e, &[]) {
            // The only references a client chose: the task or the item (the owner is the caller).
            RepositoryError::MissingReference { .. } => match file.attachment {
                Attachment::Task(_) => RepositoryError::MissingReference { field: "task_id" },
                Attachment::UserProduct(_) => RepositoryError::MissingReference { field: "user_product_id" },
                Attachment::None => RepositoryError::Unavailable(anyhow::anyhow!("the file's owner is gone")),
            },
            other => other,
        })?
        .into_file()
}

/// `NewFile` with its attachment's ids, as the row wants them.
trait AttachmentIds {
    fn task_id(&self) -> Option<i64>;
    fn user_product_id(&self) -> Option<i64>;
}

impl AttachmentIds for NewFile {
    fn task_id(&self) -> Option<i64> {
        match self.attachment {
            Attachment::Task(id) => Some(id),
            _ => None,
        }
    }

    fn user_product_id(&self) -> Option<i64> {
        match self.attachment {
            Attachment::UserProduct(id) => Some(id),
            _ => None,
        }
    }
}

#[async_trait]
impl FileRepository for DieselFileRepository {
    async fn insert(&self, file: NewFile) -> Result<StoredFile, RepositoryError> {
        self.db.run(move |conn| insert(conn, &file)).await
    }

    async fn find(&self, id: FileId) -> Result<Option<StoredFile>, RepositoryError> {
        self.db
            .run(move |conn| {
                files::table
                    .find(id.0)
                    .first::<FileRow>(conn)
                    .optional()
                    .map_err(db)?
                    .map(FileRow::into_file)
                    .transpose()
            })
            .await
    }

    async fn delete(&self, id: FileId) -> Result<Option<StoredFile>, RepositoryError> {
        self.db
            .run(move |conn| {
                diesel::delete(files::table.find(id.0))
                    .returning(files::all_columns)
                    .get_result::<FileRow>(conn)
                    .optional()
                    .map_err(db)?
                    .map(FileRow::into_file)
                    .transpose()
            })
            .await
    }

    async fn attached(&self, to: Attachment) -> Result<Vec<StoredFile>, RepositoryError> {
        self.db
            .run(move |conn| {
                let rows = match to {
                    Attachment::Task(task) => {
                        files::table.filter(files::task_id.eq(task)).order(files::id.asc()).load::<FileRow>(conn)
                    }
                    Attachment::UserProduct(item) => files::table
                        .filter(files::user_product_id.eq(item))
                        .order(files::id.asc())
                        .load::<FileRow>(conn),
                    Attachment::None => Ok(Vec::new()),
                };
                into_files(rows.map_err(db)?)
            })
            .await
    }

    async fn search(
        &self,
        owner: Option<UserId>,
        text: String,
        limit: u32,
    ) -> Result<Vec<StoredFile>, RepositoryError> {
        self.db
            .run(move |conn| {
                let mut q = files::table
                    .filter(files::name_key.like(contains_pattern(&text)).escape('\\'))
                    .order((files::created_at.desc(), files::id.desc()))
                    .limit(i64::from(limit))
                    .into_boxed();
                if let Some(owner) = owner {
                    q = q.filter(files::owner_id.eq(owner.0));
                }
                into_files(q.load::<FileRow>(conn).map_err(db)?)
            })
            .await
    }

    async fn count_matching(&self, owner: Option<UserId>, text: String) -> Result<u64, RepositoryError> {
        self.db
            .run(move |conn| {
                let mut q =
                    files::table.filter(files::name_key.like(contains_pattern(&text)).escape('\\')).into_boxed();
                if let Some(owner) = owner {
                    q = q.filter(files::owner_id.eq(owner.0));
                }
                let n: i64 = q.count().get_result(conn).map_err(db)?;
                Ok(u64::try_from(n).unwrap_or_default())
            })
            .await
    }

    async fn unknown_blobs(&self, keys: Vec<BlobKey>) -> Result<Vec<BlobKey>, RepositoryError> {
        self.db
            .run(move |conn| {
                let mut unknown = Vec::new();
                for chunk in keys.chunks(KEYS_PER_QUERY) {
                    let wanted: Vec<&str> = chunk.iter().map(BlobKey::as_str).collect();
                    let known: Vec<String> = files::table
                        .filter(files::blob_key.eq_any(&wanted))
                        .select(files::blob_key)
                        .load(conn)
                        .map_err(db)?;
                    let known_thumbnails: Vec<Option<String>> = files::table
                        .filter(files::thumbnail_key.eq_any(&wanted))
                        .select(files::thumbnail_key)
                        .load(conn)
                        .map_err(db)?;
                    let renditions = crate::renditions::known_keys(conn, &wanted).map_err(db)?;
                    unknown.extend(
                        chunk
                            .iter()
                            .filter(|key| {
                                let key = key.as_str();
                                !known.iter().any(|k| k == key)
                                    && !known_thumbnails.iter().flatten().any(|k| k == key)
                                    && !renditions.iter().any(|k| k == key)
                            })
                            .cloned(),
                    );
                }
                Ok(unknown)
            })
            .await
    }
}

#[async_trait]
impl KnownBlobs for DieselFileRepository {
    async fn unknown(&self, keys: Vec<BlobKey>) -> Result<Vec<BlobKey>, RepositoryError> {
        self.unknown_blobs(keys).await
    }
}
