//! Domain events: every task change is written to the outbox with the change, and the relay
//! publishes it on the broadcast bus as `event.<name>`, the task in the API's own shape.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use workbench_core::broadcast::{Delivery, Subscription};
use workbench_e2e::{TestApp, engines};

/// The next event published under `topic`, within 10 s.
pub(crate) async fn next_event(events: &mut Subscription, topic: &str) -> Value {
    let wait = async {
        loop {
            match events.recv().await {
                Some(Delivery::Message(message)) if message.topic == topic => {
                    return serde_json::from_slice::<Value>(&message.payload).expect("a JSON envelope");
                }
                Some(_) => {}
                None => panic!("the bus closed"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait).await.unwrap_or_else(|_| panic!("no {topic} within 10 s"))
}

async fn task_changes_are_published_in_the_apis_shape(app: TestApp) {
    let mut events = app.bus.subscribe();
    let ann = app.signup("ann").await;
    let created = app
        .post("/api/v1/tasks")
        .bearer_auth(&ann.access_token)
        .json(&json!({"title": "Renew the insurance", "tags": ["Car"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let task: Value = created.json().await.unwrap();
    let id = task["id"].as_i64().unwrap();

    let event = next_event(&mut events, "event.task.created").await;
    assert_eq!(event["type"], "task.created");
    assert!(event["id"].as_str().is_some_and(|id| !id.is_empty()), "an event id: {event}");
    assert!(event["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{event}");
    assert_eq!(event["data"], task, "the task exactly as the API answered it");

    let path = format!("/api/v1/tasks/{id}");
    let patched = app
        .request(reqwest::Method::PATCH, &path)
        .bearer_auth(&ann.access_token)
        .json(&json!({"status": "completed"}))
        .send()
        .await;
    assert_eq!(patched.unwrap().status(), StatusCode::OK);
    let event = next_event(&mut events, "event.task.updated").await;
    assert_eq!((event["data"]["id"].as_i64(), event["data"]["status"].as_str()), (Some(id), Some("completed")));
    assert_eq!(event["data"]["version"], 2);

    let deleted = app.request(reqwest::Method::DELETE, &path).bearer_auth(&ann.access_token).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let event = next_event(&mut events, "event.task.deleted").await;
    assert_eq!(event["data"], json!({"id": id}));
}

/// With `NATS_URL`, the same events reach NATS as `workbench.<event>`, with their id in
/// `Nats-Msg-Id` (the local server at `TEST_NATS_URL`, by default `nats://127.0.0.1:4222`).
async fn task_changes_reach_nats(app: TestApp) {
    use futures_util::StreamExt;
    let url = nats_url();
    let listener = match async_nats::connect(&url).await {
        Ok(client) => client,
        Err(e) => {
            workbench_store::testing::skip_or_fail("NATS", &e.to_string());
            return;
        }
    };
    let mut messages = listener.subscribe("workbench.task.>").await.unwrap();
    listener.flush().await.unwrap();
    let ann = app.signup("ann").await;
    let created = app
        .post("/api/v1/tasks")
        .bearer_auth(&ann.access_token)
        .json(&json!({"title": "Publish me"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let task: Value = created.json().await.unwrap();
    let wait = async {
        loop {
            let message = messages.next().await.expect("the subscription is open");
            let body: Value = serde_json::from_slice(&message.payload).expect("a JSON envelope");
            // Other tests publish on the same server: find this task's event.
            if body["data"] == task {
                return (message, body);
            }
        }
    };
    let (message, body) = tokio::time::timeout(Duration::from_secs(15), wait).await.expect("on NATS within 15 s");
    assert_eq!(message.subject.as_str(), "workbench.task.created");
    assert_eq!(body["type"], "task.created");
    let msg_id = message.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.to_string());
    assert_eq!(msg_id.as_deref(), body["id"].as_str(), "the event id travels in Nats-Msg-Id");
}

fn nats_url() -> String {
    std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

engines!(task_changes_are_published_in_the_apis_shape, a_task_freed_by_its_blocker_is_announced);
workbench_e2e::engines_with!(task_changes_reach_nats with |s: &mut workbench_app::Settings| s.events.nats_url = Some(nats_url()));

/// A task whose blocker is completed changes with it (`blocked`, its version): sockets and
/// webhooks hear of it as of any change, and a move is announced as the change it is.
async fn a_task_freed_by_its_blocker_is_announced(app: TestApp) {
    let ann = app.signup("ann").await;
    let new =
        |title: &str| app.post("/api/v1/tasks").bearer_auth(&ann.access_token).json(&json!({"title": title})).send();
    let blocker: Value = new("Book the plumber").await.unwrap().json().await.unwrap();
    let blocked: Value = new("Fit the taps").await.unwrap().json().await.unwrap();
    let relate = app
        .post(&format!("/api/v1/tasks/{}/relations", blocker["id"]))
        .bearer_auth(&ann.access_token)
        .json(&json!({"kind": "blocks", "task_id": blocked["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(relate.status(), StatusCode::CREATED);
    let mut events = app.bus.subscribe();
    let done = app
        .request(reqwest::Method::PATCH, &format!("/api/v1/tasks/{}", blocker["id"]))
        .bearer_auth(&ann.access_token)
        .json(&json!({"status": "completed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    // The relation's own event (the task became blocked) may still be on its way.
    let freed = (blocked["id"].clone(), json!(false), json!("pending"));
    let mut seen = Vec::new();
    while !seen.contains(&freed) && seen.len() < 4 {
        let event = next_event(&mut events, "event.task.updated").await;
        seen.push((event["data"]["id"].clone(), event["data"]["blocked"].clone(), event["data"]["status"].clone()));
    }
    assert!(seen.contains(&(blocker["id"].clone(), json!(false), json!("completed"))), "{seen:?}");
    assert!(seen.contains(&freed), "the freed task: {seen:?}");
}
