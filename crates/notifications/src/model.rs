//! Notifications, what they are about, and how each user wants each kind delivered.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use workbench_users::UserId;

/// A notification's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NotificationId(pub i64);

/// Why someone is told: each kind has its own delivery preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A task was assigned to you.
    Assigned,
    /// Someone commented on a task you follow.
    Commented,
    /// `@you` in a comment, a task's description or a chat message you may see.
    Mentioned,
    /// A task you follow changed status.
    StatusChanged,
    /// A task of yours is due within a day.
    DueSoon,
    /// A reminder you set on a task.
    Reminder,
    /// You were invited to a project.
    ProjectInvited,
    /// Someone proposed you a trade.
    TradeProposed,
    /// A trade you proposed was answered.
    TradeAnswered,
    /// A share link of yours was downloaded for the first time.
    ShareDownloaded,
}

impl Kind {
    /// Every kind, in the order preferences list them.
    pub const ALL: [Kind; 10] = [
        Kind::Assigned,
        Kind::Commented,
        Kind::Mentioned,
        Kind::StatusChanged,
        Kind::DueSoon,
        Kind::Reminder,
        Kind::ProjectInvited,
        Kind::TradeProposed,
        Kind::TradeAnswered,
        Kind::ShareDownloaded,
    ];

    /// Its name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Assigned => "assigned",
            Kind::Commented => "commented",
            Kind::Mentioned => "mentioned",
            Kind::StatusChanged => "status_changed",
            Kind::DueSoon => "due_soon",
            Kind::Reminder => "reminder",
            Kind::ProjectInvited => "project_invited",
            Kind::TradeProposed => "trade_proposed",
            Kind::TradeAnswered => "trade_answered",
            Kind::ShareDownloaded => "share_downloaded",
        }
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// How a user who never said otherwise gets it: in the app, and by e-mail at once for what
    /// asks them to act (an assignment, a mention), in the daily digest for the rest.
    pub fn default_preference(self) -> Preference {
        let email = match self {
            Kind::Assigned | Kind::Mentioned => EmailDelivery::Instant,
            _ => EmailDelivery::Daily,
        };
        Preference { in_app: true, email }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    /// A task.
    Task,
    /// A comment on a task.
    Comment,
    /// A project.
    Project,
    /// A trade.
    Trade,
    /// A chat message.
    Message,
    /// A file.
    File,
}

impl SubjectType {
    /// Its name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectType::Task => "task",
            SubjectType::Comment => "comment",
            SubjectType::Project => "project",
            SubjectType::Trade => "trade",
            SubjectType::Message => "message",
            SubjectType::File => "file",
        }
    }

    /// The type named `name`, if any.
    pub fn parse(name: &str) -> Option<SubjectType> {
        [Self::Task, Self::Comment, Self::Project, Self::Trade, Self::Message, Self::File]
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

/// The record a notification is about: `{type, id}` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Subject {
    /// What it is.
    #[serde(rename = "type")]
    pub kind: SubjectType,
    /// Its id.
    pub id: i64,
}

impl Subject {
    /// Task `id`.
    pub fn task(id: i64) -> Self {
        Self { kind: SubjectType::Task, id }
    }

    /// Project `id`.
    pub fn project(id: i64) -> Self {
        Self { kind: SubjectType::Project, id }
    }

    /// Trade `id`.
    pub fn trade(id: i64) -> Self {
        Self { kind: SubjectType::Trade, id }
    }

    /// Chat message `id`.
    pub fn message(id: i64) -> Self {
        Self { kind: SubjectType::Message, id }
    }

    /// File `id`.
    pub fn file(id: i64) -> Self {
        Self { kind: SubjectType::File, id }
    }
}

/// One notification of one recipient, as stored and as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// Its id: later notifications have larger ids.
    pub id: NotificationId,
    /// Whose it is (not shown: a user only ever reads their own).
    #[serde(skip)]
    pub recipient_id: UserId,
    /// Why they are told.
    pub kind: Kind,
    /// Who did it; `None` for what the clock did (a reminder).
    pub actor_id: Option<UserId>,
    /// What it is about.
    pub subject: Subject,
    /// One line: what happened.
    pub title: String,
    /// More: the comment, the new status.
    pub body: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When its recipient marked it read.
    pub read_at: Option<DateTime<Utc>>,
}

/// The same notice for several recipients, written as one batch (one row each).
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotifications {
    /// Who gets it: each once.
    pub recipients: Vec<UserId>,
    /// Why.
    pub kind: Kind,
    /// Who did it.
    pub actor_id: Option<UserId>,
    /// About what.
    pub subject: Subject,
    /// What happened.
    pub title: String,
    /// More.
    pub body: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Those of the recipients who want this kind in their daily digest: their digest is
    /// queued with the same write. Delivery sets it from their preferences.
    pub daily: Vec<UserId>,
}

/// A page of a user's notifications, with how many of all of theirs are unread.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbox {
    /// The page.
    pub page: workbench_core::Page<Notification>,
    /// Their unread notifications, all pages together.
    pub unread_count: u64,
}

/// Which of a user's notifications a mark reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadMark {
    /// This one and every older one.
    pub up_to_id: Option<NotificationId>,
    /// These.
    pub ids: Vec<NotificationId>,
}

impl ReadMark {
    /// Whether it names nothing: then it reads every notification.
    pub fn is_everything(&self) -> bool {
        self.up_to_id.is_none() && self.ids.is_empty()
    }
}

/// When a kind's notifications are e-mailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailDelivery {
    /// Never.
    Off,
    /// Each as it is made.
    Instant,
    /// Gathered in one message a day.
    Daily,
}

impl EmailDelivery {
    /// Its name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailDelivery::Off => "off",
            EmailDelivery::Instant => "instant",
            EmailDelivery::Daily => "daily",
        }
    }

    /// The delivery named `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Off, Self::Instant, Self::Daily].into_iter().find(|d| d.as_str() == name)
    }
}

/// How a user wants one kind delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preference {
    /// Listed in the app and pushed to their sockets.
    pub in_app: bool,
    /// E-mailed.
    pub email: EmailDelivery,
}

/// A user's preference for every kind: what they set, the defaults for the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Preferences(BTreeMap<Kind, Preference>);

impl Preferences {
    /// The defaults, with `set` over them.
    pub fn with(set: impl IntoIterator<Item = (Kind, Preference)>) -> Self {
        let mut all: BTreeMap<Kind, Preference> = Kind::ALL.into_iter().map(|k| (k, k.default_preference())).collect();
        all.extend(set);
        Self(all)
    }

    /// The preference for `kind`.
    pub fn of(&self, kind: Kind) -> Preference {
        self.0.get(&kind).copied().unwrap_or_else(|| kind.default_preference())
    }

    /// Every kind's, in [`Kind::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (Kind, Preference)> + '_ {
        self.0.iter().map(|(k, p)| (*k, *p))
    }
}

/// Someone's wish to follow (or, for what they follow by default, not to follow) a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Follow {
    /// Who.
    pub user_id: UserId,
    /// What.
    pub subject: Subject,
    /// `false`: they asked not to follow it (a task they own or are assigned).
    pub following: bool,
}
