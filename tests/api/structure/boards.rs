//! A project's board: buckets (columns) in their order, added, changed and removed by editors
//! and admins; tasks moved within and between buckets before or after one another, listed in
//! that order whatever the number and concurrency of moves; a bucket's limit; the done bucket
//! that completes what enters it and collects what is completed.

use futures_util::future::join_all;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp, engines, send_as};

use super::project as new_project;
use super::{Team, delete_task, expect, id, ids, patch, read_task, refused, sorted, task, team};

/// `GET /projects/{project}/buckets` as `who`: the list (asserting its positions ascend).
async fn buckets(app: &TestApp, who: &Account, project: i64) -> Value {
    let list = expect(send_as(app, who, Method::GET, &format!("/projects/{project}/buckets"), None).await, 200).await;
    let data = list["data"].as_array().unwrap_or_else(|| panic!("a list: {list}"));
    assert_eq!(list["pagination"]["total"].as_u64(), Some(data.len() as u64), "{list}");
    for pair in data.windows(2) {
        assert!(before(&pair[0]["position"], &pair[1]["position"]), "buckets listed in position order: {list}");
    }
    list
}

fn names(list: &Value) -> Vec<&str> {
    list["data"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect()
}

/// The project's buckets as `(name, done)`, in order.
async fn done_flags(app: &TestApp, who: &Account, project: i64) -> Vec<(String, bool)> {
    let list = buckets(app, who, project).await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].as_str().unwrap().to_owned(), b["done"].as_bool().unwrap()))
        .collect()
}

/// The project's first bucket (a new project's `Backlog`): its id.
async fn first_bucket(app: &TestApp, who: &Account, project: i64) -> i64 {
    id(&buckets(app, who, project).await["data"][0])
}

async fn post_bucket(app: &TestApp, who: &Account, project: i64, body: Value) -> Response {
    send_as(app, who, Method::POST, &format!("/projects/{project}/buckets"), Some(body)).await
}

/// A new bucket of `project`'s, made by `who`: the bucket.
async fn new_bucket(app: &TestApp, who: &Account, project: i64, body: Value) -> Value {
    expect(post_bucket(app, who, project, body).await, 201).await
}

async fn edit_bucket(app: &TestApp, who: &Account, project: i64, bucket: i64, body: Value) -> Response {
    send_as(app, who, Method::PATCH, &format!("/projects/{project}/buckets/{bucket}"), Some(body)).await
}

async fn delete_bucket(app: &TestApp, who: &Account, project: i64, bucket: i64) -> Response {
    send_as(app, who, Method::DELETE, &format!("/projects/{project}/buckets/{bucket}"), None).await
}

/// `POST /tasks/{task}/move` with `body` as `who`.
async fn move_task(app: &TestApp, who: &Account, task: i64, body: Value) -> Response {
    send_as(app, who, Method::POST, &format!("/tasks/{task}/move"), Some(body)).await
}

/// A move that succeeds: the moved task, asserted to be in `body`'s bucket.
async fn moved(app: &TestApp, who: &Account, task: i64, body: Value) -> Value {
    let bucket = body["bucket_id"].clone();
    let moved = expect(move_task(app, who, task, body).await, 200).await;
    assert_eq!((id(&moved), &moved["bucket_id"]), (task, &bucket), "{moved}");
    assert!(moved["position"].is_number(), "{moved}");
    moved
}

/// Whether position `a` comes strictly before `b` (compared as integers when both are).
fn before(a: &Value, b: &Value) -> bool {
    match (a.as_i64(), b.as_i64()) {
        (Some(a), Some(b)) => a < b,
        _ => {
            let number = |v: &Value| v.as_f64().unwrap_or_else(|| panic!("a position is a number, not {v}"));
            number(a) < number(b)
        }
    }
}

/// A position after `position`, of the same kind of number.
fn after(position: &Value) -> Value {
    match position.as_i64() {
        Some(p) => json!(p + 1),
        None => json!(position.as_f64().unwrap() + 1.0),
    }
}

