//! Custom fields: defined by a project's admins and read by its members; values carried by the
//! project's tasks, checked by type, required where the field says so, changed key by key;
//! lists filtered by a value (or a range, for numbers and dates) and the search language's
//! `field:<name>=<value>`.

use reqwest::{Method, Response};
use serde_json::{Map, Value, json};
use workbench_e2e::{Account, TestApp, engines, send_as};

use super::project as new_project;
use super::{Team, expect, id, ids, patch, read_task, refused, sorted, task, team};

async fn post_field(app: &TestApp, who: &Account, project: i64, body: Value) -> Response {
    send_as(app, who, Method::POST, &format!("/projects/{project}/fields"), Some(body)).await
}

/// A field of `project`'s defined by `who` with `body`: its id.
async fn new_field(app: &TestApp, who: &Account, project: i64, body: Value) -> i64 {
    id(&expect(post_field(app, who, project, body).await, 201).await)
}

/// `GET /projects/{project}/fields` as `who`: the fields' names, sorted.
async fn field_names(app: &TestApp, who: &Account, project: i64) -> Vec<String> {
    let list = expect(send_as(app, who, Method::GET, &format!("/projects/{project}/fields"), None).await, 200).await;
    let data = list["data"].as_array().unwrap_or_else(|| panic!("a list: {list}"));
    let mut names: Vec<String> = data.iter().map(|f| f["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    names
}

/// A `fields` object: each field's id (as text) and its value.
fn values(pairs: &[(i64, Value)]) -> Value {
    Value::Object(pairs.iter().map(|(field, value)| (field.to_string(), value.clone())).collect::<Map<_, _>>())
}

/// A task's value of `field` (`null` when it has none).
fn value_of(task: &Value, field: i64) -> &Value {
    assert!(task["fields"].is_object(), "`fields` is an object: {task}");
    &task["fields"][field.to_string()]
}

fn no_values(task: &Value) -> bool {
    task["fields"].as_object().unwrap_or_else(|| panic!("`fields` is an object: {task}")).values().all(Value::is_null)
}

/// The `errors` field naming `field`'s value.
fn named(field: i64) -> String {
    format!("fields.{field}")
}

/// A task of `project`'s titled `title` with `fields`, made by `who`: its id.
async fn valued(app: &TestApp, who: &Account, project: i64, title: &str, fields: Value) -> i64 {
    id(&task(app, who, json!({"title": title, "project_id": project, "fields": fields})).await)
}

/// The ids (sorted) of `project`'s tasks listed for `who` with `filter` added to the query.
async fn filtered(app: &TestApp, who: &Account, project: i64, filter: &str) -> Vec<i64> {
    let path = format!("/tasks?project_id={project}&per_page=100&{filter}");
    let page = expect(send_as(app, who, Method::GET, &path, None).await, 200).await;
    let found = ids(&page["data"]);
    assert_eq!(page["pagination"]["total"].as_u64(), Some(found.len() as u64), "{filter}: {page}");
    sorted(found)
}

/// `query` as a query-string value (every byte but unreserved ones escaped).
fn escaped(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /search?q={query}` as `who`: the titles of the tasks found (sorted) and their total.
async fn search(app: &TestApp, who: &Account, query: &str) -> (Vec<String>, i64) {
    let path = format!("/search?q={}", escaped(query));
    let found = expect(send_as(app, who, Method::GET, &path, None).await, 200).await;
    let tasks = found["tasks"].as_array().unwrap_or_else(|| panic!("{query}: a task group: {found}"));
    let mut titles: Vec<String> = tasks.iter().map(|t| t["title"].as_str().unwrap().to_owned()).collect();
    titles.sort();
    (titles, found["totals"]["tasks"].as_i64().unwrap_or_else(|| panic!("{query}: a total: {found}")))
}

engines!(
    admins_define_fields_that_members_read,
    values_are_checked_by_type,
    a_required_field_is_needed_on_create,
    a_patch_changes_only_the_values_it_names,
    lists_filter_by_a_value_or_a_range,
    malformed_filter_values_are_bad_requests,
    search_finds_tasks_by_a_field_value,
    a_deleted_field_leaves_the_tasks,
    a_filtered_list_pages_in_creation_order,
    a_task_leaving_its_project_leaves_its_values,
);

async fn admins_define_fields_that_members_read(app: TestApp) {
    let Team { ann, bob, cat, dan, project } = team(&app).await;
    let room = expect(post_field(&app, &ann, project, json!({"name": "Room", "type": "text"})).await, 201).await;
    assert!(room["id"].as_i64().is_some_and(|id| id > 0), "{room}");
    assert_eq!((room["project_id"].as_i64(), room["name"].as_str()), (Some(project), Some("Room")), "{room}");
    assert_eq!((&room["type"], &room["options"], &room["required"]), (&json!("text"), &Value::Null, &json!(false)));
    assert!(room["created_at"].is_string(), "{room}");
    let colour = json!({"name": "Colour", "type": "select", "options": ["red", "green"], "required": true});
    let colour = expect(post_field(&app, &ann, project, colour).await, 201).await;
    assert_eq!((&colour["type"], &colour["options"]), (&json!("select"), &json!(["red", "green"])), "{colour}");
    assert_eq!(colour["required"], true);

    // Only the project's admins define fields.
    let size = json!({"name": "Size", "type": "number"});
    refused(post_field(&app, &bob, project, size.clone()).await, 403).await;
    refused(post_field(&app, &cat, project, size.clone()).await, 403).await;
    refused(post_field(&app, &dan, project, size).await, 404).await;
    // One name per project; a select needs its options; a type must be known.
    refused(post_field(&app, &ann, project, json!({"name": "Room", "type": "number"})).await, 409).await;
    let bare = json!({"name": "Finish", "type": "select"});
    assert_eq!(refused(post_field(&app, &ann, project, bare).await, 422).await, ["options"]);
    let odd = json!({"name": "Finish", "type": "colour"});
    assert_eq!(refused(post_field(&app, &ann, project, odd).await, 422).await, ["type"]);
    // Another project may use the same name.
    let shed = new_project(&app, &dan, "Shed").await;
    new_field(&app, &dan, shed, json!({"name": "Room", "type": "text"})).await;

    // Every member reads them; a stranger does not.
    for member in [&ann, &bob, &cat] {
        assert_eq!(field_names(&app, member, project).await, ["Colour", "Room"]);
    }
    refused(send_as(&app, &dan, Method::GET, &format!("/projects/{project}/fields"), None).await, 404).await;

    // Only admins remove one.
    let path = format!("/projects/{project}/fields/{}", id(&room));
    refused(send_as(&app, &bob, Method::DELETE, &path, None).await, 403).await;
    refused(send_as(&app, &dan, Method::DELETE, &path, None).await, 404).await;
    expect(send_as(&app, &ann, Method::DELETE, &path, None).await, 204).await;
    refused(send_as(&app, &ann, Method::DELETE, &path, None).await, 404).await;
    assert_eq!(field_names(&app, &cat, project).await, ["Colour"]);
    assert_eq!(field_names(&app, &dan, shed).await, ["Room"], "the other project's is its own");
}

async fn values_are_checked_by_type(app: TestApp) {
    let Team { ann, bob, cat, dan, project } = team(&app).await;
    let room = new_field(&app, &ann, project, json!({"name": "Room", "type": "text"})).await;
    let estimate = new_field(&app, &ann, project, json!({"name": "Estimate", "type": "number"})).await;
    let deadline = new_field(&app, &ann, project, json!({"name": "Deadline", "type": "date"})).await;
    let colour =
        new_field(&app, &ann, project, json!({"name": "Colour", "type": "select", "options": ["red", "green"]})).await;
    let reviewer = new_field(&app, &ann, project, json!({"name": "Reviewer", "type": "user"})).await;

    let good = values(&[
        (room, json!("Kitchen")),
        (estimate, json!(3.5)),
        (deadline, json!("2026-05-01")),
        (colour, json!("green")),
        (reviewer, json!(cat.id)),
    ]);
    let made = task(&app, &bob, json!({"title": "Tiles", "project_id": project, "fields": good})).await;
    for task in [made.clone(), read_task(&app, &cat, id(&made)).await] {
        assert_eq!(value_of(&task, room), "Kitchen", "{task}");
        assert_eq!(value_of(&task, estimate).as_f64(), Some(3.5), "{task}");
        assert_eq!(value_of(&task, deadline), "2026-05-01", "{task}");
        assert_eq!(value_of(&task, colour), "green", "{task}");
        assert_eq!(value_of(&task, reviewer).as_i64(), Some(cat.id), "{task}");
    }
    let plain = task(&app, &bob, json!({"title": "Plain", "project_id": project})).await;
    assert!(no_values(&plain), "{plain}");
    let personal = task(&app, &ann, json!({"title": "My own"})).await;
    assert_eq!(personal["fields"], json!({}), "{personal}");
    let long = values(&[(room, json!("x".repeat(1000)))]);
    task(&app, &bob, json!({"title": "Long room", "project_id": project, "fields": long})).await;

    let post = |fields: Value| {
        send_as(
            &app,
            &bob,
            Method::POST,
            "/tasks",
            Some(json!({"title": "Bad", "project_id": project, "fields": fields})),
        )
    };
    let shed = new_project(&app, &dan, "Shed").await;
    let sheds = new_field(&app, &dan, shed, json!({"name": "Room", "type": "text"})).await;
    for (field, bad) in [
        (estimate, json!("3")),
        (estimate, json!(true)),
        (deadline, json!("2026-13-01")),
        (deadline, json!("01/05/2026")),
        (deadline, json!("2026-05-01T10:00:00Z")),
        (colour, json!("purple")),
        (colour, json!(["red"])),
        (reviewer, json!(dan.id)),
        (reviewer, json!(dan.id + 1000)),
        (reviewer, json!("cat")),
        (room, json!("x".repeat(1001))),
        (room, json!(5)),
        (reviewer + 1000, json!("no such field")),
        (sheds, json!("another project's field")),
    ] {
        assert_eq!(refused(post(values(&[(field, bad.clone())])).await, 422).await, [named(field)], "{field}: {bad}");
    }

    // Every bad value is named at once.
    let bad = values(&[(estimate, json!("3")), (deadline, json!("soon")), (colour, json!("purple"))]);
    let mut expected = vec![named(estimate), named(deadline), named(colour)];
    expected.sort();
    assert_eq!(refused(post(bad).await, 422).await, expected);
    let listed =
        expect(send_as(&app, &ann, Method::GET, &format!("/tasks?project_id={project}"), None).await, 200).await;
    assert_eq!(listed["pagination"]["total"], 3, "no refused task was made: {listed}");
}

async fn a_required_field_is_needed_on_create(app: TestApp) {
    let Team { ann, bob, project, .. } = team(&app).await;
    let room = new_field(&app, &ann, project, json!({"name": "Room", "type": "text"})).await;
    let estimate = json!({"name": "Estimate", "type": "number", "required": true});
    let estimate = expect(post_field(&app, &ann, project, estimate).await, 201).await;
    assert_eq!(estimate["required"], true);
    let estimate = id(&estimate);

    let post = |body: Value| send_as(&app, &bob, Method::POST, "/tasks", Some(body));
    for body in [
        json!({"title": "No fields", "project_id": project}),
        json!({"title": "Empty fields", "project_id": project, "fields": {}}),
        json!({"title": "Null", "project_id": project, "fields": values(&[(estimate, Value::Null)])}),
        json!({"title": "Another", "project_id": project, "fields": values(&[(room, json!("Hall"))])}),
    ] {
        assert_eq!(refused(post(body.clone()).await, 422).await, [named(estimate)], "{body}");
    }

    let made = valued(&app, &bob, project, "Given", values(&[(estimate, json!(2))])).await;
    let renamed = patch(&app, &bob, made, json!({"title": "Renamed"})).await;
    assert_eq!(value_of(&renamed, estimate).as_f64(), Some(2.0), "a change leaving it out keeps it: {renamed}");
    let personal = task(&app, &bob, json!({"title": "Personal"})).await;
    assert_eq!(personal["fields"], json!({}), "the project's fields are not a personal task's");
}

async fn a_patch_changes_only_the_values_it_names(app: TestApp) {
    let Team { ann, bob, cat, project, .. } = team(&app).await;
    let room = new_field(&app, &ann, project, json!({"name": "Room", "type": "text"})).await;
    let estimate = new_field(&app, &ann, project, json!({"name": "Estimate", "type": "number"})).await;
    let made = valued(&app, &bob, project, "Tiles", values(&[(room, json!("Kitchen")), (estimate, json!(2))])).await;

    let changed = patch(&app, &bob, made, json!({"fields": values(&[(estimate, json!(5))])})).await;
    assert_eq!(value_of(&changed, room), "Kitchen", "{changed}");
    assert_eq!(value_of(&changed, estimate).as_f64(), Some(5.0), "{changed}");
    let cleared = patch(&app, &bob, made, json!({"fields": values(&[(room, Value::Null)])})).await;
    assert_eq!(value_of(&cleared, room), &Value::Null, "null removes the value: {cleared}");
    assert_eq!(value_of(&cleared, estimate).as_f64(), Some(5.0), "{cleared}");
    let set = patch(&app, &bob, made, json!({"fields": values(&[(room, json!("Hall"))])})).await;
    assert_eq!(value_of(&set, room), "Hall", "{set}");
    let renamed = patch(&app, &bob, made, json!({"title": "Wall tiles"})).await;
    assert_eq!(renamed["fields"], set["fields"], "a change without `fields` keeps them");

    let path = format!("/tasks/{made}");
    let bad = json!({"fields": values(&[(estimate, json!("lots")), (room, json!("Attic"))])});
    assert_eq!(refused(send_as(&app, &bob, Method::PATCH, &path, Some(bad)).await, 422).await, [named(estimate)]);
    let unknown = json!({"fields": values(&[(estimate + 1000, json!(1))])});
    assert_eq!(
        refused(send_as(&app, &bob, Method::PATCH, &path, Some(unknown)).await, 422).await,
        [named(estimate + 1000)]
    );
    let by_viewer = json!({"fields": values(&[(estimate, json!(1))])});
    refused(send_as(&app, &cat, Method::PATCH, &path, Some(by_viewer)).await, 403).await;
    let now = read_task(&app, &cat, made).await;
    assert_eq!(now["fields"], set["fields"], "nothing refused was kept: {now}");
}

async fn lists_filter_by_a_value_or_a_range(app: TestApp) {
    let Team { ann, cat, dan, project, .. } = team(&app).await;
    let room = new_field(&app, &ann, project, json!({"name": "Room", "type": "text"})).await;
    let estimate = new_field(&app, &ann, project, json!({"name": "Estimate", "type": "number"})).await;
    let deadline = new_field(&app, &ann, project, json!({"name": "Deadline", "type": "date"})).await;
    let colour = json!({"name": "Colour", "type": "select", "options": ["red", "green", "blue"]});
    let colour = new_field(&app, &ann, project, colour).await;
    let row = |e: i64, d: &str, c: &str, r: &str| {
        values(&[(estimate, json!(e)), (deadline, json!(d)), (colour, json!(c)), (room, json!(r))])
    };
    let a = valued(&app, &ann, project, "A", row(1, "2026-01-10", "red", "Kitchen")).await;
    let b = valued(&app, &ann, project, "B", row(3, "2026-02-10", "green", "Kitchen sink")).await;
    let c = valued(&app, &ann, project, "C", row(5, "2026-03-10", "red", "Hall")).await;
    let none = valued(&app, &ann, project, "No values", json!({})).await;
    assert_eq!(filtered(&app, &cat, project, "").await, sorted(vec![a, b, c, none]));

    let (e, d, k, r) = (estimate, deadline, colour, room);
    for (filter, expected) in [
        (format!("field.{e}=3"), vec![b]),
        (format!("field.{e}>=3"), vec![b, c]),
        (format!("field.{e}<=3"), vec![a, b]),
        (format!("field.{e}>=2&field.{e}<=4"), vec![b]),
        (format!("field.{e}>=6"), vec![]),
        (format!("field.{d}=2026-03-10"), vec![c]),
        (format!("field.{d}>=2026-02-10"), vec![b, c]),
        (format!("field.{d}<=2026-02-09"), vec![a]),
        (format!("field.{k}=red"), vec![a, c]),
        (format!("field.{k}=blue"), vec![]),
        (format!("field.{r}=Kitchen"), vec![a]),
        (format!("field.{r}=Kitc"), vec![]),
        (format!("field.{k}=red&field.{e}>=3"), vec![c]),
        (format!("field.{k}=red&status=pending&field.{d}<=2026-01-31"), vec![a]),
    ] {
        assert_eq!(filtered(&app, &cat, project, &filter).await, sorted(expected), "{filter}");
    }

    // A filtered page still shows each task's values, and only to members.
    let path = format!("/tasks?project_id={project}&field.{k}=green");
    let page = expect(send_as(&app, &cat, Method::GET, &path, None).await, 200).await;
    assert_eq!(value_of(&page["data"][0], colour), "green", "{page}");
    assert_eq!(value_of(&page["data"][0], estimate).as_f64(), Some(3.0), "{page}");
    assert_eq!(filtered(&app, &dan, project, &format!("field.{k}=red")).await, Vec::<i64>::new());
}

async fn malformed_filter_values_are_bad_requests(app: TestApp) {
    let Team { ann, project, .. } = team(&app).await;
    let estimate = new_field(&app, &ann, project, json!({"name": "Estimate", "type": "number"})).await;
    let deadline = new_field(&app, &ann, project, json!({"name": "Deadline", "type": "date"})).await;
    valued(&app, &ann, project, "A", values(&[(estimate, json!(1)), (deadline, json!("2026-01-10"))])).await;
    for filter in [
        format!("field.{estimate}=abc"),
        format!("field.{estimate}>=many"),
        format!("field.{estimate}<=1x"),
        format!("field.{deadline}=2026-99-01"),
        format!("field.{deadline}>=tomorrow"),
        format!("field.{deadline}<=10/01/2026"),
    ] {
        let path = format!("/tasks?project_id={project}&{filter}");
        refused(send_as(&app, &ann, Method::GET, &path, None).await, 400).await;
    }
}

async fn search_finds_tasks_by_a_field_value(app: TestApp) {
    let Team { ann, cat, dan, project, .. } = team(&app).await;
    let room = new_field(&app, &ann, project, json!({"name": "Room", "type": "text"})).await;
    let estimate = new_field(&app, &ann, project, json!({"name": "Estimate", "type": "number"})).await;
    valued(&app, &ann, project, "Paint the walls", values(&[(room, json!("Kitchen")), (estimate, json!(3))])).await;
    valued(&app, &ann, project, "Paint the door", values(&[(room, json!("Hall")), (estimate, json!(5))])).await;
    valued(&app, &ann, project, "Kitchen cupboards", json!({})).await;
    // Dan's project has a field of the same name: his own tasks are his to find.
    let shed = new_project(&app, &dan, "Shed").await;
    let sheds = new_field(&app, &dan, shed, json!({"name": "Room", "type": "text"})).await;
    valued(&app, &dan, shed, "Shed shelves", values(&[(sheds, json!("Kitchen"))])).await;

    let walls = vec!["Paint the walls".to_owned()];
    let door = vec!["Paint the door".to_owned()];
    assert_eq!(search(&app, &ann, "field:Room=Kitchen").await, (walls.clone(), 1));
    assert_eq!(search(&app, &cat, "field:Room=Kitchen").await, (walls.clone(), 1), "any member finds them");
    assert_eq!(search(&app, &ann, "field:Room=Hall").await, (door.clone(), 1));
    assert_eq!(search(&app, &ann, "field:Estimate=5").await, (door.clone(), 1));
    assert_eq!(search(&app, &ann, "paint field:Room=Hall").await, (door, 1));
    assert_eq!(search(&app, &ann, "cupboards field:Room=Kitchen").await, (vec![], 0));
    assert_eq!(search(&app, &ann, "field:Room=Attic").await, (vec![], 0));
    assert_eq!(search(&app, &dan, "field:Room=Kitchen").await, (vec!["Shed shelves".to_owned()], 1));
}

async fn a_deleted_field_leaves_the_tasks(app: TestApp) {
    let Team { ann, bob, project, .. } = team(&app).await;
    let room = new_field(&app, &ann, project, json!({"name": "Room", "type": "text"})).await;
    let estimate = new_field(&app, &ann, project, json!({"name": "Estimate", "type": "number"})).await;
    let made = valued(&app, &bob, project, "Tiles", values(&[(room, json!("Kitchen")), (estimate, json!(2))])).await;

    expect(send_as(&app, &ann, Method::DELETE, &format!("/projects/{project}/fields/{room}"), None).await, 204).await;
    let now = read_task(&app, &bob, made).await;
    assert_eq!(value_of(&now, room), &Value::Null, "{now}");
    assert_eq!(value_of(&now, estimate).as_f64(), Some(2.0), "{now}");
    let body = json!({"title": "Later", "project_id": project, "fields": values(&[(room, json!("Hall"))])});
    assert_eq!(refused(send_as(&app, &bob, Method::POST, "/tasks", Some(body)).await, 422).await, [named(room)]);
    let again = new_field(&app, &ann, project, json!({"name": "Room", "type": "text"})).await;
    assert_ne!(again, room, "the name is free again");
}

async fn a_filtered_list_pages_in_creation_order(app: TestApp) {
    let Team { ann, cat, project, .. } = team(&app).await;
    let room =
        new_field(&app, &ann, project, json!({"name": "Room", "type": "select", "options": ["Kitchen", "Hall"]})).await;
    let points = new_field(&app, &ann, project, json!({"name": "Points", "type": "number"})).await;
    let mut kitchen = Vec::new();
    let mut many = Vec::new();
    for n in 0..11 {
        let place = if n % 3 == 0 { "Hall" } else { "Kitchen" };
        let made =
            valued(&app, &ann, project, &format!("T{n}"), values(&[(room, json!(place)), (points, json!(n))])).await;
        if place == "Kitchen" {
            kitchen.push(made);
        }
        if n >= 4 {
            many.push(made);
        }
    }
    // Newest first by default, oldest first with `sort=created_at`; every page of 3, the last one
    // short, and one past the end empty with the same total.
    for (filter, mut expected) in [(format!("field.{room}=Kitchen"), kitchen), (format!("field.{points}>=4"), many)] {
        for sort in ["-created_at", "created_at"] {
            if sort == "-created_at" {
                expected.reverse();
            }
            let mut read = Vec::new();
            for page in 1..=4 {
                let path = format!("/tasks?project_id={project}&{filter}&sort={sort}&per_page=3&page={page}");
                let body = expect(send_as(&app, &cat, Method::GET, &path, None).await, 200).await;
                assert_eq!(body["pagination"]["total"].as_u64(), Some(expected.len() as u64), "{path}: {body}");
                read.extend(ids(&body["data"]));
            }
            assert_eq!(read, expected, "{filter}, {sort}");
            if sort == "-created_at" {
                expected.reverse();
            }
        }
    }
}

async fn a_task_leaving_its_project_leaves_its_values(app: TestApp) {
    let Team { ann, project, .. } = team(&app).await;
    let room = new_field(&app, &ann, project, json!({"name": "Room", "type": "text"})).await;
    let made = valued(&app, &ann, project, "Tiles", values(&[(room, json!("Kitchen"))])).await;
    assert_eq!(filtered(&app, &ann, project, &format!("field.{room}=Kitchen")).await, vec![made]);

    let path = format!("/tasks/{made}");
    let personal =
        expect(send_as(&app, &ann, Method::PATCH, &path, Some(json!({"project_id": null}))).await, 200).await;
    assert!(no_values(&personal), "{personal}");
    assert_eq!(filtered(&app, &ann, project, &format!("field.{room}=Kitchen")).await, Vec::<i64>::new());
    let back = expect(send_as(&app, &ann, Method::PATCH, &path, Some(json!({"project_id": project}))).await, 200).await;
    assert!(no_values(&back), "nothing came back with it: {back}");
    assert_eq!(filtered(&app, &ann, project, &format!("field.{room}=Kitchen")).await, Vec::<i64>::new());
}
