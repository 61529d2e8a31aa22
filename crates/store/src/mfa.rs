//! Sign-ins waiting for their second factor, in the database, shared by every instance.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use workbench_core::RepositoryError;
use workbench_users::{MfaTokenStore, OAuthProviderName, PendingSecondFactor, ProviderSession, TokenHash, UserId, now};

use crate::Database;
use crate::error::db;
use crate::schema::mfa_tokens;

#[derive(Insertable)]
#[diesel(table_name = mfa_tokens)]
struct NewMfaTokenRow<'a> {
    token_hash: &'a str,
    user_id: i64,
    provider: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    idp_issuer: Option<&'a str>,
    idp_subject: Option<&'a str>,
    idp_sid: Option<&'a str>,
}

/// [`MfaTokenStore`] on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselMfaTokenStore {
    db: Database,
}

impl DieselMfaTokenStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl MfaTokenStore for DieselMfaTokenStore {
    async fn save(&self, token: TokenHash, pending: PendingSecondFactor) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                let at = now().naive_utc();
                // Sign-ins abandoned at the second factor would pile up otherwise; each new one
                // sweeps the expired.
                diesel::delete(mfa_tokens::table.filter(mfa_tokens::expires_at.lt(at))).execute(conn).map_err(db)?;
                diesel::insert_into(mfa_tokens::table)
                    .values(NewMfaTokenRow {
                        token_hash: token.as_str(),
                        user_id: pending.user_id.0,
                        provider: pending.provider.as_str(),
                        created_at: at,
                        expires_at: pending.expires_at.naive_utc(),
                        idp_issuer: pending.session.as_ref().map(|s| s.issuer.as_str()),
                        idp_subject: pending.session.as_ref().map(|s| s.subject.as_str()),
                        idp_sid: pending.session.as_ref().and_then(|s| s.sid.as_deref()),
                    })
                    .execute(conn)
                    .map(drop)
                    .map_err(db)
            })
            .await
    }

    async fn find(&self, token: &TokenHash) -> Result<Option<PendingSecondFactor>, RepositoryError> {
        let hash = token.as_str().to_owned();
        self.db
            .run(move |conn| {
                type Row = (i64, String, NaiveDateTime, Option<String>, Option<String>, Option<String>);
                let row: Option<Row> = mfa_tokens::table
                    .find(&hash)
                    .select((
                        mfa_tokens::user_id,
                        mfa_tokens::provider,
                        mfa_tokens::expires_at,
                        mfa_tokens::idp_issuer,
                        mfa_tokens::idp_subject,
                        mfa_tokens::idp_sid,
                    ))
                    .first(conn)
                    .optional()
                    .map_err(db)?;
                let Some((user_id, provider, expires_at, issuer, subject, sid)) = row else { return Ok(None) };
                let session = match (issuer, subject) {
                    (Some(issuer), Some(subject)) => Some(ProviderSession { issuer, subject, sid }),
                    _ => None,
                };
                let provider = OAuthProviderName::parse(&provider).ok_or_else(|| {
                    RepositoryError::Unavailable(anyhow::anyhow!("unexpected mfa_tokens.provider {provider:?}"))
                })?;
                Ok(Some(PendingSecondFactor {
                    user_id: UserId(user_id),
                    provider,
                    expires_at: expires_at.and_utc(),
                    session,
                }))
            })
            .await
    }

    async fn spend(&self, token: &TokenHash, at: DateTime<Utc>) -> Result<bool, RepositoryError> {
        let hash = token.as_str().to_owned();
        self.db
            .run(move |conn| {
                // One conditional statement: of two racing spends, the database lets one delete.
                let unexpired = mfa_tokens::token_hash.eq(&hash).and(mfa_tokens::expires_at.gt(at.naive_utc()));
                let deleted = diesel::delete(mfa_tokens::table.filter(unexpired)).execute(conn).map_err(db)?;
                Ok(deleted == 1)
            })
            .await
    }
}
