//! Accounts and refresh tokens in the database.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use workbench_core::{Page, RepositoryError};
use workbench_users::{
    Email, NewRefreshToken, NewUser, ProfileChanges, RefreshTokenRecord, RefreshTokenStore, Role, TokenHash, User,
    UserId, UserQuery, UserRepository, UserStatus,
};

use crate::database::write_transaction;
use crate::error::{db, map_db_error};
use crate::schema::{refresh_tokens, users};
use crate::{AnyConnection, Database};

type Db = <AnyConnection as Connection>::Backend;

/// Unique indexes of `users` and the request field each protects.
const USER_UNIQUE: &[(&str, &str)] = &[("email", "email"), ("username", "username")];

/// The columns a [`UserRow`] reads: everything but the derived lookup columns.
type UserColumns = (
    users::id,
    users::username,
    users::email,
    users::password_hash,
    users::role,
    users::status,
    users::first_name,
    users::last_name,
    users::bio,
    users::avatar_url,
    users::totp_enabled,
    users::created_at,
    users::updated_at,
    users::token_generation,
);
const USER_COLUMNS: UserColumns = (
    users::id,
    users::username,
    users::email,
    users::password_hash,
    users::role,
    users::status,
    users::first_name,
    users::last_name,
    users::bio,
    users::avatar_url,
    users::totp_enabled,
    users::created_at,
    users::updated_at,
    users::token_generation,
);

#[derive(Debug, Queryable)]
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
        })
    }
}

fn corrupt(column: &str, why: &str) -> RepositoryError {
    RepositoryError::Unavailable(anyhow::anyhow!("unexpected value in {column}: {why}"))
}

