//! Webhook subscriptions, their deliveries and attempts, and inbound deliveries in the database
//! (the `SubscriptionRepository`, `DeliveryStore` and `InboundStore` ports).
//!
//! The two "once" rules are the database's: a unique (subscription, event) makes fanning an event
//! out again deliver nothing twice, and a unique (provider, delivery id) makes a redelivery store
//! nothing; both are `INSERT ... ON CONFLICT DO NOTHING`, and each insert enqueues its job in the
//! same transaction (`jobs::enqueue_in`), so that a stored delivery always has its job.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_jobs::{Enqueued, NewJob};
use workbench_users::UserId;
use workbench_webhooks::{
    Delivery, DeliveryAttempt, DeliveryId, DeliveryStatus, DeliveryStore, Finished, InboundDelivery, InboundStatus,
    InboundStore, NewAttempt, NewDelivery, NewInboundDelivery, NewSubscription, Provider, Recorded, Subscription,
    SubscriptionId, SubscriptionRepository, WebhookSecret,
};

use crate::connection::per_engine;
use crate::database::write_transaction;
use crate::error::{corrupt, count, db, int};
use crate::jobs::{JobsWaker, enqueue_in};
use crate::paging::counted_page;
use crate::schema::{inbound_webhooks, webhook_attempts, webhook_deliveries, webhook_subscriptions};
use crate::{AnyConnection, Database};

/// Stores `job`, failing the transaction if it is not stored: its unique key (if any) is free by
/// construction, so anything else is a broken invariant rather than a duplicate to ignore.
fn enqueue_one(conn: &mut AnyConnection, job: &NewJob, now: DateTime<Utc>) -> Result<(), RepositoryError> {
    job.validate().map_err(|e| RepositoryError::Unavailable(anyhow::anyhow!("invalid job: {e}")))?;
    match enqueue_in(conn, std::slice::from_ref(job), now)?.first() {
        Some(Enqueued::Inserted(_)) => Ok(()),
        _ => Err(RepositoryError::Unavailable(anyhow::anyhow!("the job of a new delivery was not enqueued"))),
    }
}

#[derive(Debug, Queryable)]
struct SubscriptionRow {
    id: i64,
    owner_id: i64,
    url: String,
    events: String,
    secret: String,
    created_at: NaiveDateTime,
}

impl SubscriptionRow {
    fn into_subscription(self) -> Result<Subscription, RepositoryError> {
        Ok(Subscription {
            id: SubscriptionId(self.id),
            owner_id: UserId(self.owner_id),
            url: self.url,
            events: serde_json::from_str(&self.events).map_err(|e| corrupt("webhook_subscriptions.events", e))?,
            secret: WebhookSecret::parse(&self.secret).map_err(|e| corrupt("webhook_subscriptions.secret", e))?,
            created_at: self.created_at.and_utc(),
        })
    }
}

fn subscriptions(rows: Vec<SubscriptionRow>) -> Result<Vec<Subscription>, RepositoryError> {
    rows.into_iter().map(SubscriptionRow::into_subscription).collect()
}

#[derive(Insertable)]
#[diesel(table_name = webhook_subscriptions)]
struct NewSubscriptionRow<'a> {
    owner_id: i64,
    url: &'a str,
    events: String,
    secret: &'a str,
    created_at: NaiveDateTime,
}

#[derive(Debug, Queryable)]
struct DeliveryRow {
    id: i64,
    subscription_id: i64,
    event_id: i64,
    event: String,
    message_id: String,
    body: String,
    status: String,
    attempts: i32,
    created_at: NaiveDateTime,
}

