//! Several instances on one database and one Redis behave as one: what one instance changes about
//! an account is honoured by every other instance at the caller's very next request, although
//! each keeps callers' principals in its own memory; and a task changed on one instance shows in
//! every instance's lists at once, although lists are served from the shared cache.

use reqwest::{Response, StatusCode};
use serde_json::json;
use workbench_e2e::{Account, Backend, TestApp};

async fn get(app: &TestApp, who: &Account, path: &str) -> Response {
    app.get(path).bearer_auth(&who.access_token).send().await.expect("request")
}

async fn administer(app: &TestApp, admin: &Account, id: i64, body: serde_json::Value) {
    let res = app
        .request(reqwest::Method::PATCH, &format!("/api/v1/admin/users/{id}"))
        .bearer_auth(&admin.access_token)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap_or_default());
}

async fn a_disabled_users_token_is_refused_on_every_instance_at_the_next_request(backend: Backend) {
    let Some(apps) = TestApp::spawn_cluster(backend, 2).await else { return };
    let (one, two) = (&apps[0], &apps[1]);
    let admin = one.signup_with_role("root", "admin").await;
    let ann = one.signup("ann").await;
    // Instance two now holds Ann's principal in memory.
    for _ in 0..3 {
        assert_eq!(get(two, &ann, "/api/v1/tasks").await.status(), StatusCode::OK);
    }

    administer(one, &admin, ann.id, json!({"status": "disabled"})).await;

    assert_eq!(
        get(two, &ann, "/api/v1/tasks").await.status(),
        StatusCode::UNAUTHORIZED,
        "refused on the other instance"
    );
    assert_eq!(get(one, &ann, "/api/v1/tasks").await.status(), StatusCode::UNAUTHORIZED, "and on this one");
}

async fn a_role_change_applies_on_every_instance_at_once(backend: Backend) {
    let Some(apps) = TestApp::spawn_cluster(backend, 2).await else { return };
    let (one, two) = (&apps[0], &apps[1]);
    let admin = one.signup_with_role("root", "admin").await;
    let (ann, bob) = (one.signup("ann").await, one.signup("bob").await);
    let task = one
        .post("/api/v1/tasks")
        .bearer_auth(&ann.access_token)
        .json(&json!({"title": "Ann's own"}))
        .send()
        .await
        .expect("request");
    assert_eq!(task.status(), StatusCode::CREATED);
    let id = task.json::<serde_json::Value>().await.expect("JSON")["id"].as_i64().expect("id");
    let path = format!("/api/v1/tasks/{id}");
    assert_eq!(get(two, &bob, &path).await.status(), StatusCode::NOT_FOUND, "an ordinary user does not see it");

    administer(one, &admin, bob.id, json!({"role": "moderator"})).await;

    assert_eq!(get(two, &bob, &path).await.status(), StatusCode::OK, "the moderator sees it at once");
}

/// The ids on a page of `GET path` and the total it reports.
async fn listed(app: &TestApp, who: &Account, path: &str) -> (Vec<i64>, i64) {
    let res = get(app, who, path).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.json::<serde_json::Value>().await.expect("JSON");
    let ids = page["data"].as_array().expect("data").iter().map(|t| t["id"].as_i64().expect("id")).collect();
    (ids, page["pagination"]["total"].as_i64().expect("total"))
}

/// The first task on a page of `GET path`.
async fn first_listed(app: &TestApp, who: &Account, path: &str) -> serde_json::Value {
    let res = get(app, who, path).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<serde_json::Value>().await.expect("JSON")["data"][0].clone()
}

