//! Comments on tasks: creation rules, paging, who may delete, and who may see them at all.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp, engines, error_fields, expect_problem};

use crate::tasks::{Reply, as_user, create_task, expect_json, instant, link, links, task_path};

fn comments_path(task: i64) -> String {
    format!("{}/comments", task_path(task))
}

fn comment_path(task: i64, comment: i64) -> String {
    format!("{}/comments/{comment}", task_path(task))
}

async fn post_comment(app: &TestApp, who: &Account, task: i64, body: &Value) -> Response {
    as_user(app, who, Method::POST, &comments_path(task)).json(body).send().await.unwrap()
}

async fn comment(app: &TestApp, who: &Account, task: i64, text: &str) -> Value {
    expect_json(post_comment(app, who, task, &json!({"body": text})).await, 201).await
}

async fn comments(app: &TestApp, who: &Account, task: i64, query: &str) -> Value {
    let res = as_user(app, who, Method::GET, &format!("{}?{query}", comments_path(task))).send().await.unwrap();
    expect_json(res, 200).await
}

async fn delete_comment(app: &TestApp, who: &Account, task: i64, comment: i64) -> Response {
    as_user(app, who, Method::DELETE, &comment_path(task, comment)).send().await.unwrap()
}

fn bodies(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(|c| c["body"].as_str().unwrap().to_owned()).collect()
}

fn id(value: &Value) -> i64 {
    value["id"].as_i64().unwrap()
}

async fn comments_are_created_and_listed_oldest_first(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let task = id(&create_task(&app, &ann, json!({"title": "discussed", "assignee_id": bob.id})).await);

    // An empty list is still a paginated list.
    let reply = Reply::of(as_user(&app, &ann, Method::GET, &comments_path(task)).send().await.unwrap()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"data": [], "pagination": {"page": 1, "per_page": 20, "total": 0, "pages": 0}}));
    let rels = links(reply.header("link").expect("a Link header"));
    assert_eq!(link(&rels, "last"), Some(format!("{}?page=1", comments_path(task)).as_str()));

    let reply = Reply::of(post_comment(&app, &ann, task, &json!({"body": "  first!  "})).await).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let first = reply.json();
    let keys: Vec<&str> = first.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "task_id", "author_id", "body", "created_at", "updated_at"]);
    assert!(id(&first) > 0);
    assert_eq!(first["task_id"], task);
    assert_eq!(first["author_id"], ann.id);
    assert_eq!(first["body"], "first!", "trimmed");
    assert_eq!(first["created_at"], first["updated_at"]);
    instant(&first["created_at"]);

    // The assignee takes part too; the limit itself is allowed, counted in characters.
    let second = comment(&app, &bob, task, "second, from the assignee").await;
    assert_eq!(second["author_id"], bob.id);
    let long = comment(&app, &ann, task, &"é".repeat(5000)).await;
    assert_eq!(long["body"].as_str().unwrap().chars().count(), 5000);
    let multiline = comment(&app, &bob, task, "line one\nline two — ✓").await;
    assert_eq!(multiline["body"], "line one\nline two — ✓");
    let fifth = comment(&app, &ann, task, "fifth").await;
    assert!(instant(&fifth["created_at"]) >= instant(&first["created_at"]));

    let all = comments(&app, &ann, task, "").await;
    assert_eq!(all["data"][0], first);
    assert_eq!(all["data"][1], second);
    assert_eq!(
        all["data"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(),
        [id(&first), id(&second), id(&long), id(&multiline), id(&fifth)],
        "oldest first"
    );
    assert_eq!(all["pagination"], json!({"page": 1, "per_page": 20, "total": 5, "pages": 1}));
    assert_eq!(comments(&app, &bob, task, "").await, all, "the assignee reads the same");

    // Pages, with links that keep the other parameters.
    let path = comments_path(task);
    for (page, expected) in [(1, vec!["first!", "second, from the assignee"]), (3, vec!["fifth"])] {
        let res = as_user(&app, &ann, Method::GET, &format!("{path}?per_page=2&page={page}")).send().await.unwrap();
        let reply = Reply::of(res).await;
        let body = reply.json();
        assert_eq!(bodies(&body), expected);
        assert_eq!(body["pagination"], json!({"page": page, "per_page": 2, "total": 5, "pages": 3}));
        let rels = links(reply.header("link").unwrap());
        assert_eq!(link(&rels, "first"), Some(format!("{path}?per_page=2&page=1").as_str()));
        assert_eq!(link(&rels, "last"), Some(format!("{path}?per_page=2&page=3").as_str()));
        if page == 1 {
            assert_eq!(link(&rels, "prev"), None);
            assert_eq!(link(&rels, "next"), Some(format!("{path}?per_page=2&page=2").as_str()));
        } else {
            assert_eq!(link(&rels, "prev"), Some(format!("{path}?per_page=2&page=2").as_str()));
            assert_eq!(link(&rels, "next"), None);
        }
    }
    assert_eq!(comments(&app, &ann, task, "per_page=500").await["pagination"]["per_page"], 100);
    for query in ["page=0", "per_page=0"] {
        let res = as_user(&app, &ann, Method::GET, &format!("{path}?{query}")).send().await.unwrap();
        let problem = expect_problem(res, 422).await;
        assert_eq!(error_fields(&problem), [query.split('=').next().unwrap()], "{problem}");
    }
    let res = as_user(&app, &ann, Method::GET, &format!("{path}?page=abc")).send().await.unwrap();
    expect_problem(res, 400).await;

    // Comments belong to their task.
    let other = id(&create_task(&app, &ann, json!({"title": "quiet"})).await);
    assert_eq!(comments(&app, &ann, other, "").await["pagination"]["total"], 0);
}

