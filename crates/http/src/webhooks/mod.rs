//! Webhooks, both ways: deliveries received from GitHub and Stripe (checked against their
//! signatures over the raw body, stored with their processing job before the `200`), and users'
//! subscriptions to their task events with the log of every delivery attempt.

use actix_web::http::header::HeaderMap;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use workbench_core::{FieldError, PageRequest};
use workbench_webhooks::{DeliveryHeaders, Provider, Recorded, SubscriptionId, WebhookError};

pub mod dto;
mod errors;

use crate::extract::{CurrentUser, Json, Query, admins_only};
use crate::groups::Routes;
use crate::idempotency::{Created, IdempotencyKeySchema};
use crate::pagination::{DataList, PageQuery, Paginated, paginated};
use crate::problem::{ApiError, Problem};
use crate::responses::{BadRequest, NOT_JSON_OR_BAD_KEY, NotFound, Unauthorized, Unprocessable};
use crate::state::AppState;
use dto::{
    CreateSubscriptionRequest, DeliveryAttemptResponse, InboundDeliveryResponse, InboundListQuery, InboundReceipt,
    SubscriptionCreatedResponse, SubscriptionResponse,
};

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Checks and stores one delivery of `provider`; the same answer for a new delivery and a repeated
/// one, told apart by `duplicate`.
async fn receive(
    state: &AppState,
    provider: Provider,
    headers: DeliveryHeaders,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let recorded = state.inbound.receive(provider, headers, body, workbench_jobs::now()).await.map_err(|e| {
        match &e {
            WebhookError::BadSignature(why) => {
                tracing::warn!(provider = provider.as_str(), reason = %why, "refused a webhook delivery");
            }
            WebhookError::NotConfigured(_) | WebhookError::Malformed(_) => {
                tracing::warn!(provider = provider.as_str(), error = %e, "refused a webhook delivery");
            }
            _ => {}
        }
        ApiError::from(e)
    })?;
    let receipt = match recorded {
        Recorded::New(id) => InboundReceipt { id, duplicate: false },
        Recorded::Duplicate(id) => InboundReceipt { id, duplicate: true },
    };
    Ok(HttpResponse::Ok().json(receipt))
}

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/webhooks") {
        cfg.service(github)
            .service(stripe)
            .service(subscribe)
            .service(subscriptions)
            .service(unsubscribe)
            .service(deliveries);
    }
    if let Some(cfg) = routes.under("/admin") {
        cfg.service(inbound);
    }
}

