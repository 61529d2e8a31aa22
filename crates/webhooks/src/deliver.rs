//! Outbound deliveries: the fan-out of events to subscriptions (an [`EventPublisher`] of the
//! relay) and the job that makes each attempt.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use workbench_events::{Envelope, EventPresenter, EventPublisher, OutboxEvent, PublishError};
use workbench_jobs::{HandlerOptions, Job, JobFailure, JobHandler, JobOutcome, NewJob, RetryPolicy};

use crate::{
    DeliveryStatus, DeliveryStore, NewAttempt, NewDelivery, SubscriptionId, SubscriptionRepository, WebhookObserver,
    signing,
};

/// The job kind of one delivery; its args are `{"subscription_id", "event_id"}`.
pub const DELIVER_KIND: &str = "webhook.deliver";
/// Attempts per delivery: with the backoff below, the last is about 35 minutes after the first.
pub const DELIVERY_MAX_ATTEMPTS: u32 = 10;
/// How long one attempt may take, from connecting to the last byte of the answer.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// How the queue runs delivery jobs: 2 s, 4 s, 8 s, ... between attempts (capped at 10 minutes),
/// and an attempt is cut off after twice the HTTP timeout.
pub fn delivery_options() -> HandlerOptions {
    HandlerOptions::default().timeout(DELIVERY_TIMEOUT * 2).retry(RetryPolicy {
        base: Duration::from_secs(1),
        max: Duration::from_secs(600),
        jitter: 0.1,
    })
}

/// One HTTP request to a subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingWebhook {
    /// Where to send it: the subscription's URL.
    pub url: String,
    /// The headers to send: the content type, the Standard Webhooks `webhook-id`,
    /// `webhook-timestamp` and `webhook-signature`, and `x-workbench-event`.
    pub headers: Vec<(&'static str, String)>,
    /// The event's envelope, as JSON.
    pub body: Vec<u8>,
}

/// Why a request was not answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The target is not allowed (an internal address): retrying cannot help.
    #[error("target refused: {0}")]
    Refused(String),
    /// Connection, TLS or timeout trouble: worth retrying.
    #[error("{0}")]
    Failed(String),
}

/// Sends a delivery over HTTP.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs the request and answers the response status. MUST NOT follow redirects, MUST give
    /// up after [`DELIVERY_TIMEOUT`], and unless internal targets are allowed MUST refuse
    /// ([`SendError::Refused`]) to connect to any address that [`crate::target::is_forbidden`],
    /// checked on the addresses the host resolves to at connect time.
    async fn send(&self, request: &OutgoingWebhook) -> Result<u16, SendError>;
}

/// Fans events out to the subscriptions that want them: one delivery (and its job) per event and
/// subscription, for subscriptions whose owner may see the event's subject. Idempotent per event:
/// a delivery stored before is not stored again.
pub struct FanOut {
    subscriptions: Arc<dyn SubscriptionRepository>,
    deliveries: Arc<dyn DeliveryStore>,
    presenter: Arc<dyn EventPresenter>,
}

impl fmt::Debug for FanOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOut").finish_non_exhaustive()
    }
}

impl FanOut {
    /// The publisher that turns each event into a delivery (and its job) for every subscription of
    /// its audience that wants it: subscriptions from `subscriptions`, deliveries stored in
    /// `deliveries`, bodies shaped by `presenter`.
    pub fn new(
        subscriptions: Arc<dyn SubscriptionRepository>,
        deliveries: Arc<dyn DeliveryStore>,
        presenter: Arc<dyn EventPresenter>,
    ) -> Self {
        Self { subscriptions, deliveries, presenter }
    }
}

#[async_trait]
impl EventPublisher for FanOut {
    fn name(&self) -> &'static str {
        "webhooks"
    }

    async fn publish(&self, events: &[OutboxEvent]) -> Result<(), PublishError> {
        let owners: BTreeSet<_> = events.iter().flat_map(|e| e.audience.iter().copied()).collect();
        if owners.is_empty() {
            return Ok(());
        }
        let subscriptions =
            self.subscriptions.for_owners(owners.into_iter().collect()).await.map_err(|e| PublishError(e.into()))?;
        if subscriptions.is_empty() {
            return Ok(());
        }
        let mut deliveries = Vec::new();
        for event in events {
            let mut body = None;
            for subscription in
                subscriptions.iter().filter(|s| s.wants(&event.name) && event.audience.contains(&s.owner_id))
            {
                let body = body
                    .get_or_insert_with(|| Envelope::of(event, self.presenter.data(event), false).to_bytes())
                    .clone();
                deliveries.push(NewDelivery {
                    subscription_id: subscription.id,
                    event_id: event.id.0,
                    event: event.name.clone(),
                    message_id: event.id.message_id(),
                    // The envelope is compact JSON built from strings and JSON values: UTF-8.
                    body: String::from_utf8_lossy(&body).into_owned(),
                    job: NewJob::new(
                        DELIVER_KIND,
                        json!({"subscription_id": subscription.id.0, "event_id": event.id.0}),
                    )
                    .max_attempts(DELIVERY_MAX_ATTEMPTS),
                });
            }
        }
        if deliveries.is_empty() {
            return Ok(());
        }
        self.deliveries.fan_out(deliveries, workbench_jobs::now()).await.map_err(|e| PublishError(e.into()))?;
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
struct DeliverArgs {
    subscription_id: i64,
    event_id: i64,
}

/// The job handler of [`DELIVER_KIND`]: one attempt, signed afresh (same `webhook-id`, a new
/// `webhook-timestamp`), recorded in the delivery log whatever its outcome.
pub struct DeliveryHandler {
    deliveries: Arc<dyn DeliveryStore>,
    sender: Arc<dyn WebhookSender>,
    observer: Arc<dyn WebhookObserver>,
}

impl fmt::Debug for DeliveryHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryHandler").finish_non_exhaustive()
    }
}

