//! What the other domains' activity notifies: a member added to a project (`project_invited`),
//! a trade proposed or answered (`trade_proposed`, `trade_answered`), a share link's first
//! download (`share_downloaded`), and an `@mention` in a chat room (`mentioned`). Each listener
//! implements its domain's port; a notice that cannot be delivered is logged, and the change it
//! tells of stands.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use workbench_chat::{ChatActivity, ChatService, Message, Room};
use workbench_files::{ShareActivity, ShareLink, StoredFile};
use workbench_projects::{MembershipListener, ProjectId, ProjectRole};
use workbench_trades::{Trade, TradeActivity, TradeStatus};
use workbench_users::{Accounts, UserId};

use crate::error::NotificationError;
use crate::mention::mentions;
use crate::model::{Kind, NewNotifications, Subject};
use crate::service::NotificationService;
use crate::tasks::quoted;

fn notice(
    recipients: Vec<UserId>,
    kind: Kind,
    actor: Option<UserId>,
    subject: Subject,
    title: String,
    body: String,
) -> NewNotifications {
    NewNotifications {
        recipients,
        kind,
        actor_id: actor,
        subject,
        title,
        body,
        created_at: Utc::now(),
        daily: Vec::new(),
    }
}

/// Logs a notice that was not delivered.
fn report(what: &str, result: Result<Vec<crate::model::Notification>, NotificationError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "the notification of {what} was not delivered");
    }
}

/// `project_invited`: told to whom an admin added to a project, by the projects domain's
/// [`MembershipListener`] (joining by an invitation link is one's own doing: nobody is told).
#[derive(Debug, Clone)]
pub struct ProjectNotices(NotificationService);

impl ProjectNotices {
    /// Notices through `notifications`.
    pub fn new(notifications: NotificationService) -> Self {
        Self(notifications)
    }
}

#[async_trait]
impl MembershipListener for ProjectNotices {
    async fn joined(&self, _project: ProjectId, _user: UserId) {}

    async fn left(&self, _project: ProjectId, _user: UserId, _unassigned: Vec<i64>) {}

    async fn deleted(&self, _project: ProjectId, _members: Vec<UserId>) {}

    async fn added(&self, project: ProjectId, name: &str, user: UserId, role: ProjectRole, by: UserId) {
        let title = format!("You were added to \u{201c}{name}\u{201d}");
        let body = format!("as {}", role.as_str());
        let made = notice(vec![user], Kind::ProjectInvited, Some(by), Subject::project(project.0), title, body);
        report("a project's new member", self.0.deliver(made).await);
    }
}

/// `trade_proposed` (to the recipient of a proposal or counter-proposal) and `trade_answered`
/// (to the proposer, when the recipient accepts or declines), by the trades domain's
/// [`TradeActivity`]. Only the two parties ever see a trade, and each is told only of the
/// other's doing.
#[derive(Debug, Clone)]
pub struct TradeNotices(NotificationService);

impl TradeNotices {
    /// Notices through `notifications`.
    pub fn new(notifications: NotificationService) -> Self {
        Self(notifications)
    }
}

fn items(n: usize) -> String {
    if n == 1 { "1 item".to_owned() } else { format!("{n} items") }
}

#[async_trait]
impl TradeActivity for TradeNotices {
    async fn proposed(&self, trade: &Trade) {
        let title = if trade.parent_id.is_some() {
            "Your trade was answered with a counter-offer".to_owned()
        } else {
            "A trade was proposed to you".to_owned()
        };
        let body = format!("{} offered for {}", items(trade.offered.len()), items(trade.requested.len()));
        let made = notice(
            vec![trade.recipient_id],
            Kind::TradeProposed,
            Some(trade.proposer_id),
            Subject::trade(trade.id.0),
            title,
            body,
        );
        report("a trade's proposal", self.0.deliver(made).await);
    }

    async fn answered(&self, trade: &Trade) {
        let verb = match trade.status {
            TradeStatus::Accepted => "accepted",
            TradeStatus::Declined => "declined",
            other => other.as_str(),
        };
        let made = notice(
            vec![trade.proposer_id],
            Kind::TradeAnswered,
            Some(trade.recipient_id),
            Subject::trade(trade.id.0),
            format!("Your trade was {verb}"),
            String::new(),
        );
        report("a trade's answer", self.0.deliver(made).await);
    }
}

/// `share_downloaded`: told to a file's owner when one of its share links is downloaded for the
/// first time, by the files domain's [`ShareActivity`]. The visitor is nobody: no actor.
#[derive(Debug, Clone)]
pub struct ShareNotices(NotificationService);

impl ShareNotices {
    /// Notices through `notifications`.
    pub fn new(notifications: NotificationService) -> Self {
        Self(notifications)
    }
}

#[async_trait]
impl ShareActivity for ShareNotices {
    async fn first_download(&self, file: &StoredFile, link: &ShareLink) {
        let made = notice(
            vec![file.owner_id],
            Kind::ShareDownloaded,
            None,
            Subject::file(file.id.0),
            format!("\u{201c}{}\u{201d} was downloaded through your link", file.filename),
            format!("link {}", link.id.0),
        );
        report("a share link's first download", self.0.deliver(made).await);
    }
}

/// `mentioned` in a chat room: each `@username` of a message who may read the room (anyone for
/// a public room; its members and moderators for a private one), by the chat domain's
/// [`ChatActivity`]. A direct message is its recipient's already: its mentions tell nobody more.
pub struct ChatNotices {
    notifications: NotificationService,
    chat: ChatService,
    accounts: Arc<dyn Accounts>,
}

impl std::fmt::Debug for ChatNotices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatNotices").finish_non_exhaustive()
    }
}

impl ChatNotices {
    /// Notices through `notifications`, with who reads a room decided by `chat` and `accounts`.
    pub fn new(notifications: NotificationService, chat: ChatService, accounts: Arc<dyn Accounts>) -> Self {
        Self { notifications, chat, accounts }
    }

    async fn on_said(&self, room: &Room, message: &Message) -> Result<(), NotificationError> {
        let text = message.content.as_str();
        if !text.contains('@') {
            return Ok(());
        }
        let named: BTreeSet<UserId> = self.notifications.users_named(mentions(text)).await?.into_iter().collect();
        let mut readers = Vec::with_capacity(named.len());
        for user in named.into_iter().filter(|u| *u != message.sender_id) {
            let Some(principal) = self.accounts.account(user).await? else { continue };
            let may = self
                .chat
                .may_read_room(&principal, room)
                .await
                .map_err(|e| NotificationError::Unavailable(e.into()))?;
            if principal.is_active() && may {
                readers.push(user);
            }
        }
        if readers.is_empty() {
            return Ok(());
        }
        let made = notice(
            readers,
            Kind::Mentioned,
            Some(message.sender_id),
            Subject::message(message.id.0),
            format!("You were mentioned in #{}", room.slug),
            quoted(text),
        );
        self.notifications.deliver(made).await.map(|_| ())
    }
}

#[async_trait]
impl ChatActivity for ChatNotices {
    async fn said(&self, room: &Room, message: &Message) {
        if let Err(e) = self.on_said(room, message).await {
            tracing::warn!(error = %e, message = message.id.0, "the mentions of a chat message were not delivered");
        }
    }
}