async fn comment_bodies_are_validated(app: TestApp) {
    let ann = app.signup("ann").await;
    let task = id(&create_task(&app, &ann, json!({"title": "t"})).await);
    for body in [
        json!({"body": ""}),
        json!({"body": " \n\t "}),
        json!({"body": "x".repeat(5001)}),
        json!({"body": "é".repeat(5001)}),
        json!({"body": null}),
        json!({"body": 42}),
        json!({}),
    ] {
        let problem = expect_problem(post_comment(&app, &ann, task, &body).await, 422).await;
        assert_eq!(error_fields(&problem), ["body"], "{body}: {problem}");
    }
    let res = as_user(&app, &ann, Method::POST, &comments_path(task))
        .header("content-type", "application/json")
        .body("body=hello")
        .send()
        .await
        .unwrap();
    expect_problem(res, 400).await;
    let res = as_user(&app, &ann, Method::POST, &comments_path(task)).body("hello").send().await.unwrap();
    expect_problem(res, 400).await;
    assert_eq!(comments(&app, &ann, task, "").await["pagination"]["total"], 0, "nothing was created");

    // Unknown and unparsable tasks.
    expect_problem(post_comment(&app, &ann, 999_999, &json!({"body": "hi"})).await, 404).await;
    let res = as_user(&app, &ann, Method::POST, "/api/v1/tasks/xyz/comments").json(&json!({"body": "hi"})).send();
    expect_problem(res.await.unwrap(), 400).await;
    let res = as_user(&app, &ann, Method::GET, "/api/v1/tasks/999999/comments").send().await.unwrap();
    expect_problem(res, 404).await;
}

async fn who_may_delete_a_comment(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let moderator = app.signup_with_role("mod", "moderator").await;
    let admin = app.signup_with_role("adm", "admin").await;
    let task = id(&create_task(&app, &ann, json!({"title": "t", "assignee_id": bob.id})).await);
    let anns = id(&comment(&app, &ann, task, "by the owner").await);
    let bobs = id(&comment(&app, &bob, task, "by the assignee").await);
    let third = id(&comment(&app, &bob, task, "another by the assignee").await);
    let fourth = id(&comment(&app, &ann, task, "another by the owner").await);

    // Another participant may not, whichever way round.
    for (who, comment) in [(&ann, bobs), (&bob, anns)] {
        let problem = expect_problem(delete_comment(&app, who, task, comment).await, 403).await;
        assert!(problem["detail"].is_string());
    }
    assert_eq!(comments(&app, &ann, task, "").await["pagination"]["total"], 4, "nothing was deleted");

    // The author may.
    let res = delete_comment(&app, &bob, task, bobs).await;
    assert_eq!(res.status(), 204);
    assert!(res.text().await.unwrap().is_empty());
    expect_problem(delete_comment(&app, &bob, task, bobs).await, 404).await;
    // Moderators and admins may, though they are not part of the task.
    assert_eq!(delete_comment(&app, &moderator, task, third).await.status(), 204);
    assert_eq!(delete_comment(&app, &admin, task, fourth).await.status(), 204);
    let left = comments(&app, &ann, task, "").await;
    assert_eq!(bodies(&left), ["by the owner"]);
    assert_eq!(left["pagination"]["total"], 1);

    // Unknown comments, comments of another task, and unparsable ids.
    expect_problem(delete_comment(&app, &ann, task, 999_999).await, 404).await;
    let other = id(&create_task(&app, &ann, json!({"title": "other"})).await);
    expect_problem(delete_comment(&app, &ann, other, anns).await, 404).await;
    expect_problem(delete_comment(&app, &moderator, other, anns).await, 404).await;
    let res = as_user(&app, &ann, Method::DELETE, &format!("{}/comments/abc", task_path(task))).send().await.unwrap();
    expect_problem(res, 400).await;
    assert_eq!(bodies(&comments(&app, &ann, task, "").await), ["by the owner"], "still there");
}

