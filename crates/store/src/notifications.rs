//! Notifications, each user's counters of them, preferences and follows in the database.
//!
//! A notice for many recipients is one statement on either engine (the recipients a JSON array
//! the statement unpacks), and each recipient's counters move in the same transaction: a
//! thousand followers are one round trip, not a thousand.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text, Timestamp};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_notifications::{
    EmailDelivery, Follow, Inbox, Kind, NewNotifications, Notification, NotificationId, NotificationRepository,
    Preference, ReadMark, Subject, SubjectType,
};
use workbench_users::{UserId, UserStatus};

use crate::database::{read_snapshot, stored, write_transaction};
use crate::error::{corrupt, count, db};
use crate::schema::users;
use crate::{AnyConnection, Database};

diesel::table! {
    /// One notification of one recipient.
    notifications (id) {
        id -> BigInt,
        recipient_id -> BigInt,
        kind -> Text,
        actor_id -> Nullable<BigInt>,
        subject_type -> Text,
        subject_id -> BigInt,
        title -> Text,
        body -> Text,
        created_at -> Timestamp,
        read_at -> Nullable<Timestamp>,
        emailed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Each user's notifications counted, kept with every write of them.
    notification_inboxes (user_id) {
        user_id -> BigInt,
        total -> BigInt,
        unread -> BigInt,
    }
}

diesel::table! {
    /// What a user set for a kind.
    notification_preferences (user_id, kind) {
        user_id -> BigInt,
        kind -> Text,
        in_app -> Bool,
        email -> Text,
    }
}

diesel::table! {
    /// Who follows (or refuses to follow) what.
    follows (subject_type, subject_id, user_id) {
        subject_type -> Text,
        subject_id -> BigInt,
        user_id -> BigInt,
        following -> Bool,
        created_at -> Timestamp,
    }
}

/// A notification as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = notifications)]
struct NotificationRow {
    id: i64,
    recipient_id: i64,
    kind: String,
    actor_id: Option<i64>,
    subject_type: String,
    subject_id: i64,
    title: String,
    body: String,
    created_at: NaiveDateTime,
    read_at: Option<NaiveDateTime>,
}

impl NotificationRow {
    fn into_notification(self) -> Result<Notification, RepositoryError> {
        Ok(Notification {
            id: NotificationId(self.id),
            recipient_id: UserId(self.recipient_id),
            kind: Kind::parse(&self.kind).ok_or_else(|| corrupt("notifications.kind", &self.kind))?,
            actor_id: self.actor_id.map(UserId),
            subject: Subject {
                kind: SubjectType::parse(&self.subject_type)
                    .ok_or_else(|| corrupt("notifications.subject_type", &self.subject_type))?,
                id: self.subject_id,
            },
            title: self.title,
            body: self.body,
            created_at: self.created_at.and_utc(),
            read_at: self.read_at.map(|at| at.and_utc()),
        })
    }
}

/// What the batch insert answers per row.
#[derive(QueryableByName)]
struct Made {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    recipient_id: i64,
}

/// One statement, whatever the number of recipients: `$1` is their ids as a JSON array.
const PG_CREATE: &str = "WITH made AS (
    INSERT INTO notifications (recipient_id, kind, actor_id, subject_type, subject_id, title, body, created_at)
    SELECT r.value::bigint, $2, $3, $4, $5, $6, $7, $8 FROM jsonb_array_elements_text($1::jsonb) AS r
    RETURNING id, recipient_id
), counted AS (
    INSERT INTO notification_inboxes (user_id, total, unread)
    SELECT recipient_id, 1, 1 FROM made
    ON CONFLICT (user_id) DO UPDATE
    SET total = notification_inboxes.total + 1, unread = notification_inboxes.unread + 1
), digested AS (
    INSERT INTO notification_digests (user_id, since_id)
    SELECT m.recipient_id, m.id FROM made AS m
    JOIN jsonb_array_elements_text($9::jsonb) AS d ON d.value::bigint = m.recipient_id
    ON CONFLICT (user_id) DO NOTHING
)
SELECT id, recipient_id FROM made ORDER BY id";

/// SQLite numbers `$n` in the order they first appear: `$1` comes first.
const SQLITE_CREATE: &str = "WITH r AS (SELECT CAST(value AS INTEGER) AS id FROM json_each($1))
    INSERT INTO notifications (recipient_id, kind, actor_id, subject_type, subject_id, title, body, created_at)
    SELECT r.id, $2, $3, $4, $5, $6, $7, $8 FROM r WHERE TRUE
    RETURNING id, recipient_id";

