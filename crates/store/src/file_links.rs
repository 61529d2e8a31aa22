//! Share links of files (the files domain's `ShareLinkRepository`).
//!
//! Whether a link still opens is decided in SQL, by the statement that reads it or counts a
//! download of it: `expires_at` against the caller's clock, `downloads` against `max_downloads`
//! in the same `UPDATE` that adds one, so that two visitors racing for a link's last download
//! cannot both be counted, and the file's owner's status (a disabled owner's links do not open)
//! by a lookup of the file's and its owner's rows by key.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use workbench_core::RepositoryError;
use workbench_files::{FileId, NewShareLink, ShareLink, ShareLinkId, ShareLinkRepository};

use crate::database::stored;
use crate::error::{corrupt, db, map_db_error};
use crate::schema::{files, users};
use crate::{AnyConnection, Database};

diesel::table! {
    /// Share links (see the migration): known by their token's SHA-256.
    file_links (id) {
        id -> BigInt,
        file_id -> BigInt,
        token_digest -> Text,
        password_hash -> Nullable<Text>,
        expires_at -> Timestamp,
        max_downloads -> Nullable<Integer>,
        downloads -> Integer,
        created_at -> Timestamp,
    }
}

diesel::joinable!(file_links -> files (file_id));
diesel::allow_tables_to_appear_in_same_query!(file_links, files);
diesel::allow_tables_to_appear_in_same_query!(file_links, users);

/// Whether the link's file belongs to an active account: a disabled owner's links do not open
/// (see the files domain's `share` module for why they are refused rather than revoked).
#[diesel::dsl::auto_type]
fn owner_is_active() -> _ {
    let active: &'static str = "active";
    diesel::dsl::exists(
        files::table
            .inner_join(users::table)
            .filter(files::id.eq(file_links::file_id))
            .filter(users::status.eq(active)),
    )
}

/// Revokes every share link to `files`, in the caller's transaction (a file changing owner).
pub(crate) fn revoke_all(conn: &mut AnyConnection, files: &[i64]) -> Result<(), RepositoryError> {
    diesel::delete(file_links::table.filter(file_links::file_id.eq_any(files))).execute(conn).map_err(db)?;
    Ok(())
}

/// `ShareLinkRepository` on the shared database.
#[derive(Debug, Clone)]
pub struct DieselShareLinkRepository {
    db: Database,
}

impl DieselShareLinkRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// The columns read back, in `LinkRow`'s order (the token's digest never is).
type LinkColumns = (
    file_links::id,
    file_links::file_id,
    file_links::password_hash,
    file_links::expires_at,
    file_links::max_downloads,
    file_links::downloads,
    file_links::created_at,
);
const LINK_COLUMNS: LinkColumns = (
    file_links::id,
    file_links::file_id,
    file_links::password_hash,
    file_links::expires_at,
    file_links::max_downloads,
    file_links::downloads,
    file_links::created_at,
);

#[derive(Debug, Queryable)]
struct LinkRow {
    id: i64,
    file_id: i64,
    password_hash: Option<String>,
    expires_at: NaiveDateTime,
    max_downloads: Option<i32>,
    downloads: i32,
    created_at: NaiveDateTime,
}

impl LinkRow {
    fn into_link(self) -> Result<ShareLink, RepositoryError> {
        let count = |n: i32, column: &str| u32::try_from(n).map_err(|e| corrupt(column, e));
        Ok(ShareLink {
            id: ShareLinkId(self.id),
            file_id: FileId(self.file_id),
            expires_at: self.expires_at.and_utc(),
            max_downloads: self.max_downloads.map(|n| count(n, "file_links.max_downloads")).transpose()?,
            downloads: count(self.downloads, "file_links.downloads")?,
            password_hash: self.password_hash,
            created_at: self.created_at.and_utc(),
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = file_links, treat_none_as_default_value = false)]
struct NewLinkRow<'a> {
    file_id: i64,
    token_digest: &'a str,
    password_hash: Option<&'a str>,
    expires_at: NaiveDateTime,
    max_downloads: Option<i32>,
    created_at: NaiveDateTime,
}

#[async_trait]
impl ShareLinkRepository for DieselShareLinkRepository {
    async fn insert(&self, link: NewShareLink) -> Result<ShareLink, RepositoryError> {
        let max_downloads = link
            .max_downloads
            .map(i32::try_from)
            .transpose()
            .map_err(|e| RepositoryError::Unavailable(anyhow::anyhow!("max_downloads out of range: {e}")))?;
        self.db
            .run(move |conn| {
                let row = NewLinkRow {
                    file_id: link.file_id.0,
                    token_digest: &link.token_digest,
                    password_hash: link.password_hash.as_deref(),
                    expires_at: stored(link.expires_at),
                    max_downloads,
                    created_at: stored(link.created_at),
                };
                diesel::insert_into(file_links::table)
                    .values(&row)
                    .returning(LINK_COLUMNS)
                    .get_result::<LinkRow>(conn)
                    .map_err(|e| match map_db_error(e, &[]) {
                        RepositoryError::MissingReference { .. } => {
                            RepositoryError::MissingReference { field: "file_id" }
                        }
                        other => other,
                    })?
                    .into_link()
            })
            .await
    }

    async fn list(&self, file: FileId) -> Result<Vec<ShareLink>, RepositoryError> {
        self.db
            .run(move |conn| {
                file_links::table
                    .filter(file_links::file_id.eq(file.0))
                    .order((file_links::created_at.desc(), file_links::id.desc()))
                    .select(LINK_COLUMNS)
                    .load::<LinkRow>(conn)
                    .map_err(db)?
                    .into_iter()
                    .map(LinkRow::into_link)
                    .collect()
            })
            .await
    }

    async fn revoke(&self, file: FileId, link: ShareLinkId) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                let gone = diesel::delete(
                    file_links::table.filter(file_links::id.eq(link.0)).filter(file_links::file_id.eq(file.0)),
                )
                .execute(conn)
                .map_err(db)?;
                Ok(gone == 1)
            })
            .await
    }

    async fn find_open(&self, token_digest: String, now: DateTime<Utc>) -> Result<Option<ShareLink>, RepositoryError> {
        self.db
            .run(move |conn| {
                file_links::table
                    .filter(file_links::token_digest.eq(&token_digest))
                    .filter(file_links::expires_at.gt(stored(now)))
                    .filter(
                        file_links::max_downloads
                            .is_null()
                            .or(file_links::downloads.nullable().lt(file_links::max_downloads)),
                    )
                    .filter(owner_is_active())
                    .select(LINK_COLUMNS)
                    .first::<LinkRow>(conn)
                    .optional()
                    .map_err(db)?
                    .map(LinkRow::into_link)
                    .transpose()
            })
            .await
    }

    async fn count_download(&self, link: ShareLinkId, now: DateTime<Utc>) -> Result<Option<u32>, RepositoryError> {
        self.db
            .run(move |conn| {
                let counted = diesel::update(
                    file_links::table
                        .filter(file_links::id.eq(link.0))
                        .filter(file_links::expires_at.gt(stored(now)))
                        .filter(
                            file_links::max_downloads
                                .is_null()
                                .or(file_links::downloads.nullable().lt(file_links::max_downloads)),
                        )
                        .filter(owner_is_active()),
                )
                .set(file_links::downloads.eq(file_links::downloads + 1))
                .returning(file_links::downloads)
                .get_result::<i32>(conn)
                .optional()
                .map_err(db)?;
                Ok(counted.map(|n| u32::try_from(n).unwrap_or_default()))
            })
            .await
    }
}