/// `GET /projects/{project}/buckets/{bucket}/tasks?{query}` as `who`: the page.
async fn bucket_page(app: &TestApp, who: &Account, project: i64, bucket: i64, query: &str) -> Value {
    let path = format!("/projects/{project}/buckets/{bucket}/tasks?{query}");
    expect(send_as(app, who, Method::GET, &path, None).await, 200).await
}

/// The ids of a bucket's tasks in its order, read in one page; asserts that the page holds the
/// whole bucket, that each task says it is in that bucket and that positions strictly ascend.
async fn in_bucket(app: &TestApp, who: &Account, project: i64, bucket: i64) -> Vec<i64> {
    let page = bucket_page(app, who, project, bucket, "per_page=100").await;
    let data = page["data"].as_array().unwrap_or_else(|| panic!("a list: {page}"));
    assert_eq!(page["pagination"]["total"].as_u64(), Some(data.len() as u64), "{page}");
    for task in data {
        assert_eq!(task["bucket_id"].as_i64(), Some(bucket), "{task}");
    }
    for pair in data.windows(2) {
        assert!(before(&pair[0]["position"], &pair[1]["position"]), "positions strictly ascend: {page}");
    }
    ids(&page["data"])
}

/// A task of `project`'s titled `title`, made by `who`: its id.
async fn card(app: &TestApp, who: &Account, project: i64, title: &str) -> i64 {
    id(&task(app, who, json!({"title": title, "project_id": project})).await)
}

/// `n` tasks of `project`'s, each moved to the end of `bucket` in turn, so that the bucket holds
/// them in this order: their ids.
async fn cards_in_order(app: &TestApp, who: &Account, project: i64, bucket: i64, n: usize) -> Vec<i64> {
    let mut made = Vec::with_capacity(n);
    for i in 0..n {
        made.push(card(app, who, project, &format!("Card {i}")).await);
    }
    for &task in &made {
        moved(app, who, task, json!({"bucket_id": bucket})).await;
    }
    made
}

engines!(
    a_new_project_has_a_backlog_where_its_tasks_land,
    editors_and_admins_add_buckets_at_the_end,
    buckets_change_and_at_most_one_is_done,
    a_deleted_bucket_hands_its_tasks_to_the_first_remaining_one,
    moves_place_a_task_before_or_after_another,
    moves_between_buckets_and_the_moves_that_are_refused,
    a_bucket_at_its_limit_refuses_moves_in,
    the_done_bucket_completes_what_enters_it_and_collects_what_is_completed,
    sixty_moves_to_one_spot_keep_a_total_order,
    twenty_moves_at_once_after_one_task_lose_nothing,
);

async fn a_new_project_has_a_backlog_where_its_tasks_land(app: TestApp) {
    let Team { ann, cat, dan, project, .. } = team(&app).await;
    let list = buckets(&app, &cat, project).await;
    assert_eq!(list["pagination"]["total"], 1, "{list}");
    let backlog = &list["data"][0];
    assert_eq!((backlog["name"].as_str(), backlog["project_id"].as_i64()), (Some("Backlog"), Some(project)));
    assert_eq!((&backlog["limit"], &backlog["done"]), (&Value::Null, &json!(false)), "{backlog}");
    assert!(backlog["position"].is_number(), "{backlog}");
    assert!(backlog["created_at"].is_string() && backlog["updated_at"].is_string(), "{backlog}");
    let backlog = id(backlog);

    let first = task(&app, &ann, json!({"title": "Measure", "project_id": project})).await;
    assert_eq!(first["bucket_id"].as_i64(), Some(backlog), "{first}");
    assert!(first["position"].is_number(), "{first}");
    assert_eq!(read_task(&app, &cat, id(&first)).await["bucket_id"].as_i64(), Some(backlog));
    let personal = task(&app, &ann, json!({"title": "My own"})).await;
    assert_eq!(personal["bucket_id"], Value::Null, "a personal task is on no board");
    assert_eq!(in_bucket(&app, &cat, project, backlog).await, [id(&first)], "a viewer reads the board");

    // A stranger sees no board; a bucket is reached only through its own project.
    let path = format!("/projects/{project}/buckets");
    refused(send_as(&app, &dan, Method::GET, &path, None).await, 404).await;
    refused(send_as(&app, &dan, Method::GET, &format!("{path}/{backlog}/tasks"), None).await, 404).await;
    let shed = new_project(&app, &dan, "Shed").await;
    let sheds = first_bucket(&app, &dan, shed).await;
    assert_ne!(sheds, backlog);
    refused(send_as(&app, &ann, Method::GET, &format!("{path}/{sheds}/tasks"), None).await, 404).await;
    refused(send_as(&app, &ann, Method::GET, &format!("{path}/{}/tasks", sheds + 1000), None).await, 404).await;
}