const SQLITE_COUNT: &str = "INSERT INTO notification_inboxes (user_id, total, unread)
    SELECT CAST(r.value AS INTEGER), 1, 1 FROM json_each($1) AS r WHERE TRUE
    ON CONFLICT (user_id) DO UPDATE
    SET total = notification_inboxes.total + 1, unread = notification_inboxes.unread + 1";

/// A digest waits from the first notification it holds: an earlier one still waiting stays.
/// (`$1`, the first notification's id, comes first: SQLite numbers in order of appearance.)
const SQLITE_DIGEST: &str = "INSERT INTO notification_digests (user_id, since_id)
    SELECT CAST(d.value AS INTEGER), $1 FROM json_each($2) AS d WHERE TRUE
    ON CONFLICT (user_id) DO NOTHING";

/// The digests taken by one run; on PostgreSQL, two runs at once take different users.
const PG_TAKE_DIGESTS: &str = "DELETE FROM notification_digests WHERE user_id IN (
    SELECT user_id FROM notification_digests ORDER BY user_id LIMIT $1 FOR UPDATE SKIP LOCKED
) RETURNING user_id, since_id";

const SQLITE_TAKE_DIGESTS: &str = "DELETE FROM notification_digests WHERE user_id IN (
    SELECT user_id FROM notification_digests ORDER BY user_id LIMIT $1
) RETURNING user_id, since_id";

#[derive(QueryableByName)]
struct Digest {
    #[diesel(sql_type = BigInt)]
    user_id: i64,
    #[diesel(sql_type = BigInt)]
    since_id: i64,
}

/// An upsert, the same text on both engines (Diesel's own does not span them).
const SET_PREFERENCE: &str = "INSERT INTO notification_preferences (user_id, kind, in_app, email)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (user_id, kind) DO UPDATE SET in_app = excluded.in_app, email = excluded.email";

const FOLLOW: &str = "INSERT INTO follows (subject_type, subject_id, user_id, following, created_at)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (subject_type, subject_id, user_id)
    DO UPDATE SET following = excluded.following, created_at = excluded.created_at";

/// Notifications in the database.
#[derive(Debug, Clone)]
pub struct DieselNotificationRepository {
    db: Database,
}

