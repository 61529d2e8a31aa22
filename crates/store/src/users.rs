//! Accounts and refresh tokens in the database.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use workbench_core::{Page, RepositoryError};
use workbench_users::{
    Email, ExternalIdentity, NewAuditEntry, NewRefreshToken, NewUser, ProfileChanges, RefreshTokenRecord,
    RefreshTokenStore, Role, SignIn, TokenHash, TotpState, User, UserId, UserQuery, UserRepository, UserStatus,
    Username,
};

use crate::audit::{append, naming};
use crate::columns::returning;
use crate::connection::Db;
use crate::database::write_transaction;
use crate::error::{corrupt, db, map_db_error};
use crate::like::contains_pattern;
use crate::paging::counted_page;
use crate::schema::{oauth_identities, refresh_tokens, totp_credentials, totp_recovery_codes, users};
use crate::{AnyConnection, Database};

/// Unique indexes of `users` and the request field each protects.
const USER_UNIQUE: &[(&str, &str)] = &[("email", "email"), ("username", "username")];

/// An account as read: every column but the derived lookup ones.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users)]
struct UserRow {
    id: i64,
    username: String,
    email: String,
    password_hash: Option<String>,
    role: String,
    status: String,
    first_name: Option<String>,
    last_name: Option<String>,
    bio: Option<String>,
    avatar_url: Option<String>,
    totp_enabled: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    token_generation: i64,
}

impl UserRow {
    fn into_user(self) -> Result<User, RepositoryError> {
        let role = Role::parse(&self.role).map_err(|e| corrupt("users.role", &e))?;
        let status = UserStatus::parse(&self.status).map_err(|e| corrupt("users.status", &e))?;
        Ok(User {
            id: UserId(self.id),
            username: self.username,
            email: self.email,
            role,
            status,
            first_name: self.first_name,
            last_name: self.last_name,
            bio: self.bio,
            avatar_url: self.avatar_url,
            totp_enabled: self.totp_enabled,
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
            token_generation: self.token_generation,
            version: version_of(self.updated_at),
        })
    }
}

/// A user's version is the instant of the last write to its row, in nanoseconds: every write
/// sets `updated_at` to its own later instant, so the number names one state of the account.
/// (Kept in the column the representation already has: `users` is at Diesel's 16 columns.)
/// PostgreSQL keeps microseconds and SQLite the whole value, so it reads back exactly.
fn version_of(updated_at: NaiveDateTime) -> i64 {
    updated_at.and_utc().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// The `updated_at` values a conditional write accepts: the one the client's version names, or
/// any (every stored instant lies in that range). A range keeps one statement shape for both.
fn accepted_instants(expected: Option<i64>) -> (NaiveDateTime, NaiveDateTime) {
    match expected {
        Some(version) => {
            let at = DateTime::from_timestamp_nanos(version).naive_utc();
            (at, at)
        }
        None => (
            DateTime::UNIX_EPOCH.naive_utc(),
            NaiveDate::from_ymd_opt(9999, 12, 31).and_then(|d| d.and_hms_opt(23, 59, 59)).expect("a valid date"),
        ),
    }
}

/// The lower-cased text that user search matches against. Folded here rather than in SQL because
/// SQLite's `lower()` only folds ASCII.
fn search_text(username: &str, first_name: Option<&str>, last_name: Option<&str>) -> String {
    [Some(username), first_name, last_name].into_iter().flatten().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUserRow<'a> {
    username: &'a str,
    username_key: String,
    email: &'a str,
    password_hash: Option<&'a str>,
    role: &'static str,
    status: &'static str,
    totp_enabled: bool,
    search_text: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// [`UserRepository`] on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselUserRepository {
    db: Database,
}

impl DieselUserRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn filtered(query: &UserQuery) -> users::BoxedQuery<'static, Db> {
    let mut q = users::table.into_boxed();
    if query.only_active {
        q = q.filter(users::status.eq(UserStatus::Active.as_str()));
    }
    if let Some(exclude) = query.exclude {
        q = q.filter(users::id.ne(exclude.0));
    }
    if let Some(term) = query.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = contains_pattern(term);
        q = if query.search_email {
            q.filter(users::search_text.like(pattern.clone()).escape('\\').or(users::email.like(pattern).escape('\\')))
        } else {
            q.filter(users::search_text.like(pattern).escape('\\'))
        };
    }
    q
}

