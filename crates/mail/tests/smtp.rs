//! The mailer against a real SMTP server (aiosmtpd), read back from its maildir.

use std::time::Duration;

use workbench_mail::SmtpMailer;
use workbench_mail::testing::SmtpSink;
use workbench_scheduled::{MailError, MailMessage, Mailer};

#[tokio::test]
async fn a_message_reaches_the_server_as_sent() {
    let Some(sink) = SmtpSink::start().await else { return };
    let mailer = SmtpMailer::new(&sink.url(), "Workbench <workbench@example.com>").unwrap();
    let message = MailMessage {
        to: "ann@example.com".into(),
        subject: "Your tasks for 2026-11-23: 3 open, 1 overdue — ünïcode".into(),
        text: "Hello ann,\n\n  - #12 Renew the car insurance\n".into(),
        headers: vec![
            (
                "List-Unsubscribe".into(),
                "<https://wb.example.com/api/v1/notifications/unsubscribe?token=1.assigned.abc>".into(),
            ),
            ("List-Unsubscribe-Post".into(), "List-Unsubscribe=One-Click".into()),
        ],
    };
    mailer.send(&message).await.expect("the sink accepts it");
    let received = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.header("to"), Some("ann@example.com"));
    assert!(mail.header("from").is_some_and(|f| f.contains("workbench@example.com")), "{:?}", mail.headers);
    assert!(mail.header("subject").is_some_and(|s| !s.is_empty()));
    assert!(mail.header("content-type").is_some_and(|t| t.starts_with("text/plain")));
    assert!(mail.body.contains("Renew the car insurance"), "{}", mail.body);
    assert_eq!(
        mail.header("list-unsubscribe"),
        Some("<https://wb.example.com/api/v1/notifications/unsubscribe?token=1.assigned.abc>")
    );
    assert_eq!(mail.header("list-unsubscribe-post"), Some("List-Unsubscribe=One-Click"));
}

#[tokio::test]
async fn an_unreachable_server_is_worth_retrying_and_a_bad_address_is_not() {
    // Nothing listens on port 9 (discard) here.
    let mailer = SmtpMailer::new("smtp://127.0.0.1:9", "workbench@example.com").unwrap();
    let message =
        MailMessage { to: "ann@example.com".into(), subject: "s".into(), text: "t".into(), headers: Vec::new() };
    assert!(matches!(mailer.send(&message).await, Err(MailError::Unavailable(_))));
    let bad = MailMessage { to: "not an address".into(), ..message };
    assert!(matches!(mailer.send(&bad).await, Err(MailError::Rejected(_))));
}