async fn strangers_cannot_see_or_touch_comments(app: TestApp) {
    let ann = app.signup("ann").await;
    let eve = app.signup("eve").await;
    let moderator = app.signup_with_role("mod", "moderator").await;
    let task = id(&create_task(&app, &ann, json!({"title": "private"})).await);
    let note = id(&comment(&app, &ann, task, "private note").await);
    let missing = task + 1000;

    // Every answer to the stranger is the answer for a task that does not exist.
    let requests = |task: i64| {
        [
            as_user(&app, &eve, Method::GET, &comments_path(task)),
            as_user(&app, &eve, Method::GET, &format!("{}?page=0", comments_path(task))),
            as_user(&app, &eve, Method::POST, &comments_path(task)).json(&json!({"body": "hi"})),
            as_user(&app, &eve, Method::POST, &comments_path(task))
                .header("idempotency-key", format!("k{task}"))
                .json(&json!({"body": "hi"})),
            as_user(&app, &eve, Method::DELETE, &comment_path(task, note)),
            as_user(&app, &eve, Method::DELETE, &comment_path(task, 999_999)),
        ]
    };
    for (hidden, absent) in requests(task).into_iter().zip(requests(missing)) {
        let hidden = Reply::of(hidden.send().await.unwrap()).await;
        let absent = Reply::of(absent.send().await.unwrap()).await;
        assert_eq!((hidden.status, &hidden.text), (absent.status, &absent.text));
        assert!(hidden.status == 404 || hidden.status == 422, "{}: {}", hidden.status, hidden.text);
    }
    let res = as_user(&app, &eve, Method::GET, &comments_path(task)).send().await.unwrap();
    expect_problem(res, 404).await;
    expect_problem(post_comment(&app, &eve, task, &json!({"body": "hi"})).await, 404).await;
    expect_problem(delete_comment(&app, &eve, task, note).await, 404).await;

    // Moderators see and join every discussion.
    let joined = comment(&app, &moderator, task, "a moderator's word").await;
    assert_eq!(joined["author_id"], moderator.id);
    assert_eq!(bodies(&comments(&app, &moderator, task, "").await), ["private note", "a moderator's word"]);
    assert_eq!(bodies(&comments(&app, &ann, task, "").await), ["private note", "a moderator's word"]);
}

async fn comments_go_with_their_task(app: TestApp) {
    let ann = app.signup("ann").await;
    let moderator = app.signup_with_role("mod", "moderator").await;
    let task = id(&create_task(&app, &ann, json!({"title": "t"})).await);
    let note = id(&comment(&app, &ann, task, "note").await);
    let res = as_user(&app, &ann, Method::DELETE, &task_path(task)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    for who in [&ann, &moderator] {
        let res = as_user(&app, who, Method::GET, &comments_path(task)).send().await.unwrap();
        expect_problem(res, 404).await;
        expect_problem(delete_comment(&app, who, task, note).await, 404).await;
        expect_problem(post_comment(&app, who, task, &json!({"body": "late"})).await, 404).await;
    }
}

async fn comment_creation_honours_an_idempotency_key(app: TestApp) {
    let ann = app.signup("ann").await;
    let task = id(&create_task(&app, &ann, json!({"title": "t"})).await);
    let other = id(&create_task(&app, &ann, json!({"title": "other"})).await);
    let send = |task: i64, text: &'static str| {
        as_user(&app, &ann, Method::POST, &comments_path(task))
            .header("idempotency-key", "comment-1")
            .json(&json!({"body": text}))
            .send()
    };
    let first = Reply::of(send(task, "once").await.unwrap()).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = Reply::of(send(task, "once").await.unwrap()).await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (201, Some("true")));
    assert_eq!(again.json(), first.json());
    assert_eq!(comments(&app, &ann, task, "").await["pagination"]["total"], 1);

    let changed = Reply::of(send(task, "twice").await.unwrap()).await;
    assert_eq!(changed.status, 422, "{}", changed.text);
    let elsewhere = Reply::of(send(other, "once").await.unwrap()).await;
    assert_eq!(elsewhere.status, 422, "the same key for another task is another request: {}", elsewhere.text);
    assert_eq!(comments(&app, &ann, task, "").await["pagination"]["total"], 1);
    assert_eq!(comments(&app, &ann, other, "").await["pagination"]["total"], 0);
}

engines!(
    comments_are_created_and_listed_oldest_first,
    comment_bodies_are_validated,
    who_may_delete_a_comment,
    strangers_cannot_see_or_touch_comments,
    comments_go_with_their_task,
    comment_creation_honours_an_idempotency_key,
);