async fn a_task_changed_on_one_instance_is_in_every_instances_lists_at_once(backend: Backend) {
    let Some(apps) = TestApp::spawn_cluster(backend, 2).await else { return };
    let (one, two) = (&apps[0], &apps[1]);
    let moderator = one.signup_with_role("mod", "moderator").await;
    let ann = one.signup("ann").await;
    // Instance two serves these pages, and so caches them.
    for _ in 0..2 {
        assert_eq!(listed(two, &ann, "/api/v1/tasks").await, (vec![], 0));
        assert_eq!(listed(two, &ann, "/api/v1/tasks?status=completed").await, (vec![], 0));
        assert_eq!(listed(two, &moderator, "/api/v1/tasks").await, (vec![], 0));
    }

    let created = one
        .post("/api/v1/tasks")
        .bearer_auth(&ann.access_token)
        .json(&json!({"title": "Written on one"}))
        .send()
        .await
        .expect("request");
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<serde_json::Value>().await.expect("JSON")["id"].as_i64().expect("id");
    assert_eq!(listed(two, &ann, "/api/v1/tasks").await, (vec![id], 1), "the owner's list on two");
    assert_eq!(listed(two, &moderator, "/api/v1/tasks").await, (vec![id], 1), "everyone's list on two");

    let path = format!("/api/v1/tasks/{id}");
    let done = one
        .request(reqwest::Method::PATCH, &path)
        .bearer_auth(&ann.access_token)
        .json(&json!({"status": "completed"}))
        .send()
        .await
        .expect("request");
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(listed(two, &ann, "/api/v1/tasks?status=completed").await, (vec![id], 1), "a filtered list on two");
    // The unfiltered page cached on two holds the same task in the same place, so it is kept;
    // what it shows of the task is the task as the change left it, on either instance.
    assert_eq!(first_listed(two, &ann, "/api/v1/tasks").await["status"], "completed");
    let renamed = one
        .request(reqwest::Method::PATCH, &path)
        .bearer_auth(&ann.access_token)
        .json(&json!({"title": "Renamed on one"}))
        .send()
        .await
        .expect("request");
    assert_eq!(renamed.status(), StatusCode::OK);
    for app in [one, two] {
        let first = first_listed(app, &ann, "/api/v1/tasks").await;
        assert_eq!((&first["title"], &first["version"]), (&json!("Renamed on one"), &json!(3)));
        let completed = first_listed(app, &moderator, "/api/v1/tasks?status=completed").await;
        assert_eq!(completed["title"], "Renamed on one");
    }

    let gone =
        one.request(reqwest::Method::DELETE, &path).bearer_auth(&ann.access_token).send().await.expect("request");
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    assert_eq!(listed(two, &ann, "/api/v1/tasks").await, (vec![], 0), "deleted on one, gone from two");
    assert_eq!(listed(two, &moderator, "/api/v1/tasks").await, (vec![], 0));
}

/// A password changed through one instance ends, on the other, every access token issued
/// before (the changer's own included) at its next request, and the sockets opened with them.
async fn a_password_change_ends_every_session_on_every_instance(backend: Backend) {
    let Some(apps) = TestApp::spawn_cluster(backend, 2).await else { return };
    let (one, two) = (&apps[0], &apps[1]);
    let ann = one.signup("ann").await;
    let elsewhere = two.login(&ann.email, &ann.password).await;
    for _ in 0..3 {
        assert_eq!(get(two, &elsewhere, "/api/v1/tasks").await.status(), StatusCode::OK);
    }
    let url = format!("{}/api/v1/ws?token={}", two.base.replacen("http://", "ws://", 1), elsewhere.access_token);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("the socket opens");

    let res = one
        .request(reqwest::Method::PUT, "/api/v1/users/me/password")
        .bearer_auth(&ann.access_token)
        .json(&json!({"current_password": ann.password, "new_password": "another good password"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    assert_eq!(get(two, &elsewhere, "/api/v1/tasks").await.status(), StatusCode::UNAUTHORIZED, "other instance");
    assert_eq!(get(one, &ann, "/api/v1/tasks").await.status(), StatusCode::UNAUTHORIZED, "the changer's own");
    let closed = loop {
        use futures_util::StreamExt;
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next()).await;
        match frame.expect("closed in time") {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(frame)))) => break u16::from(frame.code),
            Some(Ok(_)) => {}
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert_eq!(closed, 4001, "the socket on the other instance closes: sign in again");
    let fresh = two.login(&ann.email, "another good password").await;
    assert_eq!(get(one, &fresh, "/api/v1/tasks").await.status(), StatusCode::OK);
}

workbench_e2e::per_engine!(
    a_password_change_ends_every_session_on_every_instance,
    a_disabled_users_token_is_refused_on_every_instance_at_the_next_request,
    a_role_change_applies_on_every_instance_at_once,
    a_task_changed_on_one_instance_is_in_every_instances_lists_at_once
);
