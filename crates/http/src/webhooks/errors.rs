//! The webhooks domain's errors as problem documents.

use actix_web::http::StatusCode;
use workbench_webhooks::WebhookError;

use crate::problem::ApiError;

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Validation(errors) => ApiError::validation(errors),
            WebhookError::NotFound => ApiError::not_found("No such webhook subscription."),
            e @ WebhookError::TooMany(_) => {
                ApiError::new(StatusCode::CONFLICT, "too-many-subscriptions", format!("{e}."))
            }
            // Nothing can be verified, so nothing is accepted: the sender hears 400 as for a bad
            // signature, and GitHub or Stripe show it in their delivery logs.
            WebhookError::NotConfigured(provider) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "webhook-not-configured",
                format!("Webhooks from {provider} are not accepted here: no signing secret is configured."),
            ),
            // Why exactly is logged by the handler: a forger learns nothing from the answer.
            WebhookError::BadSignature(_) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-signature",
                "The delivery's signature is missing, malformed, wrong or too old; nothing was stored.",
            ),
            WebhookError::Malformed(why) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed-delivery",
                format!("The delivery is signed but cannot be used: {why}. Nothing was stored."),
            ),
            WebhookError::Unknown(cause) => ApiError::internal(cause),
        }
    }
}