fn insert_user(conn: &mut AnyConnection, user: &NewUser) -> Result<User, RepositoryError> {
    let at = user.created_at.naive_utc();
    let row = NewUserRow {
        username: user.username.as_str(),
        username_key: user.username.as_str().to_lowercase(),
        email: user.email.as_str(),
        password_hash: user.password_hash.as_deref(),
        role: user.role.as_str(),
        status: UserStatus::Active.as_str(),
        totp_enabled: false,
        search_text: search_text(user.username.as_str(), None, None),
        created_at: at,
        updated_at: at,
    };
    diesel::insert_into(users::table)
        .values(&row)
        .returning(returning::<UserRow>())
        .get_result::<UserRow>(conn)
        .map_err(|e| map_db_error(e, USER_UNIQUE))?
        .into_user()
}

#[derive(Insertable)]
#[diesel(table_name = oauth_identities)]
struct IdentityRow<'a> {
    provider: &'a str,
    subject: &'a str,
    user_id: i64,
    email: Option<&'a str>,
    created_at: NaiveDateTime,
}

fn insert_identity(conn: &mut AnyConnection, user: UserId, identity: &ExternalIdentity) -> Result<(), RepositoryError> {
    diesel::insert_into(oauth_identities::table)
        .values(IdentityRow {
            provider: identity.provider.as_str(),
            subject: &identity.subject,
            user_id: user.0,
            email: identity.email.as_deref(),
            created_at: identity.linked_at.naive_utc(),
        })
        .execute(conn)
        .map(drop)
        .map_err(|e| map_db_error(e, &[("oauth_identities", "identity")]))
}

/// Forgets every recovery code of a user.
fn forget_recovery_codes(conn: &mut AnyConnection, user: UserId) -> Result<(), RepositoryError> {
    diesel::delete(totp_recovery_codes::table.filter(totp_recovery_codes::user_id.eq(user.0)))
        .execute(conn)
        .map(drop)
        .map_err(db)
}

/// Revokes every live refresh token of a user.
fn revoke_user_tokens(conn: &mut AnyConnection, user: UserId, at: NaiveDateTime) -> Result<(), RepositoryError> {
    diesel::update(
        refresh_tokens::table.filter(refresh_tokens::user_id.eq(user.0)).filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(at)))
    .execute(conn)
    .map(drop)
    .map_err(db)
}

/// Revokes every refresh token of the family not revoked yet, as of `at`.
fn revoke_family_in(conn: &mut AnyConnection, family_id: &str, at: DateTime<Utc>) -> Result<(), RepositoryError> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(at.naive_utc())))
    .execute(conn)
    .map_err(db)?;
    Ok(())
}

/// Moves the account's token generation on: every access token issued under the old one is
/// refused from the next request (the principal caches are told by the service).
fn end_access_tokens(conn: &mut AnyConnection, user: UserId) -> Result<(), RepositoryError> {
    diesel::update(users::table.find(user.0))
        .set(users::token_generation.eq(users::token_generation + 1))
        .execute(conn)
        .map(drop)
        .map_err(db)
}

fn find_row(conn: &mut AnyConnection, id: UserId) -> Result<Option<UserRow>, RepositoryError> {
    users::table.find(id.0).select(UserRow::as_select()).first(conn).optional().map_err(db)
}

#[async_trait]
impl UserRepository for DieselUserRepository {
    async fn create(&self, user: NewUser) -> Result<User, RepositoryError> {
        self.db.run(move |conn| insert_user(conn, &user)).await
    }

    async fn find(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        self.db.run(move |conn| find_row(conn, id)?.map(UserRow::into_user).transpose()).await
    }

    async fn find_by_username(&self, username: &Username) -> Result<Option<User>, RepositoryError> {
        let key = username.as_str().to_lowercase();
        self.db
            .run(move |conn| {
                let row: Option<UserRow> = users::table
                    .filter(users::username_key.eq(&key))
                    .select(UserRow::as_select())
                    .first(conn)
                    .optional()
                    .map_err(db)?;
                row.map(UserRow::into_user).transpose()
            })
            .await
    }

