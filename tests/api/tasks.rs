//! Tasks: creation rules, idempotent creation, visibility, conditional writes, list queries,
//! statistics and tags.

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp, engines, error_fields, expect_problem};

// ---------------------------------------------------------------------------------------------
// Helpers, shared with `comments.rs`.

/// Asserts `res` has `status` and returns its JSON body (shown when the status is wrong).
pub(crate) async fn expect_json(res: Response, status: u16) -> Value {
    let (code, url) = (res.status().as_u16(), res.url().clone());
    let text = res.text().await.unwrap();
    assert_eq!(code, status, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

/// A response taken apart: status, headers and body text.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub(crate) async fn of(res: Response) -> Self {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        Self { status, headers, text }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

pub(crate) fn task_path(id: i64) -> String {
    format!("/api/v1/tasks/{id}")
}

/// A request to `path` as `who`.
pub(crate) fn as_user(app: &TestApp, who: &Account, method: Method, path: &str) -> RequestBuilder {
    app.request(method, path).bearer_auth(&who.access_token)
}

pub(crate) async fn post_task(app: &TestApp, who: &Account, body: &Value) -> Response {
    as_user(app, who, Method::POST, "/api/v1/tasks").json(body).send().await.unwrap()
}

/// Creates a task and returns it.
pub(crate) async fn create_task(app: &TestApp, who: &Account, body: Value) -> Value {
    expect_json(post_task(app, who, &body).await, 201).await
}

pub(crate) async fn get_task(app: &TestApp, who: &Account, id: i64) -> Response {
    as_user(app, who, Method::GET, &task_path(id)).send().await.unwrap()
}

async fn patch_task(app: &TestApp, who: &Account, id: i64, body: &Value) -> Response {
    as_user(app, who, Method::PATCH, &task_path(id)).json(body).send().await.unwrap()
}

async fn patch_ok(app: &TestApp, who: &Account, id: i64, body: Value) -> Value {
    expect_json(patch_task(app, who, id, &body).await, 200).await
}

/// `GET /api/v1/tasks?{query}` as `who`, expecting 200.
pub(crate) async fn list(app: &TestApp, who: &Account, query: &str) -> Value {
    let res = as_user(app, who, Method::GET, &format!("/api/v1/tasks?{query}")).send().await.unwrap();
    expect_json(res, 200).await
}

fn ids(list: &Value) -> Vec<i64> {
    list["data"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect()
}

fn titles(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_owned()).collect()
}

fn id(task: &Value) -> i64 {
    task["id"].as_i64().unwrap()
}

/// Ids of the tasks listed for `who` with `query`.
async fn listed(app: &TestApp, who: &Account, query: &str) -> Vec<i64> {
    ids(&list(app, who, query).await)
}

async fn stats(app: &TestApp, who: &Account) -> Value {
    expect_json(as_user(app, who, Method::GET, "/api/v1/tasks/stats").send().await.unwrap(), 200).await
}

async fn tags(app: &TestApp, who: &Account, query: &str) -> Value {
    expect_json(as_user(app, who, Method::GET, &format!("/api/v1/tags{query}")).send().await.unwrap(), 200).await
}

/// The `Link` header's targets by relation.
pub(crate) fn links(header: &str) -> Vec<(String, String)> {
    header
        .split(", ")
        .map(|part| {
            let (url, rel) = part.split_once("; ").unwrap_or_else(|| panic!("bad Link part {part:?}"));
            let url = url.trim_start_matches('<').trim_end_matches('>').to_owned();
            let rel = rel.strip_prefix("rel=\"").and_then(|r| r.strip_suffix('"')).unwrap().to_owned();
            (rel, url)
        })
        .collect()
}

pub(crate) fn link<'a>(links: &'a [(String, String)], rel: &str) -> Option<&'a str> {
    links.iter().find(|(r, _)| r == rel).map(|(_, url)| url.as_str())
}

// ---------------------------------------------------------------------------------------------
// Creation.

async fn creating_a_task_applies_defaults_and_normalises(app: TestApp) {
    let ann = app.signup("ann").await;
    let res = post_task(
        &app,
        &ann,
        &json!({"title": "  Renew the car insurance  ",
        "tags": ["  Home ", "CAR", "home", "urgent", "Car"]}),
    )
    .await;
    let reply = Reply::of(res).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let task = reply.json();
    let task_id = id(&task);
    assert!(task_id > 0);
    assert_eq!(reply.header("location"), Some(task_path(task_id).as_str()));
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert!(reply.header("content-type").unwrap().starts_with("application/json"));
    assert_eq!(reply.header("idempotent-replayed"), None);
    assert_eq!(task["title"], "Renew the car insurance");
    assert_eq!(task["tags"], json!(["home", "car", "urgent"]), "trimmed, lower-cased, first-seen order");
    assert_eq!(task["status"], "pending");
    assert_eq!(task["priority"], "medium");
    assert_eq!(task["version"], 1);
    assert_eq!(task["owner_id"], ann.id);
    for nullable in ["description", "due_date", "assignee_id", "completed_at"] {
        assert!(task[nullable].is_null(), "{nullable}: {task}");
    }
    let created_at = task["created_at"].as_str().unwrap();
    assert!(created_at.ends_with('Z') && created_at.contains('T'), "RFC 3339 in UTC: {created_at}");
    assert_eq!(task["created_at"], task["updated_at"]);

    // The Location serves the same representation, with the same ETag.
    let reply = Reply::of(get_task(&app, &ann, task_id).await).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(reply.json(), task);

    // Every field given; a task created as completed has its completion time.
    let task = create_task(
        &app,
        &ann,
        json!({"title": "Done already", "description": "with a description", "status": "completed",
               "priority": "high", "due_date": "2030-06-01T02:00:00+02:00", "tags": []}),
    )
    .await;
    assert_eq!(task["status"], "completed");
    assert_eq!(task["priority"], "high");
    assert_eq!(task["description"], "with a description");
    assert_eq!(task["due_date"], "2030-06-01T00:00:00Z", "due dates are returned in UTC");
    assert_eq!(task["tags"], json!([]));
    assert_eq!(task["completed_at"], task["created_at"], "{task}");

    // A bare date is midnight UTC; in_progress is not completed.
    let task = create_task(&app, &ann, json!({"title": "t", "due_date": "2030-06-01", "status": "in_progress"})).await;
    assert_eq!(task["due_date"], "2030-06-01T00:00:00Z");
    assert!(task["completed_at"].is_null());

    // The limits themselves are allowed; lengths count characters, not bytes.
    let tags: Vec<String> = (0..20).map(|i| format!("tag-{i}")).chain(["TAG-0".into(), " tag-1".into()]).collect();
    let task = create_task(
        &app,
        &ann,
        json!({"title": format!(" {} ", "é".repeat(200)), "description": "ß".repeat(10_000),
               "tags": tags, "colour": "unknown fields are ignored"}),
    )
    .await;
    assert_eq!(task["title"].as_str().unwrap().chars().count(), 200);
    assert_eq!(task["description"].as_str().unwrap().chars().count(), 10_000);
    assert_eq!(task["tags"].as_array().unwrap().len(), 20, "duplicates do not count towards the limit");
    let task = create_task(&app, &ann, json!({"title": "t", "tags": ["É".repeat(32)]})).await;
    assert_eq!(task["tags"], json!(["é".repeat(32)]));
    assert_eq!(list(&app, &ann, "").await["pagination"]["total"], 5);
}