async fn editors_and_admins_add_buckets_at_the_end(app: TestApp) {
    let Team { ann, bob, cat, dan, project } = team(&app).await;
    let doing = new_bucket(&app, &bob, project, json!({"name": "Doing", "limit": 3})).await;
    assert_eq!((doing["name"].as_str(), doing["project_id"].as_i64()), (Some("Doing"), Some(project)));
    assert_eq!((doing["limit"].as_i64(), doing["done"].as_bool()), (Some(3), Some(false)), "{doing}");
    assert!(doing["created_at"].is_string() && doing["updated_at"].is_string() && doing["position"].is_number());
    let done = new_bucket(&app, &ann, project, json!({"name": "Done", "done": true})).await;
    assert_eq!((&done["limit"], &done["done"]), (&Value::Null, &json!(true)), "{done}");

    refused(post_bucket(&app, &cat, project, json!({"name": "Mine"})).await, 403).await;
    refused(post_bucket(&app, &dan, project, json!({"name": "Mine"})).await, 404).await;
    assert_eq!(refused(post_bucket(&app, &bob, project, json!({"name": "  "})).await, 422).await, ["name"]);
    assert_eq!(
        refused(post_bucket(&app, &bob, project, json!({"name": "Zero", "limit": 0})).await, 422).await,
        ["limit"]
    );
    let both = json!({"name": "", "limit": -2});
    assert_eq!(refused(post_bucket(&app, &bob, project, both).await, 422).await, ["limit", "name"]);

    let list = buckets(&app, &cat, project).await;
    assert_eq!(names(&list), ["Backlog", "Doing", "Done"], "each new bucket at the end");
    assert_eq!(ids(&list["data"])[1..], [id(&doing), id(&done)]);
}