    async fn find_for_login(&self, email: &Email) -> Result<Option<(User, Option<String>)>, RepositoryError> {
        let email = email.as_str().to_owned();
        self.db
            .run(move |conn| {
                let row = users::table
                    .filter(users::email.eq(&email))
                    .select(UserRow::as_select())
                    .first(conn)
                    .optional()
                    .map_err(db)?;
                row.map(|mut row: UserRow| {
                    let hash = row.password_hash.take();
                    row.into_user().map(|user| (user, hash))
                })
                .transpose()
            })
            .await
    }

    async fn password_hash(&self, id: UserId) -> Result<Option<String>, RepositoryError> {
        self.db
            .run(move |conn| {
                let hash: Option<Option<String>> =
                    users::table.find(id.0).select(users::password_hash).first(conn).optional().map_err(db)?;
                Ok(hash.flatten())
            })
            .await
    }

    async fn list(&self, query: UserQuery) -> Result<Page<User>, RepositoryError> {
        self.db
            .run(move |conn| {
                let total: i64 = filtered(&query).count().get_result(conn).map_err(db)?;
                counted_page(query.page, total, || {
                    let rows: Vec<UserRow> = filtered(&query)
                        .select(UserRow::as_select())
                        .order(users::id.asc())
                        .limit(query.page.limit())
                        .offset(query.page.offset())
                        .load(conn)
                        .map_err(db)?;
                    rows.into_iter().map(UserRow::into_user).collect()
                })
            })
            .await
    }

    async fn first_matching(&self, query: UserQuery) -> Result<Vec<User>, RepositoryError> {
        self.db
            .run(move |conn| {
                let rows: Vec<UserRow> = filtered(&query)
                    .select(UserRow::as_select())
                    .order(users::id.asc())
                    .limit(query.page.limit())
                    .load(conn)
                    .map_err(db)?;
                rows.into_iter().map(UserRow::into_user).collect()
            })
            .await
    }

