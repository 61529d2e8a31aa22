//! Records of finished audio renditions (the files domain's `RenditionRepository`).
//!
//! The cache's budget is kept by [`RenditionRepository::evict_beyond`]: the records are read
//! newest use first (along `file_renditions_use`), and those past the budget deleted, each only
//! if it was not used again meanwhile, so that two instances evicting at once delete a record at
//! most once and never one just served.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime};
use diesel::prelude::*;
use workbench_core::RepositoryError;
use workbench_files::{AudioCodec, BlobKey, FileId, Rendition, RenditionRepository, StoredRendition};

use crate::database::stored;
use crate::error::{corrupt, db};
use crate::schema::file_renditions;
use crate::{AnyConnection, Database};

/// `RenditionRepository` on the shared database.
#[derive(Debug, Clone)]
pub struct DieselRenditionRepository {
    db: Database,
}

impl DieselRenditionRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Debug, Queryable, Insertable)]
#[diesel(table_name = file_renditions)]
struct RenditionRow {
    file_id: i64,
    codec: String,
    kbps: i32,
    blob_key: String,
    size: i64,
    sha256: String,
    last_used_at: NaiveDateTime,
}

impl RenditionRow {
    fn into_rendition(self) -> Result<StoredRendition, RepositoryError> {
        let codec = AudioCodec::parse(&self.codec).ok_or_else(|| corrupt("file_renditions.codec", &self.codec))?;
        let kbps = u32::try_from(self.kbps).map_err(|e| corrupt("file_renditions.kbps", e))?;
        Ok(StoredRendition {
            file: FileId(self.file_id),
            rendition: Rendition { codec, kbps },
            blob_key: BlobKey::parse(self.blob_key).map_err(|e| corrupt("file_renditions.blob_key", e))?,
            size: u64::try_from(self.size).map_err(|e| corrupt("file_renditions.size", e))?,
            sha256: self.sha256,
            last_used_at: DateTime::from_naive_utc_and_offset(self.last_used_at, chrono::Utc),
        })
    }
}

fn kbps(rendition: Rendition) -> i32 {
    i32::try_from(rendition.kbps).unwrap_or(i32::MAX)
}

#[async_trait]
impl RenditionRepository for DieselRenditionRepository {
    async fn find(&self, file: FileId, rendition: Rendition) -> Result<Option<StoredRendition>, RepositoryError> {
        self.db
            .run(move |conn| {
                file_renditions::table
                    .find((file.0, rendition.codec.as_str(), kbps(rendition)))
                    .first::<RenditionRow>(conn)
                    .optional()
                    .map_err(db)?
                    .map(RenditionRow::into_rendition)
                    .transpose()
            })
            .await
    }

    async fn insert(&self, rendition: StoredRendition) -> Result<bool, RepositoryError> {
        let row = RenditionRow {
            file_id: rendition.file.0,
            codec: rendition.rendition.codec.as_str().to_owned(),
            kbps: kbps(rendition.rendition),
            blob_key: rendition.blob_key.as_str().to_owned(),
            size: i64::try_from(rendition.size).unwrap_or(i64::MAX),
            sha256: rendition.sha256,
            last_used_at: stored(rendition.last_used_at),
        };
        self.db
            .run(move |conn| {
                let insert = diesel::insert_into(file_renditions::table).values(&row);
                let inserted = match conn {
                    AnyConnection::Postgresql(pg) => insert.on_conflict_do_nothing().execute(pg),
                    AnyConnection::Sqlite(lite) => insert.on_conflict_do_nothing().execute(lite),
                }
                .map_err(|e| match db(e) {
                    RepositoryError::MissingReference { .. } => RepositoryError::MissingReference { field: "file" },
                    other => other,
                })?;
                Ok(inserted == 1)
            })
            .await
    }

    async fn touch(
        &self,
        file: FileId,
        rendition: Rendition,
        at: DateTime<chrono::Utc>,
    ) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                diesel::update(file_renditions::table.find((file.0, rendition.codec.as_str(), kbps(rendition))))
                    .set(file_renditions::last_used_at.eq(stored(at)))
                    .execute(conn)
                    .map_err(db)?;
                Ok(())
            })
            .await
    }

    async fn evict_beyond(&self, budget: u64) -> Result<Vec<BlobKey>, RepositoryError> {
        let budget = i64::try_from(budget).unwrap_or(i64::MAX);
        self.db
            .run(move |conn| {
                let rows: Vec<RenditionRow> = file_renditions::table
                    .order((file_renditions::last_used_at.desc(), file_renditions::blob_key))
                    .load(conn)
                    .map_err(db)?;
                let mut kept = 0_i64;
                let mut evicted = Vec::new();
                for row in rows {
                    kept = kept.saturating_add(row.size);
                    if kept <= budget {
                        continue;
                    }
                    let deleted = diesel::delete(
                        file_renditions::table
                            .filter(file_renditions::blob_key.eq(&row.blob_key))
                            .filter(file_renditions::last_used_at.eq(row.last_used_at)),
                    )
                    .execute(conn)
                    .map_err(db)?;
                    if deleted == 1 {
                        evicted.push(BlobKey::parse(row.blob_key).map_err(|e| corrupt("file_renditions.blob_key", e))?);
                    }
                }
                Ok(evicted)
            })
            .await
    }
}

/// The keys among `wanted` that rendition records refer to.
pub(crate) fn known_keys(conn: &mut AnyConnection, wanted: &[&str]) -> QueryResult<Vec<String>> {
    file_renditions::table.filter(file_renditions::blob_key.eq_any(wanted)).select(file_renditions::blob_key).load(conn)
}
