//! Who sees a task and what they may do with it; reading and changing one task, conditional
//! writes among them.

use reqwest::Method;
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp, engines, error_fields, expect_problem};

use super::support::*;

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

engines!(
    strangers_cannot_learn_that_a_task_exists,
    assignees_see_and_change_but_cannot_delete,
    moderators_and_admins_see_every_task,
    task_routes_need_a_signed_in_user,
    etags_and_preconditions,
    racing_writers_with_the_same_if_match_one_wins,
    concurrent_writers_without_if_match_lose_nothing,
    changes_keep_clear_and_validate_fields,
    completion_time_follows_the_status,
    a_deleted_owners_task_is_gone,
    a_deleted_owners_task_leaves_the_statistics,
    a_deleted_assignee_is_cleared_from_the_task,
);