    async fn update_profile(
        &self,
        id: UserId,
        changes: ProfileChanges,
        at: DateTime<Utc>,
        expected: Option<i64>,
    ) -> Result<Option<User>, RepositoryError> {
        let (low, high) = accepted_instants(expected);
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // Take the row's write lock before reading it. Under PostgreSQL's READ
                    // COMMITTED a plain read lets two concurrent changes start from the same old
                    // row, and the later write (which sets every column) silently undoes the
                    // earlier one. Writing first makes the second wait, then read the first's
                    // result. (On SQLite, BEGIN IMMEDIATE already serialises writers.)
                    let locked = diesel::update(users::table.find(id.0).filter(users::updated_at.between(low, high)))
                        .set(users::updated_at.eq(at.naive_utc()))
                        .execute(conn)
                        .map_err(db)?;
                    if locked == 0 {
                        return Ok(None);
                    }
                    let Some(current) = find_row(conn, id)? else { return Ok(None) };
                    let changes = changes.clone();
                    let username = changes.username.map_or(current.username, |u| u.into_inner());
                    let first_name = changes.first_name.unwrap_or(current.first_name);
                    let last_name = changes.last_name.unwrap_or(current.last_name);
                    let bio = changes.bio.unwrap_or(current.bio);
                    let avatar_url = changes.avatar_url.unwrap_or(current.avatar_url);
                    // Every column is written, so a cleared field becomes NULL rather than skipped,
                    // and the derived lookup columns stay in step with what they derive from.
                    diesel::update(users::table.find(id.0))
                        .set((
                            users::username_key.eq(username.to_lowercase()),
                            users::search_text.eq(search_text(&username, first_name.as_deref(), last_name.as_deref())),
                            users::username.eq(username),
                            users::first_name.eq(first_name),
                            users::last_name.eq(last_name),
                            users::bio.eq(bio),
                            users::avatar_url.eq(avatar_url),
                            users::updated_at.eq(at.naive_utc()),
                        ))
                        .returning(returning::<UserRow>())
                        .get_result::<UserRow>(conn)
                        .optional()
                        .map_err(|e| map_db_error(e, USER_UNIQUE))?
                        .map(UserRow::into_user)
                        .transpose()
                })
            })
            .await
    }

    async fn change_password(
        &self,
        id: UserId,
        hash: String,
        at: DateTime<Utc>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // A new password ends every session: refresh tokens are revoked below, and
                    // the generation moves on so that every access token issued before is refused.
                    let changed = diesel::update(users::table.find(id.0))
                        .set((
                            users::password_hash.eq(Some(hash.as_str())),
                            users::updated_at.eq(at.naive_utc()),
                            users::token_generation.eq(users::token_generation + 1),
                        ))
                        .execute(conn)
                        .map_err(db)?;
                    if changed == 0 {
                        return Ok(());
                    }
                    revoke_user_tokens(conn, id, at.naive_utc())?;
                    append(conn, &audit)
                })
            })
            .await
    }

    async fn set_role_and_status(
        &self,
        id: UserId,
        role: Option<Role>,
        status: Option<UserStatus>,
        at: DateTime<Utc>,
        expected: Option<i64>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<Option<User>, RepositoryError> {
        let (low, high) = accepted_instants(expected);
        #[derive(AsChangeset)]
        #[diesel(table_name = users)]
        struct Change {
            role: Option<&'static str>,
            status: Option<&'static str>,
            updated_at: NaiveDateTime,
        }
        let change =
            Change { role: role.map(Role::as_str), status: status.map(UserStatus::as_str), updated_at: at.naive_utc() };
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // Disabling starts a new token generation: access tokens issued before stay refused.
                    let disabling = status == Some(UserStatus::Disabled);
                    let Some(row) =
                        diesel::update(users::table.find(id.0).filter(users::updated_at.between(low, high)))
                            .set((&change, users::token_generation.eq(users::token_generation + i64::from(disabling))))
                            .returning(returning::<UserRow>())
                            .get_result::<UserRow>(conn)
                            .optional()
                            .map_err(db)?
                    else {
                        return Ok(None);
                    };
                    if disabling {
                        revoke_user_tokens(conn, id, at.naive_utc())?;
                        // A trade needs two active parties: the other side must not wait on one
                        // that cannot answer, nor accept what a disabled account offered.
                        crate::trades::cancel_open_of(conn, id, at.naive_utc())?;
                    }
                    append(conn, &audit)?;
                    row.into_user().map(Some)
                })
            })
            .await
    }

    async fn delete(
        &self,
        id: UserId,
        expected: Option<i64>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<bool, RepositoryError> {
        let (low, high) = accepted_instants(expected);
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let target = users::table.find(id.0).filter(users::updated_at.between(low, high));
                    if diesel::delete(target).execute(conn).map_err(db)? == 0 {
                        return Ok(false);
                    }
                    crate::chat::forget_messages_of(conn, id)?;
                    append(conn, &audit)?;
                    Ok(true)
                })
            })
            .await
    }

    async fn find_by_identity(&self, provider: &str, subject: &str) -> Result<Option<User>, RepositoryError> {
        let (provider, subject) = (provider.to_owned(), subject.to_owned());
        self.db
            .run(move |conn| {
                let row: Option<UserRow> = users::table
                    .inner_join(oauth_identities::table)
                    .filter(oauth_identities::provider.eq(&provider))
                    .filter(oauth_identities::subject.eq(&subject))
                    .select(UserRow::as_select())
                    .first(conn)
                    .optional()
                    .map_err(db)?;
                row.map(UserRow::into_user).transpose()
            })
            .await
    }

    async fn create_with_identity(
        &self,
        user: NewUser,
        identity: ExternalIdentity,
        audit: Vec<NewAuditEntry>,
    ) -> Result<User, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let created = insert_user(conn, &user)?;
                    insert_identity(conn, created.id, &identity)?;
                    append(conn, &naming(&audit, created.id))?;
                    Ok(created)
                })
            })
            .await
    }

    async fn link_identity(
        &self,
        id: UserId,
        identity: ExternalIdentity,
        audit: Vec<NewAuditEntry>,
    ) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    insert_identity(conn, id, &identity)?;
                    append(conn, &audit)
                })
            })
            .await
    }

    async fn totp_state(&self, id: UserId) -> Result<Option<TotpState>, RepositoryError> {
        self.db
            .run(move |conn| {
                let row: Option<(bool, Option<String>, Option<i64>, Option<NaiveDateTime>)> = users::table
                    .left_join(totp_credentials::table)
                    .filter(users::id.eq(id.0))
                    .select((
                        users::totp_enabled,
                        totp_credentials::secret.nullable(),
                        totp_credentials::last_step.nullable(),
                        totp_credentials::locked_until.nullable(),
                    ))
                    .first(conn)
                    .optional()
                    .map_err(db)?;
                Ok(row.map(|(enabled, secret, last_step, locked_until)| TotpState {
                    secret,
                    enabled,
                    last_step,
                    locked_until: locked_until.map(|t| t.and_utc()),
                }))
            })
            .await
    }

    async fn set_pending_totp(&self, id: UserId, secret: String, at: DateTime<Utc>) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // Conditional on TOTP being off (and locking the user's row), so an enabled
                    // secret is never replaced.
                    let off = diesel::update(users::table.find(id.0).filter(users::totp_enabled.eq(false)))
                        .set(users::updated_at.eq(at.naive_utc()))
                        .execute(conn)
                        .map_err(db)?;
                    if off == 0 {
                        return Ok(false);
                    }
                    diesel::delete(totp_credentials::table.find(id.0)).execute(conn).map_err(db)?;
                    diesel::insert_into(totp_credentials::table)
                        .values((
                            totp_credentials::user_id.eq(id.0),
                            totp_credentials::secret.eq(&secret),
                            totp_credentials::created_at.eq(at.naive_utc()),
                        ))
                        .execute(conn)
                        .map_err(db)?;
                    Ok(true)
                })
            })
            .await
    }

    async fn enable_totp(
        &self,
        id: UserId,
        used_step: Option<i64>,
        recovery_codes: Vec<TokenHash>,
        at: DateTime<Utc>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<bool, RepositoryError> {
        let at = at.naive_utc();
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // One conditional statement decides, so a refused enable writes nothing: the
                    // account must be off and hold a pending secret. It also takes the user's row
                    // lock, which setup and disable take first too, so the secret stays put.
                    let pending = totp_credentials::table
                        .select(totp_credentials::user_id)
                        .filter(totp_credentials::user_id.eq(id.0));
                    let enabled = diesel::update(
                        users::table.find(id.0).filter(users::totp_enabled.eq(false)).filter(users::id.eq_any(pending)),
                    )
                    .set((users::totp_enabled.eq(true), users::updated_at.eq(at)))
                    .execute(conn)
                    .map_err(db)?;
                    if enabled == 0 {
                        return Ok(false);
                    }
                    diesel::update(totp_credentials::table.find(id.0))
                        .set(totp_credentials::last_step.eq(used_step))
                        .execute(conn)
                        .map_err(db)?;
                    forget_recovery_codes(conn, id)?;
                    for code in &recovery_codes {
                        diesel::insert_into(totp_recovery_codes::table)
                            .values((
                                totp_recovery_codes::user_id.eq(id.0),
                                totp_recovery_codes::code_hash.eq(code.as_str()),
                                totp_recovery_codes::created_at.eq(at),
                            ))
                            .execute(conn)
                            .map_err(db)?;
                    }
                    append(conn, &audit)?;
                    Ok(true)
                })
            })
            .await
    }

    async fn disable_totp(
        &self,
        id: UserId,
        at: DateTime<Utc>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    diesel::update(users::table.find(id.0))
                        .set((users::totp_enabled.eq(false), users::updated_at.eq(at.naive_utc())))
                        .execute(conn)
                        .map_err(db)?;
                    diesel::delete(totp_credentials::table.find(id.0)).execute(conn).map_err(db)?;
                    forget_recovery_codes(conn, id)?;
                    append(conn, &audit)
                })
            })
            .await
    }

    async fn use_totp_step(&self, id: UserId, step: i64) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                // The conditional update is the arbiter: of two sign-ins with the same code, one
                // moves the step and the other finds it already there.
                let enabled =
                    users::table.select(users::id).filter(users::id.eq(id.0)).filter(users::totp_enabled.eq(true));
                diesel::update(
                    totp_credentials::table
                        .filter(totp_credentials::user_id.eq_any(enabled))
                        .filter(totp_credentials::last_step.is_null().or(totp_credentials::last_step.lt(step))),
                )
                .set(totp_credentials::last_step.eq(Some(step)))
                .execute(conn)
                .map(|n| n > 0)
                .map_err(db)
            })
            .await
    }

    async fn use_recovery_code(
        &self,
        id: UserId,
        code: &TokenHash,
        at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let code = code.as_str().to_owned();
        self.db
            .run(move |conn| {
                diesel::update(
                    totp_recovery_codes::table
                        .filter(totp_recovery_codes::user_id.eq(id.0))
                        .filter(totp_recovery_codes::code_hash.eq(&code))
                        .filter(totp_recovery_codes::used_at.is_null()),
                )
                .set(totp_recovery_codes::used_at.eq(Some(at.naive_utc())))
                .execute(conn)
                .map(|n| n > 0)
                .map_err(db)
            })
            .await
    }

    async fn record_second_factor_failure(
        &self,
        id: UserId,
        limit: u32,
        lock_until: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, RepositoryError> {
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // The increment and the read are one locked step, so concurrent guesses are
                    // all counted and exactly one of them locks.
                    let failures: Option<i32> = diesel::update(totp_credentials::table.find(id.0))
                        .set(totp_credentials::failed_attempts.eq(totp_credentials::failed_attempts + 1))
                        .returning(totp_credentials::failed_attempts)
                        .get_result(conn)
                        .optional()
                        .map_err(db)?;
                    if failures.is_none_or(|n| n < limit) {
                        return Ok(None);
                    }
                    diesel::update(totp_credentials::table.find(id.0))
                        .set((
                            totp_credentials::failed_attempts.eq(0),
                            totp_credentials::locked_until.eq(Some(lock_until.naive_utc())),
                        ))
                        .execute(conn)
                        .map_err(db)?;
                    Ok(Some(lock_until))
                })
            })
            .await
    }

    async fn clear_second_factor_failures(&self, id: UserId) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                diesel::update(totp_credentials::table.find(id.0))
                    .set((
                        totp_credentials::failed_attempts.eq(0),
                        totp_credentials::locked_until.eq(None::<NaiveDateTime>),
                    ))
                    .execute(conn)
                    .map(drop)
                    .map_err(db)
            })
            .await
    }

    async fn recovery_codes_left(&self, id: UserId) -> Result<u32, RepositoryError> {
        self.db
            .run(move |conn| {
                let left: i64 = totp_recovery_codes::table
                    .filter(totp_recovery_codes::user_id.eq(id.0))
                    .filter(totp_recovery_codes::used_at.is_null())
                    .count()
                    .get_result(conn)
                    .map_err(db)?;
                Ok(u32::try_from(left).unwrap_or(0))
            })
            .await
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
struct RefreshTokenRow {
    id: i64,
    user_id: i64,
    family_id: String,
    signed_in_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = refresh_tokens)]
