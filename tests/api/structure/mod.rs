//! Task structure, as a team meets it on both engines: relations between tasks (subtasks,
//! blockers, related and duplicate tasks), a project's board of buckets that tasks move through
//! in order, and custom fields that project tasks carry, validate, filter and search by.

mod boards;
mod fields;
mod relations;

use reqwest::{Method, Response};
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp, error_fields, expect_problem, send_as};

/// Asserts that `res` has `status` (showing its body when not) and returns its JSON body (`null`
/// when it has none).
async fn expect(res: Response, status: u16) -> Value {
    let (code, url) = (res.status().as_u16(), res.url().to_string());
    let text = res.text().await.unwrap_or_default();
    assert_eq!(code, status, "{url}: {text}");
    if text.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

/// Asserts that `res` is a problem with `status` and returns the fields its `errors` name,
/// sorted.
async fn refused(res: Response, status: u16) -> Vec<String> {
    let problem = expect_problem(res, status).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    fields
}

fn id(value: &Value) -> i64 {
    value["id"].as_i64().unwrap_or_else(|| panic!("no id: {value}"))
}

/// The ids of a JSON array of objects, in its order.
fn ids(array: &Value) -> Vec<i64> {
    array.as_array().unwrap_or_else(|| panic!("not an array: {array}")).iter().map(id).collect()
}

fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids
}

async fn project(app: &TestApp, who: &Account, name: &str) -> i64 {
    id(&expect(send_as(app, who, Method::POST, "/projects", Some(json!({"name": name}))).await, 201).await)
}

async fn add(app: &TestApp, admin: &Account, project: i64, who: &Account, role: &str) {
    let path = format!("/projects/{project}/members");
    expect(send_as(app, admin, Method::POST, &path, Some(json!({"user_id": who.id, "role": role}))).await, 201).await;
}

/// Creates a task (`POST /tasks` with `body`) and returns it.
async fn task(app: &TestApp, who: &Account, body: Value) -> Value {
    expect(send_as(app, who, Method::POST, "/tasks", Some(body)).await, 201).await
}

async fn read_task(app: &TestApp, who: &Account, task: i64) -> Value {
    expect(send_as(app, who, Method::GET, &format!("/tasks/{task}"), None).await, 200).await
}

/// `PATCH /tasks/{task}` with `body`, expecting 200; the changed task.
async fn patch(app: &TestApp, who: &Account, task: i64, body: Value) -> Value {
    expect(send_as(app, who, Method::PATCH, &format!("/tasks/{task}"), Some(body)).await, 200).await
}

async fn delete_task(app: &TestApp, who: &Account, task: i64) {
    expect(send_as(app, who, Method::DELETE, &format!("/tasks/{task}"), None).await, 204).await;
}

/// A project, `Kitchen`, of Ann's (its admin) with Bob as an editor and Cat as a viewer; Dan is
/// no member.
#[derive(Debug)]
struct Team {
    ann: Account,
    bob: Account,
    cat: Account,
    dan: Account,
    project: i64,
}

async fn team(app: &TestApp) -> Team {
    let (ann, bob, cat, dan) =
        (app.signup("ann").await, app.signup("bob").await, app.signup("cat").await, app.signup("dan").await);
    let project = project(app, &ann, "Kitchen").await;
    add(app, &ann, project, &bob, "editor").await;
    add(app, &ann, project, &cat, "viewer").await;
    Team { ann, bob, cat, dan, project }
}
