//! Deliveries received from GitHub and Stripe: checked, stored with their processing job in one
//! transaction, and processed by the queue (retried on failure), once per delivery id.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_jobs::{Job, JobFailure, JobHandler, JobOutcome, NewJob};

use crate::{WebhookError, WebhookObserver, signing};

/// The job kind that processes one inbound delivery; its args are `{"provider", "delivery_id"}`.
pub const INBOUND_KIND: &str = "webhook.inbound";
/// How old (or how far ahead) a Stripe signature's timestamp may be.
pub const STRIPE_TOLERANCE_SECS: i64 = 300;
/// Processing attempts before a delivery is marked failed.
pub const INBOUND_MAX_ATTEMPTS: u32 = 10;

/// Who sends deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// GitHub, signed with `X-Hub-Signature-256`.
    Github,
    /// Stripe, signed with `Stripe-Signature`.
    Stripe,
}

impl Provider {
    /// Every provider.
    pub const ALL: [Provider; 2] = [Provider::Github, Provider::Stripe];

    /// The provider's name in routes (`/webhooks/github`) and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Stripe => "stripe",
        }
    }

    /// The provider named `s`, or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| format!("{s:?} is not one of github, stripe"))
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InboundStatus {
    /// Stored; processing pending (or being retried: see `attempts` and `last_error`).
    Received,
    /// Processed; `result` says what was done.
    Processed,
    /// An event type Workbench does not act on; stored for the record.
    Ignored,
    /// Processing failed for good.
    Failed,
}

impl InboundStatus {
    /// Every status.
    pub const ALL: [InboundStatus; 4] =
        [InboundStatus::Received, InboundStatus::Processed, InboundStatus::Ignored, InboundStatus::Failed];

    /// The status's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            InboundStatus::Received => "received",
            InboundStatus::Processed => "processed",
            InboundStatus::Ignored => "ignored",
            InboundStatus::Failed => "failed",
        }
    }

    /// The status named `s`, or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not one of received, processed, ignored, failed"))
    }
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundDelivery {
    /// The delivery's id.
    pub id: i64,
    /// Who sent it.
    pub provider: Provider,
    /// What it is about (`push`, `invoice.paid`).
    pub event_type: String,
    /// The provider's id of the delivery (`X-GitHub-Delivery`, Stripe's event id).
    pub delivery_id: String,
    /// The delivery's JSON body, as received.
    pub payload: Value,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// Where it stands.
    pub status: InboundStatus,
    /// Processing attempts so far.
    pub attempts: u32,
    /// The error of the latest failed attempt.
    pub last_error: Option<String>,
    /// What processing did.
    pub result: Option<Value>,
    /// When processing ended, if it has.
    pub processed_at: Option<DateTime<Utc>>,
}

/// A checked delivery, to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInboundDelivery {
    /// Who sent it.
    pub provider: Provider,
    /// What it is about, from the header or the body.
    pub event_type: String,
    /// The provider's id of the delivery, which makes a redelivery a duplicate.
    pub delivery_id: String,
    /// The delivery's JSON body.
    pub payload: Value,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

/// What storing a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored, and its processing job enqueued.
    New(i64),
    /// This provider's delivery id was stored before: nothing stored, nothing enqueued.
    Duplicate(i64),
}

/// How one processing attempt ended, for [`InboundStore::finish`].
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// How it ended: `processed`, `ignored`, or `failed` for good (a retried attempt leaves it
    /// `received`).
    pub status: InboundStatus,
    /// What processing did, when it succeeded.
    pub result: Option<Value>,
    /// The attempt's error, when it failed.
    pub error: Option<String>,
    /// When it ended.
    pub at: DateTime<Utc>,
}

/// Where inbound deliveries live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait InboundStore: Send + Sync {
    /// Stores `delivery` and enqueues `job` in one transaction, unless a delivery with the same
    /// provider and delivery id is stored: then MUST store and enqueue nothing and answer
    /// [`Recorded::Duplicate`] with the stored one's id. Decided by a unique index (insert or
    /// nothing), never by a read first, so that concurrent redeliveries store one.
    async fn record(&self, delivery: NewInboundDelivery, job: NewJob) -> Result<Recorded, RepositoryError>;

    /// The delivery with this provider and delivery id.
    async fn find(&self, provider: Provider, delivery_id: &str) -> Result<Option<InboundDelivery>, RepositoryError>;

    /// Records an attempt's end: sets status, result and last error (kept when `error` is
    /// `None`), counts the attempt, and sets `processed_at` unless the status is `received`.
    async fn finish(&self, id: i64, finished: Finished) -> Result<(), RepositoryError>;

    /// One page of deliveries (of one provider when given), newest first, and their total.
    async fn list(
        &self,
        provider: Option<Provider>,
        page: PageRequest,
    ) -> Result<Page<InboundDelivery>, RepositoryError>;
}