impl DeliveryRow {
    fn into_delivery(self) -> Result<Delivery, RepositoryError> {
        Ok(Delivery {
            id: DeliveryId(self.id),
            subscription_id: SubscriptionId(self.subscription_id),
            event_id: self.event_id,
            event: self.event,
            message_id: self.message_id,
            body: self.body,
            status: DeliveryStatus::parse(&self.status).map_err(|e| corrupt("webhook_deliveries.status", e))?,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            created_at: self.created_at.and_utc(),
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = webhook_deliveries)]
struct NewDeliveryRow<'a> {
    subscription_id: i64,
    event_id: i64,
    event: &'a str,
    message_id: &'a str,
    body: &'a str,
    status: &'static str,
    attempts: i32,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = webhook_attempts)]
struct NewAttemptRow<'a> {
    delivery_id: i64,
    subscription_id: i64,
    attempt: i32,
    attempted_at: NaiveDateTime,
    response_status: Option<i32>,
    error: Option<&'a str>,
    duration_ms: i64,
    succeeded: bool,
}

/// An attempt with what it shows of its delivery (`webhook_attempts` joined to
/// `webhook_deliveries`).
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = webhook_attempts)]
struct AttemptRow {
    id: i64,
    delivery_id: i64,
    attempt: i32,
    attempted_at: NaiveDateTime,
    response_status: Option<i32>,
    error: Option<String>,
    duration_ms: i64,
    succeeded: bool,
    #[diesel(select_expression = webhook_deliveries::event_id)]
    event_id: i64,
    #[diesel(select_expression = webhook_deliveries::event)]
    event: String,
    #[diesel(select_expression = webhook_deliveries::message_id)]
    message_id: String,
    #[diesel(select_expression = webhook_deliveries::status)]
    status: String,
    #[diesel(select_expression = webhook_deliveries::attempts)]
    delivery_attempts: i32,
}

impl AttemptRow {
    fn into_attempt(self) -> Result<DeliveryAttempt, RepositoryError> {
        Ok(DeliveryAttempt {
            id: self.id,
            delivery_id: DeliveryId(self.delivery_id),
            event_id: self.event_id,
            event: self.event,
            message_id: self.message_id,
            attempt: u32::try_from(self.attempt).unwrap_or(0),
            attempted_at: self.attempted_at.and_utc(),
            response_status: self.response_status.and_then(|s| u16::try_from(s).ok()),
            error: self.error,
            duration_ms: count(self.duration_ms),
            succeeded: self.succeeded,
            delivery_status: {
                // The delivery's status after this attempt: it is the current one only for the
                // latest attempt; an earlier failure was followed by another attempt.
                let now = DeliveryStatus::parse(&self.status).map_err(|e| corrupt("webhook_deliveries.status", e))?;
                if self.succeeded {
                    DeliveryStatus::Delivered
                } else if self.attempt >= self.delivery_attempts {
                    now
                } else {
                    DeliveryStatus::Pending
                }
            },
        })
    }
}

#[derive(Debug, Queryable)]
struct InboundRow {
    id: i64,
    provider: String,
    delivery_id: String,
    event_type: String,
    payload: String,
    received_at: NaiveDateTime,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    result: Option<String>,
    processed_at: Option<NaiveDateTime>,
}

impl InboundRow {
    fn into_delivery(self) -> Result<InboundDelivery, RepositoryError> {
        let result = match self.result {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| corrupt("inbound_webhooks.result", e))?),
            None => None,
        };
        Ok(InboundDelivery {
            id: self.id,
            provider: Provider::parse(&self.provider).map_err(|e| corrupt("inbound_webhooks.provider", e))?,
            event_type: self.event_type,
            delivery_id: self.delivery_id,
            payload: serde_json::from_str(&self.payload).map_err(|e| corrupt("inbound_webhooks.payload", e))?,
            received_at: self.received_at.and_utc(),
            status: InboundStatus::parse(&self.status).map_err(|e| corrupt("inbound_webhooks.status", e))?,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            last_error: self.last_error,
            result,
            processed_at: self.processed_at.map(|t| t.and_utc()),
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = inbound_webhooks)]
struct NewInboundRow<'a> {
    provider: &'static str,
    delivery_id: &'a str,
    event_type: &'a str,
    payload: String,
    received_at: NaiveDateTime,
    status: &'static str,
    attempts: i32,
}

