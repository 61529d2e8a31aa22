//! The tokens domain's errors as problem documents.

use workbench_tokens::TokenError;
use workbench_users::RECENT_SIGN_IN;

use crate::problem::ApiError;

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Invalid(errors) => ApiError::validation(errors),
            TokenError::ReauthenticationRequired => ApiError::reauthentication_required(format!(
                "This account has no password, so making a token needs a sign-in of the last {} minutes: sign \
                 in again, then make the token with the new session's access token.",
                RECENT_SIGN_IN.num_minutes()
            )),
            TokenError::NotFound => ApiError::not_found("You hold no token with that id."),
            TokenError::InvalidToken => ApiError::invalid_token(),
            TokenError::Unknown(cause) => ApiError::internal(cause),
        }
    }
}