/// What a provider's request carries besides its body, read from its headers.
#[derive(Debug, Clone, Default)]
pub struct DeliveryHeaders {
    /// `X-Hub-Signature-256` or `Stripe-Signature`.
    pub signature: Option<String>,
    /// `X-GitHub-Delivery` (Stripe's id is in the body).
    pub delivery_id: Option<String>,
    /// `X-GitHub-Event` (Stripe's type is in the body).
    pub event_type: Option<String>,
}

/// The secrets deliveries are signed with; a provider without one is not accepted.
#[derive(Clone, Default)]
pub struct ProviderSecrets {
    /// GitHub's webhook secret; `None`: GitHub's deliveries are refused.
    pub github: Option<String>,
    /// Stripe's signing secret (`whsec_...`); `None`: Stripe's deliveries are refused.
    pub stripe: Option<String>,
}

impl fmt::Debug for ProviderSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSecrets")
            .field("github", &self.github.is_some())
            .field("stripe", &self.stripe.is_some())
            .finish()
    }
}

/// Receiving deliveries and reading them back (admins).
#[derive(Clone)]
pub struct InboundService {
    store: Arc<dyn InboundStore>,
    secrets: ProviderSecrets,
}

impl fmt::Debug for InboundService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundService").field("secrets", &self.secrets).finish_non_exhaustive()
    }
}

/// The longest id or event type kept; providers' are far shorter.
const FIELD_MAX: usize = 255;

impl InboundService {
    /// The service over the deliveries stored in `store`, checking signatures with `secrets`.
    pub fn new(store: Arc<dyn InboundStore>, secrets: ProviderSecrets) -> Self {
        Self { store, secrets }
    }

    /// Whether deliveries from `provider` are accepted (its secret is configured).
    pub fn accepts(&self, provider: Provider) -> bool {
        self.secret(provider).is_some()
    }

    fn secret(&self, provider: Provider) -> Option<&str> {
        match provider {
            Provider::Github => self.secrets.github.as_deref(),
            Provider::Stripe => self.secrets.stripe.as_deref(),
        }
        .filter(|s| !s.is_empty())
    }

    /// Checks the signature over the raw `body` first (nothing else is looked at before), then
    /// stores the delivery with its processing job, once per delivery id.
    pub async fn receive(
        &self,
        provider: Provider,
        headers: DeliveryHeaders,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Recorded, WebhookError> {
        let secret = self.secret(provider).ok_or(WebhookError::NotConfigured(provider))?;
        match provider {
            Provider::Github => signing::verify_github(secret, headers.signature.as_deref(), body),
            Provider::Stripe => signing::verify_stripe(
                secret,
                headers.signature.as_deref(),
                body,
                now.timestamp(),
                STRIPE_TOLERANCE_SECS,
            ),
        }
        .map_err(WebhookError::BadSignature)?;
        let payload: Value =
            serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(format!("the body is not JSON: {e}")))?;
        let (delivery_id, event_type) = match provider {
            Provider::Github => (headers.delivery_id, headers.event_type),
            Provider::Stripe => (
                payload.get("id").and_then(Value::as_str).map(str::to_owned),
                payload.get("type").and_then(Value::as_str).map(str::to_owned),
            ),
        };
        let field = |value: Option<String>, what: &str| {
            value
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty() && v.len() <= FIELD_MAX)
                .ok_or_else(|| WebhookError::Malformed(format!("no usable {what}")))
        };
        let delivery_id = field(delivery_id, "delivery id")?;
        // Only the signature and the delivery id are required: a delivery that names no event
        // type is still kept, under `unknown`, and processing ignores it.
        let event_type = match event_type.filter(|v| !v.trim().is_empty()) {
            None => UNKNOWN_EVENT.to_owned(),
            named => field(named, "event type")?,
        };
        let job = NewJob::new(INBOUND_KIND, json!({"provider": provider, "delivery_id": delivery_id}))
            .max_attempts(INBOUND_MAX_ATTEMPTS);
        let delivery = NewInboundDelivery { provider, event_type, delivery_id, payload, received_at: now };
        Ok(self.store.record(delivery, job).await?)
    }

    /// One page of stored deliveries, newest first.
    pub async fn list(
        &self,
        provider: Option<Provider>,
        page: PageRequest,
    ) -> Result<Page<InboundDelivery>, WebhookError> {
        Ok(self.store.list(provider, page).await?)
    }
}

