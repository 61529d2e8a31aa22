//! The third-party data domain's errors as problem documents.

use std::time::Duration;

use actix_web::http::StatusCode;
use workbench_integrations::{Capability, IntegrationError};

use crate::problem::ApiError;

impl From<IntegrationError> for ApiError {
    fn from(e: IntegrationError) -> Self {
        match e {
            IntegrationError::Validation(errors) => ApiError::validation(errors),
            IntegrationError::NotFound { what } => ApiError::not_found(format!("The provider knows no {what}.")),
            IntegrationError::NotConfigured { capability } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider-not-configured",
                format!("No {} provider is configured on this server.", capability.as_str()),
            ),
            IntegrationError::ProviderUnavailable { provider, retry_after } => {
                let error = ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "provider-unavailable",
                    format!("{provider} could not be reached or gave an unusable answer, and nothing is cached."),
                );
                match retry_after {
                    Some(wait) => error.with_retry_after(whole_seconds(wait)),
                    None => error,
                }
            }
            IntegrationError::BudgetExhausted { capability, retry_after } => {
                let (slug, detail) = match capability {
                    Capability::Translation => (
                        "translation-budget-exhausted",
                        "This account has had its characters for the hour translated; this text fits again after Retry-After seconds.",
                    ),
                    Capability::Weather | Capability::Prices => (
                        "usage-budget-exhausted",
                        "This account has used its share of the provider for now; try again after Retry-After seconds.",
                    ),
                };
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, slug, detail).with_retry_after(whole_seconds(retry_after))
            }
        }
    }
}

/// A wait as `Retry-After` gives it: whole seconds, rounded up so that a client that waits that
/// long is not refused again.
fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}