async fn buckets_change_and_at_most_one_is_done(app: TestApp) {
    let Team { ann, bob, cat, dan, project } = team(&app).await;
    let backlog = first_bucket(&app, &ann, project).await;
    let doing = id(&new_bucket(&app, &ann, project, json!({"name": "Doing"})).await);
    let done = id(&new_bucket(&app, &ann, project, json!({"name": "Done", "done": true})).await);

    let renamed =
        expect(edit_bucket(&app, &bob, project, doing, json!({"name": "In progress", "limit": 2})).await, 200).await;
    assert_eq!((renamed["name"].as_str(), renamed["limit"].as_i64()), (Some("In progress"), Some(2)), "{renamed}");
    let unlimited = expect(edit_bucket(&app, &bob, project, doing, json!({"limit": null})).await, 200).await;
    assert_eq!((unlimited["name"].as_str(), &unlimited["limit"]), (Some("In progress"), &Value::Null), "{unlimited}");
    refused(edit_bucket(&app, &cat, project, doing, json!({"name": "Cat's"})).await, 403).await;
    refused(edit_bucket(&app, &dan, project, doing, json!({"name": "Dan's"})).await, 404).await;
    refused(edit_bucket(&app, &ann, project, doing + 1000, json!({"name": "Nowhere"})).await, 404).await;
    assert_eq!(refused(edit_bucket(&app, &ann, project, doing, json!({"name": " "})).await, 422).await, ["name"]);
    assert_eq!(refused(edit_bucket(&app, &ann, project, doing, json!({"limit": 0})).await, 422).await, ["limit"]);

    // Marking one bucket done unmarks the other.
    let marked = expect(edit_bucket(&app, &ann, project, doing, json!({"done": true})).await, 200).await;
    assert_eq!(marked["done"], true);
    let flags = done_flags(&app, &cat, project).await;
    assert_eq!(flags, [("Backlog".to_owned(), false), ("In progress".to_owned(), true), ("Done".to_owned(), false)]);

    // The Backlog moves to the end: the first bucket is now In progress, the done one, which an
    // open task does not land in (it would be done); the first other one, Done by name, takes it.
    let list = buckets(&app, &ann, project).await;
    let last = list["data"].as_array().unwrap().last().unwrap()["position"].clone();
    let moved = expect(edit_bucket(&app, &ann, project, backlog, json!({"position": after(&last)})).await, 200).await;
    assert_eq!(moved["name"], "Backlog");
    assert_eq!(names(&buckets(&app, &cat, project).await), ["In progress", "Done", "Backlog"]);
    let fresh = task(&app, &bob, json!({"title": "Fresh", "project_id": project})).await;
    assert_eq!(fresh["bucket_id"].as_i64(), Some(done), "{fresh}");
    let finished = task(&app, &bob, json!({"title": "Finished", "project_id": project, "status": "completed"})).await;
    assert_eq!(finished["bucket_id"].as_i64(), Some(doing), "a completed task lands in the done bucket: {finished}");
}

async fn a_deleted_bucket_hands_its_tasks_to_the_first_remaining_one(app: TestApp) {
    let Team { ann, bob, cat, dan, project } = team(&app).await;
    let backlog = first_bucket(&app, &ann, project).await;
    let doing = id(&new_bucket(&app, &ann, project, json!({"name": "Doing"})).await);
    let later = id(&new_bucket(&app, &ann, project, json!({"name": "Later"})).await);
    let kept = card(&app, &ann, project, "Kept").await;
    let (one, two) = (card(&app, &ann, project, "One").await, card(&app, &ann, project, "Two").await);
    for task in [one, two] {
        moved(&app, &ann, task, json!({"bucket_id": later})).await;
    }

    refused(delete_bucket(&app, &cat, project, later).await, 403).await;
    refused(delete_bucket(&app, &dan, project, later).await, 404).await;
    expect(delete_bucket(&app, &bob, project, later).await, 204).await;
    refused(delete_bucket(&app, &bob, project, later).await, 404).await;
    assert_eq!(names(&buckets(&app, &ann, project).await), ["Backlog", "Doing"]);
    assert_eq!(sorted(in_bucket(&app, &ann, project, backlog).await), sorted(vec![kept, one, two]));
    assert_eq!(read_task(&app, &cat, one).await["bucket_id"].as_i64(), Some(backlog));

    // The Backlog goes: everything lands in Doing, now the only bucket, which stays.
    expect(delete_bucket(&app, &ann, project, backlog).await, 204).await;
    assert_eq!(sorted(in_bucket(&app, &ann, project, doing).await), sorted(vec![kept, one, two]));
    refused(delete_bucket(&app, &ann, project, doing).await, 409).await;
    assert_eq!(names(&buckets(&app, &ann, project).await), ["Doing"]);
    let fresh = task(&app, &bob, json!({"title": "Fresh", "project_id": project})).await;
    assert_eq!(fresh["bucket_id"].as_i64(), Some(doing));
}