/// The event type of a delivery that names none (no `X-GitHub-Event`, no Stripe `type`).
pub const UNKNOWN_EVENT: &str = "unknown";

/// What processing made of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Processing {
    /// Acted on; the summary is stored as the delivery's `result`.
    Processed(Value),
    /// Not an event Workbench acts on.
    Ignored(String),
}

/// Dispatches a delivery by provider and event type. `Err` is a payload that cannot be
/// processed however often it is tried.
pub fn process(provider: Provider, event_type: &str, payload: &Value) -> Result<Processing, String> {
    let text = |v: &Value, path: &str| v.pointer(path).and_then(Value::as_str).map(str::to_owned);
    match (provider, event_type) {
        (Provider::Github, "ping") => Ok(Processing::Processed(json!({
            "action": "pong",
            "zen": text(payload, "/zen"),
            "hook_id": payload.get("hook_id"),
        }))),
        (Provider::Github, "push") => {
            let repository = text(payload, "/repository/full_name").ok_or("a push without repository.full_name")?;
            let commits = payload.get("commits").and_then(Value::as_array).cloned().unwrap_or_default();
            // The first line of each message, for the record; GitHub sends at most 20 commits.
            let messages: Vec<Value> = commits
                .iter()
                .filter_map(|c| c.get("message").and_then(Value::as_str))
                .map(|m| Value::from(m.lines().next().unwrap_or_default()))
                .collect();
            let authors: std::collections::BTreeSet<String> =
                commits.iter().filter_map(|c| text(c, "/author/name")).collect();
            Ok(Processing::Processed(json!({
                "action": "recorded_push",
                "repository": repository,
                "ref": text(payload, "/ref"),
                "before": text(payload, "/before"),
                "after": text(payload, "/after"),
                "pusher": text(payload, "/pusher/name"),
                "commits": commits.len(),
                "authors": authors,
                "messages": messages,
            })))
        }
        (Provider::Stripe, "payment_intent.succeeded") => {
            let object = payload.pointer("/data/object").ok_or("an event without data.object")?;
            let id = text(object, "/id").ok_or("a payment intent without an id")?;
            Ok(Processing::Processed(json!({
                "action": "payment_recorded",
                "payment_intent": id,
                "amount": object.get("amount_received").or_else(|| object.get("amount")),
                "currency": text(object, "/currency"),
                "customer": object.get("customer"),
            })))
        }
        (Provider::Stripe, "checkout.session.completed") => {
            let object = payload.pointer("/data/object").ok_or("an event without data.object")?;
            let id = text(object, "/id").ok_or("a checkout session without an id")?;
            Ok(Processing::Processed(json!({
                "action": "checkout_recorded",
                "session": id,
                "payment_status": text(object, "/payment_status"),
                "amount_total": object.get("amount_total"),
                "currency": text(object, "/currency"),
                "customer": object.get("customer"),
                "client_reference_id": object.get("client_reference_id"),
            })))
        }
        (provider, other) => Ok(Processing::Ignored(format!("{provider} event {other:?} is not acted on"))),
    }
}

#[derive(Debug, Deserialize)]
struct InboundArgs {
    provider: Provider,
    delivery_id: String,
}

/// The job handler of [`INBOUND_KIND`]: processes a stored delivery and records the outcome.
/// Repeatable: a delivery already processed (or ignored) is not processed again.
pub struct InboundProcessor {
    store: Arc<dyn InboundStore>,
    observer: Arc<dyn WebhookObserver>,
}

impl fmt::Debug for InboundProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundProcessor").finish_non_exhaustive()
    }
}

impl InboundProcessor {
    /// The handler of processing jobs: deliveries read from and finished in `store`, counted by
    /// `observer`.
    pub fn new(store: Arc<dyn InboundStore>, observer: Arc<dyn WebhookObserver>) -> Self {
        Self { store, observer }
    }
}