/// Webhook subscriptions, deliveries and inbound deliveries on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselWebhookStore {
    db: Database,
    waker: Option<JobsWaker>,
}

impl DieselWebhookStore {
    pub fn new(db: Database) -> Self {
        Self { db, waker: None }
    }

    /// Wakes this process's job runtimes whenever a delivery's job is enqueued, rather than
    /// leaving them to find it at their next poll.
    pub fn waking(mut self, waker: JobsWaker) -> Self {
        self.waker = Some(waker);
        self
    }

    /// This store (and its waker) on another pool of the same database.
    pub fn on(&self, db: Database) -> Self {
        Self { db, waker: self.waker.clone() }
    }

    fn wake(&self) {
        if let Some(waker) = &self.waker {
            waker.wake();
        }
    }
}

#[async_trait]
impl SubscriptionRepository for DieselWebhookStore {
    async fn create(&self, subscription: NewSubscription) -> Result<Subscription, RepositoryError> {
        self.db
            .run(move |conn| {
                let row = NewSubscriptionRow {
                    owner_id: subscription.owner_id.0,
                    url: &subscription.url,
                    events: serde_json::to_string(&subscription.events)
                        .map_err(|e| RepositoryError::Unavailable(e.into()))?,
                    secret: subscription.secret.expose(),
                    created_at: subscription.created_at.naive_utc(),
                };
                diesel::insert_into(webhook_subscriptions::table)
                    .values(&row)
                    .returning(webhook_subscriptions::all_columns)
                    .get_result::<SubscriptionRow>(conn)
                    .map_err(db)?
                    .into_subscription()
            })
            .await
    }

    async fn list(&self, owner: UserId) -> Result<Vec<Subscription>, RepositoryError> {
        self.db
            .run(move |conn| {
                subscriptions(
                    webhook_subscriptions::table
                        .filter(webhook_subscriptions::owner_id.eq(owner.0))
                        .order(webhook_subscriptions::id.asc())
                        .load(conn)
                        .map_err(db)?,
                )
            })
            .await
    }

    async fn find(&self, id: SubscriptionId) -> Result<Option<Subscription>, RepositoryError> {
        self.db
            .run(move |conn| {
                webhook_subscriptions::table
                    .find(id.0)
                    .first::<SubscriptionRow>(conn)
                    .optional()
                    .map_err(db)?
                    .map(SubscriptionRow::into_subscription)
                    .transpose()
            })
            .await
    }

    async fn delete(&self, id: SubscriptionId, owner: UserId) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                // Deliveries and attempts go with it (ON DELETE CASCADE); their jobs find nothing
                // and end.
                let deleted = diesel::delete(
                    webhook_subscriptions::table.find(id.0).filter(webhook_subscriptions::owner_id.eq(owner.0)),
                )
                .execute(conn)
                .map_err(db)?;
                Ok(deleted > 0)
            })
            .await
    }

    async fn for_owners(&self, owners: Vec<UserId>) -> Result<Vec<Subscription>, RepositoryError> {
        self.db
            .run(move |conn| {
                let ids: Vec<i64> = owners.iter().map(|u| u.0).collect();
                subscriptions(
                    webhook_subscriptions::table
                        .filter(webhook_subscriptions::owner_id.eq_any(ids))
                        .order(webhook_subscriptions::id.asc())
                        .load(conn)
                        .map_err(db)?,
                )
            })
            .await
    }
}

