//! The SMTP adapter of the mail port ([`workbench_scheduled::Mailer`]): plain-text messages sent
//! through `lettre` to the server named by `SMTP_URL`, from `MAIL_FROM`.
//!
//! `SMTP_URL` follows lettre's scheme: `smtp://host:25` (plain, or STARTTLS with
//! `?tls=required`), `smtps://host:465` (TLS from the first byte), with optional
//! `user:password@` for authentication. Certificates are checked against the Mozilla roots
//! (`webpki-roots`), so a deployment needs no system certificate store.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use workbench_scheduled::{MailError, MailMessage, Mailer};

/// How long one conversation with the server may take; past it the attempt fails and the job is
/// retried later.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the mail settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    #[error("SMTP_URL is not a usable SMTP URL: {0}")]
    Url(String),
    #[error("MAIL_FROM is not a mailbox (`Name <address>` or `address`): {0}")]
    From(String),
}

/// Sends mail through one SMTP server, keeping a small pool of connections to it.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry credentials: only the sender is shown.
        f.debug_struct("SmtpMailer").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for `smtp_url` sending as `from`. Nothing is sent or connected yet: the server is
    /// first reached by the first message. Call it on a Tokio runtime (the connection pool lives
    /// there).
    pub fn new(smtp_url: &str, from: &str) -> Result<Self, MailConfigError> {
        let from: Mailbox = from.trim().parse().map_err(|e| MailConfigError::From(format!("{e}")))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url.trim())
            // lettre's message names the URL part that is wrong, never the password.
            .map_err(|e| MailConfigError::Url(e.to_string()))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &MailMessage) -> Result<(), MailError> {
        let to: Mailbox =
            email.to.parse().map_err(|e| MailError::Rejected(format!("{:?} is not an address: {e}", email.to)))?;
        let mut builder = Message::builder().from(self.from.clone()).to(to).subject(email.subject.as_str());
        for (name, value) in &email.headers {
            let name = HeaderName::new_from_ascii(name.clone())
                .map_err(|e| MailError::Rejected(format!("{name:?} is not a header name: {e}")))?;
            builder = builder.raw_header(HeaderValue::new(name, value.clone()));
        }
        let message = builder
            .header(ContentType::TEXT_PLAIN)
            .body(email.text.clone())
            .map_err(|e| MailError::Rejected(format!("the message cannot be built: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            // 5xx: the server refuses this message or recipient for good.
            Err(e) if e.is_permanent() => Err(MailError::Rejected(e.to_string())),
            Err(e) => Err(MailError::Unavailable(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The connection pool lives on the Tokio runtime.
    #[tokio::test]
    async fn bad_settings_are_named() {
        assert!(matches!(SmtpMailer::new("http://mail.example.com", "a@example.com"), Err(MailConfigError::Url(_))));
        assert!(matches!(SmtpMailer::new("smtp://localhost:2525", "not an address"), Err(MailConfigError::From(_))));
        let mailer = SmtpMailer::new("smtp://user:hunter2@localhost:2525", "Workbench <wb@example.com>").unwrap();
        assert!(!format!("{mailer:?}").contains("hunter2"), "credentials stay out of logs");
    }
}

#[cfg(feature = "testing")]
pub mod testing;
