//! What a client says on the socket, and the `error` events it may get back.

use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use workbench_chat::ChatError;
use workbench_core::FieldErrors;
use workbench_realtime::event_frame;

use crate::chat::dto::MessageResponse;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConnectQuery {
    /// An access token. Without it (and without an `Authorization` header), the first message
    /// must be `{"type": "auth", "token": "..."}` within 10 s.
    #[param(nullable = false)]
    pub token: Option<String>,
}

/// A client's message: a flat object whose `type` says what it is.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    Auth {
        token: String,
    },
    Join {
        room: String,
    },
    Leave {
        room: String,
    },
    /// `attachments`: ids of files the sender owns (at most 10), carried by the message.
    Message {
        room: String,
        content: String,
        #[serde(default)]
        attachments: Vec<i64>,
    },
    Dm {
        to: i64,
        content: String,
        #[serde(default)]
        attachments: Vec<i64>,
    },
    /// The caller is typing to `to` or in `room`: passed on, never stored.
    Typing {
        to: Option<i64>,
        room: Option<String>,
    },
    History {
        room: Option<String>,
        with: Option<i64>,
        before: Option<i64>,
        after: Option<i64>,
        limit: Option<i64>,
    },
    Subscribe {
        topic: String,
    },
    Unsubscribe {
        topic: String,
    },
    Ping,
}

impl ClientMessage {
    /// Reads a text frame; what cannot be read is an `error` event saying why.
    pub fn parse(text: &str) -> Result<Self, SocketError> {
        // serde's message names the problem (unknown variant, missing field) and a position.
        serde_json::from_str(text).map_err(|e| SocketError::new("bad_request", format!("Unreadable message: {e}.")))
    }
}

/// The answer to `history`: which conversation, and a page of it, oldest first.
#[derive(Debug, Serialize)]
pub struct HistoryAnswer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with: Option<i64>,
    pub messages: Vec<MessageResponse>,
}

/// One failing field of an `error` event.
#[derive(Debug, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// An `error` event: `{code, message, errors?}`, where `code` is one of `bad_request`,
/// `unauthorized`, `forbidden`, `not_found`, `invalid`, `rate_limited`, `internal`.
#[derive(Debug, Serialize)]
pub struct SocketError {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

impl SocketError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), errors: Vec::new() }
    }

    pub fn invalid(errors: &FieldErrors) -> Self {
        Self {
            code: "invalid",
            message: "Some fields are invalid.".into(),
            errors: errors
                .as_slice()
                .iter()
                .map(|e| FieldProblem { field: e.field.clone(), message: e.message.clone() })
                .collect(),
        }
    }

    pub fn frame(&self) -> ByteString {
        event_frame("error", self)
    }
}

impl From<ChatError> for SocketError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::Validation(errors) => Self::invalid(&errors),
            ChatError::RoomNotFound => Self::new("not_found", "No such room."),
            ChatError::UserNotFound => Self::new("not_found", "No such user."),
            ChatError::MessageNotFound => Self::new("not_found", "No such message."),
            ChatError::TooLate(why) | ChatError::Full(why) => Self::new("conflict", why),
            ChatError::Forbidden(why) => Self::new("forbidden", why),
            ChatError::Conflict { field } => Self::new("invalid", format!("{field} is already taken.")),
            ChatError::Unknown(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "a socket request failed");
                Self::new("internal", "Something went wrong on our side; try again.")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_flat_objects_named_by_type() {
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"dm","to":2,"content":"hi"}"#),
            Ok(ClientMessage::Dm { to: 2, .. })
        ));
        assert!(matches!(ClientMessage::parse(r#"{"type":"ping"}"#), Ok(ClientMessage::Ping)));
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"history","with":3,"limit":5}"#),
            Ok(ClientMessage::History { with: Some(3), room: None, limit: Some(5), .. })
        ));
        let unknown = ClientMessage::parse(r#"{"type":"shout"}"#).unwrap_err();
        assert_eq!(unknown.code, "bad_request");
        assert!(unknown.message.contains("shout"), "{}", unknown.message);
        let missing = ClientMessage::parse(r#"{"type":"join"}"#).unwrap_err();
        assert!(missing.message.contains("room"), "{}", missing.message);
    }

    #[test]
    fn an_error_event_names_its_code_and_fields() {
        let error = SocketError::invalid(&FieldErrors::single("content", "must not be blank"));
        assert_eq!(
            &*error.frame(),
            r#"{"type":"error","data":{"code":"invalid","message":"Some fields are invalid.","errors":[{"field":"content","message":"must not be blank"}]}}"#
        );
    }
}
