//! Share links as their users meet them: the owner hands a file to someone without an account;
//! the link serves the bytes like a download (validators, ranges), counts downloads, asks for
//! its password, stops at its limit (however its bytes are asked for), its expiry, its
//! revocation or its owner's disabling at once, belongs to the owner alone, and is limited per
//! client address.

use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp, engines, engines_with, error_fields, expect_problem};

const CONTENT: &[u8] = b"The boiler's manual: bleed the radiators every autumn.\n";

pub(crate) async fn upload(app: &TestApp, who: &Account) -> Value {
    let form = Form::new().part("file", Part::bytes(CONTENT.to_vec()).file_name("manual.txt"));
    let res = app.post("/api/v1/files").bearer_auth(&who.access_token).multipart(form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

async fn make_link(app: &TestApp, who: &Account, file: &Value, body: Option<Value>) -> Response {
    let mut req = app.post(&format!("/api/v1/files/{}/links", file["id"])).bearer_auth(&who.access_token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

/// A new link's body, after checking it was made.
pub(crate) async fn link(app: &TestApp, who: &Account, file: &Value, body: Option<Value>) -> Value {
    let res = make_link(app, who, file, body).await;
    let status = res.status();
    let link: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{link}");
    link
}

/// The link's path on this server (`/s/<token>`): the URL names the configured public address.
pub(crate) fn path_of(link: &Value) -> String {
    let url = link["url"].as_str().expect("a new link shows its URL");
    let at = url.find("/s/").unwrap_or_else(|| panic!("{url} is no share link"));
    url[at..].to_owned()
}

/// A visitor's request: no account, no token.
async fn visit(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = app.get(path);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap()
}

async fn listing(app: &TestApp, who: &Account, file: &Value) -> Vec<Value> {
    let res = app.get(&format!("/api/v1/files/{}/links", file["id"])).bearer_auth(&who.access_token).send().await;
    let res = res.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["data"].as_array().unwrap().clone()
}

engines!(
    a_link_hands_the_file_to_someone_without_an_account,
    a_password_a_limit_and_revocation_close_a_link,
    links_are_the_owners_alone_and_their_terms_are_checked,
    an_expired_link_and_a_deleted_file_are_gone,
    on_a_limited_link_every_answer_that_sends_bytes_counts,
    a_disabled_owners_links_stop_until_the_account_is_enabled_again,
);
engines_with!(downloads_are_limited_per_address_apart_from_sign_in with |s| s.limits.auth_per_minute = 3);

async fn a_link_hands_the_file_to_someone_without_an_account(app: TestApp) {
    let ann = app.signup("ann").await;
    let file = upload(&app, &ann).await;
    let made = link(&app, &ann, &file, None).await;
    assert_eq!(made["downloads"], 0);
    let res = app
        .post(&format!("/api/v1/files/{}/links", file["id"]))
        .bearer_auth(&ann.access_token)
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "a null body is no body");
    assert_eq!(made["max_downloads"], Value::Null, "unlimited unless told");
    assert_eq!(made["has_password"], false);
    let (created, expires) = (made["created_at"].as_str().unwrap(), made["expires_at"].as_str().unwrap());
    let lasts =
        chrono::DateTime::parse_from_rfc3339(expires).unwrap() - chrono::DateTime::parse_from_rfc3339(created).unwrap();
    assert_eq!(lasts.num_hours(), 168, "a week unless told");
    let path = path_of(&made);
    assert!(path.len() >= "/s/".len() + 32, "at least 128 bits: {path}");

    let res = visit(&app, &path, &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let header = |res: &Response, name: &str| res.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    assert!(header(&res, "content-disposition").unwrap().starts_with("attachment"), "a download");
    assert_eq!(header(&res, "x-content-type-options").as_deref(), Some("nosniff"));
    let etag = header(&res, "etag").expect("a validator");
    assert_eq!(res.bytes().await.unwrap(), CONTENT);

    let resumed = visit(&app, &path, &[("Range", "bytes=4-")]).await;
    assert_eq!(resumed.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resumed.bytes().await.unwrap(), &CONTENT[4..], "a resumed download is not counted");
    let head = visit(&app, &path, &[("Range", "bytes=0-3")]).await;
    assert_eq!(head.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(head.bytes().await.unwrap(), &CONTENT[..4], "an answer from the first byte is counted");
    let cached = visit(&app, &path, &[("If-None-Match", &etag)]).await;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED, "not counted either");

    let listed = listing(&app, &ann, &file).await;
    assert_eq!(listed.len(), 2);
    let listed: Vec<&Value> = listed.iter().filter(|l| l["id"] == made["id"]).collect();
    assert_eq!(listed[0]["downloads"], 2);
    assert_eq!(listed[0]["url"], Value::Null, "the token is shown only once");
}

async fn a_password_a_limit_and_revocation_close_a_link(app: TestApp) {
    let ann = app.signup("ann").await;
    let file = upload(&app, &ann).await;
    let guarded =
        link(&app, &ann, &file, Some(json!({"password": "open sesame", "max_downloads": 1, "expires_in_hours": 2})))
            .await;
    assert_eq!((guarded["has_password"].clone(), guarded["max_downloads"].clone()), (json!(true), json!(1)));
    assert!(guarded.get("password").is_none() && !guarded.to_string().contains("open sesame"), "{guarded}");
    let path = path_of(&guarded);

    let problem = expect_problem(visit(&app, &path, &[]).await, 401).await;
    assert!(problem["detail"].as_str().unwrap().contains("X-Share-Password"), "{problem}");
    expect_problem(visit(&app, &path, &[("X-Share-Password", "open sesame!")]).await, 401).await;
    let res = visit(&app, &path, &[("X-Share-Password", "open sesame")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap(), CONTENT);
    expect_problem(visit(&app, &path, &[("X-Share-Password", "open sesame")]).await, 404).await;
    assert_eq!(listing(&app, &ann, &file).await[0]["downloads"], 1, "used up, and still listed");

    let open = link(&app, &ann, &file, Some(json!({"max_downloads": null}))).await;
    assert_eq!(visit(&app, &path_of(&open), &[]).await.status(), StatusCode::OK);
    let revoke = |id: &Value| {
        app.request(reqwest::Method::DELETE, &format!("/api/v1/files/{}/links/{id}", file["id"]))
            .bearer_auth(&ann.access_token)
            .send()
    };
    assert_eq!(revoke(&open["id"]).await.unwrap().status(), StatusCode::NO_CONTENT);
    expect_problem(visit(&app, &path_of(&open), &[]).await, 404).await;
    expect_problem(revoke(&open["id"]).await.unwrap(), 404).await;
    let ids: Vec<Value> = listing(&app, &ann, &file).await.iter().map(|l| l["id"].clone()).collect();
    assert_eq!(ids, [guarded["id"].clone()], "a revoked link leaves the listing");
    expect_problem(visit(&app, &format!("/s/{}", "0".repeat(64)), &[]).await, 404).await;
}

async fn links_are_the_owners_alone_and_their_terms_are_checked(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let root = app.signup_with_role("root", "admin").await;
    let file = upload(&app, &ann).await;
    let made = link(&app, &ann, &file, None).await;
    for who in [&bob, &root] {
        expect_problem(make_link(&app, who, &file, None).await, 404).await;
        let res = app.get(&format!("/api/v1/files/{}/links", file["id"])).bearer_auth(&who.access_token).send().await;
        expect_problem(res.unwrap(), 404).await;
        let res = app
            .request(reqwest::Method::DELETE, &format!("/api/v1/files/{}/links/{}", file["id"], made["id"]))
            .bearer_auth(&who.access_token)
            .send()
            .await;
        expect_problem(res.unwrap(), 404).await;
    }
    expect_problem(app.post(&format!("/api/v1/files/{}/links", file["id"])).send().await.unwrap(), 401).await;

    let bad = json!({"expires_in_hours": 721, "max_downloads": 0, "password": "short"});
    let problem = expect_problem(make_link(&app, &ann, &file, Some(bad)).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["expires_in_hours", "max_downloads", "password"], "{problem}");
    let wrong_types = json!({"expires_in_hours": "soon", "max_downloads": 10_001, "password": 12345678});
    let problem = expect_problem(make_link(&app, &ann, &file, Some(wrong_types)).await, 422).await;
    assert_eq!(error_fields(&problem).len(), 3, "{problem}");
    let res = app
        .post(&format!("/api/v1/files/{}/links", file["id"]))
        .bearer_auth(&ann.access_token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await;
    expect_problem(res.unwrap(), 400).await;
    // A form feed is whitespace to many, but not to JSON: no body, and not an empty one either.
    let res = app
        .post(&format!("/api/v1/files/{}/links", file["id"]))
        .bearer_auth(&ann.access_token)
        .header("content-type", "application/json")
        .body("\u{c}")
        .send()
        .await;
    expect_problem(res.unwrap(), 400).await;
    assert_eq!(listing(&app, &ann, &file).await.len(), 1, "nothing was made by the refusals");
}

async fn an_expired_link_and_a_deleted_file_are_gone(app: TestApp) {
    let ann = app.signup("ann").await;
    let file = upload(&app, &ann).await;
    let soon = link(&app, &ann, &file, Some(json!({"expires_in_hours": 1}))).await;
    let later = link(&app, &ann, &file, None).await;
    assert_eq!(visit(&app, &path_of(&soon), &[]).await.status(), StatusCode::OK);
    // The hour passes for this link.
    let moved =
        app.execute_sql(&format!("UPDATE file_links SET expires_at = created_at WHERE id = {}", soon["id"])).await;
    assert_eq!(moved, 1);
    expect_problem(visit(&app, &path_of(&soon), &[]).await, 404).await;
    assert_eq!(visit(&app, &path_of(&later), &[]).await.status(), StatusCode::OK);

    let res = app
        .request(reqwest::Method::DELETE, &format!("/api/v1/files/{}", file["id"]))
        .bearer_auth(&ann.access_token)
        .send()
        .await;
    assert_eq!(res.unwrap().status(), StatusCode::NO_CONTENT);
    expect_problem(visit(&app, &path_of(&later), &[]).await, 404).await;
}

async fn downloads_are_limited_per_address_apart_from_sign_in(app: TestApp) {
    let ann = app.signup("ann").await;
    let file = upload(&app, &ann).await;
    let path = path_of(&link(&app, &ann, &file, None).await);
    for _ in 0..3 {
        let res = visit(&app, &path, &[]).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().contains_key("ratelimit-remaining"));
    }
    let refused = visit(&app, &path, &[]).await;
    assert!(refused.headers().contains_key("retry-after"));
    expect_problem(refused, 429).await;
    // Guessing at links does not lock anyone out of signing in, nor the reverse.
    app.login(&ann.email, &ann.password).await;
    assert_eq!(listing(&app, &ann, &file).await[0]["downloads"], 3, "the refused request was not counted");
}

async fn on_a_limited_link_every_answer_that_sends_bytes_counts(app: TestApp) {
    let ann = app.signup("ann").await;
    let file = upload(&app, &ann).await;
    let limited = link(&app, &ann, &file, Some(json!({"max_downloads": 2}))).await;
    let path = path_of(&limited);
    let downloads = || async {
        let links = listing(&app, &ann, &file).await;
        links.iter().find(|l| l["id"] == limited["id"]).map(|l| l["downloads"].clone()).unwrap()
    };

    // Ranges that skip the first byte still fetch the file: each one uses a download up.
    for counted in 1..=2 {
        let res = visit(&app, &path, &[("Range", "bytes=1-")]).await;
        assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(res.bytes().await.unwrap(), &CONTENT[1..]);
        assert_eq!(downloads().await, counted);
    }
    expect_problem(visit(&app, &path, &[("Range", "bytes=1-")]).await, 404).await;
    expect_problem(visit(&app, &path, &[]).await, 404).await;
    assert_eq!(downloads().await, 2, "a refusal counts nothing");

    // An answer that sends nothing (a range past the end, a validator that matches) counts nothing.
    let once = link(&app, &ann, &file, Some(json!({"max_downloads": 1}))).await;
    let path = path_of(&once);
    let past_the_end = format!("bytes={}-", CONTENT.len());
    assert_eq!(visit(&app, &path, &[("Range", &past_the_end)]).await.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let etag = file["sha256"].as_str().map(|tag| format!("\"{tag}\"")).unwrap();
    assert_eq!(visit(&app, &path, &[("If-None-Match", &etag)]).await.status(), StatusCode::NOT_MODIFIED);
    let res = visit(&app, &path, &[("Range", "bytes=-4")]).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap(), &CONTENT[CONTENT.len() - 4..]);
    expect_problem(visit(&app, &path, &[]).await, 404).await;

    // An unlimited link counts downloads only: a resumed answer is not one.
    let open = link(&app, &ann, &file, None).await;
    for _ in 0..3 {
        assert_eq!(visit(&app, &path_of(&open), &[("Range", "bytes=1-")]).await.status(), StatusCode::PARTIAL_CONTENT);
    }
    let open = listing(&app, &ann, &file).await.into_iter().find(|l| l["id"] == open["id"]).unwrap();
    assert_eq!(open["downloads"], 0);
}

/// Disabling an account stops its files' links; they are refused, not revoked, so that enabling
/// the account again brings them back within their own terms.
async fn a_disabled_owners_links_stop_until_the_account_is_enabled_again(app: TestApp) {
    let (ann, root) = (app.signup("ann").await, app.signup_with_role("root", "admin").await);
    let file = upload(&app, &ann).await;
    let limited = link(&app, &ann, &file, Some(json!({"max_downloads": 5}))).await;
    let open = link(&app, &ann, &file, Some(json!({"password": "open sesame"}))).await;
    let sesame = [("X-Share-Password", "open sesame")];
    assert_eq!(visit(&app, &path_of(&limited), &[]).await.status(), StatusCode::OK);
    let status = |value: &'static str| {
        app.request(reqwest::Method::PATCH, &format!("/api/v1/admin/users/{}", ann.id))
            .bearer_auth(&root.access_token)
            .json(&json!({"status": value}))
            .send()
    };
    assert_eq!(status("disabled").await.unwrap().status(), StatusCode::OK);
    expect_problem(visit(&app, &path_of(&limited), &[]).await, 404).await;
    expect_problem(visit(&app, &path_of(&limited), &[("Range", "bytes=1-")]).await, 404).await;
    expect_problem(visit(&app, &path_of(&open), &sesame).await, 404).await;

    assert_eq!(status("active").await.unwrap().status(), StatusCode::OK);
    let ann = app.login(&ann.email, &ann.password).await;
    assert_eq!(visit(&app, &path_of(&open), &sesame).await.status(), StatusCode::OK);
    let res = visit(&app, &path_of(&limited), &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap(), CONTENT);
    let links = listing(&app, &ann, &file).await;
    let limited = links.iter().find(|l| l["id"] == limited["id"]).unwrap();
    assert_eq!(limited["downloads"], 2, "nothing was counted while the owner was disabled");
}