#[async_trait]
impl DeliveryStore for DieselWebhookStore {
    async fn fan_out(&self, deliveries: Vec<NewDelivery>, now: DateTime<Utc>) -> Result<usize, RepositoryError> {
        let new = self
            .db
            .run(move |conn| {
                write_transaction(conn, |c| {
                    let mut new = 0;
                    for delivery in &deliveries {
                        let row = NewDeliveryRow {
                            subscription_id: delivery.subscription_id.0,
                            event_id: delivery.event_id,
                            event: &delivery.event,
                            message_id: &delivery.message_id,
                            body: &delivery.body,
                            status: DeliveryStatus::Pending.as_str(),
                            attempts: 0,
                            created_at: now.naive_utc(),
                        };
                        let insert =
                            diesel::insert_into(webhook_deliveries::table).values(&row).on_conflict_do_nothing();
                        let id: Option<i64> = per_engine!(&mut *c, e =>
                            insert.returning(webhook_deliveries::id).get_result(e).optional())
                        .map_err(db)?;
                        if id.is_some() {
                            enqueue_one(c, &delivery.job, now)?;
                            new += 1;
                        }
                    }
                    Ok(new)
                })
            })
            .await?;
        if new > 0 {
            self.wake();
        }
        Ok(new)
    }

    async fn delivery(
        &self,
        subscription: SubscriptionId,
        event_id: i64,
    ) -> Result<Option<(Delivery, Subscription)>, RepositoryError> {
        self.db
            .run(move |conn| {
                let row: Option<(DeliveryRow, SubscriptionRow)> = webhook_deliveries::table
                    .inner_join(webhook_subscriptions::table)
                    .filter(webhook_deliveries::subscription_id.eq(subscription.0))
                    .filter(webhook_deliveries::event_id.eq(event_id))
                    .select((webhook_deliveries::all_columns, webhook_subscriptions::all_columns))
                    .first(conn)
                    .optional()
                    .map_err(db)?;
                row.map(|(d, s)| Ok((d.into_delivery()?, s.into_subscription()?))).transpose()
            })
            .await
    }

    async fn record_attempt(&self, attempt: NewAttempt) -> Result<(), RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |c| {
                    let Some(subscription_id) = webhook_deliveries::table
                        .find(attempt.delivery_id.0)
                        .select(webhook_deliveries::subscription_id)
                        .first::<i64>(c)
                        .optional()
                        .map_err(db)?
                    else {
                        // Deleted with its subscription meanwhile: nothing to log it under.
                        return Ok(());
                    };
                    let row = NewAttemptRow {
                        delivery_id: attempt.delivery_id.0,
                        subscription_id,
                        attempt: int(attempt.attempt),
                        attempted_at: attempt.attempted_at.naive_utc(),
                        response_status: attempt.response_status.map(i32::from),
                        error: attempt.error.as_deref(),
                        duration_ms: i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX),
                        succeeded: attempt.succeeded,
                    };
                    diesel::insert_into(webhook_attempts::table).values(&row).execute(c).map_err(db)?;
                    diesel::update(webhook_deliveries::table.find(attempt.delivery_id.0))
                        .set((
                            webhook_deliveries::status.eq(attempt.status.as_str()),
                            webhook_deliveries::attempts.eq(int(attempt.attempt)),
                        ))
                        .execute(c)
                        .map_err(db)?;
                    Ok(())
                })
            })
            .await
    }

    async fn attempts(
        &self,
        subscription: SubscriptionId,
        page: PageRequest,
    ) -> Result<Page<DeliveryAttempt>, RepositoryError> {
        self.db
            .run(move |conn| {
                let of_subscription =
                    || webhook_attempts::table.filter(webhook_attempts::subscription_id.eq(subscription.0));
                let total: i64 = of_subscription().count().get_result(conn).map_err(db)?;
                counted_page(page, total, || {
                    let rows: Vec<AttemptRow> = of_subscription()
                        .inner_join(webhook_deliveries::table)
                        .select(AttemptRow::as_select())
                        .order(webhook_attempts::id.desc())
                        .limit(page.limit())
                        .offset(page.offset())
                        .load(conn)
                        .map_err(db)?;
                    rows.into_iter().map(AttemptRow::into_attempt).collect()
                })
            })
            .await
    }
}