struct NewRefreshTokenRow<'a> {
    user_id: i64,
    family_id: &'a str,
    token_hash: &'a str,
    signed_in_at: NaiveDateTime,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

impl<'a> From<&'a NewRefreshToken> for NewRefreshTokenRow<'a> {
    fn from(t: &'a NewRefreshToken) -> Self {
        Self {
            user_id: t.user_id.0,
            family_id: &t.family_id,
            token_hash: t.hash.as_str(),
            signed_in_at: t.signed_in_at.naive_utc(),
            created_at: t.created_at.naive_utc(),
            expires_at: t.expires_at.naive_utc(),
        }
    }
}

/// [`RefreshTokenStore`] on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselRefreshTokenStore {
    db: Database,
}

impl DieselRefreshTokenStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl RefreshTokenStore for DieselRefreshTokenStore {
    async fn insert(&self, token: NewRefreshToken, audit: Vec<NewAuditEntry>) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    diesel::insert_into(refresh_tokens::table)
                        .values(NewRefreshTokenRow::from(&token))
                        .execute(conn)
                        .map_err(db)?;
                    if let Some(session) = &token.provider_session {
                        crate::oidc::insert_provider_session(conn, &token, session)?;
                    }
                    append(conn, &audit)
                })
            })
            .await
    }

    async fn find(&self, hash: &TokenHash) -> Result<Option<RefreshTokenRecord>, RepositoryError> {
        let hash = hash.as_str().to_owned();
        self.db
            .run(move |conn| {
                let row = refresh_tokens::table
                    .filter(refresh_tokens::token_hash.eq(&hash))
                    .select(RefreshTokenRow::as_select())
                    .first(conn)
                    .optional()
                    .map_err(db)?;
                Ok(row.map(|r| RefreshTokenRecord {
                    id: r.id,
                    user_id: UserId(r.user_id),
                    family_id: r.family_id,
                    signed_in_at: r.signed_in_at.and_utc(),
                    expires_at: r.expires_at.and_utc(),
                    used_at: r.used_at.map(|t| t.and_utc()),
                    revoked_at: r.revoked_at.map(|t| t.and_utc()),
                }))
            })
            .await
    }

    async fn rotate(&self, used: i64, next: NewRefreshToken, at: DateTime<Utc>) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // The conditional update is the race arbiter: of two requests presenting the
                    // same token, exactly one sees a row change.
                    let claimed = diesel::update(
                        refresh_tokens::table
                            .find(used)
                            .filter(refresh_tokens::used_at.is_null())
                            .filter(refresh_tokens::revoked_at.is_null()),
                    )
                    .set(refresh_tokens::used_at.eq(Some(at.naive_utc())))
                    .execute(conn)
                    .map_err(db)?;
                    if claimed == 0 {
                        return Ok(false);
                    }
                    diesel::insert_into(refresh_tokens::table)
                        .values(NewRefreshTokenRow::from(&next))
                        .execute(conn)
                        .map_err(db)?;
                    Ok(true)
                })
            })
            .await
    }

    async fn revoke_family(
        &self,
        family_id: &str,
        at: DateTime<Utc>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<(), RepositoryError> {
        let family_id = family_id.to_owned();
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    revoke_family_in(conn, &family_id, at)?;
                    append(conn, &audit)
                })
            })
            .await
    }

    async fn sign_in(&self, family_id: &str) -> Result<Option<SignIn>, RepositoryError> {
        let family_id = family_id.to_owned();
        self.db
            .run(move |conn| {
                // The family's newest token: revoking a family revokes every token it has left,
                // so the newest says whether the session ended; all carry its sign-in's time.
                let newest: Option<(i64, NaiveDateTime, Option<NaiveDateTime>)> = refresh_tokens::table
                    .filter(refresh_tokens::family_id.eq(&family_id))
                    .order(refresh_tokens::id.desc())
                    .select((refresh_tokens::user_id, refresh_tokens::signed_in_at, refresh_tokens::revoked_at))
                    .first(conn)
                    .optional()
                    .map_err(db)?;
                Ok(newest.map(|(user_id, signed_in_at, revoked_at)| SignIn {
                    user_id: UserId(user_id),
                    signed_in_at: signed_in_at.and_utc(),
                    ended: revoked_at.is_some(),
                }))
            })
            .await
    }

    async fn revoke_stolen_family(
        &self,
        family_id: &str,
        user: UserId,
        at: DateTime<Utc>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<(), RepositoryError> {
        let family_id = family_id.to_owned();
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    revoke_family_in(conn, &family_id, at)?;
                    end_access_tokens(conn, user)?;
                    let revoked = crate::tokens::delete_made_from(conn, user, &family_id)?;
                    let audit: Vec<NewAuditEntry> =
                        audit.iter().map(|entry| entry.clone().with("revoked_token_ids", revoked.as_slice())).collect();
                    append(conn, &audit)
                })
            })
            .await
    }

    async fn revoke_all_for_user(&self, user_id: UserId, at: DateTime<Utc>) -> Result<(), RepositoryError> {
        self.db.run(move |conn| revoke_user_tokens(conn, user_id, at.naive_utc())).await
    }

    async fn end_provider_session(
        &self,
        issuer: &str,
        sid: &str,
        subject: Option<String>,
        at: DateTime<Utc>,
        audit: NewAuditEntry,
    ) -> Result<Vec<(String, UserId)>, RepositoryError> {
        let (issuer, sid) = (issuer.to_owned(), sid.to_owned());
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let families = crate::oidc::sessions_of(conn, &issuer, &sid, subject.as_deref())?;
                    let mut entries = Vec::with_capacity(families.len());
                    for (family, user) in &families {
                        revoke_family_in(conn, family, at)?;
                        entries.push(audit.clone().by(*user).on(*user));
                    }
                    append(conn, &entries)?;
                    Ok(families)
                })
            })
            .await
    }

    async fn end_every_session(
        &self,
        user: UserId,
        at: DateTime<Utc>,
        audit: Vec<NewAuditEntry>,
    ) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    revoke_user_tokens(conn, user, at.naive_utc())?;
                    end_access_tokens(conn, user)?;
                    append(conn, &audit)
                })
            })
            .await
    }

    async fn claim_logout_token(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let (issuer, jti) = (issuer.to_owned(), jti.to_owned());
        self.db.run(move |conn| crate::oidc::claim_logout_token(conn, &issuer, &jti, expires_at)).await
    }
}