async fn moves_place_a_task_before_or_after_another(app: TestApp) {
    let Team { ann, bob, cat, project, .. } = team(&app).await;
    let backlog = first_bucket(&app, &ann, project).await;
    let [t1, t2, t3, t4, t5] = cards_in_order(&app, &ann, project, backlog, 5).await[..] else { unreachable!() };
    assert_eq!(in_bucket(&app, &cat, project, backlog).await, [t1, t2, t3, t4, t5], "a move alone goes to the end");

    moved(&app, &bob, t5, json!({"bucket_id": backlog, "after_id": t1})).await;
    assert_eq!(in_bucket(&app, &cat, project, backlog).await, [t1, t5, t2, t3, t4]);
    moved(&app, &bob, t2, json!({"bucket_id": backlog, "before_id": t1})).await;
    assert_eq!(in_bucket(&app, &cat, project, backlog).await, [t2, t1, t5, t3, t4]);
    let read = read_task(&app, &cat, t2).await;
    assert_eq!(read["bucket_id"].as_i64(), Some(backlog));

    // The order is the list's, page by page.
    let page = bucket_page(&app, &cat, project, backlog, "page=2&per_page=2").await;
    assert_eq!(ids(&page["data"]), [t5, t3]);
    assert_eq!((page["pagination"]["total"].as_i64(), page["pagination"]["pages"].as_i64()), (Some(5), Some(3)));
    let page = bucket_page(&app, &cat, project, backlog, "page=3&per_page=2").await;
    assert_eq!(ids(&page["data"]), [t4]);

    // To the very front, to the very end (after the last), and in place.
    moved(&app, &ann, t4, json!({"bucket_id": backlog, "before_id": t2})).await;
    assert_eq!(in_bucket(&app, &cat, project, backlog).await, [t4, t2, t1, t5, t3]);
    moved(&app, &ann, t4, json!({"bucket_id": backlog, "after_id": t3})).await;
    assert_eq!(in_bucket(&app, &cat, project, backlog).await, [t2, t1, t5, t3, t4]);
    moved(&app, &ann, t5, json!({"bucket_id": backlog, "after_id": t1})).await;
    assert_eq!(in_bucket(&app, &cat, project, backlog).await, [t2, t1, t5, t3, t4]);
    moved(&app, &ann, t2, json!({"bucket_id": backlog})).await;
    assert_eq!(in_bucket(&app, &cat, project, backlog).await, [t1, t5, t3, t4, t2]);
}

async fn moves_between_buckets_and_the_moves_that_are_refused(app: TestApp) {
    let Team { ann, bob, cat, dan, project } = team(&app).await;
    let backlog = first_bucket(&app, &ann, project).await;
    let doing = id(&new_bucket(&app, &ann, project, json!({"name": "Doing"})).await);
    let [t1, t2, t3, t4] = cards_in_order(&app, &ann, project, backlog, 4).await[..] else { unreachable!() };

    moved(&app, &bob, t1, json!({"bucket_id": doing})).await;
    moved(&app, &bob, t2, json!({"bucket_id": doing, "before_id": t1})).await;
    moved(&app, &bob, t3, json!({"bucket_id": doing, "after_id": t2})).await;
    assert_eq!(in_bucket(&app, &ann, project, doing).await, [t2, t3, t1]);
    assert_eq!(in_bucket(&app, &ann, project, backlog).await, [t4]);
    assert_eq!(read_task(&app, &cat, t3).await["bucket_id"].as_i64(), Some(doing));
    moved(&app, &bob, t3, json!({"bucket_id": backlog, "before_id": t4})).await;
    assert_eq!(in_bucket(&app, &ann, project, backlog).await, [t3, t4]);
    assert_eq!(in_bucket(&app, &ann, project, doing).await, [t2, t1]);

    // Both neighbours at once.
    let both = json!({"bucket_id": doing, "after_id": t2, "before_id": t1});
    refused(move_task(&app, &bob, t4, both).await, 422).await;
    // A neighbour that is not in the target bucket.
    let elsewhere = json!({"bucket_id": doing, "after_id": t3});
    assert_eq!(refused(move_task(&app, &bob, t4, elsewhere).await, 422).await, ["after_id"]);
    let elsewhere = json!({"bucket_id": backlog, "before_id": t1});
    assert_eq!(refused(move_task(&app, &bob, t4, elsewhere).await, 422).await, ["before_id"]);
    // A bucket of another project, or none at all.
    let shed = new_project(&app, &ann, "Shed").await;
    let sheds = first_bucket(&app, &ann, shed).await;
    assert_eq!(refused(move_task(&app, &ann, t4, json!({"bucket_id": sheds})).await, 422).await, ["bucket_id"]);
    let nowhere = json!({"bucket_id": sheds + 1000});
    assert_eq!(refused(move_task(&app, &ann, t4, nowhere).await, 422).await, ["bucket_id"]);
    // A personal task is on no board.
    let personal = id(&task(&app, &ann, json!({"title": "My own"})).await);
    assert_eq!(refused(move_task(&app, &ann, personal, json!({"bucket_id": backlog})).await, 422).await, ["bucket_id"]);
    assert_eq!(read_task(&app, &ann, personal).await["bucket_id"], Value::Null);
    // A viewer may not move; a stranger cannot see the task.
    refused(move_task(&app, &cat, t4, json!({"bucket_id": doing})).await, 403).await;
    refused(move_task(&app, &dan, t4, json!({"bucket_id": doing})).await, 404).await;

    assert_eq!(in_bucket(&app, &ann, project, backlog).await, [t3, t4], "no refused move changed anything");
    assert_eq!(in_bucket(&app, &ann, project, doing).await, [t2, t1]);
}

