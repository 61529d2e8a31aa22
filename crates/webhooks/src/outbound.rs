//! Outbound subscriptions: a user's URL for their task events, and the log of delivery attempts.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use workbench_core::{Page, PageRequest, RepositoryError, TypeFailures, Validator};
use workbench_events::{TaskEvent, TradeEvent};
use workbench_jobs::NewJob;
use workbench_users::{Principal, UserId};

use crate::{WebhookError, WebhookSecret, target};

/// The longest subscription URL.
pub const URL_MAX_LEN: usize = 2_000;
/// How many subscriptions one user may have.
pub const MAX_SUBSCRIPTIONS_PER_USER: usize = 20;

/// A subscription's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(pub i64);

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A user's subscription to their task events.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// The subscription's id.
    pub id: SubscriptionId,
    /// Whose it is: only their task events reach it.
    pub owner_id: UserId,
    /// Where deliveries are sent: an `http` or `https` URL of at most [`URL_MAX_LEN`] characters.
    pub url: String,
    /// The event names delivered (`task.created`, ...).
    pub events: Vec<String>,
    /// The key its deliveries are signed with (`whsec_...`): shown to its owner once, when the
    /// subscription is made.
    pub secret: WebhookSecret,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl Subscription {
    /// Whether this subscription wants `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }
}

/// What a client sends to subscribe, before validation.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionDraft {
    /// Where to send deliveries; required.
    pub url: Option<String>,
    /// `None`: every task event.
    pub events: Option<Vec<String>>,
    /// Fields whose JSON type was wrong: reported with the rules' failures, never stored.
    pub type_failures: TypeFailures,
}

/// A valid subscription to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscription {
    /// Whose it is.
    pub owner_id: UserId,
    /// Where deliveries are sent, trimmed.
    pub url: String,
    /// The event names delivered.
    pub events: Vec<String>,
    /// A fresh signing secret.
    pub secret: WebhookSecret,
    /// When it is made.
    pub created_at: DateTime<Utc>,
}

/// The shape of a subscription URL (once trimmed), as a regular expression that ECMA-262, Python
/// and Rust engines read alike, so that the OpenAPI document states exactly what [`check_url`]
/// accepts: `http` or `https` (any case), a host name whose last label starts with a letter or a
/// dotted-quad IPv4 address, an optional port (0 to 65535), then an optional path, query
/// or fragment without whitespace or control characters. Credentials cannot appear (`@` is not a
/// host character) and IPv6 literals are not accepted: use a host name for an IPv6 receiver.
pub const URL_SHAPE: &str = concat!(
    r"[Hh][Tt][Tt][Pp][Ss]?://",
    r"(?:(?:[A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*\.?",
    r"|(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))",
    r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?",
    r"(?:[/?#][^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\u0000-\u001f\u007f-\u009f]*)?",
);

/// Checks a subscription URL: at most [`URL_MAX_LEN`] characters as sent, of the [`URL_SHAPE`] once trimmed;
/// with `allow_private` false, no literal internal address or `localhost` (names are checked
/// again at every connection). Answers the URL as the subscriber wrote it (trimmed), not as the
/// parser normalises it: clients compare what they get back with what they sent.
pub fn check_url(raw: &str, allow_private: bool) -> Result<String, String> {
    static SHAPE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(&format!("^(?:{URL_SHAPE})$")).expect("URL_SHAPE is a valid regular expression")
    });
    // The length as sent, as the document's `maxLength` counts it; the shape once trimmed.
    let too_long = raw.chars().count() > URL_MAX_LEN;
    let raw = raw.trim();
    if raw.is_empty() || too_long || !SHAPE.is_match(raw) {
        return Err(format!(
            "must be an http(s) URL with a host name or IPv4 address, of at most {URL_MAX_LEN} characters"
        ));
    }
    let url = url::Url::parse(raw).map_err(|e| format!("is not a URL: {e}"))?;
    let host = match url.host() {
        Some(host) => host,
        None => return Err("must name a host".to_owned()),
    };
    if !allow_private {
        let internal = match host {
            url::Host::Ipv4(ip) => target::is_forbidden(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => target::is_forbidden(IpAddr::V6(ip)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost")
            }
        };
        if internal {
            return Err("must not point at a private, loopback or link-local address".to_owned());
        }
    }
    Ok(raw.to_owned())
}

