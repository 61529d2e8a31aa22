//! Personal access tokens (the tokens domain's `TokenRepository`), known by their SHA-256.
//!
//! A token's creation and revocation are written with their audit entries, in one transaction
//! each; a token made from a session that is found stolen is deleted in the transaction that
//! revokes the session ([`delete_made_from`]). `last_used_at` only moves forward: instances write uses they noted on their own, so the
//! statement keeps whichever is later.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_tokens::{Grant, NewToken, PersonalAccessToken, Scopes, TokenDigest, TokenId, TokenRepository};
use workbench_users::{NewAuditEntry, UserId};

use crate::database::{stored, write_transaction};
use crate::error::{corrupt, db, map_db_error};
use crate::paging::counted_page;
use crate::{AnyConnection, Database, audit};

diesel::table! {
    /// Personal access tokens (see the migration).
    personal_access_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        scopes -> Text,
        token_digest -> Text,
        prefix -> Text,
        expires_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        session_id -> Nullable<Text>,
    }
}

use personal_access_tokens as pat;

/// `TokenRepository` on the shared database.
#[derive(Debug, Clone)]
pub struct DieselTokenRepository {
    db: Database,
}

impl DieselTokenRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// The columns read back, in `TokenRow`'s order (the digest never is).
type TokenColumns =
    (pat::id, pat::user_id, pat::name, pat::scopes, pat::prefix, pat::expires_at, pat::last_used_at, pat::created_at);
const TOKEN_COLUMNS: TokenColumns =
    (pat::id, pat::user_id, pat::name, pat::scopes, pat::prefix, pat::expires_at, pat::last_used_at, pat::created_at);

#[derive(Debug, Queryable)]
struct TokenRow {
    id: i64,
    user_id: i64,
    name: String,
    scopes: String,
    prefix: String,
    expires_at: NaiveDateTime,
    last_used_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

fn scopes(stored: &str) -> Result<Scopes, RepositoryError> {
    Scopes::parse_stored(stored).map_err(|e| corrupt("personal_access_tokens.scopes", e))
}

impl TokenRow {
    fn into_token(self) -> Result<PersonalAccessToken, RepositoryError> {
        Ok(PersonalAccessToken {
            id: TokenId(self.id),
            user_id: UserId(self.user_id),
            name: self.name,
            scopes: scopes(&self.scopes)?,
            prefix: self.prefix,
            expires_at: self.expires_at.and_utc(),
            last_used_at: self.last_used_at.map(|at| at.and_utc()),
            created_at: self.created_at.and_utc(),
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = personal_access_tokens, treat_none_as_default_value = false)]
struct NewTokenRow<'a> {
    user_id: i64,
    name: &'a str,
    scopes: String,
    token_digest: String,
    prefix: &'a str,
    expires_at: NaiveDateTime,
    created_at: NaiveDateTime,
    session_id: Option<&'a str>,
}

fn insert(conn: &mut AnyConnection, token: &NewToken, entry: &NewAuditEntry) -> Result<TokenRow, RepositoryError> {
    let row = NewTokenRow {
        user_id: token.user_id.0,
        name: &token.name,
        scopes: token.scopes.to_stored(),
        token_digest: token.digest.to_hex(),
        prefix: &token.prefix,
        expires_at: stored(token.expires_at),
        created_at: stored(token.created_at),
        session_id: token.session_id.as_deref(),
    };
    let inserted = diesel::insert_into(pat::table)
        .values(&row)
        .returning(TOKEN_COLUMNS)
        .get_result::<TokenRow>(conn)
        // A digest taken twice is a 256-bit collision: reported, never expected.
        .map_err(|e| match map_db_error(e, &[("digest", "token")]) {
            RepositoryError::MissingReference { .. } => RepositoryError::MissingReference { field: "user_id" },
            other => other,
        })?;
    let entry = entry.clone().with("token_id", inserted.id);
    audit::append(conn, &[entry])?;
    Ok(inserted)
}

/// Deletes `user`'s tokens made from the session `session_id`, answering their ids in order: a
/// step of the transaction that revokes a stolen session (see `users.rs`). Their grants are
/// forgotten by every instance's grant cache, which follows the principal invalidation that
/// comes after.
pub(crate) fn delete_made_from(
    conn: &mut AnyConnection,
    user: UserId,
    session_id: &str,
) -> Result<Vec<i64>, RepositoryError> {
    let mut ids: Vec<i64> =
        diesel::delete(pat::table.filter(pat::user_id.eq(user.0)).filter(pat::session_id.eq(session_id)))
            .returning(pat::id)
            .get_results(conn)
            .map_err(db)?;
    ids.sort_unstable();
    Ok(ids)
}

#[async_trait]
impl TokenRepository for DieselTokenRepository {
    async fn insert(&self, token: NewToken, entry: NewAuditEntry) -> Result<PersonalAccessToken, RepositoryError> {
        self.db.run(move |conn| write_transaction(conn, |conn| insert(conn, &token, &entry))?.into_token()).await
    }