async fn a_bucket_at_its_limit_refuses_moves_in(app: TestApp) {
    let Team { ann, bob, project, .. } = team(&app).await;
    let backlog = first_bucket(&app, &ann, project).await;
    let doing = id(&new_bucket(&app, &ann, project, json!({"name": "Doing", "limit": 2})).await);
    let [t1, t2, t3] = cards_in_order(&app, &ann, project, backlog, 3).await[..] else { unreachable!() };

    moved(&app, &bob, t1, json!({"bucket_id": doing})).await;
    moved(&app, &bob, t2, json!({"bucket_id": doing})).await;
    refused(move_task(&app, &bob, t3, json!({"bucket_id": doing})).await, 409).await;
    refused(move_task(&app, &bob, t3, json!({"bucket_id": doing, "before_id": t1})).await, 409).await;
    assert_eq!(in_bucket(&app, &bob, project, doing).await, [t1, t2]);
    assert_eq!(in_bucket(&app, &bob, project, backlog).await, [t3], "the refused task stays where it was");

    // Moving within a full bucket is fine.
    moved(&app, &bob, t1, json!({"bucket_id": doing, "after_id": t2})).await;
    assert_eq!(in_bucket(&app, &bob, project, doing).await, [t2, t1]);

    // Once a place is free, or the limit lifted, the move goes through.
    moved(&app, &bob, t2, json!({"bucket_id": backlog})).await;
    moved(&app, &bob, t3, json!({"bucket_id": doing})).await;
    refused(move_task(&app, &bob, t2, json!({"bucket_id": doing})).await, 409).await;
    expect(edit_bucket(&app, &ann, project, doing, json!({"limit": null})).await, 200).await;
    moved(&app, &bob, t2, json!({"bucket_id": doing, "before_id": t1})).await;
    assert_eq!(in_bucket(&app, &bob, project, doing).await, [t2, t1, t3]);
}