#[async_trait]
impl JobHandler for InboundProcessor {
    async fn run(&self, job: &Job) -> Result<JobOutcome, JobFailure> {
        let args: InboundArgs = serde_json::from_value(job.args.clone())
            .map_err(|e| JobFailure::permanent(format!("bad arguments: {e}")))?;
        let delivery = self
            .store
            .find(args.provider, &args.delivery_id)
            .await?
            .ok_or_else(|| JobFailure::permanent("the delivery is gone"))?;
        if delivery.status != InboundStatus::Received {
            return Ok(JobOutcome::done().with_note(format!("already {}", delivery.status.as_str())));
        }
        let now = workbench_jobs::now();
        let (finished, outcome) = match process(delivery.provider, &delivery.event_type, &delivery.payload) {
            Ok(Processing::Processed(result)) => (
                Finished { status: InboundStatus::Processed, result: Some(result), error: None, at: now },
                Ok(JobOutcome::affected(1)),
            ),
            Ok(Processing::Ignored(why)) => (
                Finished { status: InboundStatus::Ignored, result: None, error: None, at: now },
                Ok(JobOutcome::done().with_note(why)),
            ),
            Err(why) => (
                Finished { status: InboundStatus::Failed, result: None, error: Some(why.clone()), at: now },
                Err(JobFailure::permanent(why)),
            ),
        };
        let status = finished.status;
        self.store.finish(delivery.id, finished).await?;
        self.observer.inbound(delivery.provider, status);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockInboundStore;

    fn service(store: MockInboundStore) -> InboundService {
        InboundService::new(
            Arc::new(store),
            ProviderSecrets { github: Some("It's a Secret to Everybody".into()), stripe: None },
        )
    }

    fn github_headers(signature: &str) -> DeliveryHeaders {
        DeliveryHeaders {
            signature: Some(signature.into()),
            delivery_id: Some("72d3162e-cc78-11e3-81ab-4c9367dc0958".into()),
            event_type: Some("ping".into()),
        }
    }

    #[tokio::test]
    async fn a_bad_signature_stores_nothing() {
        let mut store = MockInboundStore::new();
        store.expect_record().never();
        let err =
            service(store).receive(Provider::Github, github_headers("sha256=00"), b"{}", Utc::now()).await.unwrap_err();
        assert!(matches!(err, WebhookError::BadSignature(_)), "{err:?}");
    }

    #[tokio::test]
    async fn an_unconfigured_provider_is_refused() {
        let mut store = MockInboundStore::new();
        store.expect_record().never();
        let err = service(store).receive(Provider::Stripe, DeliveryHeaders::default(), b"{}", Utc::now()).await;
        assert!(matches!(err, Err(WebhookError::NotConfigured(Provider::Stripe))));
    }

    #[tokio::test]
    async fn a_signed_delivery_is_stored_with_its_job() {
        let body = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(b"It's a Secret to Everybody").unwrap();
        hmac::Mac::update(&mut mac, body);
        let signature = format!("sha256={}", hex::encode(hmac::Mac::finalize(mac).into_bytes()));
        let mut store = MockInboundStore::new();
        store
            .expect_record()
            .withf(|d, job| {
                d.event_type == "ping"
                    && d.delivery_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
                    && job.kind == INBOUND_KIND
                    && job.args["delivery_id"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
            })
            .returning(|_, _| Ok(Recorded::New(1)));
        let recorded = service(store).receive(Provider::Github, github_headers(&signature), body, Utc::now()).await;
        assert_eq!(recorded.unwrap(), Recorded::New(1));
    }

    #[test]
    fn pushes_are_summarised_and_unknown_types_ignored() {
        let push = json!({
            "ref": "refs/heads/main",
            "repository": {"full_name": "octo/hello"},
            "pusher": {"name": "octocat"},
            "commits": [
                {"id": "a1", "message": "Fix the bug\n\nLong story", "author": {"name": "Ann"}},
                {"id": "b2", "message": "Add tests", "author": {"name": "Bob"}}
            ]
        });
        let Processing::Processed(summary) = process(Provider::Github, "push", &push).unwrap() else {
            panic!("a push is processed")
        };
        assert_eq!(summary["commits"], 2);
        assert_eq!(summary["messages"], json!(["Fix the bug", "Add tests"]));
        assert_eq!(summary["authors"], json!(["Ann", "Bob"]));
        assert!(matches!(process(Provider::Github, "star", &json!({})), Ok(Processing::Ignored(_))));
        assert!(process(Provider::Github, "push", &json!({})).is_err(), "a push without a repository");
        let paid =
            json!({"data": {"object": {"id": "pi_1", "amount": 2000, "amount_received": 2000, "currency": "eur"}}});
        let Processing::Processed(summary) = process(Provider::Stripe, "payment_intent.succeeded", &paid).unwrap()
        else {
            panic!("a payment is processed")
        };
        assert_eq!((summary["payment_intent"].as_str(), summary["amount"].as_i64()), (Some("pi_1"), Some(2000)));
    }
}
