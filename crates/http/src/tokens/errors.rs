//! The tokens domain's errors as problem documents.

use workbench_tokens::TokenError;

use crate::problem::ApiError;

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Invalid(errors) => ApiError::validation(errors),
            TokenError::NotFound => ApiError::not_found("You hold no token with that id."),
            TokenError::InvalidToken => ApiError::invalid_token(),
            TokenError::Unknown(cause) => ApiError::internal(cause),
        }
    }
}
