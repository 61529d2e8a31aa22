//! Pending OAuth authorizations in the database, shared by every instance.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use workbench_core::RepositoryError;
use workbench_users::{OAuthProviderName, OAuthStateStore, PendingAuthorization, TokenHash, now};

use crate::Database;
use crate::database::write_transaction;
use crate::error::db;
use crate::schema::oauth_states;

#[derive(Insertable)]
#[diesel(table_name = oauth_states)]
struct NewStateRow<'a> {
    state_hash: &'a str,
    provider: &'a str,
    pkce_verifier: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    browser_hash: &'a str,
    nonce: Option<&'a str>,
}

/// [`OAuthStateStore`] on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselOAuthStateStore {
    db: Database,
}

impl DieselOAuthStateStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl OAuthStateStore for DieselOAuthStateStore {
    async fn save(&self, state: TokenHash, pending: PendingAuthorization) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                let at = now().naive_utc();
                // Abandoned sign-ins would pile up otherwise; each new one sweeps the expired.
                diesel::delete(oauth_states::table.filter(oauth_states::expires_at.lt(at)))
                    .execute(conn)
                    .map_err(db)?;
                diesel::insert_into(oauth_states::table)
                    .values(NewStateRow {
                        state_hash: state.as_str(),
                        provider: pending.provider.as_str(),
                        pkce_verifier: &pending.pkce_verifier,
                        created_at: at,
                        expires_at: pending.expires_at.naive_utc(),
                        browser_hash: pending.browser.as_str(),
                        nonce: pending.nonce.as_deref(),
                    })
                    .execute(conn)
                    .map(drop)
                    .map_err(db)
            })
            .await
    }

    async fn take(&self, state: &TokenHash) -> Result<Option<PendingAuthorization>, RepositoryError> {
        let hash = state.as_str().to_owned();
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let row: Option<(String, String, NaiveDateTime, String, Option<String>)> = oauth_states::table
                        .find(&hash)
                        .select((
                            oauth_states::provider,
                            oauth_states::pkce_verifier,
                            oauth_states::expires_at,
                            oauth_states::browser_hash,
                            oauth_states::nonce,
                        ))
                        .first(conn)
                        .optional()
                        .map_err(db)?;
                    let Some((provider, pkce_verifier, expires_at, browser, nonce)) = row else { return Ok(None) };
                    // The delete decides who gets the state when two callbacks race with it.
                    if diesel::delete(oauth_states::table.find(&hash)).execute(conn).map_err(db)? == 0 {
                        return Ok(None);
                    }
                    let provider = OAuthProviderName::parse(&provider).ok_or_else(|| {
                        RepositoryError::Unavailable(anyhow::anyhow!("unexpected oauth_states.provider {provider:?}"))
                    })?;
                    Ok(Some(PendingAuthorization {
                        provider,
                        pkce_verifier,
                        expires_at: expires_at.and_utc(),
                        browser: TokenHash::stored(browser),
                        nonce,
                    }))
                })
            })
            .await
    }
}