#[async_trait]
impl InboundStore for DieselWebhookStore {
    async fn record(&self, delivery: NewInboundDelivery, job: NewJob) -> Result<Recorded, RepositoryError> {
        let payload = delivery.payload.to_string();
        let recorded = self
            .db
            .run(move |conn| {
                write_transaction(conn, |c| {
                    let row = NewInboundRow {
                        provider: delivery.provider.as_str(),
                        delivery_id: &delivery.delivery_id,
                        event_type: &delivery.event_type,
                        payload: payload.clone(),
                        received_at: delivery.received_at.naive_utc(),
                        status: InboundStatus::Received.as_str(),
                        attempts: 0,
                    };
                    let insert = diesel::insert_into(inbound_webhooks::table).values(&row).on_conflict_do_nothing();
                    let id: Option<i64> =
                        per_engine!(&mut *c, e => insert.returning(inbound_webhooks::id).get_result(e).optional())
                            .map_err(db)?;
                    match id {
                        Some(id) => {
                            enqueue_one(c, &job, delivery.received_at)?;
                            Ok(Recorded::New(id))
                        }
                        None => {
                            let existing = inbound_webhooks::table
                                .filter(inbound_webhooks::provider.eq(delivery.provider.as_str()))
                                .filter(inbound_webhooks::delivery_id.eq(&delivery.delivery_id))
                                .select(inbound_webhooks::id)
                                .first::<i64>(c)
                                .map_err(db)?;
                            Ok(Recorded::Duplicate(existing))
                        }
                    }
                })
            })
            .await?;
        if matches!(recorded, Recorded::New(_)) {
            self.wake();
        }
        Ok(recorded)
    }

    async fn find(&self, provider: Provider, delivery_id: &str) -> Result<Option<InboundDelivery>, RepositoryError> {
        let delivery_id = delivery_id.to_owned();
        self.db
            .run(move |conn| {
                inbound_webhooks::table
                    .filter(inbound_webhooks::provider.eq(provider.as_str()))
                    .filter(inbound_webhooks::delivery_id.eq(&delivery_id))
                    .first::<InboundRow>(conn)
                    .optional()
                    .map_err(db)?
                    .map(InboundRow::into_delivery)
                    .transpose()
            })
            .await
    }

    async fn finish(&self, id: i64, finished: Finished) -> Result<(), RepositoryError> {
        let result = finished.result.as_ref().map(ToString::to_string);
        self.db
            .run(move |conn| {
                let processed_at = (finished.status != InboundStatus::Received).then(|| finished.at.naive_utc());
                let target = inbound_webhooks::table.find(id);
                let base = (
                    inbound_webhooks::status.eq(finished.status.as_str()),
                    inbound_webhooks::attempts.eq(inbound_webhooks::attempts + 1),
                    inbound_webhooks::result.eq(result.clone()),
                    inbound_webhooks::processed_at.eq(processed_at),
                );
                match &finished.error {
                    Some(error) => diesel::update(target)
                        .set((base, inbound_webhooks::last_error.eq(Some(error.as_str()))))
                        .execute(conn),
                    None => diesel::update(target).set(base).execute(conn),
                }
                .map(drop)
                .map_err(db)
            })
            .await
    }

    async fn list(
        &self,
        provider: Option<Provider>,
        page: PageRequest,
    ) -> Result<Page<InboundDelivery>, RepositoryError> {
        self.db
            .run(move |conn| {
                let filtered = || {
                    let q = inbound_webhooks::table.into_boxed();
                    match provider {
                        Some(p) => q.filter(inbound_webhooks::provider.eq(p.as_str())),
                        None => q,
                    }
                };
                let total: i64 = filtered().count().get_result(conn).map_err(db)?;
                counted_page(page, total, || {
                    let rows: Vec<InboundRow> = filtered()
                        .order(inbound_webhooks::id.desc())
                        .limit(page.limit())
                        .offset(page.offset())
                        .load(conn)
                        .map_err(db)?;
                    rows.into_iter().map(InboundRow::into_delivery).collect()
                })
            })
            .await
    }
}