/// The lower-cased text that user search matches against. Folded here rather than in SQL because
/// SQLite's `lower()` only folds ASCII.
fn search_text(username: &str, first_name: Option<&str>, last_name: Option<&str>) -> String {
    [Some(username), first_name, last_name].into_iter().flatten().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// A `LIKE` pattern matching `term` anywhere, with the pattern's own wildcards escaped.
pub(crate) fn contains_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
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

fn find_row(conn: &mut AnyConnection, id: UserId) -> Result<Option<UserRow>, RepositoryError> {
    users::table.find(id.0).select(USER_COLUMNS).first(conn).optional().map_err(db)
}

#[async_trait]
impl UserRepository for DieselUserRepository {
    async fn create(&self, user: NewUser) -> Result<User, RepositoryError> {
        self.db
            .run(move |conn| {
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
                    .returning(USER_COLUMNS)
                    .get_result::<UserRow>(conn)
                    .map_err(|e| map_db_error(e, USER_UNIQUE))?
                    .into_user()
            })
            .await
    }

    async fn find(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        self.db.run(move |conn| find_row(conn, id)?.map(UserRow::into_user).transpose()).await
    }

    async fn find_for_login(&self, email: &Email) -> Result<Option<(User, Option<String>)>, RepositoryError> {
        let email = email.as_str().to_owned();
        self.db
            .run(move |conn| {
                let row = users::table
                    .filter(users::email.eq(email))
                    .select(USER_COLUMNS)
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
                let rows: Vec<UserRow> = filtered(&query)
                    .select(USER_COLUMNS)
                    .order(users::id.asc())
                    .limit(query.page.limit())
                    .offset(query.page.offset())
                    .load(conn)
                    .map_err(db)?;
                let items = rows.into_iter().map(UserRow::into_user).collect::<Result<Vec<_>, _>>()?;
                Ok(Page::new(items, u64::try_from(total).unwrap_or(0), query.page))
            })
            .await
    }

    async fn update_profile(
        &self,
        id: UserId,
        changes: ProfileChanges,
        at: DateTime<Utc>,
    ) -> Result<Option<User>, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // Take the row's write lock before reading it. Under PostgreSQL's READ
                    // COMMITTED a plain read lets two concurrent changes start from the same old
                    // row, and the later write (which sets every column) silently undoes the
                    // earlier one. Writing first makes the second wait, then read the first's
                    // result. (On SQLite, BEGIN IMMEDIATE already serialises writers.)
                    let locked = diesel::update(users::table.find(id.0))
                        .set(users::updated_at.eq(at.naive_utc()))
                        .execute(conn)
                        .map_err(db)?;
                    if locked == 0 {
                        return Ok(None);
                    }
                    let Some(current) = find_row(conn, id)? else { return Ok(None) };
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
                        .returning(USER_COLUMNS)
                        .get_result::<UserRow>(conn)
                        .optional()
                        .map_err(|e| map_db_error(e, USER_UNIQUE))?
                        .map(UserRow::into_user)
                        .transpose()
                })
            })
            .await
    }

    async fn set_password_hash(&self, id: UserId, hash: String, at: DateTime<Utc>) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                diesel::update(users::table.find(id.0))
                    .set((users::password_hash.eq(Some(hash)), users::updated_at.eq(at.naive_utc())))
                    .execute(conn)
                    .map(drop)
                    .map_err(db)
            })
            .await
    }

    async fn set_role_and_status(
        &self,
        id: UserId,
        role: Option<Role>,
        status: Option<UserStatus>,
        at: DateTime<Utc>,
    ) -> Result<Option<User>, RepositoryError> {
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
                // Disabling starts a new token generation: access tokens issued before stay refused.
                let bump = i64::from(status == Some(UserStatus::Disabled));
                diesel::update(users::table.find(id.0))
                    .set((&change, users::token_generation.eq(users::token_generation + bump)))
                    .returning(USER_COLUMNS)
                    .get_result::<UserRow>(conn)
                    .optional()
                    .map_err(db)?
                    .map(UserRow::into_user)
                    .transpose()
            })
            .await
    }

    async fn delete(&self, id: UserId) -> Result<bool, RepositoryError> {
        self.db.run(move |conn| diesel::delete(users::table.find(id.0)).execute(conn).map(|n| n > 0).map_err(db)).await
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
struct RefreshTokenRow {
    id: i64,
    user_id: i64,
    family_id: String,
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
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

impl<'a> From<&'a NewRefreshToken> for NewRefreshTokenRow<'a> {
    fn from(t: &'a NewRefreshToken) -> Self {
        Self {
            user_id: t.user_id.0,
            family_id: &t.family_id,
            token_hash: t.hash.as_str(),
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
    async fn insert(&self, token: NewRefreshToken) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                diesel::insert_into(refresh_tokens::table)
                    .values(NewRefreshTokenRow::from(&token))
                    .execute(conn)
                    .map(drop)
                    .map_err(db)
            })
            .await
    }

    async fn find(&self, hash: &TokenHash) -> Result<Option<RefreshTokenRecord>, RepositoryError> {
        let hash = hash.as_str().to_owned();
        self.db
            .run(move |conn| {
                let row = refresh_tokens::table
                    .filter(refresh_tokens::token_hash.eq(hash))
                    .select(RefreshTokenRow::as_select())
                    .first(conn)
                    .optional()
                    .map_err(db)?;
                Ok(row.map(|r| RefreshTokenRecord {
                    id: r.id,
                    user_id: UserId(r.user_id),
                    family_id: r.family_id,
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

    async fn revoke_family(&self, family_id: &str, at: DateTime<Utc>) -> Result<(), RepositoryError> {
        let family_id = family_id.to_owned();
        self.db
            .run(move |conn| {
                diesel::update(
                    refresh_tokens::table
                        .filter(refresh_tokens::family_id.eq(family_id))
                        .filter(refresh_tokens::revoked_at.is_null()),
                )
                .set(refresh_tokens::revoked_at.eq(Some(at.naive_utc())))
                .execute(conn)
                .map(drop)
                .map_err(db)
            })
            .await
    }

    async fn revoke_all_for_user(&self, user_id: UserId, at: DateTime<Utc>) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                diesel::update(
                    refresh_tokens::table
                        .filter(refresh_tokens::user_id.eq(user_id.0))
                        .filter(refresh_tokens::revoked_at.is_null()),
                )
                .set(refresh_tokens::revoked_at.eq(Some(at.naive_utc())))
                .execute(conn)
                .map(drop)
                .map_err(db)
            })
            .await
    }
}
