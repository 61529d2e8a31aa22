//! Creating a task: defaults, the rules that are named when broken, and `Idempotency-Key`.

use reqwest::Method;
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp, engines, error_fields, expect_problem};

use super::support::*;

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

engines!(
    creating_a_task_applies_defaults_and_normalises,
    creation_rules_are_422_naming_the_field,
    the_assignee_must_be_an_active_user,
    an_idempotency_key_replays_the_first_response,
    concurrent_requests_with_one_key_create_one_task,
    creation_lists_enum_errors_with_rule_errors,
    creation_lists_an_unknown_assignee_with_rule_errors,
);