async fn the_done_bucket_completes_what_enters_it_and_collects_what_is_completed(app: TestApp) {
    let Team { ann, bob, cat, project, .. } = team(&app).await;
    let backlog = first_bucket(&app, &ann, project).await;
    let [t1, t2, t3] = cards_in_order(&app, &ann, project, backlog, 3).await[..] else { unreachable!() };

    // With no done bucket, a completed task stays where it is.
    let completed = patch(&app, &bob, t3, json!({"status": "completed"})).await;
    assert_eq!(completed["bucket_id"].as_i64(), Some(backlog), "{completed}");
    patch(&app, &bob, t3, json!({"status": "pending"})).await;

    let done = id(&new_bucket(&app, &ann, project, json!({"name": "Done", "done": true})).await);
    let entered = moved(&app, &bob, t1, json!({"bucket_id": done})).await;
    assert_eq!(entered["status"], "completed", "{entered}");
    assert!(entered["completed_at"].is_string(), "{entered}");
    assert_eq!(read_task(&app, &cat, t1).await["status"], "completed");
    let left = moved(&app, &bob, t1, json!({"bucket_id": backlog})).await;
    assert_eq!((&left["status"], &left["completed_at"]), (&json!("pending"), &Value::Null), "{left}");

    let collected = patch(&app, &bob, t2, json!({"status": "completed"})).await;
    assert_eq!(collected["bucket_id"].as_i64(), Some(done), "{collected}");
    assert_eq!(read_task(&app, &cat, t2).await["bucket_id"].as_i64(), Some(done));
    assert_eq!(in_bucket(&app, &cat, project, done).await, [t2]);
    assert_eq!(in_bucket(&app, &cat, project, backlog).await, [t3, t1]);

    // Another bucket marked done takes the part over.
    let archive = id(&new_bucket(&app, &ann, project, json!({"name": "Archive"})).await);
    expect(edit_bucket(&app, &ann, project, archive, json!({"done": true})).await, 200).await;
    let collected = patch(&app, &bob, t3, json!({"status": "completed"})).await;
    assert_eq!(collected["bucket_id"].as_i64(), Some(archive), "{collected}");
    let entered = moved(&app, &bob, t1, json!({"bucket_id": archive})).await;
    assert_eq!(entered["status"], "completed");
    let plain = moved(&app, &bob, t1, json!({"bucket_id": done})).await;
    assert_eq!(plain["status"], "pending", "Done is a plain bucket now: {plain}");
    delete_task(&app, &ann, t1).await;
    assert_eq!(in_bucket(&app, &cat, project, done).await, [t2]);
}

async fn sixty_moves_to_one_spot_keep_a_total_order(app: TestApp) {
    let Team { ann, project, .. } = team(&app).await;
    let backlog = first_bucket(&app, &ann, project).await;
    let mut order = cards_in_order(&app, &ann, project, backlog, 6).await;
    let first = order[0];
    assert_eq!(in_bucket(&app, &ann, project, backlog).await, order);

    // Each move puts the last task right after the first one: always into the same gap.
    for i in 1..=60 {
        let last = order.pop().unwrap();
        moved(&app, &ann, last, json!({"bucket_id": backlog, "after_id": first})).await;
        order.insert(1, last);
        if i % 10 == 0 {
            assert_eq!(in_bucket(&app, &ann, project, backlog).await, order, "after {i} moves");
        }
    }
    let listed = in_bucket(&app, &ann, project, backlog).await;
    assert_eq!(listed, order);
    let mut unique = listed.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 6, "no task lost or listed twice: {listed:?}");
}

async fn twenty_moves_at_once_after_one_task_lose_nothing(app: TestApp) {
    let Team { ann, bob, project, .. } = team(&app).await;
    let backlog = first_bucket(&app, &ann, project).await;
    let mut cards = Vec::new();
    for i in 0..21 {
        cards.push(card(&app, &ann, project, &format!("Card {i}")).await);
    }
    let (anchor, others) = (cards[0], &cards[1..]);

    let moves = others.iter().enumerate().map(|(i, &task)| {
        let who = if i % 2 == 0 { &ann } else { &bob };
        move_task(&app, who, task, json!({"bucket_id": backlog, "after_id": anchor}))
    });
    for reply in join_all(moves).await {
        let moved = expect(reply, 200).await;
        assert_eq!(moved["bucket_id"].as_i64(), Some(backlog), "{moved}");
    }

    let listed = in_bucket(&app, &ann, project, backlog).await;
    assert_eq!(listed.len(), 21, "{listed:?}");
    assert_eq!(listed[0], anchor, "every other task went after it: {listed:?}");
    assert_eq!(sorted(listed[1..].to_vec()), sorted(others.to_vec()), "each task exactly once: {listed:?}");
}
