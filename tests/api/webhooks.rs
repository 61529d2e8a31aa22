//! Webhooks both ways: GitHub and Stripe deliveries signed as the providers sign them are stored
//! before the 200, processed by the job queue once however often they are redelivered, and a bad
//! signature stores nothing; users' subscriptions get Standard Webhooks deliveries that verify,
//! retried after a failure, every attempt listed.

use std::time::Duration;

use reqwest::{Method, Response};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use workbench_e2e::signatures::{github, standard_webhooks_valid, stripe};
use workbench_e2e::{Account, TestApp, engines, engines_with, error_fields, eventually, expect_problem};

const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const STRIPE_SECRET: &str = "whsec_test_0123456789abcdef";

fn with_secrets(settings: &mut workbench_app::Settings) {
    settings.webhooks.github_secret = Some(GITHUB_SECRET.into());
    settings.webhooks.stripe_secret = Some(STRIPE_SECRET.into());
}

fn with_private_targets(settings: &mut workbench_app::Settings) {
    settings.webhooks.allow_private_targets = true;
}

async fn json_of(res: Response, status: u16) -> Value {
    let (code, url) = (res.status().as_u16(), res.url().clone());
    let text = res.text().await.unwrap();
    assert_eq!(code, status, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

async fn post_github(app: &TestApp, event: &str, delivery: &str, body: &str, signature: Option<String>) -> Response {
    let mut req = app
        .post("/api/v1/webhooks/github")
        .header("content-type", "application/json")
        .header("X-GitHub-Delivery", delivery)
        .header("User-Agent", "GitHub-Hookshot/abc123");
    if !event.is_empty() {
        req = req.header("X-GitHub-Event", event);
    }
    if let Some(signature) = signature {
        req = req.header("X-Hub-Signature-256", signature);
    }
    req.body(body.to_owned()).send().await.unwrap()
}

async fn post_stripe(app: &TestApp, body: &str, signature: &str) -> Response {
    app.post("/api/v1/webhooks/stripe")
        .header("content-type", "application/json; charset=utf-8")
        .header("Stripe-Signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// The inbound deliveries an admin sees (newest first).
async fn inbound(app: &TestApp, admin: &Account, query: &str) -> Value {
    let res = app.get(&format!("/api/v1/admin/webhooks/inbound{query}")).bearer_auth(&admin.access_token).send();
    json_of(res.await.unwrap(), 200).await
}

/// The jobs of `kind` an admin sees.
async fn jobs_of(app: &TestApp, admin: &Account, kind: &str) -> Vec<Value> {
    let res = app.get("/api/v1/admin/jobs?per_page=100").bearer_auth(&admin.access_token).send().await.unwrap();
    let page = json_of(res, 200).await;
    page["data"].as_array().unwrap().iter().filter(|j| j["kind"] == kind).cloned().collect()
}

/// The jobs of `kind` once none is waiting or running: a handler stores its result before the
/// queue records the job's outcome, so a processed delivery's job may still be running.
async fn jobs_finished(app: &TestApp, admin: &Account, kind: &str) -> Vec<Value> {
    eventually("the jobs finished", Duration::from_secs(10), || async {
        let jobs = jobs_of(app, admin, kind).await;
        let finished =
            |j: &Value| ["completed", "discarded", "cancelled"].contains(&j["status"].as_str().unwrap_or(""));
        jobs.iter().all(finished).then_some(jobs)
    })
    .await
}

/// Waits until every stored inbound delivery left `received`, and returns them.
async fn all_processed(app: &TestApp, admin: &Account, expected: usize) -> Vec<Value> {
    eventually("inbound deliveries processed", Duration::from_secs(15), || async {
        let list = inbound(app, admin, "").await;
        let data = list["data"].as_array().unwrap().clone();
        (data.len() == expected && data.iter().all(|d| d["status"] != "received")).then_some(data)
    })
    .await
}

async fn github_deliveries_are_stored_processed_once_and_redeliveries_ignored(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let ping = json!({"zen": "Keep it logically awesome.", "hook_id": 42, "hook": {"type": "Repository"}}).to_string();
    let push = json!({
        "ref": "refs/heads/main",
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5",
        "repository": {"id": 1, "full_name": "octo-org/hello-world"},
        "pusher": {"name": "octocat", "email": "octocat@github.com"},
        "commits": [
            {"id": "59b20b8d", "message": "Fix the build\n\nLong story.", "author": {"name": "Mona"}},
            {"id": "a1b2c3d4", "message": "Add tests", "author": {"name": "Hubot"}}
        ]
    })
    .to_string();

    let first =
        json_of(post_github(&app, "ping", "d-ping", &ping, Some(github(GITHUB_SECRET, ping.as_bytes()))).await, 200)
            .await;
    assert_eq!(first["duplicate"], false);
    let pushed =
        json_of(post_github(&app, "push", "d-push", &push, Some(github(GITHUB_SECRET, push.as_bytes()))).await, 200)
            .await;
    assert_eq!(pushed["duplicate"], false);
    // GitHub's "Redeliver": the same delivery id, body and signature.
    let again =
        json_of(post_github(&app, "push", "d-push", &push, Some(github(GITHUB_SECRET, push.as_bytes()))).await, 200)
            .await;
    assert_eq!((again["duplicate"].as_bool(), again["id"].as_i64()), (Some(true), pushed["id"].as_i64()));

    let stored = all_processed(&app, &admin, 2).await;
    let push_row = stored.iter().find(|d| d["delivery_id"] == "d-push").expect("the push is stored");
    assert_eq!(push_row["provider"], "github");
    assert_eq!(push_row["event_type"], "push");
    assert_eq!(push_row["status"], "processed");
    assert_eq!(push_row["attempts"], 1, "processed once, although delivered twice");
    assert_eq!(push_row["payload"]["repository"]["full_name"], "octo-org/hello-world", "the payload as received");
    assert!(push_row["received_at"].is_string() && push_row["processed_at"].is_string());
    assert_eq!(push_row["result"]["repository"], "octo-org/hello-world");
    assert_eq!(push_row["result"]["commits"], 2);
    assert_eq!(push_row["result"]["messages"], json!(["Fix the build", "Add tests"]));
    let ping_row = stored.iter().find(|d| d["delivery_id"] == "d-ping").unwrap();
    assert_eq!((ping_row["status"].as_str(), ping_row["result"]["action"].as_str()), (Some("processed"), Some("pong")));

    let processing = jobs_finished(&app, &admin, "webhook.inbound").await;
    assert_eq!(processing.len(), 2, "one processing job per delivery, none for the redelivery");
    assert!(processing.iter().all(|j| j["status"] == "completed"), "{processing:?}");

    // An event Workbench does not act on is kept, as ignored.
    let star = json!({"action": "created", "starred_at": "2026-11-23T10:00:00Z"}).to_string();
    let res = post_github(&app, "star", "d-star", &star, Some(github(GITHUB_SECRET, star.as_bytes()))).await;
    assert_eq!(res.status(), 200);
    let stored = all_processed(&app, &admin, 3).await;
    assert_eq!(stored.iter().find(|d| d["delivery_id"] == "d-star").unwrap()["status"], "ignored");

    jobs_finished(&app, &admin, "webhook.inbound").await;
    // The attempt counter is bumped once the worker has the outcome, a moment after the job's row.
    let metrics = eventually("the third attempt counted", Duration::from_secs(10), || async {
        let metrics = app.get("/metrics").send().await.unwrap().text().await.unwrap();
        metrics.contains(r#"job_attempts_total{kind="webhook.inbound",outcome="completed"} 3"#).then_some(metrics)
    })
    .await;
    // At least the three deliveries' jobs: a schedule (trades' expiry) may have fired a job meanwhile.
    let completed = metrics
        .lines()
        .find_map(|line| line.strip_prefix(r#"jobs_queue_depth{state="completed"} "#))
        .and_then(|n| n.trim().parse::<u64>().ok());
    assert!(completed.is_some_and(|n| n >= 3), "{metrics}");
    assert!(metrics.contains(r#"inbound_webhooks_total{provider="github",status="processed"} 2"#), "{metrics}");
}

async fn bad_or_missing_signatures_store_nothing(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let body = json!({"zen": "Design for failure.", "hook_id": 1}).to_string();
    let forged = github("not the secret", body.as_bytes());
    for (signature, why) in [
        (Some(forged), "signed with another secret"),
        (None, "no signature"),
        (Some("sha256=zz".to_owned()), "not hex"),
        (Some(github(GITHUB_SECRET, b"another body")), "signed over another body"),
        (Some(github(GITHUB_SECRET, body.as_bytes()).replace("sha256=", "sha1=")), "another algorithm"),
    ] {
        let res = post_github(&app, "ping", "d-bad", &body, signature).await;
        let problem = expect_problem(res, 400).await;
        assert!(problem["type"].as_str().unwrap().ends_with("invalid-signature"), "{why}: {problem}");
    }
    let now = chrono::Utc::now().timestamp();
    let event =
        json!({"id": "evt_bad", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1"}}}).to_string();
    for (signature, why) in [
        (stripe("whsec_other", now, event.as_bytes()), "another secret"),
        // Well past the 5 minutes either way: the server reads its clock a moment after this one.
        (stripe(STRIPE_SECRET, now - 330, event.as_bytes()), "older than 5 minutes"),
        (stripe(STRIPE_SECRET, now + 330, event.as_bytes()), "from the future"),
        (format!("t={now}"), "no v1"),
        (stripe(STRIPE_SECRET, now, b"{}"), "over another body"),
    ] {
        expect_problem(post_stripe(&app, &event, &signature).await, 400).await;
        let _ = why;
    }
    // A valid signature over a body that is not a usable delivery is still refused, unstored.
    let signed_junk = "not json";
    let res = post_github(&app, "ping", "d-junk", signed_junk, Some(github(GITHUB_SECRET, signed_junk.as_bytes())));
    expect_problem(res.await, 400).await;

    let stored = inbound(&app, &admin, "").await;
    assert_eq!(stored["pagination"]["total"], 0, "nothing stored: {stored}");
    assert!(jobs_of(&app, &admin, "webhook.inbound").await.is_empty(), "nothing enqueued");
}

async fn stripe_events_are_processed_by_type_once(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let now = chrono::Utc::now().timestamp();
    let paid = json!({
        "id": "evt_1PaId", "object": "event", "type": "payment_intent.succeeded", "livemode": false,
        "data": {"object": {"id": "pi_3Abc", "object": "payment_intent", "amount": 2000,
            "amount_received": 2000, "currency": "eur", "customer": "cus_9s6XKzkNRiz8i3"}}
    })
    .to_string();
    let checkout = json!({
        "id": "evt_1ChEck", "object": "event", "type": "checkout.session.completed",
        "data": {"object": {"id": "cs_test_a1", "object": "checkout.session", "payment_status": "paid",
            "amount_total": 4200, "currency": "usd", "client_reference_id": "order-7"}}
    })
    .to_string();
    let other = json!({"id": "evt_1CuSt", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}).to_string();
    for body in [&paid, &checkout, &other] {
        // Signed a minute ago: within the tolerance.
        let receipt = json_of(post_stripe(&app, body, &stripe(STRIPE_SECRET, now - 60, body.as_bytes())).await, 200);
        assert_eq!(receipt.await["duplicate"], false);
    }
    // Stripe retries with a fresh timestamp and the same event id.
    let again = json_of(post_stripe(&app, &paid, &stripe(STRIPE_SECRET, now, paid.as_bytes())).await, 200).await;
    assert_eq!(again["duplicate"], true);

    let stored = all_processed(&app, &admin, 3).await;
    let by_id = |id: &str| stored.iter().find(|d| d["delivery_id"] == id).unwrap().clone();
    let paid_row = by_id("evt_1PaId");
    assert_eq!((paid_row["provider"].as_str(), paid_row["status"].as_str()), (Some("stripe"), Some("processed")));
    assert_eq!(paid_row["event_type"], "payment_intent.succeeded");
    assert_eq!(paid_row["result"]["payment_intent"], "pi_3Abc");
    assert_eq!(paid_row["result"]["amount"], 2000);
    assert_eq!(paid_row["attempts"], 1);
    let checkout_row = by_id("evt_1ChEck");
    assert_eq!(
        (checkout_row["status"].as_str(), checkout_row["result"]["session"].as_str()),
        (Some("processed"), Some("cs_test_a1"))
    );
    assert_eq!(by_id("evt_1CuSt")["status"], "ignored");
    assert_eq!(inbound(&app, &admin, "?provider=stripe").await["pagination"]["total"], 3);
    assert_eq!(inbound(&app, &admin, "?provider=github").await["pagination"]["total"], 0);
    let bad = app.get("/api/v1/admin/webhooks/inbound?provider=gitlab").bearer_auth(&admin.access_token).send();
    assert_eq!(error_fields(&expect_problem(bad.await.unwrap(), 422).await), ["provider"]);
    assert_eq!(jobs_of(&app, &admin, "webhook.inbound").await.len(), 3);
}

async fn a_provider_without_a_secret_is_refused(app: TestApp) {
    let body = json!({"zen": "x"}).to_string();
    let res = post_github(&app, "ping", "d-1", &body, Some(github(GITHUB_SECRET, body.as_bytes()))).await;
    let problem = expect_problem(res, 400).await;
    assert!(problem["type"].as_str().unwrap().ends_with("webhook-not-configured"), "{problem}");
    let user = app.signup("ann").await;
    let res = app.get("/api/v1/admin/webhooks/inbound").bearer_auth(&user.access_token).send().await.unwrap();
    expect_problem(res, 403).await;
}

/// A receiver answering each delivery with the next of `statuses`, then 200.
async fn receiver(statuses: &[u16]) -> MockServer {
    let server = MockServer::start().await;
    for status in statuses {
        Mock::given(method("POST"))
            .and(path("/hook"))
            .respond_with(ResponseTemplate::new(*status))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST")).and(path("/hook")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    server
}

async fn subscribe(app: &TestApp, who: &Account, body: Value) -> Response {
    app.post("/api/v1/webhooks/subscriptions").bearer_auth(&who.access_token).json(&body).send().await.unwrap()
}

async fn create_task(app: &TestApp, who: &Account, title: &str) -> Value {
    let res = app.post("/api/v1/tasks").bearer_auth(&who.access_token).json(&json!({"title": title})).send();
    json_of(res.await.unwrap(), 201).await
}

async fn attempts(app: &TestApp, who: &Account, subscription: i64) -> Value {
    let res =
        app.get(&format!("/api/v1/webhooks/subscriptions/{subscription}/deliveries")).bearer_auth(&who.access_token);
    json_of(res.send().await.unwrap(), 200).await
}

async fn deliveries_are_signed_and_retried_after_a_500(app: TestApp) {
    let hooks = receiver(&[500]).await;
    let ann = app.signup("ann").await;
    let created = json_of(subscribe(&app, &ann, json!({"url": format!("{}/hook", hooks.uri())})).await, 201).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(
        created["events"],
        json!(["task.created", "task.updated", "task.deleted"]),
        "every task event by default"
    );
    let subscription = created["id"].as_i64().unwrap();

    let task = create_task(&app, &ann, "Call the plumber").await;
    let requests = eventually("two attempts", Duration::from_secs(20), || async {
        let received = hooks.received_requests().await.unwrap_or_default();
        (received.len() >= 2).then_some(received)
    })
    .await;
    let header = |r: &wiremock::Request, name: &str| {
        r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    let (first, second) = (&requests[0], &requests[1]);
    assert_eq!(header(first, "webhook-id"), header(second, "webhook-id"), "the same id on every retry");
    for request in [first, second] {
        let (id, timestamp) = (header(request, "webhook-id"), header(request, "webhook-timestamp"));
        let signature = header(request, "webhook-signature");
        assert!(
            standard_webhooks_valid(&secret, &id, &timestamp, &signature, &request.body),
            "the signature verifies: {signature}"
        );
        assert!((chrono::Utc::now().timestamp() - timestamp.parse::<i64>().unwrap()).abs() < 60);
        assert_eq!(header(request, "x-workbench-event"), "task.created");
        assert!(header(request, "content-type").starts_with("application/json"));
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["type"], "task.created");
        assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
        assert_eq!(body["data"], task, "the task as the API shows it");
    }
    assert!(
        !standard_webhooks_valid(
            "whsec_c2VjcmV0",
            &header(first, "webhook-id"),
            &header(first, "webhook-timestamp"),
            &header(first, "webhook-signature"),
            &first.body
        ),
        "another secret does not verify"
    );

    let log = eventually("both attempts listed", Duration::from_secs(10), || async {
        let log = attempts(&app, &ann, subscription).await;
        (log["pagination"]["total"] == 2).then_some(log)
    })
    .await;
    let (latest, earliest) = (&log["data"][0], &log["data"][1]);
    assert_eq!((latest["attempt"].as_i64(), latest["response_status"].as_i64()), (Some(2), Some(200)));
    assert_eq!((latest["success"].as_bool(), latest["status"].as_str()), (Some(true), Some("delivered")));
    assert_eq!((earliest["attempt"].as_i64(), earliest["response_status"].as_i64()), (Some(1), Some(500)));
    assert_eq!((earliest["success"].as_bool(), earliest["status"].as_str()), (Some(false), Some("pending")));
    assert_eq!(latest["event"], "task.created");
    assert_eq!(latest["webhook_id"], header(first, "webhook-id"));
    assert!(earliest["error"].as_str().is_some_and(|e| e.contains("500")), "{earliest}");

    // Deletions are delivered as the task's id.
    let id = task["id"].as_i64().unwrap();
    let res = app.request(Method::DELETE, &format!("/api/v1/tasks/{id}")).bearer_auth(&ann.access_token).send();
    assert_eq!(res.await.unwrap().status(), 204);
    let deleted = eventually("the deletion delivered", Duration::from_secs(10), || async {
        let received = hooks.received_requests().await.unwrap_or_default();
        received.iter().find(|r| header(r, "x-workbench-event") == "task.deleted").cloned()
    })
    .await;
    assert_eq!(serde_json::from_slice::<Value>(&deleted.body).unwrap()["data"], json!({"id": id}));
}

async fn only_wanted_events_of_visible_tasks_are_delivered(app: TestApp) {
    let hooks = receiver(&[]).await;
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let url = format!("{}/hook", hooks.uri());
    json_of(subscribe(&app, &ann, json!({"url": url, "events": ["task.updated"]})).await, 201).await;
    // Bob's task, not shared with Ann, then one assigned to her.
    create_task(&app, &bob, "Bob's own").await;
    let res = app
        .post("/api/v1/tasks")
        .bearer_auth(&bob.access_token)
        .json(&json!({"title": "For Ann", "assignee_id": ann.id}))
        .send()
        .await
        .unwrap();
    let shared = json_of(res, 201).await;
    let id = shared["id"].as_i64().unwrap();
    let res = app
        .request(Method::PATCH, &format!("/api/v1/tasks/{id}"))
        .bearer_auth(&bob.access_token)
        .json(&json!({"priority": "high"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let received = eventually("the update delivered", Duration::from_secs(10), || async {
        let received = hooks.received_requests().await.unwrap_or_default();
        (!received.is_empty()).then_some(received)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = hooks.received_requests().await.unwrap_or(received);
    assert_eq!(received.len(), 1, "only the update of the task Ann sees");
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!((body["type"].as_str(), body["data"]["priority"].as_str()), (Some("task.updated"), Some("high")));
}

async fn subscriptions_are_their_owners_alone(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let created = json_of(
        subscribe(&app, &ann, json!({"url": "https://hooks.example.com/ann", "events": ["task.deleted"]})).await,
        201,
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(
        (created["url"].as_str(), created["events"].clone()),
        (Some("https://hooks.example.com/ann"), json!(["task.deleted"]))
    );
    assert!(created["created_at"].is_string());
    // The URL comes back as it was sent, not as a parser would rewrite it (a `/` added).
    let bare = json_of(subscribe(&app, &bob, json!({"url": "https://hooks.example.com"})).await, 201).await;
    assert_eq!(bare["url"], "https://hooks.example.com");
    let bare_path = format!("/api/v1/webhooks/subscriptions/{}", bare["id"]);
    let res = app.request(Method::DELETE, &bare_path).bearer_auth(&bob.access_token).send().await.unwrap();
    assert_eq!(res.status(), 204);

    let list =
        json_of(app.get("/api/v1/webhooks/subscriptions").bearer_auth(&ann.access_token).send().await.unwrap(), 200)
            .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(list["data"][0].get("secret").is_none(), "the secret is shown once: {list}");
    assert!(list.get("pagination").is_none(), "not paginated");
    let empty = app.get("/api/v1/webhooks/subscriptions").bearer_auth(&bob.access_token).send().await.unwrap();
    assert_eq!(json_of(empty, 200).await["data"], json!([]));

    let log = attempts(&app, &ann, id).await;
    assert_eq!((log["pagination"]["total"].as_i64(), log["pagination"]["pages"].as_i64()), (Some(0), Some(0)));
    let theirs = app.get(&format!("/api/v1/webhooks/subscriptions/{id}/deliveries")).bearer_auth(&bob.access_token);
    expect_problem(theirs.send().await.unwrap(), 404).await;
    let page0 =
        app.get(&format!("/api/v1/webhooks/subscriptions/{id}/deliveries?page=0")).bearer_auth(&ann.access_token);
    expect_problem(page0.send().await.unwrap(), 422).await;
    let path = format!("/api/v1/webhooks/subscriptions/{id}");
    let res = app.request(Method::DELETE, &path).bearer_auth(&bob.access_token).send().await.unwrap();
    expect_problem(res, 404).await;
    let res = app.request(Method::DELETE, &path).bearer_auth(&ann.access_token).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let res = app.request(Method::DELETE, &path).bearer_auth(&ann.access_token).send().await.unwrap();
    expect_problem(res, 404).await;
    let anonymous = app.get("/api/v1/webhooks/subscriptions").send().await.unwrap();
    expect_problem(anonymous, 401).await;
}

async fn bad_subscriptions_name_every_field(app: TestApp) {
    let ann = app.signup("ann").await;
    let problem =
        expect_problem(subscribe(&app, &ann, json!({"url": "ftp://x", "events": ["user.created"]})).await, 422).await;
    assert_eq!(error_fields(&problem), ["url", "events"]);
    let problem = expect_problem(subscribe(&app, &ann, json!({"url": 42, "events": "task.created"})).await, 422).await;
    assert_eq!(error_fields(&problem), ["url", "events"]);
    let problem = expect_problem(subscribe(&app, &ann, json!({})).await, 422).await;
    assert_eq!(error_fields(&problem), ["url"]);
    let problem =
        expect_problem(subscribe(&app, &ann, json!({"url": "https://x.example.com", "events": []})).await, 422).await;
    assert_eq!(error_fields(&problem), ["events"]);
    // A field of the wrong type beside a valid URL: refused, and nothing is stored.
    let problem =
        expect_problem(subscribe(&app, &ann, json!({"url": "https://x.example.com", "events": 7})).await, 422).await;
    assert_eq!(error_fields(&problem), ["events"]);
    let listed = app.get("/api/v1/webhooks/subscriptions").bearer_auth(&ann.access_token).send().await.unwrap();
    assert_eq!(json_of(listed, 200).await["data"], json!([]), "a refused subscription is not stored");
    for internal in
        ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://169.254.169.254/latest", "http://[::1]/"]
    {
        let problem = expect_problem(subscribe(&app, &ann, json!({"url": internal})).await, 422).await;
        assert_eq!(error_fields(&problem), ["url"], "{internal}");
    }
    let res = app
        .post("/api/v1/webhooks/subscriptions")
        .bearer_auth(&ann.access_token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_problem(res, 400).await;
}

/// The contract requires the signature and the delivery id; a signed delivery that names no
/// event type is kept all the same, and ignored.
async fn a_delivery_without_an_event_type_is_kept_and_ignored(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let body = json!({"zen": "Half measures are as bad as nothing at all."}).to_string();
    let res = post_github(&app, "", "d-anonymous", &body, Some(github(GITHUB_SECRET, body.as_bytes()))).await;
    assert_eq!(json_of(res, 200).await["duplicate"], false);
    let stored = all_processed(&app, &admin, 1).await;
    assert_eq!((stored[0]["event_type"].as_str(), stored[0]["status"].as_str()), (Some("unknown"), Some("ignored")));
    assert_eq!(stored[0]["delivery_id"], "d-anonymous");
}

engines_with!(
    a_delivery_without_an_event_type_is_kept_and_ignored with with_secrets,
    github_deliveries_are_stored_processed_once_and_redeliveries_ignored with with_secrets,
    bad_or_missing_signatures_store_nothing with with_secrets,
    stripe_events_are_processed_by_type_once with with_secrets,
    deliveries_are_signed_and_retried_after_a_500 with with_private_targets,
    only_wanted_events_of_visible_tasks_are_delivered with with_private_targets,
);
engines!(
    a_provider_without_a_secret_is_refused,
    subscriptions_are_their_owners_alone,
    bad_subscriptions_name_every_field
);