/// A delivery from GitHub. The body must be JSON (the webhook's content type
/// `application/json`), signed with `GITHUB_WEBHOOK_SECRET` in `X-Hub-Signature-256`
/// (`sha256=<hex HMAC-SHA256 of the raw body>`). A valid one is stored with its processing job
/// before the answer; a repeated `X-GitHub-Delivery` is answered `200` and not processed again.
/// `push` and `ping` are acted on; other events are stored as ignored.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "receive_github_webhook",
    params(
        ("X-Hub-Signature-256" = String, Header, description = "`sha256=` and the hex HMAC-SHA256 of the raw body"),
        ("X-GitHub-Delivery" = String, Header, description = "The delivery's id: a redelivery carries the same"),
        ("X-GitHub-Event" = Option<String>, Header, description = "The event type (`push`, `ping`, ...); without it the delivery is kept as `unknown` and ignored"),
    ),
    request_body(content = serde_json::Value, content_type = "application/json", description = "The event, exactly as GitHub sends it"),
    responses(
        (status = 200, description = "Stored (or stored before: `duplicate`)", body = InboundReceipt),
        (status = 400, description = "Bad, missing or unconfigured signature, or a signed body without a delivery id or JSON; nothing is stored", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than allowed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks/github")]
pub async fn github(req: HttpRequest, state: web::Data<AppState>, body: Bytes) -> Result<HttpResponse, ApiError> {
    let headers = DeliveryHeaders {
        signature: header(req.headers(), "x-hub-signature-256"),
        delivery_id: header(req.headers(), "x-github-delivery"),
        event_type: header(req.headers(), "x-github-event"),
    };
    receive(&state, Provider::Github, headers, &body).await
}

/// A delivery from Stripe, signed with `STRIPE_WEBHOOK_SECRET` in `Stripe-Signature`
/// (`t=<unix time>,v1=<hex HMAC-SHA256 of "{t}.{raw body}">`), at most 5 minutes old or ahead.
/// A valid one is stored with its processing job before the answer; a repeated event `id` is
/// answered `200` and not processed again. `payment_intent.succeeded` and
/// `checkout.session.completed` are acted on; other events are stored as ignored.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "receive_stripe_webhook",
    params(("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex signature>[,v1=...]`")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "The event (`id`, `type`, `data.object`), exactly as Stripe sends it"),
    responses(
        (status = 200, description = "Stored (or stored before: `duplicate`)", body = InboundReceipt),
        (status = 400, description = "Bad, missing, expired or unconfigured signature, or a signed body without an `id` or JSON (one without a `type` is kept as `unknown` and ignored); nothing is stored", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than allowed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks/stripe")]
pub async fn stripe(req: HttpRequest, state: web::Data<AppState>, body: Bytes) -> Result<HttpResponse, ApiError> {
    let headers =
        DeliveryHeaders { signature: header(req.headers(), "stripe-signature"), delivery_id: None, event_type: None };
    receive(&state, Provider::Stripe, headers, &body).await
}

/// Subscribe a URL to the caller's task events (of the tasks they own or are assigned to). Each
/// delivery is a `POST` of `{"type", "timestamp", "data": <the task>}` (`data` is `{"id"}` for
/// `task.deleted`) with the Standard Webhooks headers `webhook-id` (the same on every retry),
/// `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
/// keyed with the secret's decoded bytes), plus `X-Workbench-Event`. Failed deliveries are retried
/// with exponential backoff (10 attempts over about 35 minutes); redirects are not followed; an
/// attempt times out after 15 s. The secret is in this answer only. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "create_webhook_subscription",
    security(("bearer_auth" = ["webhooks:write"])),
    params(("Idempotency-Key" = inline(Option<IdempotencyKeySchema>), Header, nullable = false, description = "Replays the first response for 24 h")),
    request_body = CreateSubscriptionRequest,
    responses(
        (status = 201, body = SubscriptionCreatedResponse),
        (status = 400, description = NOT_JSON_OR_BAD_KEY, body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 409, description = "The caller has as many subscriptions as allowed (20), or the same Idempotency-Key is still being processed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid `url` (not http(s), credentials, an internal address) or `events`, all listed; or a reused Idempotency-Key with another body", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks/subscriptions")]
pub async fn subscribe(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    body: Json<CreateSubscriptionRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    state
        .idempotency
        .run(&req, user.id, &body, || async {
            let subscription = state.webhooks.subscribe(&user, body.clone().into_draft()).await?;
            Ok(Created {
                // Subscriptions are listed, not read one by one.
                location: None,
                etag: None,
                body: serde_json::value::to_raw_value(&SubscriptionCreatedResponse::from(subscription))
                    .map_err(ApiError::internal)?,
            })
        })
        .await
}

/// The caller's subscriptions, oldest first (secrets are not shown again). Not paginated: a user
/// has at most 20.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "list_webhook_subscriptions",
    security(("bearer_auth" = ["webhooks:write"])),
    responses(
        (status = 200, body = DataList<SubscriptionResponse>),
        (status = 401, response = Unauthorized),
    )
)]
#[get("/webhooks/subscriptions")]
pub async fn subscriptions(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<web::Json<DataList<SubscriptionResponse>>, ApiError> {
    let list = state.webhooks.list(&user).await?;
    Ok(web::Json(DataList { data: list.into_iter().map(SubscriptionResponse::from).collect() }))
}

/// Remove one of the caller's subscriptions, with its delivery log; deliveries not yet made are
/// dropped. Anyone else's is `404`.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "delete_webhook_subscription",
    security(("bearer_auth" = ["webhooks:write"])),
    params(("id" = i64, Path, minimum = 1, description = "Subscription id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
#[delete("/webhooks/subscriptions/{id}")]
pub async fn unsubscribe(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state.webhooks.unsubscribe(&user, SubscriptionId(id.into_inner())).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every delivery attempt made for one of the caller's subscriptions, newest first: listed as
/// soon as it is made (within seconds of the event), retries included.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "list_webhook_deliveries",
    security(("bearer_auth" = ["webhooks:write"])),
    params(("id" = i64, Path, minimum = 1, description = "Subscription id"), PageQuery),
    responses(
        (status = 200, body = Paginated<DeliveryAttemptResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
#[get("/webhooks/subscriptions/{id}/deliveries")]
pub async fn deliveries(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<i64>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().page()?;
    let attempts = state.webhooks.attempts(&user, SubscriptionId(id.into_inner()), page).await?;
    Ok(paginated(&req, attempts.map(DeliveryAttemptResponse::from)))
}

/// Deliveries received from GitHub and Stripe, newest first, with what processing made of each
/// (admins only).
#[utoipa::path(
    tag = "admin",
    operation_id = "admin_list_inbound_webhooks",
    security(("bearer_auth" = ["admin"])),
    params(InboundListQuery),
    responses(
        (status = 200, body = Paginated<InboundDeliveryResponse>, headers(("Link" = String))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown `provider`, or `page`/`per_page` below 1", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin/webhooks/inbound")]
pub async fn inbound(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(viewer): CurrentUser,
    query: Query<InboundListQuery>,
) -> Result<HttpResponse, ApiError> {
    admins_only(&viewer)?;
    let query = query.into_inner();
    let (provider, page) = match (
        query.provider.as_deref().map(Provider::parse).transpose(),
        PageRequest::from_signed(query.page, query.per_page),
    ) {
        (Ok(provider), Ok(page)) => (provider, page),
        (provider, page) => {
            let mut errors: Vec<FieldError> =
                provider.err().map(|why| FieldError::new("provider", why)).into_iter().collect();
            errors.extend(page.err().map(|e| e.into_vec()).unwrap_or_default());
            return Err(ApiError::field_errors(errors));
        }
    };
    let received = state.inbound.list(provider, page).await?;
    Ok(paginated(&req, received.map(InboundDeliveryResponse::from)))
}
