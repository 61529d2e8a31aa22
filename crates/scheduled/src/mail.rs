//! The mail port: how reports and reminders leave the building.

use async_trait::async_trait;

/// A plain-text e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailMessage {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// Further header fields, by name (`List-Unsubscribe`): ASCII names, values as they go out.
    pub headers: Vec<(String, String)>,
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The message or its address was refused for good (a malformed address, a permanent SMTP
    /// rejection): retrying cannot help.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The server could not be reached or refused for now: worth retrying.
    #[error("mail server unavailable: {0}")]
    Unavailable(String),
}

/// Sends e-mail (SMTP in production).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends `email` from the configured sender. MUST answer `Ok` only once the server accepted it.
    async fn send(&self, email: &MailMessage) -> Result<(), MailError>;
}