async fn creation_rules_are_422_naming_the_field(app: TestApp) {
    let ann = app.signup("ann").await;
    let distinct_tags: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let cases = [
        (json!({"title": ""}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"title": format!("{}é", "é".repeat(200))}), "title"),
        (json!({"title": null}), "title"),
        (json!({}), "title"),
        (json!({"title": 5}), "title"),
        (json!({"title": "ok", "description": "d".repeat(10_001)}), "description"),
        (json!({"title": "ok", "tags": distinct_tags}), "tags"),
        (json!({"title": "ok", "tags": ["x".repeat(33)]}), "tags"),
        (json!({"title": "ok", "tags": ["fine", "  "]}), "tags"),
        (json!({"title": "ok", "tags": "home"}), "tags"),
        (json!({"title": "ok", "status": "done"}), "status"),
        (json!({"title": "ok", "status": null}), "status"),
        (json!({"title": "ok", "priority": null}), "priority"),
        (json!({"title": "ok", "tags": null}), "tags"),
        (json!({"title": "ok", "status": "Pending"}), "status"),
        (json!({"title": "ok", "priority": "urgent"}), "priority"),
        (json!({"title": "ok", "due_date": "tomorrow"}), "due_date"),
        (json!({"title": "ok", "assignee_id": "me"}), "assignee_id"),
        (json!({"title": "ok", "assignee_id": 0}), "assignee_id"),
        (json!({"title": "ok", "assignee_id": 999_999}), "assignee_id"),
        // No text the API keeps may hold U+0000: PostgreSQL could not store it.
        (json!({"title": "a\u{0}b"}), "title"),
        (json!({"title": "ok", "tags": ["home", "\u{0}"]}), "tags[1]"),
    ];
    for (body, field) in cases {
        let problem = expect_problem(post_task(&app, &ann, &body).await, 422).await;
        assert_eq!(error_fields(&problem), [field], "{body}: {problem}");
    }

    // Every failing rule at once.
    let body = json!({"title": " ", "description": "d".repeat(10_001), "tags": ["x".repeat(33)], "assignee_id": -3});
    let problem = expect_problem(post_task(&app, &ann, &body).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["assignee_id", "description", "tags", "title"], "{problem}");

    // Not JSON, or not labelled as JSON: 400. JSON that is not an object: 422.
    let res = as_user(&app, &ann, Method::POST, "/api/v1/tasks")
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    expect_problem(res, 400).await;
    let res = as_user(&app, &ann, Method::POST, "/api/v1/tasks")
        .header("content-type", "text/plain")
        .body(r#"{"title": "x"}"#)
        .send()
        .await
        .unwrap();
    expect_problem(res, 400).await;
    expect_problem(post_task(&app, &ann, &json!(["title"])).await, 422).await;

    assert_eq!(list(&app, &ann, "").await["pagination"]["total"], 0, "nothing was created");

    // `null` clears nothing on create, but is fine for a field that may be empty.
    let body = json!({"title": "ok", "description": null, "assignee_id": null, "due_date": null});
    assert_eq!(post_task(&app, &ann, &body).await.status().as_u16(), 201);
}

/// The contract: "422 ... `errors` lists every failing field at once". A value outside an enum
/// must not hide a broken rule of another field.
async fn creation_lists_enum_errors_with_rule_errors(app: TestApp) {
    let ann = app.signup("ann").await;
    let body = json!({"title": "", "status": "done", "priority": "urgent"});
    let problem = expect_problem(post_task(&app, &ann, &body).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["priority", "status", "title"], "{problem}");
}

/// The contract: "422 ... `errors` lists every failing field at once". An assignee that does not
/// exist must be named along with the other broken rules.
async fn creation_lists_an_unknown_assignee_with_rule_errors(app: TestApp) {
    let ann = app.signup("ann").await;
    let body = json!({"title": "", "assignee_id": 999_999});
    let problem = expect_problem(post_task(&app, &ann, &body).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["assignee_id", "title"], "{problem}");

    let task = create_task(&app, &ann, json!({"title": "t"})).await;
    let problem = expect_problem(patch_task(&app, &ann, id(&task), &body).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["assignee_id", "title"], "PATCH: {problem}");
}

async fn the_assignee_must_be_an_active_user(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let dan = app.signup("dan").await;
    let admin = app.signup_with_role("adm", "admin").await;
    let res = as_user(&app, &admin, Method::PATCH, &format!("/api/v1/admin/users/{}", dan.id))
        .json(&json!({"status": "disabled"}))
        .send()
        .await
        .unwrap();
    expect_json(res, 200).await;

    for assignee in [999_999, dan.id] {
        let problem =
            expect_problem(post_task(&app, &ann, &json!({"title": "t", "assignee_id": assignee})).await, 422).await;
        assert_eq!(error_fields(&problem), ["assignee_id"], "{problem}");
    }
    let task = create_task(&app, &ann, json!({"title": "t", "assignee_id": bob.id})).await;
    assert_eq!(task["assignee_id"], bob.id);
    for assignee in [999_999, dan.id] {
        let problem =
            expect_problem(patch_task(&app, &ann, id(&task), &json!({"assignee_id": assignee})).await, 422).await;
        assert_eq!(error_fields(&problem), ["assignee_id"], "{problem}");
    }
    let task = expect_json(get_task(&app, &ann, id(&task)).await, 200).await;
    assert_eq!((&task["assignee_id"], &task["version"]), (&json!(bob.id), &json!(1)), "unchanged");
    assert_eq!(list(&app, &ann, "").await["pagination"]["total"], 1);
}

// ---------------------------------------------------------------------------------------------
// Idempotency-Key.

async fn post_with_key(app: &TestApp, who: &Account, key: &str, body: &Value) -> Reply {
    let res = as_user(app, who, Method::POST, "/api/v1/tasks").header("idempotency-key", key).json(body).send();
    Reply::of(res.await.unwrap()).await
}

async fn an_idempotency_key_replays_the_first_response(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let body = json!({"title": "Pay the rent", "tags": ["Home"]});

    let first = post_with_key(&app, &ann, "rent-2026-01", &body).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.header("idempotent-replayed"), None);
    let task = first.json();

    let again = post_with_key(&app, &ann, "rent-2026-01", &body).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json(), task, "the same body, the same id");
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("etag"), Some("\"1\""));
    assert!(again.header("content-type").unwrap().starts_with("application/json"));
    // Unknown fields are ignored, so this is still the same request.
    let again =
        post_with_key(&app, &ann, "rent-2026-01", &json!({"title": "Pay the rent", "tags": ["Home"], "x": 1})).await;
    assert_eq!((again.status, again.json()), (201, task.clone()));
    assert_eq!(listed(&app, &ann, "").await, [id(&task)], "only one task exists");

    // The same key with another body.
    let other = post_with_key(&app, &ann, "rent-2026-01", &json!({"title": "Pay the rent twice"})).await;
    assert_eq!(other.status, 422, "{}", other.text);
    assert!(other.header("content-type").unwrap().starts_with("application/problem+json"));
    assert_eq!(listed(&app, &ann, "").await, [id(&task)]);

    // Another user's key is theirs alone.
    let bobs = post_with_key(&app, &bob, "rent-2026-01", &body).await;
    assert_eq!(bobs.status, 201, "{}", bobs.text);
    assert_eq!(bobs.header("idempotent-replayed"), None);
    let bobs = bobs.json();
    assert_ne!(id(&bobs), id(&task));
    assert_eq!(bobs["owner_id"], bob.id);
    assert_eq!(listed(&app, &bob, "").await, [id(&bobs)]);
    assert_eq!(listed(&app, &ann, "").await, [id(&task)]);

    // A refused first request is replayed as refused, and creates nothing later either.
    let invalid = json!({"title": "  "});
    let first = post_with_key(&app, &ann, "blank-title", &invalid).await;
    assert_eq!(first.status, 422, "{}", first.text);
    assert_eq!(error_fields(&first.json()), ["title"]);
    let again = post_with_key(&app, &ann, "blank-title", &invalid).await;
    assert_eq!(again.status, 422, "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert!(again.header("content-type").unwrap().starts_with("application/problem+json"));
    assert_eq!(again.json(), first.json());
    assert_eq!(listed(&app, &ann, "").await, [id(&task)]);

    // Changing the task does not change what the key replays.
    patch_ok(&app, &ann, id(&task), json!({"title": "Paid"})).await;
    let again = post_with_key(&app, &ann, "rent-2026-01", &body).await;
    assert_eq!((again.status, again.json()), (201, task));

    // A key that is not 1–255 visible ASCII characters is refused before anything happens.
    for bad in ["x".repeat(256), "with space".into()] {
        let reply = post_with_key(&app, &ann, &bad, &json!({"title": "t"})).await;
        assert_eq!(reply.status, 400, "{bad:?}: {}", reply.text);
    }
    assert_eq!(list(&app, &ann, "").await["pagination"]["total"], 1);
}

