//! Chat rooms over REST: creation by slug, who sees and reads which room, members added by the
//! creator or a moderator, and the history routes' parameters. Messages themselves are sent over
//! the socket (see `realtime.rs`).

use reqwest::StatusCode;
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp, engines, error_fields, expect_problem};

engines!(
    a_room_is_created_by_slug_and_listed,
    a_name_that_is_not_a_slug_is_refused_naming_it,
    a_taken_name_is_a_conflict,
    only_the_creator_or_a_moderator_adds_members,
    a_private_room_is_seen_and_read_by_its_members_only,
    history_parameters_are_checked,
);

pub async fn create_room(app: &TestApp, who: &Account, body: Value) -> reqwest::Response {
    app.post("/api/v1/chat/rooms").bearer_auth(&who.access_token).json(&body).send().await.expect("request")
}

async fn rooms(app: &TestApp, who: &Account) -> Vec<String> {
    let res = app.get("/api/v1/chat/rooms").bearer_auth(&who.access_token).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("JSON");
    body["data"].as_array().expect("data").iter().map(|r| r["name"].as_str().expect("name").to_owned()).collect()
}

async fn add_member(app: &TestApp, who: &Account, room: &str, user: Value) -> reqwest::Response {
    app.post(&format!("/api/v1/chat/rooms/{room}/members"))
        .bearer_auth(&who.access_token)
        .json(&json!({"user_id": user}))
        .send()
        .await
        .expect("request")
}

async fn history(app: &TestApp, who: &Account, path: &str) -> reqwest::Response {
    app.get(path).bearer_auth(&who.access_token).send().await.expect("request")
}

async fn a_room_is_created_by_slug_and_listed(app: TestApp) {
    let ann = app.signup("ann").await;
    let res = create_room(&app, &ann, json!({"name": "general", "description": "Anything goes"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let room: Value = res.json().await.expect("JSON");
    assert_eq!(room["name"], "general");
    assert_eq!(room["description"], "Anything goes");
    assert_eq!(room["is_private"], false);
    assert_eq!(room["created_by"], ann.id);
    assert!(room["id"].as_i64().is_some() && room["created_at"].is_string(), "{room}");
    assert_eq!(rooms(&app, &ann).await, ["general"]);
    assert_eq!(rooms(&app, &app.signup("bob").await).await, ["general"], "a public room is listed to everyone");
    let res = app.get("/api/v1/chat/rooms").send().await.expect("request");
    expect_problem(res, 401).await;
}

async fn a_name_that_is_not_a_slug_is_refused_naming_it(app: TestApp) {
    let ann = app.signup("ann").await;
    for bad in [json!("Not A Slug"), json!(""), json!("x".repeat(65)), json!(42), Value::Null] {
        let problem = expect_problem(create_room(&app, &ann, json!({"name": bad})).await, 422).await;
        assert_eq!(error_fields(&problem), ["name"], "{bad}: {problem}");
    }
    let problem =
        expect_problem(create_room(&app, &ann, json!({"description": 7, "is_private": "yes"})).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["description", "is_private", "name"], "every failing field at once");
    assert!(rooms(&app, &ann).await.is_empty());
}

async fn a_taken_name_is_a_conflict(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    assert_eq!(create_room(&app, &ann, json!({"name": "ops"})).await.status(), StatusCode::CREATED);
    expect_problem(create_room(&app, &bob, json!({"name": "ops", "is_private": true})).await, 409).await;
}

async fn only_the_creator_or_a_moderator_adds_members(app: TestApp) {
    let (ann, bob, cyd) = (app.signup("ann").await, app.signup("bob").await, app.signup("cyd").await);
    let moderator = app.signup_with_role("mod", "moderator").await;
    assert_eq!(create_room(&app, &ann, json!({"name": "ops"})).await.status(), StatusCode::CREATED);

    expect_problem(add_member(&app, &bob, "ops", json!(cyd.id)).await, 403).await;
    let res = add_member(&app, &ann, "ops", json!(bob.id)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.expect("JSON"), json!({"room": "ops", "user_id": bob.id}));
    expect_problem(add_member(&app, &bob, "ops", json!(cyd.id)).await, 403).await;
    assert_eq!(add_member(&app, &moderator, "ops", json!(cyd.id)).await.status(), StatusCode::CREATED);
    assert_eq!(add_member(&app, &ann, "ops", json!(cyd.id)).await.status(), StatusCode::CREATED, "twice is fine");

    let problem = expect_problem(add_member(&app, &ann, "ops", json!(99_999)).await, 422).await;
    assert_eq!(error_fields(&problem), ["user_id"]);
    let problem = expect_problem(add_member(&app, &ann, "ops", json!("bob")).await, 422).await;
    assert_eq!(error_fields(&problem), ["user_id"]);
    expect_problem(add_member(&app, &ann, "nowhere", json!(bob.id)).await, 404).await;
}

async fn a_private_room_is_seen_and_read_by_its_members_only(app: TestApp) {
    let (ann, bob, cyd) = (app.signup("ann").await, app.signup("bob").await, app.signup("cyd").await);
    let admin = app.signup_with_role("root", "admin").await;
    let res = create_room(&app, &ann, json!({"name": "secret", "is_private": true})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(add_member(&app, &ann, "secret", json!(bob.id)).await.status(), StatusCode::CREATED);

    for member in [&ann, &bob, &admin] {
        assert_eq!(rooms(&app, member).await, ["secret"]);
        let res = history(&app, member, "/api/v1/chat/rooms/secret/messages").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.json::<Value>().await.expect("JSON"), json!({"data": []}));
    }
    assert!(rooms(&app, &cyd).await.is_empty());
    expect_problem(history(&app, &cyd, "/api/v1/chat/rooms/secret/messages").await, 404).await;
    expect_problem(add_member(&app, &cyd, "secret", json!(cyd.id)).await, 404).await;
}

async fn history_parameters_are_checked(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    assert_eq!(create_room(&app, &ann, json!({"name": "ops"})).await.status(), StatusCode::CREATED);
    for query in ["limit=0", "limit=-3", "before=0", "after=-1"] {
        let path = format!("/api/v1/chat/rooms/ops/messages?{query}");
        expect_problem(history(&app, &ann, &path).await, 422).await;
        let path = format!("/api/v1/chat/dm/{}?{query}", bob.id);
        expect_problem(history(&app, &ann, &path).await, 422).await;
    }
    expect_problem(history(&app, &ann, "/api/v1/chat/rooms/ops/messages?limit=abc").await, 400).await;
    // Over the maximum is read as the maximum, as `per_page` is on every list.
    let res = history(&app, &ann, "/api/v1/chat/rooms/ops/messages?limit=500").await;
    assert_eq!(res.status(), StatusCode::OK);
    expect_problem(history(&app, &ann, "/api/v1/chat/dm/abc").await, 400).await;
    expect_problem(history(&app, &ann, "/api/v1/chat/dm/99999").await, 404).await;
    expect_problem(history(&app, &ann, "/api/v1/chat/rooms/Not%20A%20Slug/messages").await, 404).await;
    let res = history(&app, &ann, &format!("/api/v1/chat/dm/{}?limit=100", bob.id)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.expect("JSON"), json!({"data": []}));
}