    async fn list(&self, user: UserId, page: PageRequest) -> Result<Page<PersonalAccessToken>, RepositoryError> {
        self.db
            .run(move |conn| {
                let total: i64 = pat::table.filter(pat::user_id.eq(user.0)).count().get_result(conn).map_err(db)?;
                counted_page(page, total, || {
                    pat::table
                        .filter(pat::user_id.eq(user.0))
                        .order((pat::created_at.desc(), pat::id.desc()))
                        .offset(page.offset())
                        .limit(page.limit())
                        .select(TOKEN_COLUMNS)
                        .load::<TokenRow>(conn)
                        .map_err(db)?
                        .into_iter()
                        .map(TokenRow::into_token)
                        .collect()
                })
            })
            .await
    }

    async fn revoke(
        &self,
        user: UserId,
        id: TokenId,
        entry: NewAuditEntry,
    ) -> Result<Option<TokenDigest>, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let digest: Option<String> =
                        diesel::delete(pat::table.filter(pat::id.eq(id.0)).filter(pat::user_id.eq(user.0)))
                            .returning(pat::token_digest)
                            .get_result(conn)
                            .optional()
                            .map_err(db)?;
                    let Some(digest) = digest else { return Ok(None) };
                    audit::append(conn, std::slice::from_ref(&entry))?;
                    TokenDigest::from_hex(&digest)
                        .map(Some)
                        .ok_or_else(|| corrupt("personal_access_tokens.token_digest", "not 64 hex digits"))
                })
            })
            .await
    }

    async fn grant(&self, digest: TokenDigest) -> Result<Option<Grant>, RepositoryError> {
        let hex = digest.to_hex();
        self.db
            .run(move |conn| {
                let row: Option<(i64, i64, String, NaiveDateTime, Option<NaiveDateTime>)> = pat::table
                    .filter(pat::token_digest.eq(&hex))
                    .select((pat::id, pat::user_id, pat::scopes, pat::expires_at, pat::last_used_at))
                    .first(conn)
                    .optional()
                    .map_err(db)?;
                row.map(|(id, user_id, granted, expires_at, last_used_at)| {
                    Ok(Grant::new(
                        TokenId(id),
                        UserId(user_id),
                        scopes(&granted)?,
                        expires_at.and_utc(),
                        last_used_at.map(|at| at.and_utc()),
                    ))
                })
                .transpose()
            })
            .await
    }

    async fn record_uses(&self, uses: Vec<(TokenId, DateTime<Utc>)>) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // Tokens in id order, so that two instances writing overlapping batches take
                    // their row locks in the same order.
                    let mut uses = uses.clone();
                    uses.sort_unstable_by_key(|(id, _)| *id);
                    for (id, at) in uses {
                        let at = stored(at);
                        diesel::update(
                            pat::table
                                .filter(pat::id.eq(id.0))
                                .filter(pat::last_used_at.is_null().or(pat::last_used_at.lt(at))),
                        )
                        .set(pat::last_used_at.eq(at))
                        .execute(conn)
                        .map_err(db)?;
                    }
                    Ok(())
                })
            })
            .await
    }
}
