//! What OpenID Connect sign-ins leave in the database: which provider session (issuer, `sid`)
//! each Workbench session (refresh-token family) started from, and the logout tokens already
//! honoured. The trait methods live on [`crate::DieselRefreshTokenStore`]; these are their
//! statements.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use workbench_core::RepositoryError;
use workbench_users::{NewRefreshToken, ProviderSession, UserId, now};

use crate::AnyConnection;
use crate::error::db;
use crate::schema::{logout_tokens, provider_sessions};

#[derive(Insertable)]
#[diesel(table_name = provider_sessions)]
struct ProviderSessionRow<'a> {
    family_id: &'a str,
    user_id: i64,
    issuer: &'a str,
    subject: &'a str,
    sid: Option<&'a str>,
    created_at: NaiveDateTime,
}

/// Records that `token`'s family started from `session`, in the transaction storing the token.
pub(crate) fn insert_provider_session(
    conn: &mut AnyConnection,
    token: &NewRefreshToken,
    session: &ProviderSession,
) -> Result<(), RepositoryError> {
    diesel::insert_into(provider_sessions::table)
        .values(ProviderSessionRow {
            family_id: &token.family_id,
            user_id: token.user_id.0,
            issuer: &session.issuer,
            subject: &session.subject,
            sid: session.sid.as_deref(),
            created_at: token.created_at.naive_utc(),
        })
        .execute(conn)
        .map(drop)
        .map_err(db)
}

/// The families started from provider session `sid` of `issuer` (of person `subject` only,
/// when given), with their users: read along `provider_sessions_sid`.
pub(crate) fn sessions_of(
    conn: &mut AnyConnection,
    issuer: &str,
    sid: &str,
    subject: Option<&str>,
) -> Result<Vec<(String, UserId)>, RepositoryError> {
    let mut query = provider_sessions::table
        .filter(provider_sessions::issuer.eq(issuer))
        .filter(provider_sessions::sid.eq(sid))
        .select((provider_sessions::family_id, provider_sessions::user_id))
        .into_boxed();
    if let Some(subject) = subject {
        query = query.filter(provider_sessions::subject.eq(subject));
    }
    let rows: Vec<(String, i64)> = query.load(conn).map_err(db)?;
    Ok(rows.into_iter().map(|(family, user)| (family, UserId(user))).collect())
}

#[derive(Insertable)]
#[diesel(table_name = logout_tokens)]
struct LogoutTokenRow<'a> {
    issuer: &'a str,
    jti: &'a str,
    expires_at: NaiveDateTime,
}

/// Claims a logout token's `jti`: the insert decides, so of two instances given the same token
/// exactly one sees a row added. Each claim first sweeps the ids that can no longer be replayed.
pub(crate) fn claim_logout_token(
    conn: &mut AnyConnection,
    issuer: &str,
    jti: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool, RepositoryError> {
    diesel::delete(logout_tokens::table.filter(logout_tokens::expires_at.lt(now().naive_utc())))
        .execute(conn)
        .map_err(db)?;
    let insert = diesel::insert_into(logout_tokens::table).values(LogoutTokenRow {
        issuer,
        jti,
        expires_at: expires_at.naive_utc(),
    });
    let added = match conn {
        AnyConnection::Postgresql(pg) => insert.on_conflict_do_nothing().execute(pg),
        AnyConnection::Sqlite(lite) => insert.on_conflict_do_nothing().execute(lite),
    }
    .map_err(db)?;
    Ok(added == 1)
}
