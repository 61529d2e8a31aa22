//! The third-party data domain's errors as problem documents.

use actix_web::http::StatusCode;
use workbench_integrations::IntegrationError;

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
                    Some(wait) => error.with_retry_after(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)),
                    None => error,
                }
            }
        }
    }
}
