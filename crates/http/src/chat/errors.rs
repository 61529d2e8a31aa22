//! The chat domain's errors as problem documents.

use workbench_chat::ChatError;

use crate::problem::ApiError;

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::Validation(errors) => ApiError::validation(errors),
            ChatError::RoomNotFound => ApiError::not_found("No such room."),
            ChatError::UserNotFound => ApiError::not_found("No such user."),
            ChatError::MessageNotFound => ApiError::not_found("No such message."),
            ChatError::TooLate(why) | ChatError::Full(why) => ApiError::conflict(why),
            ChatError::Forbidden(why) => ApiError::forbidden(why),
            ChatError::Conflict { field: "name" } => ApiError::conflict("A room of this name exists already."),
            ChatError::Conflict { field } => ApiError::taken(field),
            ChatError::Unknown(cause) => ApiError::internal(cause),
        }
    }
}