async fn concurrent_requests_with_one_key_create_one_task(app: TestApp) {
    let ann = app.signup("ann").await;
    let body = json!({"title": "only once"});
    let pending: Vec<_> = (0..6)
        .map(|_| {
            let send =
                as_user(&app, &ann, Method::POST, "/api/v1/tasks").header("idempotency-key", "once").json(&body).send();
            tokio::spawn(send)
        })
        .collect();
    let mut created = Vec::new();
    for handle in pending {
        let reply = Reply::of(handle.await.unwrap().unwrap()).await;
        match reply.status {
            201 => created.push(id(&reply.json())),
            409 => assert!(reply.header("content-type").unwrap().starts_with("application/problem+json")),
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert!(!created.is_empty());
    assert!(created.iter().all(|c| *c == created[0]), "every 201 names the same task: {created:?}");
    assert_eq!(listed(&app, &ann, "").await, [created[0]]);
}

// ---------------------------------------------------------------------------------------------
// Visibility.

/// Status and body of every task route for `id`, as `who`.
async fn probe_all_routes(app: &TestApp, who: &Account, id: i64) -> Vec<(String, u16, String)> {
    let path = task_path(id);
    let comments = format!("{path}/comments");
    let requests = [
        ("GET", as_user(app, who, Method::GET, &path)),
        ("GET If-None-Match", as_user(app, who, Method::GET, &path).header("if-none-match", "\"1\"")),
        ("PATCH", as_user(app, who, Method::PATCH, &path).json(&json!({"title": "mine now"}))),
        ("PATCH If-Match", as_user(app, who, Method::PATCH, &path).header("if-match", "\"1\"").json(&json!({}))),
        ("PUT", as_user(app, who, Method::PUT, &path).json(&json!({"status": "completed"}))),
        ("DELETE", as_user(app, who, Method::DELETE, &path)),
        ("DELETE If-Match", as_user(app, who, Method::DELETE, &path).header("if-match", "\"1\"")),
        ("GET comments", as_user(app, who, Method::GET, &comments)),
        ("POST comments", as_user(app, who, Method::POST, &comments).json(&json!({"body": "hello"}))),
        ("DELETE comment", as_user(app, who, Method::DELETE, &format!("{comments}/1"))),
    ];
    let mut seen = Vec::new();
    for (name, request) in requests {
        let reply = Reply::of(request.send().await.unwrap()).await;
        seen.push((name.to_owned(), reply.status, reply.text));
    }
    seen
}

async fn strangers_cannot_learn_that_a_task_exists(app: TestApp) {
    let ann = app.signup("ann").await;
    let eve = app.signup("eve").await;
    let task = create_task(&app, &ann, json!({"title": "private", "tags": ["secret"], "due_date": "2001-01-01"})).await;
    let comment = as_user(&app, &ann, Method::POST, &format!("{}/comments", task_path(id(&task))))
        .json(&json!({"body": "note to self"}))
        .send()
        .await
        .unwrap();
    expect_json(comment, 201).await;

    let existing = probe_all_routes(&app, &eve, id(&task)).await;
    let missing = probe_all_routes(&app, &eve, id(&task) + 1000).await;
    for ((route, status, body), (_, missing_status, missing_body)) in existing.iter().zip(&missing) {
        assert_eq!(*status, 404, "{route} of someone else's task: {body}");
        assert_eq!((status, body), (missing_status, missing_body), "{route} tells a hidden task from a missing one");
    }

    // Lists, statistics and tags leave it out, whatever the filter.
    for query in ["", "owner_id=ANN", "q=private", "tag=secret", "overdue=true"] {
        let query = query.replace("ANN", &ann.id.to_string());
        assert_eq!(list(&app, &eve, &query).await["pagination"]["total"], 0, "{query}");
    }
    let eves = stats(&app, &eve).await;
    assert_eq!((&eves["total"], &eves["overdue"]), (&json!(0), &json!(0)));
    assert_eq!(tags(&app, &eve, "").await, json!({"data": []}));

    // Nothing the stranger tried had any effect.
    let now = expect_json(get_task(&app, &ann, id(&task)).await, 200).await;
    assert_eq!(now, task);
    let res = as_user(&app, &ann, Method::GET, &format!("{}/comments", task_path(id(&task)))).send().await.unwrap();
    assert_eq!(expect_json(res, 200).await["pagination"]["total"], 1);
}

async fn assignees_see_and_change_but_cannot_delete(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let task = create_task(&app, &ann, json!({"title": "shared", "assignee_id": bob.id})).await;
    let task_id = id(&task);
    assert_eq!(expect_json(get_task(&app, &bob, task_id).await, 200).await, task);
    assert_eq!(listed(&app, &bob, "").await, [task_id]);
    assert_eq!(listed(&app, &bob, &format!("assignee_id={}", bob.id)).await, [task_id]);

    let changed = patch_ok(&app, &bob, task_id, json!({"status": "in_progress"})).await;
    assert_eq!((&changed["status"], &changed["version"]), (&json!("in_progress"), &json!(2)));
    assert_eq!(changed["owner_id"], ann.id, "the owner stays");

    let problem =
        expect_problem(as_user(&app, &bob, Method::DELETE, &task_path(task_id)).send().await.unwrap(), 403).await;
    assert!(problem["detail"].is_string());
    let res = as_user(&app, &bob, Method::DELETE, &task_path(task_id)).header("if-match", "\"2\"").send().await;
    expect_problem(res.unwrap(), 403).await;
    assert_eq!(expect_json(get_task(&app, &ann, task_id).await, 200).await["version"], 2, "still there");

    // Once unassigned, the former assignee no longer sees it (even right after reading it).
    patch_ok(&app, &ann, task_id, json!({"assignee_id": null})).await;
    expect_problem(get_task(&app, &bob, task_id).await, 404).await;
    assert_eq!(listed(&app, &bob, "").await, Vec::<i64>::new());
    expect_problem(patch_task(&app, &bob, task_id, &json!({"status": "completed"})).await, 404).await;

    // The owner may delete.
    let res = as_user(&app, &ann, Method::DELETE, &task_path(task_id)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    expect_problem(get_task(&app, &ann, task_id).await, 404).await;
}

async fn moderators_and_admins_see_every_task(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let moderator = app.signup_with_role("mod", "moderator").await;
    let admin = app.signup_with_role("adm", "admin").await;
    let anns = create_task(&app, &ann, json!({"title": "ann's"})).await;
    let bobs = create_task(&app, &bob, json!({"title": "bob's"})).await;

    assert_eq!(listed(&app, &ann, "").await, [id(&anns)]);
    assert_eq!(listed(&app, &bob, "").await, [id(&bobs)]);
    for viewer in [&moderator, &admin] {
        assert_eq!(listed(&app, viewer, "").await, [id(&bobs), id(&anns)]);
        assert_eq!(listed(&app, viewer, &format!("owner_id={}", ann.id)).await, [id(&anns)]);
        assert_eq!(expect_json(get_task(&app, viewer, id(&anns)).await, 200).await, anns);
        assert_eq!(stats(&app, viewer).await["total"], 2);
    }
    let changed = patch_ok(&app, &moderator, id(&anns), json!({"priority": "high"})).await;
    assert_eq!((&changed["priority"], &changed["owner_id"]), (&json!("high"), &json!(ann.id)));
    let changed = patch_ok(&app, &admin, id(&anns), json!({"status": "completed"})).await;
    assert_eq!(changed["version"], 3);

    let res = as_user(&app, &moderator, Method::DELETE, &task_path(id(&bobs))).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let res = as_user(&app, &admin, Method::DELETE, &task_path(id(&anns))).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(list(&app, &admin, "").await["pagination"]["total"], 0);
}

/// Deleting a user deletes their tasks (the schema cascades). Returns the moderator, the admin,
/// and the task, which the moderator has read and counted before its owner was deleted.
async fn delete_an_owner_after_reading(app: &TestApp) -> (Account, Value) {
    let ann = app.signup("ann").await;
    let moderator = app.signup_with_role("mod", "moderator").await;
    let admin = app.signup_with_role("adm", "admin").await;
    let task = create_task(app, &ann, json!({"title": "soon gone"})).await;
    // Read it first, as a client would (and as a cache might remember).
    expect_json(get_task(app, &moderator, id(&task)).await, 200).await;
    assert_eq!(stats(app, &moderator).await["total"], 1);
    assert_eq!(list(app, &moderator, "").await["pagination"]["total"], 1);

    let res = as_user(app, &admin, Method::DELETE, &format!("/api/v1/admin/users/{}", ann.id)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(list(app, &moderator, "").await["pagination"]["total"], 0, "the task went with its owner");
    (moderator, task)
}

async fn a_deleted_owners_task_is_gone(app: TestApp) {
    let (moderator, task) = delete_an_owner_after_reading(&app).await;
    expect_problem(get_task(&app, &moderator, id(&task)).await, 404).await;
}

/// Deleting a user clears them as assignee (`ON DELETE SET NULL`): the task must say so.
async fn a_deleted_assignee_is_cleared_from_the_task(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let admin = app.signup_with_role("adm", "admin").await;
    let task = create_task(&app, &ann, json!({"title": "shared", "assignee_id": bob.id})).await;
    assert_eq!(expect_json(get_task(&app, &ann, id(&task)).await, 200).await["assignee_id"], bob.id);

    let res = as_user(&app, &admin, Method::DELETE, &format!("/api/v1/admin/users/{}", bob.id)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert!(list(&app, &ann, "").await["data"][0]["assignee_id"].is_null(), "the list says so");
    assert!(expect_json(get_task(&app, &ann, id(&task)).await, 200).await["assignee_id"].is_null());
}

async fn a_deleted_owners_task_leaves_the_statistics(app: TestApp) {
    let (moderator, _) = delete_an_owner_after_reading(&app).await;
    assert_stats(&stats(&app, &moderator).await, 0, [0, 0, 0], [0, 0, 0], 0);
}

async fn task_routes_need_a_signed_in_user(app: TestApp) {
    for (method, path) in [
        (Method::GET, "/api/v1/tasks"),
        (Method::POST, "/api/v1/tasks"),
        (Method::GET, "/api/v1/tasks/stats"),
        (Method::GET, "/api/v1/tasks/1"),
        (Method::PATCH, "/api/v1/tasks/1"),
        (Method::DELETE, "/api/v1/tasks/1"),
        (Method::GET, "/api/v1/tasks/1/comments"),
        (Method::GET, "/api/v1/tags"),
    ] {
        let res = app.request(method, path).json(&json!({"title": "x"})).send().await.unwrap();
        assert_eq!(res.headers()["www-authenticate"].to_str().unwrap().split(' ').next(), Some("Bearer"), "{path}");
        expect_problem(res, 401).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Reading and changing one task.

async fn etags_and_preconditions(app: TestApp) {
    let ann = app.signup("ann").await;
    let task = create_task(&app, &ann, json!({"title": "v1"})).await;
    let path = task_path(id(&task));
    let get_with = |tag: &'static str| as_user(&app, &ann, Method::GET, &path).header("if-none-match", tag).send();

    for tag in ["\"1\"", "W/\"1\"", "\"7\", \"1\"", "*"] {
        let res = get_with(tag).await.unwrap();
        assert_eq!(res.status(), 304, "If-None-Match: {tag}");
        assert_eq!(res.headers()["etag"], "\"1\"");
        assert!(res.text().await.unwrap().is_empty());
    }
    let res = get_with("\"2\"").await.unwrap();
    assert_eq!(res.status(), 200);

    // Without If-Match, a change applies.
    let reply = Reply::of(patch_task(&app, &ann, id(&task), &json!({"title": "v2"})).await).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(reply.json()["version"], 2);
    let res = get_with("\"1\"").await.unwrap();
    assert_eq!((res.status().as_u16(), res.headers()["etag"].to_str().unwrap()), (200, "\"2\""));
    assert_eq!(res.json::<Value>().await.unwrap()["title"], "v2");

    // A stale If-Match changes nothing, on PATCH and PUT alike.
    for method in [Method::PATCH, Method::PUT] {
        let res =
            as_user(&app, &ann, method.clone(), &path).header("if-match", "\"1\"").json(&json!({"title": "lost"}));
        expect_problem(res.send().await.unwrap(), 412).await;
    }
    let res = as_user(&app, &ann, Method::PATCH, &path).header("if-match", "garbage").json(&json!({"title": "lost"}));
    expect_problem(res.send().await.unwrap(), 412).await;
    let now = expect_json(get_task(&app, &ann, id(&task)).await, 200).await;
    assert_eq!((&now["title"], &now["version"]), (&json!("v2"), &json!(2)));

    // The current tag (strong or weak) applies, on PATCH and PUT alike.
    let res = as_user(&app, &ann, Method::PATCH, &path).header("if-match", "\"2\"").json(&json!({"title": "v3"}));
    let reply = Reply::of(res.send().await.unwrap()).await;
    assert_eq!((reply.status, reply.header("etag")), (200, Some("\"3\"")), "{}", reply.text);
    let res = as_user(&app, &ann, Method::PUT, &path).header("if-match", "W/\"3\"").json(&json!({"priority": "low"}));
    let reply = Reply::of(res.send().await.unwrap()).await;
    assert_eq!((reply.status, reply.header("etag")), (200, Some("\"4\"")), "{}", reply.text);
    let put = reply.json();
    assert_eq!((&put["title"], &put["priority"], &put["version"]), (&json!("v3"), &json!("low"), &json!(4)));
    assert!(instant(&put["updated_at"]) > instant(&task["updated_at"]));
    assert_eq!(put["created_at"], task["created_at"]);
    let res = as_user(&app, &ann, Method::PUT, &path).header("if-match", "*").json(&json!({"title": "v5"}));
    assert_eq!(expect_json(res.send().await.unwrap(), 200).await["version"], 5);

    // DELETE: stale refused and nothing deleted; current accepted.
    let res = as_user(&app, &ann, Method::DELETE, &path).header("if-match", "\"4\"").send().await.unwrap();
    expect_problem(res, 412).await;
    assert_eq!(expect_json(get_task(&app, &ann, id(&task)).await, 200).await["version"], 5);
    let res = as_user(&app, &ann, Method::DELETE, &path).header("if-match", "\"5\"").send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert!(res.text().await.unwrap().is_empty());
    expect_problem(get_task(&app, &ann, id(&task)).await, 404).await;
    expect_problem(as_user(&app, &ann, Method::DELETE, &path).send().await.unwrap(), 404).await;
    expect_problem(patch_task(&app, &ann, id(&task), &json!({"title": "ghost"})).await, 404).await;
}

async fn racing_writers_with_the_same_if_match_one_wins(app: TestApp) {
    let ann = app.signup("ann").await;
    let task = create_task(&app, &ann, json!({"title": "contended"})).await;
    let path = task_path(id(&task));
    for round in 1..=3_i64 {
        let tag = format!("\"{round}\"");
        let pending: Vec<_> = (0..3)
            .map(|n| {
                let req = as_user(&app, &ann, Method::PATCH, &path)
                    .header("if-match", &tag)
                    .json(&json!({"title": format!("round {round} writer {n}")}));
                tokio::spawn(req.send())
            })
            .collect();
        let mut statuses = Vec::new();
        for handle in pending {
            statuses.push(handle.await.unwrap().unwrap().status().as_u16());
        }
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 412, 412], "round {round}");
        let now = expect_json(get_task(&app, &ann, id(&task)).await, 200).await;
        assert_eq!(now["version"], round + 1);
        assert!(now["title"].as_str().unwrap().starts_with(&format!("round {round} ")));
    }
}

async fn concurrent_writers_without_if_match_lose_nothing(app: TestApp) {
    let ann = app.signup("ann").await;
    let task = create_task(&app, &ann, json!({"title": "before"})).await;
    let path = task_path(id(&task));
    let changes = [
        json!({"title": "after"}),
        json!({"description": "described"}),
        json!({"priority": "high"}),
        json!({"due_date": "2030-01-01"}),
        json!({"status": "in_progress"}),
    ];
    let pending: Vec<_> =
        changes.iter().map(|c| tokio::spawn(as_user(&app, &ann, Method::PATCH, &path).json(c).send())).collect();
    for handle in pending {
        let reply = Reply::of(handle.await.unwrap().unwrap()).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let now = expect_json(get_task(&app, &ann, id(&task)).await, 200).await;
    assert_eq!(now["version"], 6, "{now}");
    assert_eq!(now["title"], "after");
    assert_eq!(now["description"], "described");
    assert_eq!(now["priority"], "high");
    assert_eq!(now["due_date"], "2030-01-01T00:00:00Z");
    assert_eq!(now["status"], "in_progress");
}

async fn changes_keep_clear_and_validate_fields(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let task = create_task(
        &app,
        &ann,
        json!({"title": "full", "description": "d", "due_date": "2030-01-01", "assignee_id": bob.id,
               "tags": ["a", "b"], "priority": "low"}),
    )
    .await;
    let task_id = id(&task);

    // Fields left out are kept.
    let kept = patch_ok(&app, &ann, task_id, json!({"title": "  renamed  "})).await;
    assert_eq!(kept["title"], "renamed");
    for field in ["description", "due_date", "assignee_id", "tags", "priority", "status", "owner_id", "created_at"] {
        assert_eq!(kept[field], task[field], "{field}");
    }

    // `null` clears the nullable fields.
    let cleared =
        patch_ok(&app, &ann, task_id, json!({"description": null, "due_date": null, "assignee_id": null})).await;
    for field in ["description", "due_date", "assignee_id"] {
        assert!(cleared[field].is_null(), "{field}: {cleared}");
    }
    assert_eq!(cleared["tags"], json!(["a", "b"]));
    let retagged = patch_ok(&app, &ann, task_id, json!({"tags": [" X ", "x", "Y"]})).await;
    assert_eq!(retagged["tags"], json!(["x", "y"]));
    let untagged = patch_ok(&app, &ann, task_id, json!({"tags": []})).await;
    assert_eq!(untagged["tags"], json!([]));
    let set = patch_ok(&app, &ann, task_id, json!({"description": "again", "due_date": "2031-02-03T04:05:06Z"})).await;
    assert_eq!((&set["description"], &set["due_date"]), (&json!("again"), &json!("2031-02-03T04:05:06Z")));

    // `null` for a field that cannot be empty, and every other broken rule, are 422s naming the
    // field; all of them at once; and nothing changes.
    let before = expect_json(get_task(&app, &ann, task_id).await, 200).await;
    let cases = [
        (json!({"title": null}), "title"),
        (json!({"title": ""}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"status": null}), "status"),
        (json!({"status": "done"}), "status"),
        (json!({"priority": null}), "priority"),
        (json!({"tags": null}), "tags"),
        (json!({"tags": ["x".repeat(33)]}), "tags"),
        (json!({"tags": (0..21).map(|i| i.to_string()).collect::<Vec<_>>()}), "tags"),
        (json!({"description": "d".repeat(10_001)}), "description"),
        (json!({"due_date": "soon"}), "due_date"),
        (json!({"assignee_id": 0}), "assignee_id"),
    ];
    for (body, field) in cases {
        let problem = expect_problem(patch_task(&app, &ann, task_id, &body).await, 422).await;
        assert_eq!(error_fields(&problem), [field], "{body}: {problem}");
    }
    let body =
        json!({"title": null, "status": null, "priority": null, "tags": null, "description": "d".repeat(10_001)});
    let problem = expect_problem(patch_task(&app, &ann, task_id, &body).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["description", "priority", "status", "tags", "title"], "{problem}");
    let res = as_user(&app, &ann, Method::PUT, &task_path(task_id)).json(&json!({"title": null})).send().await;
    assert_eq!(error_fields(&expect_problem(res.unwrap(), 422).await), ["title"]);
    let res = as_user(&app, &ann, Method::PATCH, &task_path(task_id))
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    expect_problem(res, 400).await;
    assert_eq!(expect_json(get_task(&app, &ann, task_id).await, 200).await, before, "nothing changed");

    // Ids that cannot be parsed are 400; unknown ids 404.
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let res = as_user(&app, &ann, method.clone(), "/api/v1/tasks/xyz").json(&json!({})).send().await.unwrap();
        expect_problem(res, 400).await;
        let res = as_user(&app, &ann, method, "/api/v1/tasks/999999").json(&json!({})).send().await.unwrap();
        expect_problem(res, 404).await;
    }
}

async fn completion_time_follows_the_status(app: TestApp) {
    let ann = app.signup("ann").await;
    let task = create_task(&app, &ann, json!({"title": "t"})).await;
    let task_id = id(&task);
    let done = patch_ok(&app, &ann, task_id, json!({"status": "completed"})).await;
    let completed_at = done["completed_at"].clone();
    assert!(completed_at.is_string(), "set when completed: {done}");
    assert_eq!(done["completed_at"], done["updated_at"]);
    assert!(instant(&completed_at) > instant(&task["created_at"]));

    // Staying completed keeps the original time.
    let still = patch_ok(&app, &ann, task_id, json!({"status": "completed", "title": "renamed"})).await;
    assert_eq!(still["completed_at"], completed_at);
    let other = patch_ok(&app, &ann, task_id, json!({"priority": "high"})).await;
    assert_eq!(other["completed_at"], completed_at);

    // Leaving clears it, coming back sets a new one.
    let reopened = patch_ok(&app, &ann, task_id, json!({"status": "in_progress"})).await;
    assert!(reopened["completed_at"].is_null());
    let pending = patch_ok(&app, &ann, task_id, json!({"status": "pending"})).await;
    assert!(pending["completed_at"].is_null());
    let redone = as_user(&app, &ann, Method::PUT, &task_path(task_id)).json(&json!({"status": "completed"})).send();
    let redone = expect_json(redone.await.unwrap(), 200).await;
    assert!(instant(&redone["completed_at"]) > instant(&completed_at));
    assert_eq!(expect_json(get_task(&app, &ann, task_id).await, 200).await, redone);
}

// ---------------------------------------------------------------------------------------------
// Lists.

async fn lists_filter_by_status_priority_people_and_tag(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let cat = app.signup("cat").await;
    let moderator = app.signup_with_role("mod", "moderator").await;
    let t1 = id(&create_task(
        &app,
        &ann,
        json!({"title": "write report", "priority": "high", "tags": ["work"], "assignee_id": cat.id}),
    )
    .await);
    let t2 = id(&create_task(
        &app,
        &ann,
        json!({"title": "buy milk", "status": "in_progress", "priority": "low", "tags": ["home", "errand"]}),
    )
    .await);
    let t3 =
        id(&create_task(&app, &ann, json!({"title": "file taxes", "status": "completed", "tags": ["Home"]})).await);
    let t4 = id(&create_task(&app, &bob, json!({"title": "bob's", "priority": "high", "tags": ["work"]})).await);

    let none: Vec<i64> = Vec::new();
    let cases: [(String, Vec<i64>); 15] = [
        (String::new(), vec![t3, t2, t1]),
        ("status=pending".into(), vec![t1]),
        ("status=in_progress".into(), vec![t2]),
        ("status=pending,completed".into(), vec![t3, t1]),
        ("status=pending%2C%20completed".into(), vec![t3, t1]),
        ("priority=high".into(), vec![t1]),
        ("priority=low,medium".into(), vec![t3, t2]),
        ("tag=work".into(), vec![t1]),
        ("tag=HOME".into(), vec![t3, t2]),
        ("tag=hom".into(), none.clone()),
        ("tag=home&status=in_progress".into(), vec![t2]),
        ("tag=home&priority=high".into(), none.clone()),
        (format!("assignee_id={}", cat.id), vec![t1]),
        (format!("owner_id={}", ann.id), vec![t3, t2, t1]),
        (format!("owner_id={}", bob.id), none.clone()),
    ];
    for (query, expected) in cases {
        assert_eq!(listed(&app, &ann, &query).await, expected, "ann: {query}");
    }
    assert_eq!(listed(&app, &cat, "").await, [t1], "the assignee sees only their task");
    assert_eq!(listed(&app, &cat, &format!("owner_id={}", ann.id)).await, [t1]);
    assert_eq!(listed(&app, &cat, "tag=home").await, none);
    assert_eq!(listed(&app, &moderator, "").await, [t4, t3, t2, t1]);
    assert_eq!(listed(&app, &moderator, "tag=work").await, [t4, t1]);
    assert_eq!(listed(&app, &moderator, "priority=high").await, [t4, t1]);
    assert_eq!(listed(&app, &moderator, &format!("owner_id={}", bob.id)).await, [t4]);

    // Each listed task is the full object, tags included.
    let first = &list(&app, &ann, "tag=errand").await["data"][0];
    assert_eq!(first["tags"], json!(["home", "errand"]));
    assert_eq!(first["owner_id"], ann.id);
}

async fn text_search_is_case_insensitive_and_unicode_aware(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let ete = id(&create_task(&app, &ann, json!({"title": "Été à Paris"})).await);
    let plans = id(&create_task(&app, &ann, json!({"title": "summer", "description": "Plans for the ÉTÉ trip"})).await);
    let percent = id(&create_task(&app, &ann, json!({"title": "100% done"})).await);
    let plain = id(&create_task(&app, &ann, json!({"title": "plain", "description": "nothing_special"})).await);
    let path = id(&create_task(&app, &ann, json!({"title": r"C:\Temp"})).await);
    create_task(&app, &bob, json!({"title": "bob's été"})).await;

    let search = |q: &'static str| {
        let request = as_user(&app, &ann, Method::GET, "/api/v1/tasks").query(&[("q", q)]).send();
        async move { ids(&expect_json(request.await.unwrap(), 200).await) }
    };
    assert_eq!(search("été").await, [plans, ete]);
    assert_eq!(search("ÉTÉ").await, [plans, ete]);
    assert_eq!(search("Été").await, [plans, ete]);
    assert_eq!(search("  paris ").await, [ete]);
    assert_eq!(search("À PARIS").await, [ete]);
    assert_eq!(search("PLANS FOR").await, [plans], "descriptions are searched");
    assert_eq!(search("%").await, [percent], "`%` is a character, not a wildcard");
    assert_eq!(search("_").await, [plain], "`_` is a character, not a wildcard");
    assert_eq!(search("\\").await, [path], "`\\` is a character, not an escape");
    assert_eq!(search(r"c:\t").await, [path]);
    assert_eq!(search("ete").await, Vec::<i64>::new(), "accents matter");
    assert_eq!(search("").await, [path, plain, percent, plans, ete]);
    // Encoded by hand, as a browser would.
    assert_eq!(listed(&app, &ann, "q=%C3%89T%C3%89").await, [plans, ete]);
    assert_eq!(listed(&app, &ann, "q=%c3%a9t%c3%a9&sort=title").await, [plans, ete]);

    // The searched text follows changes.
    patch_ok(&app, &ann, plans, json!({"description": null})).await;
    assert_eq!(search("été").await, [ete]);
    patch_ok(&app, &ann, plain, json!({"title": "ÉTÉ again"})).await;
    assert_eq!(search("été").await, [plain, ete]);
}

async fn due_date_filters_and_overdue(app: TestApp) {
    let ann = app.signup("ann").await;
    let make = |title: &'static str, due: Option<&'static str>, status: &'static str| {
        let mut body = json!({"title": title, "status": status});
        if let Some(due) = due {
            body["due_date"] = json!(due);
        }
        let app = &app;
        let ann = &ann;
        async move { id(&create_task(app, ann, body).await) }
    };
    let a = make("a", Some("2030-06-01"), "pending").await;
    let b = make("b", Some("2030-06-02T14:00:00+02:00"), "pending").await;
    make("c, without a due date: never listed below", None, "pending").await;
    let d = make("d", Some("2001-01-01T00:00:00Z"), "pending").await;
    let e = make("e", Some("2001-01-01"), "completed").await;
    let f = make("f", Some("2002-01-01T12:00:00Z"), "in_progress").await;

    for (query, expected) in [
        ("due_after=2030-06-01", vec![b, a]),
        ("due_after=2030-06-01T00:00:00Z", vec![b, a]),
        ("due_after=2030-06-01T00:00:00.000001Z", vec![b]),
        ("due_after=2030-06-01T02:00:00%2B02:00", vec![b, a]),
        ("due_after=2030-06-02T12:00:00Z", vec![b]),
        ("due_after=2030-06-02T12:00:01Z", vec![]),
        ("due_before=2030-06-01", vec![f, e, d]),
        ("due_before=2030-06-01T02:00:00%2B02:00", vec![f, e, d]),
        ("due_before=2030-06-01T00:00:01Z", vec![f, e, d, a]),
        ("due_before=2001-01-01", vec![]),
        ("due_after=2030-06-01&due_before=2030-06-02", vec![a]),
        ("due_after=2001-01-01&due_before=2002-01-01", vec![e, d]),
        ("overdue=true", vec![f, d]),
        ("overdue=true&status=in_progress", vec![f]),
        ("overdue=true&due_after=2001-06-01", vec![f]),
    ] {
        assert_eq!(listed(&app, &ann, query).await, expected, "{query}");
    }
    let overdue = stats(&app, &ann).await;
    assert_eq!(overdue["overdue"], 2);

    // Completing an overdue task ends its being overdue; reopening it brings it back.
    patch_ok(&app, &ann, d, json!({"status": "completed"})).await;
    assert_eq!(listed(&app, &ann, "overdue=true").await, [f]);
    assert_eq!(stats(&app, &ann).await["overdue"], 1);
    patch_ok(&app, &ann, e, json!({"status": "pending"})).await;
    assert_eq!(listed(&app, &ann, "overdue=true").await, [f, e]);
    patch_ok(&app, &ann, f, json!({"due_date": null})).await;
    assert_eq!(listed(&app, &ann, "overdue=true").await, [e]);
}

async fn lists_sort_by_every_key(app: TestApp) {
    let ann = app.signup("ann").await;
    let make = |title: &'static str, priority: &'static str, due: Option<&'static str>| {
        let mut body = json!({"title": title, "priority": priority});
        if let Some(due) = due {
            body["due_date"] = json!(due);
        }
        let (app, ann) = (&app, &ann);
        async move { id(&create_task(app, ann, body).await) }
    };
    let charlie = make("charlie", "low", Some("2030-03-01")).await;
    let alpha = make("alpha", "high", None).await;
    let echo = make("echo", "medium", Some("2030-01-01")).await;
    let bravo = make("bravo", "medium", None).await;
    let delta = make("delta", "low", Some("2030-02-01")).await;

    let newest_first = [delta, bravo, echo, alpha, charlie];
    assert_eq!(listed(&app, &ann, "").await, newest_first, "default: -created_at");
    assert_eq!(listed(&app, &ann, "sort=-created_at").await, newest_first);
    assert_eq!(listed(&app, &ann, "sort=created_at").await, [charlie, alpha, echo, bravo, delta]);
    assert_eq!(titles(&list(&app, &ann, "sort=title").await), ["alpha", "bravo", "charlie", "delta", "echo"]);
    assert_eq!(titles(&list(&app, &ann, "sort=-title").await), ["echo", "delta", "charlie", "bravo", "alpha"]);

    let priorities = |list: Value| -> Vec<String> {
        list["data"].as_array().unwrap().iter().map(|t| t["priority"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(priorities(list(&app, &ann, "sort=priority").await), ["low", "low", "medium", "medium", "high"]);
    assert_eq!(priorities(list(&app, &ann, "sort=-priority").await), ["high", "medium", "medium", "low", "low"]);

    // Tasks without a due date come last in both directions.
    let by_due = listed(&app, &ann, "sort=due_date").await;
    assert_eq!(by_due[..3], [echo, delta, charlie]);
    assert_eq!(sorted(&by_due[3..]), sorted(&[alpha, bravo]));
    let by_due = listed(&app, &ann, "sort=-due_date").await;
    assert_eq!(by_due[..3], [charlie, delta, echo]);
    assert_eq!(sorted(&by_due[3..]), sorted(&[alpha, bravo]));

    // The latest change first.
    patch_ok(&app, &ann, echo, json!({"title": "echo!"})).await;
    patch_ok(&app, &ann, charlie, json!({"title": "charlie!"})).await;
    let by_update = listed(&app, &ann, "sort=-updated_at").await;
    assert_eq!(by_update[..2], [charlie, echo]);
    let by_update = listed(&app, &ann, "sort=updated_at").await;
    assert_eq!(by_update[3..], [echo, charlie]);

    // Sorting goes with filtering and paging.
    assert_eq!(listed(&app, &ann, "sort=title&priority=low,medium&per_page=2&page=2").await, [delta, echo]);
}

/// An RFC 3339 UTC timestamp as (seconds part, nanoseconds), so that `…:00Z` and `…:00.5Z`
/// compare as instants rather than as text.
pub(crate) fn instant(value: &Value) -> (String, u32) {
    let text = value.as_str().unwrap_or_else(|| panic!("not a timestamp: {value}"));
    let text = text.strip_suffix('Z').unwrap_or_else(|| panic!("not in UTC: {text}"));
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    assert!(fraction.len() <= 9 && fraction.bytes().all(|b| b.is_ascii_digit()), "{text}");
    (seconds.to_owned(), format!("{fraction:0<9}").parse().unwrap())
}

fn sorted(ids: &[i64]) -> Vec<i64> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids
}

async fn lists_are_paginated_with_links(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;

    // No rows: zero totals, and `last` still points at page 1.
    let reply = Reply::of(as_user(&app, &ann, Method::GET, "/api/v1/tasks").send().await.unwrap()).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["data"], json!([]));
    assert_eq!(body["pagination"], json!({"page": 1, "per_page": 20, "total": 0, "pages": 0}));
    let rels = links(reply.header("link").expect("a Link header"));
    assert_eq!(link(&rels, "first"), Some("/api/v1/tasks?page=1"));
    assert_eq!(link(&rels, "last"), Some("/api/v1/tasks?page=1"));
    assert_eq!((link(&rels, "prev"), link(&rels, "next")), (None, None));

    let mut created = Vec::new();
    for n in 0..5 {
        created.push(id(&create_task(&app, &ann, json!({"title": format!("task {n}")})).await));
    }
    create_task(&app, &bob, json!({"title": "not ann's"})).await;
    created.reverse(); // newest first

    let mut seen = Vec::new();
    for page in 1..=3_u64 {
        let res = as_user(&app, &ann, Method::GET, &format!("/api/v1/tasks?per_page=2&page={page}")).send();
        let reply = Reply::of(res.await.unwrap()).await;
        let body = reply.json();
        assert_eq!(body["pagination"], json!({"page": page, "per_page": 2, "total": 5, "pages": 3}));
        seen.extend(ids(&body));
        let rels = links(reply.header("link").unwrap());
        assert_eq!(link(&rels, "first"), Some("/api/v1/tasks?per_page=2&page=1"));
        assert_eq!(link(&rels, "last"), Some("/api/v1/tasks?per_page=2&page=3"));
        let prev = (page > 1).then(|| format!("/api/v1/tasks?per_page=2&page={}", page - 1));
        let next = (page < 3).then(|| format!("/api/v1/tasks?per_page=2&page={}", page + 1));
        assert_eq!(link(&rels, "prev"), prev.as_deref(), "page {page}");
        assert_eq!(link(&rels, "next"), next.as_deref(), "page {page}");
    }
    assert_eq!(seen, created, "the pages together are the list, each task once");

    // Following `next` keeps the other parameters.
    let res = as_user(&app, &ann, Method::GET, "/api/v1/tasks?status=pending&per_page=4").send().await.unwrap();
    let rels = links(res.headers()["link"].to_str().unwrap());
    let next = link(&rels, "next").unwrap().to_owned();
    assert!(next.contains("status=pending") && next.contains("per_page=4"), "{next}");
    let page_two = expect_json(as_user(&app, &ann, Method::GET, &next).send().await.unwrap(), 200).await;
    assert_eq!(ids(&page_two), created[4..]);

    // Past the end: empty, same totals.
    let beyond = list(&app, &ann, "per_page=2&page=9").await;
    assert_eq!(beyond["data"], json!([]));
    assert_eq!((&beyond["pagination"]["total"], &beyond["pagination"]["pages"]), (&json!(5), &json!(3)));

    // `per_page` is capped at 100.
    let capped = list(&app, &ann, "per_page=500").await;
    assert_eq!(capped["pagination"]["per_page"], 100);
    assert_eq!(ids(&capped), created);
    assert_eq!(list(&app, &ann, "per_page=100").await["pagination"]["per_page"], 100);
}

async fn bad_list_parameters_are_400_or_422(app: TestApp) {
    let ann = app.signup("ann").await;
    let get = |query: &'static str| as_user(&app, &ann, Method::GET, &format!("/api/v1/tasks?{query}")).send();
    for (query, field) in [
        ("sort=colour", "sort"),
        ("sort=-colour", "sort"),
        ("sort=--title", "sort"),
        ("status=done", "status"),
        ("status=pending,done", "status"),
        ("priority=urgent", "priority"),
        ("page=0", "page"),
        ("per_page=0", "per_page"),
        ("page=-1", "page"),
        ("per_page=-1", "per_page"),
    ] {
        let problem = expect_problem(get(query).await.unwrap(), 422).await;
        assert_eq!(error_fields(&problem), [field], "{query}: {problem}");
    }
    let problem = expect_problem(get("sort=colour&status=done&page=0").await.unwrap(), 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["page", "sort", "status"], "every bad parameter at once: {problem}");

    for query in [
        "q=a%00b",
        "tag=%00",
        "page=abc",
        "page=1.5",
        "per_page=lots",
        "due_before=tomorrow",
        "due_after=2026-13-45",
        "overdue=yes",
        "assignee_id=me",
        "owner_id=1.5",
    ] {
        expect_problem(get(query).await.unwrap(), 400).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics and tags.

fn assert_stats(stats: &Value, total: u64, by_status: [u64; 3], by_priority: [u64; 3], overdue: u64) {
    let expected = json!({
        "total": total,
        "by_status": {"pending": by_status[0], "in_progress": by_status[1], "completed": by_status[2]},
        "by_priority": {"low": by_priority[0], "medium": by_priority[1], "high": by_priority[2]},
        "overdue": overdue,
    });
    let mut without_rate = stats.clone();
    let rate = without_rate.as_object_mut().unwrap().remove("completion_rate").expect("completion_rate");
    assert_eq!(without_rate, expected);
    let rate = rate.as_f64().expect("completion_rate is a number");
    let expected_rate = if total == 0 { 0.0 } else { by_status[2] as f64 / total as f64 };
    assert!((rate - expected_rate).abs() < 1e-9, "completion_rate {rate}, expected {expected_rate}");
}

async fn stats_count_visible_tasks_and_follow_every_write(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let cat = app.signup("cat").await;
    let moderator = app.signup_with_role("mod", "moderator").await;

    assert_stats(&stats(&app, &ann).await, 0, [0, 0, 0], [0, 0, 0], 0);
    assert_stats(&stats(&app, &moderator).await, 0, [0, 0, 0], [0, 0, 0], 0);

    let t1 = id(&create_task(&app, &ann, json!({"title": "1", "priority": "high", "due_date": "2001-01-01"})).await);
    // Stats right after a write, with the previous answer possibly cached.
    assert_stats(&stats(&app, &ann).await, 1, [1, 0, 0], [0, 0, 1], 1);
    assert_stats(&stats(&app, &cat).await, 0, [0, 0, 0], [0, 0, 0], 0);
    let t2 = id(&create_task(&app, &ann, json!({"title": "2", "status": "in_progress", "priority": "low"})).await);
    create_task(&app, &ann, json!({"title": "3", "status": "completed", "due_date": "2001-01-01"})).await;
    let t4 = id(&create_task(&app, &ann, json!({"title": "4", "assignee_id": cat.id})).await);
    create_task(&app, &bob, json!({"title": "bob's", "status": "completed", "due_date": "2001-01-01"})).await;

    assert_stats(&stats(&app, &ann).await, 4, [2, 1, 1], [1, 2, 1], 1);
    assert_stats(&stats(&app, &cat).await, 1, [1, 0, 0], [0, 1, 0], 0);
    assert_stats(&stats(&app, &bob).await, 1, [0, 0, 1], [0, 1, 0], 0);
    assert_stats(&stats(&app, &moderator).await, 5, [2, 1, 2], [1, 3, 1], 1);

    // Changes show at once, for everyone concerned.
    patch_ok(&app, &ann, t1, json!({"status": "completed"})).await;
    assert_stats(&stats(&app, &ann).await, 4, [1, 1, 2], [1, 2, 1], 0);
    assert_stats(&stats(&app, &moderator).await, 5, [1, 1, 3], [1, 3, 1], 0);
    patch_ok(&app, &cat, t4, json!({"priority": "high", "status": "in_progress"})).await;
    assert_stats(&stats(&app, &cat).await, 1, [0, 1, 0], [0, 0, 1], 0);
    assert_stats(&stats(&app, &ann).await, 4, [0, 2, 2], [1, 1, 2], 0);
    patch_ok(&app, &ann, t4, json!({"assignee_id": bob.id})).await;
    assert_stats(&stats(&app, &cat).await, 0, [0, 0, 0], [0, 0, 0], 0);
    assert_stats(&stats(&app, &bob).await, 2, [0, 1, 1], [0, 1, 1], 0);
    let res = as_user(&app, &ann, Method::DELETE, &task_path(t2)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_stats(&stats(&app, &ann).await, 3, [0, 1, 2], [0, 1, 2], 0);
    assert_stats(&stats(&app, &moderator).await, 4, [0, 1, 3], [0, 2, 2], 0);
    let res = as_user(&app, &moderator, Method::DELETE, &task_path(t4)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_stats(&stats(&app, &bob).await, 1, [0, 0, 1], [0, 1, 0], 0);
    assert_stats(&stats(&app, &ann).await, 2, [0, 0, 2], [0, 1, 1], 0);
}

async fn tags_count_visible_tasks(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let cat = app.signup("cat").await;
    let moderator = app.signup_with_role("mod", "moderator").await;

    assert_eq!(tags(&app, &ann, "").await, json!({"data": []}));
    create_task(&app, &ann, json!({"title": "1", "tags": ["Work", "urgent"]})).await;
    create_task(&app, &ann, json!({"title": "2", "tags": ["work"]})).await;
    let home = id(&create_task(&app, &ann, json!({"title": "3", "tags": ["home"], "assignee_id": cat.id})).await);
    create_task(&app, &bob, json!({"title": "4", "tags": ["secret", "work"]})).await;

    let anns = tags(&app, &ann, "").await;
    assert_eq!(anns["data"][0], json!({"name": "work", "usage_count": 2}), "most used first: {anns}");
    let mut rest: Vec<Value> = anns["data"].as_array().unwrap()[1..].to_vec();
    rest.sort_by_key(|t| t["name"].as_str().unwrap().to_owned());
    assert_eq!(rest, [json!({"name": "home", "usage_count": 1}), json!({"name": "urgent", "usage_count": 1})]);

    assert_eq!(tags(&app, &ann, "?q=WOR").await, json!({"data": [{"name": "work", "usage_count": 2}]}));
    assert_eq!(tags(&app, &ann, "?q=%20urg%20").await, json!({"data": [{"name": "urgent", "usage_count": 1}]}));
    assert_eq!(tags(&app, &ann, "?q=secret").await, json!({"data": []}));
    assert_eq!(tags(&app, &ann, "?q=%25").await, json!({"data": []}));
    assert_eq!(tags(&app, &cat, "").await, json!({"data": [{"name": "home", "usage_count": 1}]}));
    assert_eq!(tags(&app, &bob, "?q=work").await, json!({"data": [{"name": "work", "usage_count": 1}]}));
    let all = tags(&app, &moderator, "").await;
    assert_eq!(all["data"][0], json!({"name": "work", "usage_count": 3}), "{all}");
    assert_eq!(all["data"].as_array().unwrap().len(), 4);
    assert!(all.get("pagination").is_none(), "tags are not paginated");

    // Tags follow changes.
    patch_ok(&app, &ann, home, json!({"tags": ["garden"]})).await;
    assert_eq!(tags(&app, &cat, "").await, json!({"data": [{"name": "garden", "usage_count": 1}]}));
    let res = as_user(&app, &ann, Method::DELETE, &task_path(home)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(tags(&app, &cat, "").await, json!({"data": []}));
}

engines!(
    creating_a_task_applies_defaults_and_normalises,
    creation_rules_are_422_naming_the_field,
    the_assignee_must_be_an_active_user,
    an_idempotency_key_replays_the_first_response,
    concurrent_requests_with_one_key_create_one_task,
    strangers_cannot_learn_that_a_task_exists,
    assignees_see_and_change_but_cannot_delete,
    moderators_and_admins_see_every_task,
    task_routes_need_a_signed_in_user,
    etags_and_preconditions,
    racing_writers_with_the_same_if_match_one_wins,
    concurrent_writers_without_if_match_lose_nothing,
    changes_keep_clear_and_validate_fields,
    completion_time_follows_the_status,
    lists_filter_by_status_priority_people_and_tag,
    text_search_is_case_insensitive_and_unicode_aware,
    due_date_filters_and_overdue,
    lists_sort_by_every_key,
    lists_are_paginated_with_links,
    bad_list_parameters_are_400_or_422,
    stats_count_visible_tasks_and_follow_every_write,
    tags_count_visible_tasks,
);

engines!(creation_lists_enum_errors_with_rule_errors);
engines!(creation_lists_an_unknown_assignee_with_rule_errors);
engines!(a_deleted_owners_task_is_gone);
engines!(a_deleted_owners_task_leaves_the_statistics);
engines!(a_deleted_assignee_is_cleared_from_the_task);
