//! Project tasks as a team meets them, on both engines: every member sees them (in the task,
//! its list, the statistics, search and comments), editors and admins change them, viewers read
//! and comment, the assignee must be a member, a task moves only between projects where its
//! mover edits (and out of its project only by its owner while a member, or an admin), and a
//! member removed loses all of it at their next request, their assignments with it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_e2e::{Account, Backend, TestApp, engines, error_fields, expect_json, expect_problem, send_as};

async fn project(app: &TestApp, who: &Account, name: &str) -> i64 {
    let created = expect_json(
        send_as(app, who, Method::POST, "/projects", Some(json!({"name": name}))).await,
        StatusCode::CREATED,
    )
    .await;
    created["id"].as_i64().unwrap()
}

async fn add(app: &TestApp, admin: &Account, project: i64, who: &Account, role: &str) {
    let path = format!("/projects/{project}/members");
    expect_json(
        send_as(app, admin, Method::POST, &path, Some(json!({"user_id": who.id, "role": role}))).await,
        StatusCode::CREATED,
    )
    .await;
}

async fn task(app: &TestApp, who: &Account, body: Value) -> Value {
    expect_json(send_as(app, who, Method::POST, "/tasks", Some(body)).await, StatusCode::CREATED).await
}

/// The total of a list and the ids on its first page.
async fn listed(app: &TestApp, who: &Account, path: &str) -> (i64, Vec<i64>) {
    let page = expect_json(send_as(app, who, Method::GET, path, None).await, StatusCode::OK).await;
    let ids = page["data"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect();
    (page["pagination"]["total"].as_i64().unwrap(), ids)
}

engines!(
    members_see_project_tasks_and_their_roles_decide_the_rest,
    a_removed_member_loses_the_projects_tasks_at_their_next_request,
    tasks_move_between_projects_where_the_mover_edits,
    a_task_leaves_its_project_only_by_its_owner_while_a_member_or_an_admin,
    a_personal_task_moves_into_a_project_by_its_owner_where_they_edit,
);

async fn members_see_project_tasks_and_their_roles_decide_the_rest(app: TestApp) {
    let (ann, bob, cat, dan) =
        (app.signup("ann").await, app.signup("bob").await, app.signup("cat").await, app.signup("dan").await);
    let moderator = app.signup_with_role("mod", "moderator").await;
    let kitchen = project(&app, &ann, "Kitchen").await;
    add(&app, &ann, kitchen, &bob, "editor").await;
    add(&app, &ann, kitchen, &cat, "viewer").await;

    // Creating: editors and admins; a viewer is refused, a stranger told the project is not theirs.
    let tiles = task(&app, &ann, json!({"title": "Choose the tiles", "project_id": kitchen})).await;
    assert_eq!((tiles["project_id"].as_i64(), tiles["owner_id"].as_i64()), (Some(kitchen), Some(ann.id)));
    let body = json!({"title": "Paint", "project_id": kitchen});
    expect_problem(send_as(&app, &cat, Method::POST, "/tasks", Some(body.clone())).await, 403).await;
    let refused = expect_problem(send_as(&app, &dan, Method::POST, "/tasks", Some(body.clone())).await, 422).await;
    assert_eq!(error_fields(&refused), ["project_id"]);
    let unknown = json!({"title": "Paint", "project_id": kitchen + 1000});
    let refused = expect_problem(send_as(&app, &ann, Method::POST, "/tasks", Some(unknown)).await, 422).await;
    assert_eq!(error_fields(&refused), ["project_id"]);
    // The assignee must be a member.
    let outsider = json!({"title": "Taps", "project_id": kitchen, "assignee_id": dan.id});
    let refused = expect_problem(send_as(&app, &bob, Method::POST, "/tasks", Some(outsider)).await, 422).await;
    assert_eq!(error_fields(&refused), ["assignee_id"]);
    let taps =
        task(&app, &bob, json!({"title": "Book the plumber", "project_id": kitchen, "assignee_id": cat.id})).await;
    let personal = task(&app, &dan, json!({"title": "Dan's own"})).await;
    assert_eq!(personal["project_id"], Value::Null);

    // Reading: every member and platform staff; nobody else, whether by id, list, stats or search.
    let tiles_path = format!("/tasks/{}", tiles["id"]);
    for reader in [&ann, &bob, &cat, &moderator] {
        expect_json(send_as(&app, reader, Method::GET, &tiles_path, None).await, StatusCode::OK).await;
    }
    expect_problem(send_as(&app, &dan, Method::GET, &tiles_path, None).await, 404).await;
    let in_kitchen = format!("/tasks?project_id={kitchen}");
    let (total, ids) = listed(&app, &cat, &in_kitchen).await;
    assert_eq!((total, ids), (2, vec![taps["id"].as_i64().unwrap(), tiles["id"].as_i64().unwrap()]));
    assert_eq!(listed(&app, &dan, &in_kitchen).await.0, 0, "a stranger's filter finds nothing");
    assert_eq!(listed(&app, &moderator, &in_kitchen).await.0, 2);
    assert_eq!(listed(&app, &cat, "/tasks").await.0, 2, "a member's own list holds the project's tasks");
    assert_eq!(listed(&app, &cat, "/tasks?status=pending").await.0, 2);
    assert_eq!(listed(&app, &dan, "/tasks").await, (1, vec![personal["id"].as_i64().unwrap()]));
    let stats = expect_json(send_as(&app, &cat, Method::GET, "/tasks/stats", None).await, StatusCode::OK).await;
    assert_eq!(stats["total"], 2);
    let stats_path = format!("/projects/{kitchen}/stats");
    let stats = expect_json(send_as(&app, &cat, Method::GET, &stats_path, None).await, StatusCode::OK).await;
    assert_eq!((stats["total"].as_i64(), stats["by_status"]["pending"].as_i64()), (Some(2), Some(2)));
    expect_problem(send_as(&app, &dan, Method::GET, &stats_path, None).await, 404).await;
    let found =
        expect_json(send_as(&app, &cat, Method::GET, "/search?q=plumber&type=tasks", None).await, StatusCode::OK).await;
    assert_eq!(found["tasks"].as_array().unwrap().len(), 1, "{found}");
    let found =
        expect_json(send_as(&app, &dan, Method::GET, "/search?q=plumber&type=tasks", None).await, StatusCode::OK).await;
    assert_eq!(found["tasks"].as_array().unwrap().len(), 0, "{found}");

    // Changing: editors and admins; a viewer reads and comments; the creator has only their role.
    let rename = json!({"title": "Choose the wall tiles"});
    expect_problem(send_as(&app, &cat, Method::PATCH, &tiles_path, Some(rename.clone())).await, 403).await;
    expect_problem(send_as(&app, &dan, Method::PATCH, &tiles_path, Some(rename.clone())).await, 404).await;
    let renamed =
        expect_json(send_as(&app, &bob, Method::PATCH, &tiles_path, Some(rename)).await, StatusCode::OK).await;
    assert_eq!(renamed["title"], "Choose the wall tiles");
    let comment = json!({"body": "The grey ones, please."});
    let comments = format!("{tiles_path}/comments");
    expect_json(send_as(&app, &cat, Method::POST, &comments, Some(comment)).await, StatusCode::CREATED).await;
    assert_eq!(
        expect_json(send_as(&app, &bob, Method::GET, &comments, None).await, StatusCode::OK).await["pagination"]["total"],
        1
    );
    let reassign = json!({"assignee_id": dan.id});
    let refused = expect_problem(send_as(&app, &bob, Method::PATCH, &tiles_path, Some(reassign)).await, 422).await;
    assert_eq!(error_fields(&refused), ["assignee_id"]);
    expect_problem(send_as(&app, &cat, Method::DELETE, &tiles_path, None).await, 403).await;

    // The creator demoted to viewer keeps only a viewer's rights over what they created.
    let demote = json!({"role": "viewer"});
    add(&app, &ann, kitchen, &dan, "admin").await;
    let ann_path = format!("/projects/{kitchen}/members/{}", ann.id);
    expect_json(send_as(&app, &dan, Method::PATCH, &ann_path, Some(demote)).await, StatusCode::OK).await;
    expect_problem(send_as(&app, &ann, Method::DELETE, &tiles_path, None).await, 403).await;
    let gone = send_as(&app, &bob, Method::DELETE, &tiles_path, None).await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    assert_eq!(listed(&app, &cat, &in_kitchen).await.0, 1);

    // Deleting the project takes its tasks with it.
    let res = send_as(&app, &dan, Method::DELETE, &format!("/projects/{kitchen}"), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let taps_path = format!("/tasks/{}", taps["id"]);
    expect_problem(send_as(&app, &moderator, Method::GET, &taps_path, None).await, 404).await;
    assert_eq!(listed(&app, &cat, "/tasks").await.0, 0);
}

async fn a_removed_member_loses_the_projects_tasks_at_their_next_request(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let kitchen = project(&app, &ann, "Kitchen").await;
    add(&app, &ann, kitchen, &bob, "editor").await;
    let assigned = task(&app, &ann, json!({"title": "Taps", "project_id": kitchen, "assignee_id": bob.id})).await;
    let path = format!("/tasks/{}", assigned["id"]);
    // Bob reads it, so that it is cached for him.
    for _ in 0..2 {
        expect_json(send_as(&app, &bob, Method::GET, &path, None).await, StatusCode::OK).await;
        assert_eq!(listed(&app, &bob, "/tasks").await.0, 1);
    }

    let res = send_as(&app, &ann, Method::DELETE, &format!("/projects/{kitchen}/members/{}", bob.id), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    expect_problem(send_as(&app, &bob, Method::GET, &path, None).await, 404).await;
    assert_eq!(listed(&app, &bob, "/tasks").await.0, 0);
    assert_eq!(listed(&app, &bob, &format!("/tasks?project_id={kitchen}")).await.0, 0);
    let after = expect_json(send_as(&app, &ann, Method::GET, &path, None).await, StatusCode::OK).await;
    assert_eq!(after["assignee_id"], Value::Null, "a removed member is unassigned");
    assert_eq!(after["version"].as_i64(), Some(assigned["version"].as_i64().unwrap() + 1));
}

async fn tasks_move_between_projects_where_the_mover_edits(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let (kitchen, garden, attic) =
        (project(&app, &ann, "Kitchen").await, project(&app, &ann, "Garden").await, project(&app, &bob, "Attic").await);
    add(&app, &ann, kitchen, &bob, "editor").await;
    add(&app, &ann, garden, &bob, "viewer").await;
    let moved = task(&app, &bob, json!({"title": "Seeds", "project_id": kitchen, "assignee_id": bob.id})).await;
    let path = format!("/tasks/{}", moved["id"]);

    let refused = send_as(&app, &bob, Method::PATCH, &path, Some(json!({"project_id": garden}))).await;
    expect_problem(refused, 403).await;
    let ann_attic = send_as(&app, &ann, Method::PATCH, &path, Some(json!({"project_id": attic}))).await;
    assert_eq!(error_fields(&expect_problem(ann_attic, 422).await), ["project_id"]);
    // Ann edits in both, but Bob, the assignee, is only a viewer of the garden: still a member.
    let to_garden = expect_json(
        send_as(&app, &ann, Method::PATCH, &path, Some(json!({"project_id": garden}))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(to_garden["project_id"].as_i64(), Some(garden));
    assert_eq!(listed(&app, &bob, &format!("/tasks?project_id={garden}")).await.0, 1);
    assert_eq!(listed(&app, &bob, &format!("/tasks?project_id={kitchen}")).await.0, 0);
    // Made personal again: its owner's (Bob's) and no longer the garden's.
    let personal =
        expect_json(send_as(&app, &ann, Method::PATCH, &path, Some(json!({"project_id": null}))).await, StatusCode::OK)
            .await;
    assert_eq!(personal["project_id"], Value::Null);
    expect_problem(send_as(&app, &ann, Method::GET, &path, None).await, 404).await;
    assert_eq!(listed(&app, &bob, "/tasks").await.0, 1);
}

async fn a_task_leaves_its_project_only_by_its_owner_while_a_member_or_an_admin(app: TestApp) {
    let (ann, bob, cat, dan) =
        (app.signup("ann").await, app.signup("bob").await, app.signup("cat").await, app.signup("dan").await);
    let moderator = app.signup_with_role("mod", "moderator").await;
    let root = app.signup_with_role("root", "admin").await;
    let kitchen = project(&app, &ann, "Kitchen").await;
    add(&app, &ann, kitchen, &bob, "editor").await;
    add(&app, &ann, kitchen, &cat, "editor").await;
    let out = json!({"project_id": null});
    let bobs = task(&app, &bob, json!({"title": "Bob's shelves", "project_id": kitchen})).await;
    let bobs_path = format!("/tasks/{}", bobs["id"]);

    // Bob, its owner, is removed: an editor (or a moderator) handing it back would give a
    // non-member what the project took from him.
    let res = send_as(&app, &ann, Method::DELETE, &format!("/projects/{kitchen}/members/{}", bob.id), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    expect_problem(send_as(&app, &bob, Method::GET, &bobs_path, None).await, 404).await;
    for refused in [&cat, &moderator] {
        expect_problem(send_as(&app, refused, Method::PATCH, &bobs_path, Some(out.clone())).await, 403).await;
        expect_problem(send_as(&app, refused, Method::PUT, &bobs_path, Some(out.clone())).await, 403).await;
    }
    expect_problem(send_as(&app, &dan, Method::PATCH, &bobs_path, Some(out.clone())).await, 404).await;
    expect_problem(send_as(&app, &bob, Method::GET, &bobs_path, None).await, 404).await;
    assert_eq!(listed(&app, &bob, "/tasks").await.0, 0, "still nothing of the project's is his");
    let kept = expect_json(send_as(&app, &ann, Method::GET, &bobs_path, None).await, StatusCode::OK).await;
    assert_eq!(kept["project_id"].as_i64(), Some(kitchen));

    // Its owner, while a member (and an editor), takes their own out.
    let cats = task(&app, &cat, json!({"title": "Cat's lamp", "project_id": kitchen})).await;
    let cats_path = format!("/tasks/{}", cats["id"]);
    let mine =
        expect_json(send_as(&app, &cat, Method::PATCH, &cats_path, Some(out.clone())).await, StatusCode::OK).await;
    assert_eq!(mine["project_id"], Value::Null);
    expect_problem(send_as(&app, &ann, Method::GET, &cats_path, None).await, 404).await;

    // A project admin (or a platform admin, acting as one) takes out anyone's, deliberately.
    let anns = task(&app, &ann, json!({"title": "Ann's tiles", "project_id": kitchen})).await;
    let by_root = expect_json(
        send_as(&app, &root, Method::PATCH, &format!("/tasks/{}", anns["id"]), Some(out.clone())).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_root["project_id"], Value::Null);
    let handed = expect_json(send_as(&app, &ann, Method::PATCH, &bobs_path, Some(out)).await, StatusCode::OK).await;
    assert_eq!((handed["project_id"].clone(), handed["owner_id"].as_i64()), (Value::Null, Some(bob.id)));
    expect_json(send_as(&app, &bob, Method::GET, &bobs_path, None).await, StatusCode::OK).await;
}

async fn a_personal_task_moves_into_a_project_by_its_owner_where_they_edit(app: TestApp) {
    let (ann, bob, cat) = (app.signup("ann").await, app.signup("bob").await, app.signup("cat").await);
    let kitchen = project(&app, &ann, "Kitchen").await;
    let garden = project(&app, &ann, "Garden").await;
    add(&app, &ann, kitchen, &bob, "editor").await;
    add(&app, &ann, garden, &bob, "viewer").await;
    add(&app, &ann, kitchen, &cat, "editor").await;
    let personal = task(&app, &bob, json!({"title": "Bob's own", "assignee_id": cat.id})).await;
    let path = format!("/tasks/{}", personal["id"]);

    // Its assignee changes it, but it is not theirs to move, even where they edit.
    let into_kitchen = json!({"project_id": kitchen});
    expect_problem(send_as(&app, &cat, Method::PATCH, &path, Some(into_kitchen.clone())).await, 403).await;
    // Its owner: not where they only read, nor where they are no member.
    expect_problem(send_as(&app, &bob, Method::PATCH, &path, Some(json!({"project_id": garden}))).await, 403).await;
    let elsewhere = project(&app, &cat, "Attic").await;
    let refused =
        expect_problem(send_as(&app, &bob, Method::PATCH, &path, Some(json!({"project_id": elsewhere}))).await, 422)
            .await;
    assert_eq!(error_fields(&refused), ["project_id"]);
    let unchanged = expect_json(send_as(&app, &bob, Method::GET, &path, None).await, StatusCode::OK).await;
    assert_eq!(
        (unchanged["project_id"].clone(), unchanged["version"].clone()),
        (Value::Null, personal["version"].clone())
    );
    expect_problem(send_as(&app, &ann, Method::GET, &path, None).await, 404).await;

    // Where the owner edits (and the assignee is a member), it moves, and the project sees it.
    let moved = expect_json(send_as(&app, &bob, Method::PATCH, &path, Some(into_kitchen)).await, StatusCode::OK).await;
    assert_eq!(moved["project_id"].as_i64(), Some(kitchen));
    expect_json(send_as(&app, &ann, Method::GET, &path, None).await, StatusCode::OK).await;
}

/// Two instances on one database and Redis: a member removed through one instance loses the
/// project's tasks on the other at their next request, although the other had cached their lists.
async fn a_member_removed_on_one_instance_is_refused_on_the_other(backend: Backend) {
    let Some(apps) = TestApp::spawn_cluster(backend, 2).await else { return };
    let (one, two) = (&apps[0], &apps[1]);
    let (ann, bob) = (one.signup("ann").await, one.signup("bob").await);
    let kitchen = project(one, &ann, "Kitchen").await;
    add(one, &ann, kitchen, &bob, "viewer").await;
    let tiles = task(one, &ann, json!({"title": "Tiles", "project_id": kitchen})).await;
    let path = format!("/tasks/{}", tiles["id"]);
    let in_kitchen = format!("/tasks?project_id={kitchen}");
    for _ in 0..2 {
        expect_json(send_as(two, &bob, Method::GET, &path, None).await, StatusCode::OK).await;
        assert_eq!(listed(two, &bob, "/tasks").await.0, 1);
        assert_eq!(listed(two, &bob, &in_kitchen).await.0, 1);
    }

    let res = send_as(one, &ann, Method::DELETE, &format!("/projects/{kitchen}/members/{}", bob.id), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    expect_problem(send_as(two, &bob, Method::GET, &path, None).await, 404).await;
    assert_eq!(listed(two, &bob, "/tasks").await.0, 0, "the other instance's list forgot the project");
    assert_eq!(listed(two, &bob, &in_kitchen).await.0, 0);
    let stats = expect_json(send_as(two, &bob, Method::GET, "/tasks/stats", None).await, StatusCode::OK).await;
    assert_eq!(stats["total"], 0);
}

workbench_e2e::per_engine!(a_member_removed_on_one_instance_is_refused_on_the_other);