/// Checks event names: each a task or trade event, at least one; duplicates dropped, order kept.
/// Left out, every task event (the contract's default); trade events are asked for by name.
pub fn check_events(events: Option<Vec<String>>) -> Result<Vec<String>, String> {
    let Some(events) = events else {
        return Ok(TaskEvent::ALL.iter().map(|e| e.name().to_owned()).collect());
    };
    let mut out: Vec<String> = Vec::new();
    for event in events {
        let event = event.trim().to_owned();
        if TaskEvent::parse(&event).is_none() && TradeEvent::parse(&event).is_none() {
            return Err(format!(
                "{event:?} is not one of task.created, task.updated, task.deleted, trade.proposed, trade.accepted, \
                 trade.declined, trade.cancelled, trade.countered, trade.expired"
            ));
        }
        if !out.contains(&event) {
            out.push(event);
        }
    }
    if out.is_empty() {
        return Err("must name at least one event (or be left out for all)".to_owned());
    }
    Ok(out)
}

/// Where subscriptions live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SubscriptionRepository: Send + Sync {
    /// Stores a subscription and returns it with its id.
    async fn create(&self, subscription: NewSubscription) -> Result<Subscription, RepositoryError>;

    /// The user's subscriptions, oldest first.
    async fn list(&self, owner: UserId) -> Result<Vec<Subscription>, RepositoryError>;

    /// The subscription `id`, whoever's it is.
    async fn find(&self, id: SubscriptionId) -> Result<Option<Subscription>, RepositoryError>;

    /// Deletes the subscription if `owner` has it (with its deliveries); whether it did.
    async fn delete(&self, id: SubscriptionId, owner: UserId) -> Result<bool, RepositoryError>;

    /// Every subscription of any of `owners`.
    async fn for_owners(&self, owners: Vec<UserId>) -> Result<Vec<Subscription>, RepositoryError>;
}

/// A delivery's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliveryId(pub i64);

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Not delivered yet; attempts may follow.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up on.
    Failed,
}

impl DeliveryStatus {
    /// The status's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// The status named `s`, if it is one.
    pub fn parse(s: &str) -> Result<Self, String> {
        [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a delivery status"))
    }
}

/// One event for one subscription: the exact body sent on every attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The delivery's id.
    pub id: DeliveryId,
    /// The subscription it is for.
    pub subscription_id: SubscriptionId,
    /// The outbox event it carries.
    pub event_id: i64,
    /// The event's name (`task.updated`).
    pub event: String,
    /// `webhook-id`: the same on every attempt.
    pub message_id: String,
    /// The body sent, the same on every attempt.
    pub body: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: u32,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A delivery to store, with the job that makes its attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    /// The subscription it is for.
    pub subscription_id: SubscriptionId,
    /// The outbox event it carries.
    pub event_id: i64,
    /// The event's name.
    pub event: String,
    /// `webhook-id`, the same on every attempt.
    pub message_id: String,
    /// The body to send.
    pub body: String,
    /// The job that makes its attempts, stored in the same transaction.
    pub job: NewJob,
}

/// One attempt, as listed at `GET /webhooks/subscriptions/{id}/deliveries`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    /// The attempt's id.
    pub id: i64,
    /// The delivery it was of.
    pub delivery_id: DeliveryId,
    /// The outbox event the delivery carries.
    pub event_id: i64,
    /// The event's name.
    pub event: String,
    /// The delivery's `webhook-id`.
    pub message_id: String,
    /// Which attempt it was, from 1.
    pub attempt: u32,
    /// When it was made.
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    pub response_status: Option<u16>,
    /// Why the attempt failed, when it did.
    pub error: Option<String>,
    /// How long the request took, in milliseconds.
    pub duration_ms: u64,
    /// Whether the receiver answered 2xx.
    pub succeeded: bool,
    /// The delivery's status after this attempt.
    pub delivery_status: DeliveryStatus,
}

/// An attempt to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAttempt {
    /// The delivery it was of.
    pub delivery_id: DeliveryId,
    /// Which attempt it was, from 1.
    pub attempt: u32,
    /// When it was made.
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    pub response_status: Option<u16>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// How long the request took, in milliseconds.
    pub duration_ms: u64,
    /// Whether the receiver answered 2xx.
    pub succeeded: bool,
    /// The delivery's status from now on.
    pub status: DeliveryStatus,
}

/// Where deliveries and their attempts live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Stores each delivery not stored yet and enqueues its job, in one transaction. A delivery
    /// of the same event to the same subscription stored before MUST be skipped (insert or
    /// nothing on a unique (subscription, event)), so that fanning an event out again delivers
    /// nothing twice. Returns how many were new.
    async fn fan_out(&self, deliveries: Vec<NewDelivery>, now: DateTime<Utc>) -> Result<usize, RepositoryError>;

    /// The delivery of `event_id` to `subscription`, with the subscription; `None` when either
    /// is gone.
    async fn delivery(
        &self,
        subscription: SubscriptionId,
        event_id: i64,
    ) -> Result<Option<(Delivery, Subscription)>, RepositoryError>;

    /// Appends an attempt and sets the delivery's status and attempt count, in one transaction.
    async fn record_attempt(&self, attempt: NewAttempt) -> Result<(), RepositoryError>;

    /// One page of the attempts made for a subscription, newest first, and their total.
    async fn attempts(
        &self,
        subscription: SubscriptionId,
        page: PageRequest,
    ) -> Result<Page<DeliveryAttempt>, RepositoryError>;
}

