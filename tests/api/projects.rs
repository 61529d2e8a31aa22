//! Projects as teams meet them: a project and its first admin, who sees it (members, platform
//! staff) and who changes it (its admins, platform admins), members added, re-roled and leaving
//! with the last admin kept, and invitations that admit as many people as they allow (and end
//! with the membership of whoever made them), on both engines.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp, engines, error_fields, expect_json, expect_problem, location, send_as};

async fn project(app: &TestApp, who: &Account, name: &str) -> Value {
    expect_json(send_as(app, who, Method::POST, "/projects", Some(json!({"name": name}))).await, StatusCode::CREATED)
        .await
}

async fn add(app: &TestApp, admin: &Account, project: &Value, who: &Account, role: &str) {
    let path = format!("/projects/{}/members", project["id"]);
    let member = expect_json(
        send_as(app, admin, Method::POST, &path, Some(json!({"user_id": who.id, "role": role}))).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!((member["user_id"].as_i64(), member["role"].as_str()), (Some(who.id), Some(role)));
    assert_eq!(member["username"], who.username.as_str());
}

engines!(
    a_project_is_seen_by_its_members_and_platform_staff_only,
    admins_manage_and_other_roles_are_refused,
    members_change_roles_and_leave_but_the_last_admin_stays,
    invitations_admit_as_many_as_they_allow,
    a_member_who_leaves_or_is_removed_loses_the_invitations_they_made,
);

async fn a_project_is_seen_by_its_members_and_platform_staff_only(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let moderator = app.signup_with_role("mod", "moderator").await;
    let res =
        send_as(&app, &ann, Method::POST, "/projects", Some(json!({"name": "  Kitchen  ", "description": "Tiles"})))
            .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (place, tag) = (location(&res), res.headers().get("etag").unwrap().to_str().unwrap().to_owned());
    let kitchen: Value = res.json().await.unwrap();
    assert_eq!(place, format!("/api/v1/projects/{}", kitchen["id"]));
    assert_eq!((kitchen["name"].as_str(), kitchen["my_role"].as_str()), (Some("Kitchen"), Some("admin")));
    assert_eq!((kitchen["owner_id"].as_i64(), kitchen["member_count"].as_i64()), (Some(ann.id), Some(1)));
    assert_eq!((kitchen["archived"].as_bool(), kitchen["version"].as_i64()), (Some(false), Some(1)));
    let path = format!("/projects/{}", kitchen["id"]);
    let cached =
        app.get(&format!("/api/v1{path}")).bearer_auth(&ann.access_token).header("If-None-Match", &tag).send().await;
    assert_eq!(cached.unwrap().status(), StatusCode::NOT_MODIFIED);

    expect_problem(send_as(&app, &bob, Method::GET, &path, None).await, 404).await;
    expect_problem(send_as(&app, &bob, Method::GET, &format!("{path}/members"), None).await, 404).await;
    let seen = expect_json(send_as(&app, &moderator, Method::GET, &path, None).await, StatusCode::OK).await;
    assert_eq!(seen["my_role"], Value::Null, "staff who are not members have no role");

    let garden = project(&app, &bob, "Garden").await;
    let mine = expect_json(send_as(&app, &ann, Method::GET, "/projects", None).await, StatusCode::OK).await;
    assert_eq!(mine["pagination"]["total"], 1);
    assert_eq!(mine["data"][0]["id"], kitchen["id"]);
    let all_ignored =
        expect_json(send_as(&app, &ann, Method::GET, "/projects?all=true", None).await, StatusCode::OK).await;
    assert_eq!(all_ignored["pagination"]["total"], 1, "`all` is ignored for a user");
    let all = expect_json(
        send_as(&app, &moderator, Method::GET, "/projects?all=true&per_page=1", None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!((all["pagination"]["total"].as_i64(), all["pagination"]["pages"].as_i64()), (Some(2), Some(2)));
    assert_eq!(all["data"][0]["id"], garden["id"], "newest created first");

    expect_json(send_as(&app, &ann, Method::PATCH, &path, Some(json!({"archived": true}))).await, StatusCode::OK).await;
    let active = expect_json(send_as(&app, &ann, Method::GET, "/projects", None).await, StatusCode::OK).await;
    assert_eq!(active["pagination"]["total"], 0, "archived projects leave the default list");
    let archived =
        expect_json(send_as(&app, &ann, Method::GET, "/projects?archived=true", None).await, StatusCode::OK).await;
    assert_eq!(archived["data"][0]["archived"], true);

    let problem = expect_problem(
        send_as(&app, &ann, Method::POST, "/projects", Some(json!({"name": " ", "description": "x".repeat(2001)})))
            .await,
        422,
    )
    .await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["description", "name"]);
    expect_problem(app.get("/api/v1/projects").send().await.unwrap(), 401).await;
}

async fn admins_manage_and_other_roles_are_refused(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let cid = app.signup("cid").await;
    let root = app.signup_with_role("root", "admin").await;
    let kitchen = project(&app, &ann, "Kitchen").await;
    let path = format!("/projects/{}", kitchen["id"]);
    add(&app, &ann, &kitchen, &bob, "editor").await;
    add(&app, &ann, &kitchen, &cid, "viewer").await;

    for who in [&bob, &cid] {
        expect_problem(send_as(&app, who, Method::PATCH, &path, Some(json!({"name": "Mine"}))).await, 403).await;
        expect_problem(send_as(&app, who, Method::DELETE, &path, None).await, 403).await;
        let member = json!({"user_id": root.id, "role": "viewer"});
        expect_problem(send_as(&app, who, Method::POST, &format!("{path}/members"), Some(member)).await, 403).await;
        expect_problem(send_as(&app, who, Method::GET, &format!("{path}/invites"), None).await, 403).await;
    }
    let members =
        expect_json(send_as(&app, &cid, Method::GET, &format!("{path}/members"), None).await, StatusCode::OK).await;
    assert_eq!(members["pagination"]["total"], 3, "any member reads the members");

    let stale = app
        .request(Method::PATCH, &format!("/api/v1{path}"))
        .bearer_auth(&ann.access_token)
        .header("If-Match", "\"7\"")
        .json(&json!({"name": "Stale"}))
        .send()
        .await
        .unwrap();
    expect_problem(stale, 412).await;
    let renamed = expect_json(
        send_as(&app, &ann, Method::PATCH, &path, Some(json!({"name": "Kitchen 2", "description": null}))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!((renamed["name"].as_str(), renamed["version"].as_i64()), (Some("Kitchen 2"), Some(2)));
    assert_eq!(renamed["member_count"], 3);

    let again = json!({"user_id": bob.id, "role": "viewer"});
    expect_problem(send_as(&app, &ann, Method::POST, &format!("{path}/members"), Some(again)).await, 409).await;
    let unknown = json!({"user_id": 999_999, "role": "boss"});
    let problem =
        expect_problem(send_as(&app, &ann, Method::POST, &format!("{path}/members"), Some(unknown)).await, 422).await;
    assert_eq!(error_fields(&problem), ["role"], "the role first: the user is looked up once the body is valid");
    let unknown = json!({"user_id": 999_999, "role": "viewer"});
    let problem =
        expect_problem(send_as(&app, &ann, Method::POST, &format!("{path}/members"), Some(unknown)).await, 422).await;
    assert_eq!(error_fields(&problem), ["user_id"]);

    // A platform admin acts as a project admin anywhere.
    let renamed =
        expect_json(send_as(&app, &root, Method::PATCH, &path, Some(json!({"name": "Audited"}))).await, StatusCode::OK)
            .await;
    assert_eq!(renamed["my_role"], Value::Null);
    expect_json(send_as(&app, &root, Method::DELETE, &path, None).await, StatusCode::NO_CONTENT).await;
    expect_problem(send_as(&app, &ann, Method::GET, &path, None).await, 404).await;
}

async fn members_change_roles_and_leave_but_the_last_admin_stays(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let kitchen = project(&app, &ann, "Kitchen").await;
    let path = format!("/projects/{}", kitchen["id"]);
    let me = format!("{path}/members/{}", ann.id);
    expect_problem(send_as(&app, &ann, Method::PATCH, &me, Some(json!({"role": "editor"}))).await, 409).await;
    expect_problem(send_as(&app, &ann, Method::DELETE, &me, None).await, 409).await;

    add(&app, &ann, &kitchen, &bob, "viewer").await;
    let bobs = format!("{path}/members/{}", bob.id);
    let promoted =
        expect_json(send_as(&app, &ann, Method::PATCH, &bobs, Some(json!({"role": "admin"}))).await, StatusCode::OK)
            .await;
    assert_eq!(promoted["role"], "admin");
    let demoted =
        expect_json(send_as(&app, &ann, Method::PATCH, &me, Some(json!({"role": "viewer"}))).await, StatusCode::OK)
            .await;
    assert_eq!(demoted["role"], "viewer");
    let problem =
        expect_problem(send_as(&app, &bob, Method::PATCH, &me, Some(json!({"role": "owner"}))).await, 422).await;
    assert_eq!(error_fields(&problem), ["role"]);
    expect_problem(send_as(&app, &ann, Method::DELETE, &bobs, None).await, 403).await;
    expect_json(send_as(&app, &ann, Method::DELETE, &me, None).await, StatusCode::NO_CONTENT).await;
    expect_problem(send_as(&app, &ann, Method::GET, &path, None).await, 404).await;
    expect_problem(send_as(&app, &bob, Method::DELETE, &me, None).await, 404).await;
    let project = expect_json(send_as(&app, &bob, Method::GET, &path, None).await, StatusCode::OK).await;
    assert_eq!(project["member_count"], 1);
}

async fn invitations_admit_as_many_as_they_allow(app: TestApp) {
    let ann = app.signup("ann").await;
    let kitchen = project(&app, &ann, "Kitchen").await;
    let invites = format!("/projects/{}/invites", kitchen["id"]);
    let one = expect_json(
        send_as(&app, &ann, Method::POST, &invites, Some(json!({"role": "editor", "max_uses": 1}))).await,
        StatusCode::CREATED,
    )
    .await;
    let token = one["token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 32, "at least 128 bits: {token}");
    assert!(one["url"].as_str().unwrap().ends_with(&format!("/invites/{token}/accept")));
    assert_eq!(
        (one["role"].as_str(), one["max_uses"].as_i64(), one["uses"].as_i64()),
        (Some("editor"), Some(1), Some(0))
    );

    // Two people follow a one-use invitation at once: exactly one joins.
    let (bob, cid) = (app.signup("bob").await, app.signup("cid").await);
    let accept = format!("/invites/{token}/accept");
    let (first, second) = tokio::join!(
        send_as(&app, &bob, Method::POST, &accept, None),
        send_as(&app, &cid, Method::POST, &accept, None)
    );
    let statuses = [first.status().as_u16(), second.status().as_u16()];
    assert!(statuses.contains(&200) && statuses.contains(&404), "{statuses:?}");
    let (joined, refused) = if first.status() == StatusCode::OK { (&bob, &cid) } else { (&cid, &bob) };
    let seen = expect_json(send_as(&app, joined, Method::POST, &accept, None).await, StatusCode::OK).await;
    assert_eq!(seen["my_role"], "editor", "a member following it again is shown the project");
    expect_problem(send_as(&app, refused, Method::GET, &format!("/projects/{}", kitchen["id"]), None).await, 404).await;

    let listed = expect_json(send_as(&app, &ann, Method::GET, &invites, None).await, StatusCode::OK).await;
    assert_eq!(listed["data"][0]["uses"], 1, "counted once");
    assert!(listed["data"][0].get("token").is_none() && !listed.to_string().contains(&token), "{listed}");

    let open = expect_json(
        send_as(&app, &ann, Method::POST, &invites, Some(json!({"role": "viewer"}))).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(open["max_uses"], Value::Null, "unlimited unless told");
    expect_json(
        send_as(&app, &ann, Method::DELETE, &format!("{invites}/{}", open["id"]), None).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let revoked = format!("/invites/{}/accept", open["token"].as_str().unwrap());
    expect_problem(send_as(&app, refused, Method::POST, &revoked, None).await, 404).await;
    expect_problem(send_as(&app, &ann, Method::DELETE, &format!("{invites}/{}", open["id"]), None).await, 404).await;
    let listed = expect_json(send_as(&app, &ann, Method::GET, &invites, None).await, StatusCode::OK).await;
    assert_eq!(listed["pagination"]["total"], 1, "a revoked invitation leaves the listing");
    expect_problem(send_as(&app, refused, Method::POST, "/invites/nonsense/accept", None).await, 404).await;

    let bad = json!({"role": "owner", "max_uses": 0, "expires_in_hours": 721});
    let problem = expect_problem(send_as(&app, &ann, Method::POST, &invites, Some(bad)).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["expires_in_hours", "max_uses", "role"]);
}

/// An invitation of `who`'s to `project`: its id and token.
async fn invite(app: &TestApp, who: &Account, project: &Value, role: &str) -> (Value, String) {
    let made = expect_json(
        send_as(app, who, Method::POST, &format!("/projects/{}/invites", project["id"]), Some(json!({"role": role})))
            .await,
        StatusCode::CREATED,
    )
    .await;
    (made["id"].clone(), made["token"].as_str().unwrap().to_owned())
}

async fn a_member_who_leaves_or_is_removed_loses_the_invitations_they_made(app: TestApp) {
    let (ann, bob, cid, eve) =
        (app.signup("ann").await, app.signup("bob").await, app.signup("cid").await, app.signup("eve").await);
    let kitchen = project(&app, &ann, "Kitchen").await;
    let path = format!("/projects/{}", kitchen["id"]);
    add(&app, &ann, &kitchen, &bob, "admin").await;
    add(&app, &ann, &kitchen, &cid, "admin").await;
    let (_, anns) = invite(&app, &ann, &kitchen, "viewer").await;
    let (bobs_id, bobs) = invite(&app, &bob, &kitchen, "admin").await;
    let (_, cids) = invite(&app, &cid, &kitchen, "editor").await;
    let listed = || async {
        let page =
            expect_json(send_as(&app, &ann, Method::GET, &format!("{path}/invites"), None).await, StatusCode::OK).await;
        page["data"].as_array().unwrap().iter().map(|i| i["id"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(listed().await.len(), 3);

    // Bob, an admin, is removed: the invitation he made stops working at once, for him and anyone.
    let res = send_as(&app, &ann, Method::DELETE, &format!("{path}/members/{}", bob.id), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for who in [&bob, &eve] {
        expect_problem(send_as(&app, who, Method::POST, &format!("/invites/{bobs}/accept"), None).await, 404).await;
    }
    expect_problem(send_as(&app, &bob, Method::GET, &path, None).await, 404).await;
    let left = listed().await;
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!left.contains(&bobs_id), "revoked invitations leave the listing");

    // Cid leaves: the same. What the others made still admits.
    let res = send_as(&app, &cid, Method::DELETE, &format!("{path}/members/{}", cid.id), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    expect_problem(send_as(&app, &cid, Method::POST, &format!("/invites/{cids}/accept"), None).await, 404).await;
    expect_problem(send_as(&app, &eve, Method::POST, &format!("/invites/{cids}/accept"), None).await, 404).await;
    let joined =
        expect_json(send_as(&app, &eve, Method::POST, &format!("/invites/{anns}/accept"), None).await, StatusCode::OK)
            .await;
    assert_eq!(joined["my_role"], "viewer");
    assert_eq!(listed().await.len(), 1);
}
