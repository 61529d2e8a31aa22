//! Notifications on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use workbench_core::{FieldErrors, PageRequest};
use workbench_notifications::{Kind, Notification, Preference, Preferences, ReadDraft};

use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};

use crate::body::{Lenient, WholeNumber, component, nullable};
use crate::pagination::{PageNumberSchema, PageSizeSchema, Pagination};

/// What a notification is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectResponse {
    /// `task`, `comment`, `project`, `trade`, `message` or `file`.
    #[serde(rename = "type")]
    #[schema(example = "task")]
    pub kind: &'static str,
    pub id: i64,
}

/// One notification, as listed and as pushed (`notification.created`).
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationResponse {
    pub id: i64,
    /// `assigned`, `commented`, `mentioned`, `status_changed`, `due_soon`, `reminder`,
    /// `project_invited`, `trade_proposed`, `trade_answered` or `share_downloaded`.
    #[schema(example = "assigned")]
    pub kind: &'static str,
    /// Who did it; null for what the clock did.
    pub actor_id: Option<i64>,
    pub subject: SubjectResponse,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// When the caller marked it read; null while unread.
    pub read_at: Option<DateTime<Utc>>,
}

impl From<Notification> for NotificationResponse {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id.0,
            kind: n.kind.as_str(),
            actor_id: n.actor_id.map(|a| a.0),
            subject: SubjectResponse { kind: n.subject.kind.as_str(), id: n.subject.id },
            title: n.title,
            body: n.body,
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

/// A page of the caller's notifications, and how many of all of them are unread.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub data: Vec<NotificationResponse>,
    pub pagination: Pagination,
    /// The caller's unread notifications, all pages together.
    pub unread_count: u64,
}

/// `unread`, `page` and `per_page` of the caller's notifications.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Only the unread ones.
    pub unread: Option<bool>,
    /// Page number, from 1.
    #[param(value_type = Option<PageNumberSchema>, inline)]
    pub page: Option<i64>,
    /// Items per page, from 1; more than 100 is read as 100. Default 20.
    #[param(value_type = Option<PageSizeSchema>, inline)]
    pub per_page: Option<i64>,
}

impl NotificationQuery {
    pub fn page(&self) -> Result<PageRequest, FieldErrors> {
        PageRequest::from_signed(self.page, self.per_page)
    }
}

/// The schema of the notification ids a mark names.
#[derive(Debug)]
pub struct NotificationIdsSchema;

component!(
    NotificationIdsSchema,
    "NotificationIds",
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(1))
        )
        .max_items(Some(workbench_notifications::MAX_MARKED_IDS))
);

/// Which of the caller's notifications to mark read; neither field: all of them.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct MarkNotificationsReadRequest {
    /// This notification and every older one.
    #[schema(value_type = Option<i64>, minimum = 1)]
    #[serde(default)]
    pub up_to_id: Lenient<i64>,
    /// These notifications (at most 1,000).
    #[schema(value_type = Option<NotificationIdsSchema>)]
    #[serde(default)]
    pub ids: Lenient<Vec<WholeNumber>>,
}

impl MarkNotificationsReadRequest {
    pub fn into_draft(self) -> ReadDraft {
        let mut type_failures = workbench_core::TypeFailures::default();
        let up_to_id = nullable("up_to_id", self.up_to_id, &mut type_failures);
        let ids = nullable("ids", self.ids, &mut type_failures).map(|ids| ids.into_iter().map(|id| id.0).collect());
        ReadDraft { up_to_id, ids, type_failures }
    }
}

/// When a kind's notifications are e-mailed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailSchema {
    Off,
    Instant,
    Daily,
}

/// How the caller gets one kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreferenceResponse {
    /// Listed here and pushed to the caller's sockets.
    pub in_app: bool,
    #[schema(value_type = EmailSchema)]
    pub email: &'static str,
}

impl From<Preference> for PreferenceResponse {
    fn from(p: Preference) -> Self {
        Self { in_app: p.in_app, email: p.email.as_str() }
    }
}

/// A change of how the caller gets one kind: what it leaves out stays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferenceChange {
    pub in_app: Option<bool>,
    pub email: Option<EmailSchema>,
}

macro_rules! by_kind {
    ($($field:ident => $kind:ident),* $(,)?) => {
        /// The caller's preference for every kind.
        #[derive(Debug, Serialize, ToSchema)]
        pub struct PreferencesResponse {
            $(pub $field: PreferenceResponse,)*
        }

        impl From<Preferences> for PreferencesResponse {
            fn from(p: Preferences) -> Self {
                Self { $($field: p.of(Kind::$kind).into(),)* }
            }
        }

        /// Changes of the caller's preferences, by kind; the kinds left out stay.
        #[derive(Debug, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct PreferencesRequest {
            $(pub $field: Option<PreferenceChange>,)*
        }
    };
}

by_kind! {
    assigned => Assigned,
    commented => Commented,
    mentioned => Mentioned,
    status_changed => StatusChanged,
    due_soon => DueSoon,
    reminder => Reminder,
    project_invited => ProjectInvited,
    trade_proposed => TradeProposed,
    trade_answered => TradeAnswered,
    share_downloaded => ShareDownloaded,
}

/// The signed token of an unsubscribe link.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnsubscribeQuery {
    /// From the link in the e-mail.
    pub token: String,
}

/// What an unsubscribe turned off.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnsubscribeResponse {
    /// The kind whose e-mail is now off, or `digest`: every kind that was mailed in the daily
    /// digest (a digest's link).
    #[schema(example = "assigned")]
    pub kind: &'static str,
    /// Always `off`.
    #[schema(example = "off")]
    pub email: &'static str,
}