/// Subscribing, unsubscribing and reading the delivery log: a user's own subscriptions only.
#[derive(Clone)]
pub struct WebhookService {
    subscriptions: Arc<dyn SubscriptionRepository>,
    deliveries: Arc<dyn DeliveryStore>,
    allow_private: bool,
}

impl fmt::Debug for WebhookService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookService").field("allow_private", &self.allow_private).finish_non_exhaustive()
    }
}

impl WebhookService {
    /// `allow_private`: whether URLs may point at internal addresses
    /// (`WEBHOOK_ALLOW_PRIVATE_TARGETS`).
    pub fn new(
        subscriptions: Arc<dyn SubscriptionRepository>,
        deliveries: Arc<dyn DeliveryStore>,
        allow_private: bool,
    ) -> Self {
        Self { subscriptions, deliveries, allow_private }
    }

    /// Subscribes the caller; the answer carries the secret, shown this once.
    pub async fn subscribe(&self, owner: &Principal, draft: SubscriptionDraft) -> Result<Subscription, WebhookError> {
        let mut v = Validator::seeded(draft.type_failures);
        let url = v.check(
            "url",
            match draft.url {
                Some(url) => check_url(&url, self.allow_private),
                None => Err("is required".to_owned()),
            },
        );
        let events = v.check("events", check_events(draft.events));
        let (url, events) = v.finish_with(url.zip(events))?;
        if self.subscriptions.list(owner.id).await?.len() >= MAX_SUBSCRIPTIONS_PER_USER {
            return Err(WebhookError::TooMany(MAX_SUBSCRIPTIONS_PER_USER));
        }
        let new = NewSubscription {
            owner_id: owner.id,
            url,
            events,
            secret: WebhookSecret::generate(),
            created_at: workbench_jobs::now(),
        };
        Ok(self.subscriptions.create(new).await?)
    }

    /// The caller's subscriptions.
    pub async fn list(&self, owner: &Principal) -> Result<Vec<Subscription>, WebhookError> {
        Ok(self.subscriptions.list(owner.id).await?)
    }

    /// Removes one of the caller's subscriptions; anyone else's is `NotFound`.
    pub async fn unsubscribe(&self, owner: &Principal, id: SubscriptionId) -> Result<(), WebhookError> {
        if self.subscriptions.delete(id, owner.id).await? { Ok(()) } else { Err(WebhookError::NotFound) }
    }

    /// The attempts made for one of the caller's subscriptions, newest first.
    pub async fn attempts(
        &self,
        owner: &Principal,
        id: SubscriptionId,
        page: PageRequest,
    ) -> Result<Page<DeliveryAttempt>, WebhookError> {
        match self.subscriptions.find(id).await? {
            Some(s) if s.owner_id == owner.id => Ok(self.deliveries.attempts(id, page).await?),
            _ => Err(WebhookError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_with_a_public_literal_host() {
        assert_eq!(check_url(" https://hooks.example.com/x ", false).unwrap(), "https://hooks.example.com/x");
        assert_eq!(check_url("https://Hooks.example.com", false).unwrap(), "https://Hooks.example.com", "as written");
        assert!(check_url("ftp://example.com", false).is_err());
        assert!(check_url("https://user:pw@example.com", false).is_err());
        assert!(check_url("not a url", false).is_err());
        assert!(check_url("https://[2001:db8::1]/", true).is_err(), "IPv6 literals are not accepted");
        assert!(check_url("https://1.2.3.4.5/", true).is_err());
        assert!(check_url("http://127.0.0.1:46243/hook", true).is_ok());
        assert!(check_url("http://example.com:65536/", true).is_err());
        assert_eq!(
            check_url("HTTPS://Hooks.Example.com:8443/a?b#c", false).unwrap(),
            "HTTPS://Hooks.Example.com:8443/a?b#c"
        );
        for internal in ["http://127.0.0.1:8080/", "http://169.254.169.254/latest", "http://localhost/"] {
            assert!(check_url(internal, false).is_err(), "{internal}");
            assert!(check_url(internal, true).is_ok(), "{internal} allowed by the operator");
        }
    }

    #[test]
    fn events_default_to_every_task_event_and_unknown_ones_are_refused() {
        assert_eq!(check_events(None).unwrap(), ["task.created", "task.updated", "task.deleted"]);
        assert_eq!(check_events(Some(vec!["task.updated".into(), "task.updated".into()])).unwrap(), ["task.updated"]);
        assert!(check_events(Some(vec![])).is_err());
        assert!(check_events(Some(vec!["user.created".into()])).is_err());
    }
}