impl DieselNotificationRepository {
    /// The repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl NotificationRepository for DieselNotificationRepository {
    async fn create(&self, notices: NewNotifications) -> Result<Vec<Notification>, RepositoryError> {
        if notices.recipients.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = notices.recipients.iter().map(|r| r.0).collect();
        let recipients = serde_json::to_string(&ids).expect("a list of numbers is JSON");
        let daily: Vec<i64> = notices.daily.iter().map(|r| r.0).collect();
        let daily = serde_json::to_string(&daily).expect("a list of numbers is JSON");
        let at = stored(notices.created_at);
        let made = self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let sql = match conn {
                        AnyConnection::Postgresql(_) => PG_CREATE,
                        AnyConnection::Sqlite(_) => SQLITE_CREATE,
                    };
                    let query = diesel::sql_query(sql)
                        .bind::<Text, _>(&recipients)
                        .bind::<Text, _>(notices.kind.as_str())
                        .bind::<diesel::sql_types::Nullable<BigInt>, _>(notices.actor_id.map(|a| a.0))
                        .bind::<Text, _>(notices.subject.kind.as_str())
                        .bind::<BigInt, _>(notices.subject.id)
                        .bind::<Text, _>(&notices.title)
                        .bind::<Text, _>(&notices.body)
                        .bind::<Timestamp, _>(at);
                    let made: Vec<Made> = match conn {
                        AnyConnection::Postgresql(_) => query.bind::<Text, _>(&daily).load(conn).map_err(db)?,
                        AnyConnection::Sqlite(_) => {
                            let made: Vec<Made> = query.load(conn).map_err(db)?;
                            diesel::sql_query(SQLITE_COUNT).bind::<Text, _>(&recipients).execute(conn).map_err(db)?;
                            if let Some(first) = made.first().filter(|_| !notices.daily.is_empty()) {
                                diesel::sql_query(SQLITE_DIGEST)
                                    .bind::<BigInt, _>(first.id)
                                    .bind::<Text, _>(&daily)
                                    .execute(conn)
                                    .map_err(db)?;
                            }
                            made
                        }
                    };
                    Ok(made
                        .into_iter()
                        .map(|m| Notification {
                            id: NotificationId(m.id),
                            recipient_id: UserId(m.recipient_id),
                            kind: notices.kind,
                            actor_id: notices.actor_id,
                            subject: notices.subject,
                            title: notices.title.clone(),
                            body: notices.body.clone(),
                            created_at: at.and_utc(),
                            read_at: None,
                        })
                        .collect())
                })
            })
            .await?;
        Ok(made)
    }

    async fn inbox(&self, user: UserId, unread_only: bool, page: PageRequest) -> Result<Inbox, RepositoryError> {
        self.db
            .run(move |conn| {
                read_snapshot(conn, |conn| {
                    let counters: Option<(i64, i64)> = notification_inboxes::table
                        .find(user.0)
                        .select((notification_inboxes::total, notification_inboxes::unread))
                        .first(conn)
                        .optional()
                        .map_err(db)?;
                    let (total, unread) = counters.unwrap_or((0, 0));
                    let listed = if unread_only { unread } else { total };
                    let items = if listed > page.offset() {
                        let mut q = notifications::table
                            .filter(notifications::recipient_id.eq(user.0))
                            .select(NotificationRow::as_select())
                            .order(notifications::id.desc())
                            .limit(page.limit())
                            .offset(page.offset())
                            .into_boxed();
                        if unread_only {
                            q = q.filter(notifications::read_at.is_null());
                        }
                        q.load(conn).map_err(db)?.into_iter().map(NotificationRow::into_notification).collect::<Result<
                            Vec<_>,
                            _,
                        >>(
                        )?
                    } else {
                        Vec::new()
                    };
                    Ok(Inbox { page: Page::new(items, count(listed), page), unread_count: count(unread) })
                })
            })
            .await
    }

    async fn mark_read(&self, user: UserId, mark: ReadMark, at: DateTime<Utc>) -> Result<u64, RepositoryError> {
        let at = stored(at);
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let mine = notifications::table
                        .filter(notifications::recipient_id.eq(user.0))
                        .filter(notifications::read_at.is_null());
                    let read = if mark.is_everything() {
                        diesel::update(mine).set(notifications::read_at.eq(at)).execute(conn).map_err(db)?
                    } else {
                        let up_to = mark.up_to_id.map_or(0, |id| id.0);
                        let ids: Vec<i64> = mark.ids.iter().map(|id| id.0).collect();
                        diesel::update(mine.filter(notifications::id.le(up_to).or(notifications::id.eq_any(ids))))
                            .set(notifications::read_at.eq(at))
                            .execute(conn)
                            .map_err(db)?
                    };
                    let unread: Option<i64> = if read > 0 {
                        diesel::update(notification_inboxes::table.find(user.0))
                            .set(notification_inboxes::unread.eq(notification_inboxes::unread - read as i64))
                            .returning(notification_inboxes::unread)
                            .get_result(conn)
                            .optional()
                            .map_err(db)?
                    } else {
                        notification_inboxes::table
                            .find(user.0)
                            .select(notification_inboxes::unread)
                            .first(conn)
                            .optional()
                            .map_err(db)?
                    };
                    Ok(count(unread.unwrap_or(0)))
                })
            })
            .await
    }

    async fn preferences(&self, users: Vec<UserId>) -> Result<Vec<(UserId, Kind, Preference)>, RepositoryError> {
        self.db
            .run(move |conn| {
                let rows: Vec<(i64, String, bool, String)> = notification_preferences::table
                    .filter(notification_preferences::user_id.eq_any(users.iter().map(|u| u.0).collect::<Vec<_>>()))
                    .select((
                        notification_preferences::user_id,
                        notification_preferences::kind,
                        notification_preferences::in_app,
                        notification_preferences::email,
                    ))
                    .load(conn)
                    .map_err(db)?;
                // A kind this build no longer knows is passed over, not an error.
                Ok(rows
                    .into_iter()
                    .filter_map(|(user, kind, in_app, email)| {
                        let email = EmailDelivery::parse(&email)?;
                        Some((UserId(user), Kind::parse(&kind)?, Preference { in_app, email }))
                    })
                    .collect())
            })
            .await
    }

    async fn set_preferences(&self, user: UserId, set: Vec<(Kind, Preference)>) -> Result<(), RepositoryError> {
        if set.is_empty() {
            return Ok(());
        }
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    for (kind, preference) in &set {
                        diesel::sql_query(SET_PREFERENCE)
                            .bind::<BigInt, _>(user.0)
                            .bind::<Text, _>(kind.as_str())
                            .bind::<Bool, _>(preference.in_app)
                            .bind::<Text, _>(preference.email.as_str())
                            .execute(conn)
                            .map_err(db)?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn follow(&self, follow: Follow, at: DateTime<Utc>) -> Result<(), RepositoryError> {
        let at = stored(at);
        self.db
            .run(move |conn| {
                diesel::sql_query(FOLLOW)
                    .bind::<Text, _>(follow.subject.kind.as_str())
                    .bind::<BigInt, _>(follow.subject.id)
                    .bind::<BigInt, _>(follow.user_id.0)
                    .bind::<Bool, _>(follow.following)
                    .bind::<Timestamp, _>(at)
                    .execute(conn)
                    .map(|_| ())
                    .map_err(db)
            })
            .await
    }

    async fn follows_of(&self, subjects: Vec<Subject>) -> Result<Vec<Follow>, RepositoryError> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        self.db
            .run(move |conn| {
                let mut q = follows::table
                    .select((follows::subject_type, follows::subject_id, follows::user_id, follows::following))
                    .into_boxed();
                for subject in &subjects {
                    q = q.or_filter(
                        follows::subject_type.eq(subject.kind.as_str()).and(follows::subject_id.eq(subject.id)),
                    );
                }
                let rows: Vec<(String, i64, i64, bool)> = q.load(conn).map_err(db)?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(kind, id, user, following)| {
                        let subject = Subject { kind: SubjectType::parse(&kind)?, id };
                        Some(Follow { user_id: UserId(user), subject, following })
                    })
                    .collect())
            })
            .await
    }

    async fn unmailed(&self, ids: Vec<NotificationId>) -> Result<Vec<Notification>, RepositoryError> {
        self.db
            .run(move |conn| {
                notifications::table
                    .filter(notifications::id.eq_any(ids.iter().map(|id| id.0).collect::<Vec<_>>()))
                    .filter(notifications::emailed_at.is_null())
                    .order(notifications::id.asc())
                    .select(NotificationRow::as_select())
                    .load(conn)
                    .map_err(db)?
                    .into_iter()
                    .map(NotificationRow::into_notification)
                    .collect()
            })
            .await
    }

    async fn take_digests(&self, limit: u32) -> Result<Vec<(UserId, NotificationId)>, RepositoryError> {
        self.db
            .run(move |conn| {
                let sql = match conn {
                    AnyConnection::Postgresql(_) => PG_TAKE_DIGESTS,
                    AnyConnection::Sqlite(_) => SQLITE_TAKE_DIGESTS,
                };
                let taken: Vec<Digest> = write_transaction(conn, |conn| {
                    diesel::sql_query(sql).bind::<BigInt, _>(i64::from(limit)).load(conn).map_err(db)
                })?;
                Ok(taken.into_iter().map(|d| (UserId(d.user_id), NotificationId(d.since_id))).collect())
            })
            .await
    }

    async fn digest_of(
        &self,
        user: UserId,
        since: NotificationId,
        limit: u32,
    ) -> Result<Vec<Notification>, RepositoryError> {
        self.db
            .run(move |conn| {
                notifications::table
                    .filter(notifications::recipient_id.eq(user.0))
                    .filter(notifications::id.ge(since.0))
                    .filter(notifications::read_at.is_null())
                    .filter(notifications::emailed_at.is_null())
                    .order(notifications::id.asc())
                    .limit(i64::from(limit))
                    .select(NotificationRow::as_select())
                    .load(conn)
                    .map_err(db)?
                    .into_iter()
                    .map(NotificationRow::into_notification)
                    .collect()
            })
            .await
    }

    async fn mark_all_mailed(&self, ids: Vec<NotificationId>, at: DateTime<Utc>) -> Result<(), RepositoryError> {
        let at = stored(at);
        self.db
            .run(move |conn| {
                diesel::update(notifications::table.filter(notifications::id.eq_any(ids.iter().map(|id| id.0))))
                    .set(notifications::emailed_at.eq(at))
                    .execute(conn)
                    .map(|_| ())
                    .map_err(db)
            })
            .await
    }

    async fn addresses(&self, ids: Vec<UserId>) -> Result<Vec<(UserId, String)>, RepositoryError> {
        self.db
            .run(move |conn| {
                let rows: Vec<(i64, String)> = users::table
                    .filter(users::id.eq_any(ids.iter().map(|u| u.0).collect::<Vec<_>>()))
                    .filter(users::status.eq(UserStatus::Active.as_str()))
                    .select((users::id, users::email))
                    .load(conn)
                    .map_err(db)?;
                Ok(rows.into_iter().map(|(id, email)| (UserId(id), email)).collect())
            })
            .await
    }

    async fn users_named(&self, names: Vec<String>) -> Result<Vec<UserId>, RepositoryError> {
        self.db
            .run(move |conn| {
                let keys: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
                let ids: Vec<i64> = users::table
                    .filter(users::username_key.eq_any(keys))
                    .filter(users::status.eq(UserStatus::Active.as_str()))
                    .select(users::id)
                    .load(conn)
                    .map_err(db)?;
                Ok(ids.into_iter().map(UserId).collect())
            })
            .await
    }
}
