//! What can go wrong with webhooks, in the domain's words.

use workbench_core::{FieldErrors, RepositoryError};

use crate::{Provider, SignatureError};

/// Failures of the webhook use cases. The HTTP adapter maps each variant to one status.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Fields of a subscription that failed their rules, each named.
    #[error("invalid fields: {0}")]
    Validation(#[from] FieldErrors),
    /// No such subscription, or one of another user.
    #[error("no such subscription")]
    NotFound,
    /// The user has as many subscriptions as allowed.
    #[error("at most {0} subscriptions per user")]
    TooMany(usize),
    /// Deliveries from this provider are not accepted: its secret is not configured.
    #[error("webhooks from {0} are not configured")]
    NotConfigured(Provider),
    /// The delivery's signature is missing, malformed, wrong or too old: nothing is stored.
    #[error("bad signature: {0}")]
    BadSignature(SignatureError),
    /// The delivery is signed but lacks what it must carry (a delivery id, an event type, JSON).
    #[error("malformed delivery: {0}")]
    Malformed(String),
    /// Anything else: the store failed.
    #[error(transparent)]
    Unknown(anyhow::Error),
}

impl From<RepositoryError> for WebhookError {
    fn from(e: RepositoryError) -> Self {
        WebhookError::Unknown(e.into())
    }
}