impl DeliveryHandler {
    /// The handler of delivery jobs: each attempt's request sent by `sender`, recorded in
    /// `deliveries`, and counted by `observer`.
    pub fn new(
        deliveries: Arc<dyn DeliveryStore>,
        sender: Arc<dyn WebhookSender>,
        observer: Arc<dyn WebhookObserver>,
    ) -> Self {
        Self { deliveries, sender, observer }
    }
}

#[async_trait]
impl JobHandler for DeliveryHandler {
    async fn run(&self, job: &Job) -> Result<JobOutcome, JobFailure> {
        let args: DeliverArgs = serde_json::from_value(job.args.clone())
            .map_err(|e| JobFailure::permanent(format!("bad arguments: {e}")))?;
        let Some((delivery, subscription)) =
            self.deliveries.delivery(SubscriptionId(args.subscription_id), args.event_id).await?
        else {
            return Ok(JobOutcome::skipped("the subscription was deleted"));
        };
        // A failed delivery whose job runs again was retried by an admin: it gets another
        // attempt. Only a delivered one is left alone.
        if delivery.status == DeliveryStatus::Delivered {
            return Ok(JobOutcome::done().with_note("already delivered"));
        }
        let at = workbench_jobs::now();
        let timestamp = at.timestamp();
        let signature = signing::sign(&subscription.secret, &delivery.message_id, timestamp, delivery.body.as_bytes());
        let request = OutgoingWebhook {
            url: subscription.url.clone(),
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("webhook-id", delivery.message_id.clone()),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", signature),
                ("x-workbench-event", delivery.event.clone()),
            ],
            body: delivery.body.clone().into_bytes(),
        };
        let started = Instant::now();
        let sent = self.sender.send(&request).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last_attempt = job.attempt >= job.max_attempts;
        let (status, error, failure) = match &sent {
            Ok(code) if (200..300).contains(code) => (DeliveryStatus::Delivered, None, None),
            // 410 Gone: the receiver says it will never take deliveries again.
            Ok(410) => (
                DeliveryStatus::Failed,
                Some("410 Gone".to_owned()),
                Some(JobFailure::permanent("the receiver answered 410 Gone")),
            ),
            Ok(code) => {
                let why = format!("the receiver answered {code}");
                (
                    if last_attempt { DeliveryStatus::Failed } else { DeliveryStatus::Pending },
                    Some(why.clone()),
                    Some(JobFailure::new(why)),
                )
            }
            Err(SendError::Refused(why)) => (
                DeliveryStatus::Failed,
                Some(format!("refused: {why}")),
                Some(JobFailure::permanent(format!("refused: {why}"))),
            ),
            Err(SendError::Failed(why)) => (
                if last_attempt { DeliveryStatus::Failed } else { DeliveryStatus::Pending },
                Some(why.clone()),
                Some(JobFailure::new(why.clone())),
            ),
        };
        self.deliveries
            .record_attempt(NewAttempt {
                delivery_id: delivery.id,
                attempt: job.attempt,
                attempted_at: at,
                response_status: sent.as_ref().ok().copied(),
                error,
                duration_ms,
                succeeded: status == DeliveryStatus::Delivered,
                status,
            })
            .await?;
        self.observer.outbound(match status {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Pending => "retried",
            DeliveryStatus::Failed => "failed",
        });
        match failure {
            None => Ok(JobOutcome::affected(1)),
            Some(failure) => Err(failure),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use workbench_events::{EventId, MockEventPresenter};
    use workbench_jobs::{JobId, JobState};
    use workbench_users::UserId;

    use super::*;
    use crate::{
        Delivery, DeliveryId, MockDeliveryStore, MockSubscriptionRepository, MockWebhookSender, NoWebhookObserver,
        Subscription, WebhookSecret,
    };

    fn subscription(id: i64, owner: i64, events: &[&str]) -> Subscription {
        Subscription {
            id: SubscriptionId(id),
            owner_id: UserId(owner),
            url: format!("https://hooks.example.com/{id}"),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            secret: WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            created_at: Utc::now(),
        }
    }

    fn event(id: i64, name: &str, audience: &[i64]) -> OutboxEvent {
        OutboxEvent {
            id: EventId(id),
            name: name.into(),
            subject_id: 9,
            audience: audience.iter().copied().map(UserId).collect(),
            payload: serde_json::value::RawValue::from_string(r#"{"id":9}"#.into()).unwrap(),
            occurred_at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn events_go_only_to_subscriptions_of_their_audience_that_want_them() {
        let mut subs = MockSubscriptionRepository::new();
        subs.expect_for_owners().returning(|_| {
            Ok(vec![
                subscription(1, 10, &["task.updated"]),
                subscription(2, 10, &["task.created"]),
                subscription(3, 30, &["task.updated"]),
            ])
        });
        let mut store = MockDeliveryStore::new();
        store
            .expect_fan_out()
            .withf(|d, _| {
                d.len() == 1
                    && d[0].subscription_id == SubscriptionId(1)
                    && d[0].message_id == "evt_5"
                    && d[0].job.kind == DELIVER_KIND
                    && d[0].body.starts_with(r#"{"type":"task.updated","timestamp":"#)
            })
            .returning(|d, _| Ok(d.len()));
        let mut presenter = MockEventPresenter::new();
        presenter.expect_data().returning(|e| e.payload.clone());
        let fan_out = FanOut::new(Arc::new(subs), Arc::new(store), Arc::new(presenter));
        fan_out.publish(&[event(5, "task.updated", &[10, 20])]).await.unwrap();
    }

    fn job(attempt: u32, max_attempts: u32) -> Job {
        let now = Utc::now();
        Job {
            id: JobId(1),
            kind: DELIVER_KIND.into(),
            args: json!({"subscription_id": 1, "event_id": 5}),
            priority: 0,
            state: JobState::Running,
            run_at: now,
            attempt,
            max_attempts,
            errors: vec![],
            unique_key: None,
            lease_owner: None,
            lease_until: None,
            created_at: now,
            attempted_at: Some(now),
            finished_at: None,
        }
    }

    fn stored() -> MockDeliveryStore {
        let mut store = MockDeliveryStore::new();
        store.expect_delivery().returning(|_, _| {
            Ok(Some((
                Delivery {
                    id: DeliveryId(3),
                    subscription_id: SubscriptionId(1),
                    event_id: 5,
                    event: "task.updated".into(),
                    message_id: "evt_5".into(),
                    body: r#"{"type":"task.updated"}"#.into(),
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    created_at: Utc::now(),
                },
                subscription(1, 10, &["task.updated"]),
            )))
        });
        store
    }

    #[tokio::test]
    async fn an_attempt_is_signed_recorded_and_a_500_is_retried() {
        let mut store = stored();
        store
            .expect_record_attempt()
            .withf(|a| a.response_status == Some(500) && a.status == DeliveryStatus::Pending && !a.succeeded)
            .returning(|_| Ok(()));
        let mut sender = MockWebhookSender::new();
        sender
            .expect_send()
            .withf(|r| {
                let header = |name: &str| r.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
                let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
                let ts: i64 = header("webhook-timestamp").unwrap().parse().unwrap();
                header("webhook-id").as_deref() == Some("evt_5")
                    && header("x-workbench-event").as_deref() == Some("task.updated")
                    && signing::verify(&secret, "evt_5", ts, &header("webhook-signature").unwrap(), &r.body, ts, 300)
                        .is_ok()
            })
            .returning(|_| Ok(500));
        let handler = DeliveryHandler::new(Arc::new(store), Arc::new(sender), Arc::new(NoWebhookObserver));
        let failure = handler.run(&job(1, 10)).await.unwrap_err();
        assert!(!failure.permanent, "a 500 is retried");
    }

    #[tokio::test]
    async fn the_last_failed_attempt_marks_the_delivery_failed_and_refusals_are_final() {
        let mut store = stored();
        store.expect_record_attempt().withf(|a| a.status == DeliveryStatus::Failed).times(2).returning(|_| Ok(()));
        let mut sender = MockWebhookSender::new();
        let mut answers = vec![Err(SendError::Refused("127.0.0.1".into())), Err(SendError::Failed("timeout".into()))];
        sender.expect_send().times(2).returning(move |_| answers.pop().unwrap());
        let handler = DeliveryHandler::new(Arc::new(store), Arc::new(sender), Arc::new(NoWebhookObserver));
        assert!(!handler.run(&job(10, 10)).await.unwrap_err().permanent);
        assert!(handler.run(&job(1, 10)).await.unwrap_err().permanent, "an internal target is never retried");
    }
}
