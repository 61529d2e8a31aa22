//! The sender against local receivers (wiremock): what it sends, and where it refuses to go.

use std::time::Duration;

use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use workbench_webhook_client::HttpWebhookSender;
use workbench_webhooks::{OutgoingWebhook, SendError, WebhookSender};

fn request(url: String) -> OutgoingWebhook {
    OutgoingWebhook {
        url,
        headers: vec![("content-type", "application/json".to_owned()), ("webhook-id", "evt_1".to_owned())],
        body: br#"{"type":"task.updated"}"#.to_vec(),
    }
}

#[tokio::test]
async fn a_delivery_is_posted_with_its_headers_and_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .and(header("webhook-id", "evt_1"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let sender = HttpWebhookSender::new(true).unwrap();
    assert_eq!(sender.send(&request(format!("{}/hook", server.uri()))).await, Ok(204));
    let received = server.received_requests().await.unwrap();
    assert_eq!(received[0].body, br#"{"type":"task.updated"}"#);
}

#[tokio::test]
async fn redirects_are_answers_not_detours() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/moved"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "http://169.254.169.254/latest"))
        .mount(&server)
        .await;
    let sender = HttpWebhookSender::new(true).unwrap();
    assert_eq!(sender.send(&request(format!("{}/moved", server.uri()))).await, Ok(307));
}

#[tokio::test]
async fn internal_targets_are_refused_unless_allowed() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let guarded = HttpWebhookSender::new(false).unwrap();
    let port = server.address().port();
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        // NAT64 and 6to4 forms of 127.0.0.1 and of the metadata service, and a site-local address.
        format!("http://[64:ff9b::7f00:1]:{port}/hook"),
        format!("http://[2002:7f00:1::1]:{port}/hook"),
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data".to_owned(),
        "http://[2002:a9fe:a9fe::]/latest/meta-data".to_owned(),
        "http://[fec0::1]/hook".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
    ] {
        match guarded.send(&request(url.clone())).await {
            Err(SendError::Refused(_)) => {}
            other => panic!("{url} must be refused, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_silent_receiver_times_out_and_a_closed_port_fails() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(20)))
        .mount(&server)
        .await;
    let sender = HttpWebhookSender::new(true).unwrap();
    let started = std::time::Instant::now();
    match sender.send(&request(server.uri())).await {
        Err(SendError::Failed(why)) => assert!(why.contains("15 s"), "{why}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(18));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    assert!(matches!(sender.send(&request(format!("http://127.0.0.1:{closed}/"))).await, Err(SendError::Failed(_))));
}
