//! Lists of users, one user, the caller's profile and password.

use std::collections::BTreeMap;

use reqwest::{Method, Response};
use serde_json::{Value, json};
use workbench_e2e::{Account, PASSWORD, TestApp, engines, error_fields, expect_problem};

/// Asserts `res` has `status` and returns its JSON body (the body is shown when it does not).
async fn expect_json(res: Response, status: u16) -> Value {
    let (code, url) = (res.status().as_u16(), res.url().clone());
    let text = res.text().await.unwrap();
    assert_eq!(code, status, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

async fn get(app: &TestApp, path: &str, who: &Account) -> Response {
    app.get(path).bearer_auth(&who.access_token).send().await.unwrap()
}

async fn get_json(app: &TestApp, path: &str, who: &Account) -> Value {
    expect_json(get(app, path, who).await, 200).await
}

async fn patch_me(app: &TestApp, who: &Account, body: &Value) -> Response {
    app.request(Method::PATCH, "/api/v1/users/me").bearer_auth(&who.access_token).json(body).send().await.unwrap()
}

async fn change_password(app: &TestApp, who: &Account, body: &Value) -> Response {
    app.request(Method::PUT, "/api/v1/users/me/password")
        .bearer_auth(&who.access_token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn login_status(app: &TestApp, email: &str, password: &str) -> u16 {
    let res = app.post("/api/v1/auth/login").json(&json!({"email": email, "password": password})).send().await.unwrap();
    res.status().as_u16()
}

async fn set_status(app: &TestApp, admin: &Account, id: i64, status: &str) {
    let res = app
        .request(Method::PATCH, &format!("/api/v1/admin/users/{id}"))
        .bearer_auth(&admin.access_token)
        .json(&json!({"status": status}))
        .send()
        .await
        .unwrap();
    expect_json(res, 200).await;
}

/// The `Link` header as `rel → URL`.
fn links(res: &Response) -> BTreeMap<String, String> {
    let header = res.headers().get("link").expect("a Link header").to_str().unwrap();
    header
        .split(", ")
        .map(|part| {
            let (url, rel) = part.split_once("; rel=").unwrap_or_else(|| panic!("malformed link {part:?}"));
            let url = url.strip_prefix('<').and_then(|u| u.strip_suffix('>')).expect("<url>");
            (rel.trim_matches('"').to_owned(), url.to_owned())
        })
        .collect()
}

/// The value of `name` in `url`'s query string.
fn param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    url.split_once('?')?.1.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

fn ids(list: &Value) -> Vec<i64> {
    list["data"].as_array().expect("data is an array").iter().map(|u| u["id"].as_i64().unwrap()).collect()
}

fn usernames(list: &Value) -> Vec<String> {
    list["data"].as_array().expect("data is an array").iter().map(|u| u["username"].as_str().unwrap().into()).collect()
}

async fn signups(app: &TestApp, names: &[&str]) -> Vec<Account> {
    let mut accounts = Vec::new();
    for name in names {
        accounts.push(app.signup(name).await);
    }
    accounts
}

async fn lists_are_paginated_with_link_headers(app: TestApp) {
    let accounts = signups(&app, &["ann", "bob", "cat", "dan", "eve"]).await;
    let ann = &accounts[0];
    let all: Vec<i64> = accounts.iter().map(|a| a.id).collect();

    let res = get(&app, "/api/v1/users", ann).await;
    let rels = links(&res);
    let body = expect_json(res, 200).await;
    assert_eq!(body["pagination"], json!({"page": 1, "per_page": 20, "total": 5, "pages": 1}));
    assert_eq!(ids(&body), all, "ordered by id");
    assert_eq!(rels.keys().collect::<Vec<_>>(), ["first", "last"], "{rels:?}");

    // Walk the pages as a client would: by following `next`.
    let res = get(&app, "/api/v1/users?per_page=2", ann).await;
    let rels = links(&res);
    let body = expect_json(res, 200).await;
    assert_eq!(body["pagination"], json!({"page": 1, "per_page": 2, "total": 5, "pages": 3}));
    assert!(!rels.contains_key("prev"), "{rels:?}");
    assert_eq!(param(&rels["first"], "page"), Some("1"));
    assert_eq!(param(&rels["last"], "page"), Some("3"));
    let mut seen = ids(&body);
    let mut next = rels.get("next").cloned();
    let mut pages = 1;
    while let Some(url) = next {
        assert_eq!(param(&url, "per_page"), Some("2"), "links keep the other parameters: {url}");
        let res = get(&app, &url, ann).await;
        let rels = links(&res);
        let body = expect_json(res, 200).await;
        pages += 1;
        assert_eq!(body["pagination"]["page"], pages);
        assert_eq!(param(&rels["prev"], "page"), Some((pages - 1).to_string().as_str()));
        seen.extend(ids(&body));
        next = rels.get("next").cloned();
    }
    assert_eq!((pages, seen), (3, all.clone()));

    // Links keep the search term too.
    let res = get(&app, "/api/v1/users?search=a&per_page=2&page=2", ann).await;
    let rels = links(&res);
    let body = expect_json(res, 200).await;
    assert_eq!(body["pagination"], json!({"page": 2, "per_page": 2, "total": 3, "pages": 2}), "ann, cat, dan");
    assert_eq!(usernames(&body), ["dan"]);
    assert!(!rels.contains_key("next"), "{rels:?}");
    for (rel, url) in &rels {
        assert_eq!(param(url, "search"), Some("a"), "{rel}: {url}");
        assert!(url.starts_with("/api/v1/users?"), "{rel}: {url}");
    }

    // per_page over 100 is clamped.
    let body = get_json(&app, "/api/v1/users?per_page=500", ann).await;
    assert_eq!(body["pagination"], json!({"page": 1, "per_page": 100, "total": 5, "pages": 1}));
    assert_eq!(ids(&body), all);
}

async fn list_edges(app: TestApp) {
    let accounts = signups(&app, &["ann", "bob", "cat"]).await;
    let ann = &accounts[0];

    // A page past the end is empty but still tells the truth about the list.
    let res = get(&app, "/api/v1/users?page=7&per_page=2", ann).await;
    let rels = links(&res);
    let body = expect_json(res, 200).await;
    assert_eq!(body["data"], json!([]));
    assert_eq!(body["pagination"], json!({"page": 7, "per_page": 2, "total": 3, "pages": 2}));
    assert!(!rels.contains_key("next"), "{rels:?}");
    assert_eq!(param(&rels["last"], "page"), Some("2"));

    // No rows: total and pages are 0 and `last` is page 1.
    let res = get(&app, "/api/v1/users?search=nobody-here", ann).await;
    let rels = links(&res);
    let body = expect_json(res, 200).await;
    assert_eq!(body, json!({"data": [], "pagination": {"page": 1, "per_page": 20, "total": 0, "pages": 0}}));
    assert_eq!(rels.keys().collect::<Vec<_>>(), ["first", "last"], "{rels:?}");
    assert_eq!(param(&rels["last"], "page"), Some("1"));

    for (query, fields) in
        [("page=0", &["page"][..]), ("per_page=0", &["per_page"]), ("page=0&per_page=0", &["page", "per_page"])]
    {
        let problem = expect_problem(get(&app, &format!("/api/v1/users?{query}"), ann).await, 422).await;
        let mut named = error_fields(&problem);
        named.sort();
        assert_eq!(named, fields, "{query}: {problem}");
    }
    for query in ["page=abc", "per_page=lots", "page=1.5"] {
        expect_problem(get(&app, &format!("/api/v1/users?{query}"), ann).await, 400).await;
        expect_problem(get(&app, &format!("/api/v1/users/except-me?{query}"), ann).await, 400).await;
    }
    // A number, but below 1: out of the allowed range, so 422 naming it.
    for path in ["/api/v1/users", "/api/v1/users/except-me"] {
        let problem = expect_problem(get(&app, &format!("{path}?per_page=-1"), ann).await, 422).await;
        assert_eq!(error_fields(&problem), ["per_page"], "{path}");
    }
    expect_problem(get(&app, "/api/v1/users/except-me?page=0", ann).await, 422).await;

    for path in ["/api/v1/users", "/api/v1/users/except-me", &format!("/api/v1/users/{}", ann.id)] {
        let res = app.get(path).send().await.unwrap();
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        expect_problem(res, 401).await;
    }
}

async fn emails_are_shown_only_to_the_user_and_to_admins(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let moderator = app.signup_with_role("mod", "moderator").await;
    let admin = app.signup_with_role("adm", "admin").await;
    let emails = |list: &Value| -> BTreeMap<String, Option<String>> {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| (u["username"].as_str().unwrap().to_owned(), u.get("email").map(|e| e.as_str().unwrap().into())))
            .collect()
    };

    for viewer in [&ann, &moderator] {
        let list = get_json(&app, "/api/v1/users", viewer).await;
        for (name, email) in emails(&list) {
            if name == viewer.username {
                assert_eq!(email.as_deref(), Some(viewer.email.as_str()));
            } else {
                assert_eq!(email, None, "{} must not see {name}'s email (not even as null)", viewer.username);
            }
        }
        let other = get_json(&app, &format!("/api/v1/users/{}", bob.id), viewer).await;
        assert!(other.get("email").is_none(), "{other}");
        assert_eq!(other["username"], "bob");
        let own = get_json(&app, &format!("/api/v1/users/{}", viewer.id), viewer).await;
        assert_eq!(own["email"], viewer.email.as_str());
        let others = get_json(&app, "/api/v1/users/except-me", viewer).await;
        assert!(emails(&others).values().all(Option::is_none), "{others}");
    }

    let list = get_json(&app, "/api/v1/users", &admin).await;
    let seen = emails(&list);
    assert_eq!(seen.len(), 4);
    for (name, email) in seen {
        assert_eq!(email, Some(format!("{name}@example.com")));
    }
    let other = get_json(&app, &format!("/api/v1/users/{}", bob.id), &admin).await;
    assert_eq!(other["email"], "bob@example.com");
    let others = get_json(&app, "/api/v1/users/except-me", &admin).await;
    assert!(emails(&others).values().all(Option::is_some), "{others}");
}

async fn search_matches_names_case_insensitively(app: TestApp) {
    let ann = app.signup("ann").await;
    app.signup("BobSmith").await;
    app.signup("cat_1").await;
    app.signup("catx1").await;
    let res = app
        .post("/api/v1/auth/register")
        .json(&json!({"username": "zed", "email": "zed@corp.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    expect_json(res, 201).await;
    let admin = app.signup_with_role("adm", "admin").await;
    let body =
        expect_json(patch_me(&app, &ann, &json!({"first_name": "Été", "last_name": "Lindqvist"})).await, 200).await;
    assert_eq!(body["first_name"], "Été");

    let search = |term: &str, who: &Account| {
        let path = format!("/api/v1/users?search={}", urlencode(term));
        let app = &app;
        let who = who.clone();
        async move { usernames(&get_json(app, &path, &who).await) }
    };
    assert_eq!(search("bobs", &ann).await, ["BobSmith"]);
    assert_eq!(search("BOBSMITH", &ann).await, ["BobSmith"]);
    for term in ["été", "ÉTÉ", "Été", "lindq", "LINDQVIST", "été lind"] {
        assert_eq!(search(term, &ann).await, ["ann"], "search {term:?}");
    }
    // LIKE wildcards in the term are literal characters.
    assert_eq!(search("t_1", &ann).await, ["cat_1"]);
    assert_eq!(search("_", &ann).await, ["cat_1"]);
    assert!(search("%", &ann).await.is_empty());
    assert!(search("\\", &ann).await.is_empty());

    // Email search is for admins only.
    assert!(search("corp.test", &ann).await.is_empty(), "a non-admin must not find users by email");
    assert!(search("example.com", &ann).await.is_empty());
    assert_eq!(search("corp.test", &admin).await, ["zed"]);
    assert_eq!(search("CORP.TEST", &admin).await, ["zed"]);
    assert_eq!(search("example.com", &admin).await.len(), 5);
    // Searching except-me works the same way.
    let others = get_json(&app, "/api/v1/users/except-me?search=CAT", &ann).await;
    assert_eq!(usernames(&others), ["cat_1", "catx1"]);
}

/// Enough percent-encoding for search terms.
fn urlencode(term: &str) -> String {
    term.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

async fn disabled_users_are_hidden_from_everyone_but_admins(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let moderator = app.signup_with_role("mod", "moderator").await;
    let admin = app.signup_with_role("adm", "admin").await;
    set_status(&app, &admin, bob.id, "disabled").await;
    let bob_path = format!("/api/v1/users/{}", bob.id);

    for viewer in [&ann, &moderator] {
        let list = get_json(&app, "/api/v1/users", viewer).await;
        assert!(!ids(&list).contains(&bob.id), "{list}");
        assert_eq!(list["pagination"]["total"], 3);
        assert!(get_json(&app, "/api/v1/users?search=bob", viewer).await["data"].as_array().unwrap().is_empty());
        expect_problem(get(&app, &bob_path, viewer).await, 404).await;
    }

    let list = get_json(&app, "/api/v1/users", &admin).await;
    assert_eq!(list["pagination"]["total"], 4);
    let entry = list["data"].as_array().unwrap().iter().find(|u| u["id"] == bob.id).expect("admins see bob");
    assert_eq!(entry["status"], "disabled");
    assert_eq!(get_json(&app, &bob_path, &admin).await["status"], "disabled");
    // The picker lists active accounts only, for admins too.
    assert!(!ids(&get_json(&app, "/api/v1/users/except-me", &admin).await).contains(&bob.id));

    set_status(&app, &admin, bob.id, "active").await;
    assert_eq!(get_json(&app, &bob_path, &ann).await["status"], "active");
}

async fn except_me_lists_every_other_active_user(app: TestApp) {
    let accounts = signups(&app, &["ann", "bob", "cat", "dan"]).await;
    let (ann, dan) = (&accounts[0], &accounts[3]);
    let admin = app.signup_with_role("adm", "admin").await;
    set_status(&app, &admin, dan.id, "disabled").await;

    let res = get(&app, "/api/v1/users/except-me?per_page=2", ann).await;
    let rels = links(&res);
    let body = expect_json(res, 200).await;
    assert_eq!(body["pagination"], json!({"page": 1, "per_page": 2, "total": 3, "pages": 2}), "bob, cat, adm");
    assert_eq!(usernames(&body), ["bob", "cat"]);
    assert!(rels["next"].starts_with("/api/v1/users/except-me?"), "{rels:?}");
    let body = get_json(&app, &rels["next"], ann).await;
    assert_eq!(usernames(&body), ["adm"]);
    assert!(rels.contains_key("first") && rels.contains_key("last"));
}

async fn one_user_by_id(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let body = get_json(&app, &format!("/api/v1/users/{}", bob.id), &ann).await;
    assert_eq!(body["id"], bob.id);
    assert_eq!(body["username"], "bob");
    assert_eq!(body["role"], "user");
    assert_eq!(body["status"], "active");
    for key in ["first_name", "last_name", "bio", "avatar_url", "totp_enabled", "created_at", "updated_at"] {
        assert!(body.get(key).is_some(), "{key} missing: {body}");
    }

    for missing in ["999999", "0", "-1"] {
        let problem = expect_problem(get(&app, &format!("/api/v1/users/{missing}"), &ann).await, 404).await;
        assert!(problem["type"].as_str().unwrap().ends_with("not-found"), "{problem}");
    }
    for junk in ["xyz", "1.5", "99999999999999999999"] {
        expect_problem(get(&app, &format!("/api/v1/users/{junk}"), &ann).await, 400).await;
    }
}

async fn profile_changes_keep_what_is_left_out(app: TestApp) {
    let ann = app.signup("ann").await;
    let before = get_json(&app, "/api/v1/auth/me", &ann).await;
    let res = patch_me(
        &app,
        &ann,
        &json!({"first_name": "  Ann  ", "last_name": "Lee", "bio": "Hello", "avatar_url": "https://cdn.example.com/a.png"}),
    )
    .await;
    let updated = expect_json(res, 200).await;
    assert_eq!(updated["first_name"], "Ann", "names are trimmed");
    assert_eq!(updated["last_name"], "Lee");
    assert_eq!(updated["bio"], "Hello");
    assert_eq!(updated["avatar_url"], "https://cdn.example.com/a.png");
    assert_eq!(updated["email"], "ann@example.com");
    assert_eq!(updated["username"], "ann");
    assert_eq!(updated["created_at"], before["created_at"]);
    assert_ne!(updated["updated_at"], before["updated_at"]);
    assert_eq!(get_json(&app, "/api/v1/auth/me", &ann).await, updated);

    let updated = expect_json(patch_me(&app, &ann, &json!({"bio": "Changed"})).await, 200).await;
    assert_eq!(
        (&updated["bio"], &updated["first_name"], &updated["last_name"]),
        (&json!("Changed"), &json!("Ann"), &json!("Lee"))
    );
    assert_eq!(updated["avatar_url"], "https://cdn.example.com/a.png");

    let updated = expect_json(patch_me(&app, &ann, &json!({"bio": null, "avatar_url": null})).await, 200).await;
    assert!(updated["bio"].is_null() && updated["avatar_url"].is_null(), "{updated}");
    assert_eq!(updated["first_name"], "Ann");

    let unchanged = expect_json(patch_me(&app, &ann, &json!({})).await, 200).await;
    assert_eq!(unchanged, updated);
    assert_eq!(get_json(&app, "/api/v1/auth/me", &ann).await, updated);
    // Others see the profile too.
    let bob = app.signup("bob").await;
    let seen = get_json(&app, &format!("/api/v1/users/{}", ann.id), &bob).await;
    assert_eq!((&seen["first_name"], &seen["last_name"]), (&json!("Ann"), &json!("Lee")));
}

async fn username_changes(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;

    let problem = expect_problem(patch_me(&app, &ann, &json!({"username": "BOB"})).await, 409).await;
    assert_eq!(error_fields(&problem), ["username"], "{problem}");
    let problem = expect_problem(patch_me(&app, &ann, &json!({"username": null})).await, 422).await;
    assert_eq!(error_fields(&problem), ["username"], "{problem}");

    let updated = expect_json(patch_me(&app, &ann, &json!({"username": "zelda"})).await, 200).await;
    assert_eq!(updated["username"], "zelda");
    // Search follows the new name; the old name is free again; the email still signs in.
    assert_eq!(usernames(&get_json(&app, "/api/v1/users?search=zeld", &bob).await), ["zelda"]);
    assert!(get_json(&app, "/api/v1/users?search=ann", &bob).await["data"].as_array().unwrap().is_empty());
    let res = app
        .post("/api/v1/auth/register")
        .json(&json!({"username": "ANN", "email": "newcomer@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_ne!(expect_json(res, 201).await["id"], ann.id);
    assert_eq!(app.login(&ann.email, PASSWORD).await.username, "zelda");
    // Changing only the case of one's own name is not a conflict with oneself.
    let updated = expect_json(patch_me(&app, &ann, &json!({"username": "Zelda"})).await, 200).await;
    assert_eq!(updated["username"], "Zelda");
}

async fn profile_changes_are_validated_all_at_once(app: TestApp) {
    let ann = app.signup("ann").await;
    let before = get_json(&app, "/api/v1/auth/me", &ann).await;

    for avatar in ["javascript:x", "ftp://example.com/a.png", "https://", "/relative.png", "https://exa mple.com/a.png"]
    {
        let problem = expect_problem(patch_me(&app, &ann, &json!({"avatar_url": avatar})).await, 422).await;
        assert_eq!(error_fields(&problem), ["avatar_url"], "{avatar}: {problem}");
    }
    let problem = expect_problem(patch_me(&app, &ann, &json!({"first_name": 5})).await, 422).await;
    assert_eq!(error_fields(&problem), ["first_name"], "{problem}");

    let res = patch_me(
        &app,
        &ann,
        &json!({"username": "a", "avatar_url": "javascript:x", "first_name": "é".repeat(101), "bio": "b".repeat(2001),
                "last_name": "Fine"}),
    )
    .await;
    let problem = expect_problem(res, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["avatar_url", "bio", "first_name", "username"], "{problem}");
    // A refused change changes nothing, not even the valid part of it.
    assert_eq!(get_json(&app, "/api/v1/auth/me", &ann).await, before);

    let res = app
        .request(Method::PATCH, "/api/v1/users/me")
        .bearer_auth(&ann.access_token)
        .header("content-type", "application/json")
        .body("{bio")
        .send()
        .await
        .unwrap();
    expect_problem(res, 400).await;
    let res = app.request(Method::PATCH, "/api/v1/users/me").json(&json!({"bio": "x"})).send().await.unwrap();
    expect_problem(res, 401).await;
}

async fn password_change_signs_out_every_session(app: TestApp) {
    let ann = app.signup("ann").await;
    let other_session = app.login(&ann.email, PASSWORD).await;
    let new_password = "a brand new secret";

    // Refusals first: none of them changes anything.
    let res =
        change_password(&app, &ann, &json!({"current_password": "wrong password", "new_password": new_password})).await;
    assert_eq!(error_fields(&expect_problem(res, 422).await), ["current_password"]);
    for short_or_long in ["short", &"x".repeat(73)] {
        let res =
            change_password(&app, &ann, &json!({"current_password": PASSWORD, "new_password": short_or_long})).await;
        assert_eq!(error_fields(&expect_problem(res, 422).await), ["new_password"]);
    }
    let mut fields = error_fields(&expect_problem(change_password(&app, &ann, &json!({})).await, 422).await);
    fields.sort();
    assert_eq!(fields, ["current_password", "new_password"]);
    // Every failing field at once: a wrong current password beside a new one that breaks the rules.
    let both = json!({"current_password": "wrong password", "new_password": "short"});
    let mut fields = error_fields(&expect_problem(change_password(&app, &ann, &both).await, 422).await);
    fields.sort();
    assert_eq!(fields, ["current_password", "new_password"]);
    let res = app.request(Method::PUT, "/api/v1/users/me/password").json(&json!({})).send().await.unwrap();
    expect_problem(res, 401).await;
    assert_eq!(login_status(&app, &ann.email, PASSWORD).await, 200);

    let res = change_password(&app, &ann, &json!({"current_password": PASSWORD, "new_password": new_password})).await;
    assert_eq!(res.status(), 204);
    assert!(res.bytes().await.unwrap().is_empty());

    assert_eq!(login_status(&app, &ann.email, PASSWORD).await, 401);
    assert_eq!(login_status(&app, &ann.email, new_password).await, 200);
    for token in [&ann.refresh_token, &other_session.refresh_token] {
        let res = app.post("/api/v1/auth/refresh").json(&json!({"refresh_token": token})).send().await.unwrap();
        expect_problem(res, 401).await;
    }
    // Every access token issued before the change stops at its next use, the changer's own too.
    for token in [&ann.access_token, &other_session.access_token] {
        let res = app.get("/api/v1/auth/me").bearer_auth(token).send().await.unwrap();
        expect_problem(res, 401).await;
    }
    // Sessions started after the change work.
    let fresh = app.login(&ann.email, new_password).await;
    let res =
        app.post("/api/v1/auth/refresh").json(&json!({"refresh_token": fresh.refresh_token})).send().await.unwrap();
    expect_json(res, 200).await;
}

/// The contract's conventions: "Single resources that can change carry an `ETag`" and "`PUT`,
/// `PATCH` and `DELETE` honour `If-Match` (412 when stale)". A user can change.
async fn users_carry_an_etag_and_profile_changes_honour_if_match(app: TestApp) {
    let ann = app.signup("ann").await;
    let res = get(&app, &format!("/api/v1/users/{}", ann.id), &ann).await;
    let etag = res.headers().get("etag").map(|v| v.to_str().unwrap().to_owned());
    expect_json(res, 200).await;
    let etag = etag.expect("GET /users/{id} carries an ETag");
    let res = app
        .request(Method::PATCH, "/api/v1/users/me")
        .bearer_auth(&ann.access_token)
        .header("if-match", &etag)
        .json(&json!({"bio": "first"}))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("etag"));
    expect_json(res, 200).await;
    let res = app
        .request(Method::PATCH, "/api/v1/users/me")
        .bearer_auth(&ann.access_token)
        .header("if-match", &etag)
        .json(&json!({"bio": "second"}))
        .send()
        .await
        .unwrap();
    expect_problem(res, 412).await;
    assert_eq!(get_json(&app, "/api/v1/auth/me", &ann).await["bio"], "first");

    // An admin's changes are conditional too, on the tag any read of the account carried.
    let admin = app.signup_with_role("root", "admin").await;
    let path = format!("/api/v1/admin/users/{}", ann.id);
    let res = app.request(Method::PATCH, &path).bearer_auth(&admin.access_token).header("if-match", &etag);
    expect_problem(res.json(&json!({"role": "moderator"})).send().await.unwrap(), 412).await;
    let res = app.request(Method::DELETE, &path).bearer_auth(&admin.access_token).header("if-match", &etag);
    expect_problem(res.send().await.unwrap(), 412).await;
    let res = get(&app, "/api/v1/users/me", &ann).await;
    let current = res.headers().get("etag").expect("GET /users/me carries an ETag").to_str().unwrap().to_owned();
    assert_eq!(expect_json(res, 200).await["role"], "user", "the stale change was not applied");
    let res = app.request(Method::PATCH, &path).bearer_auth(&admin.access_token).header("if-match", &current);
    let res = res.json(&json!({"role": "moderator"})).send().await.unwrap();
    let promoted = res.headers().get("etag").expect("the change answers the new tag").to_str().unwrap().to_owned();
    assert_ne!(promoted, current);
    assert_eq!(expect_json(res, 200).await["role"], "moderator");
    let res = app.request(Method::DELETE, &path).bearer_auth(&admin.access_token).header("if-match", &promoted);
    assert_eq!(res.send().await.unwrap().status(), 204);
}

/// The contract lists `GET /users/me` beside `GET /auth/me`: the caller, answered alike.
async fn users_me_is_the_caller(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let me = get_json(&app, "/api/v1/users/me", &ann).await;
    assert_eq!(me, get_json(&app, "/api/v1/auth/me", &ann).await);
    assert_eq!(me["id"], ann.id);
    assert_eq!(
        (&me["username"], &me["email"]),
        (&json!("ann"), &json!("ann@example.com")),
        "the caller sees their email"
    );
    assert_eq!(get_json(&app, "/api/v1/users/me", &bob).await["id"], bob.id);

    // It follows the profile's changes.
    expect_json(patch_me(&app, &ann, &json!({"bio": "Hello", "username": "annie"})).await, 200).await;
    let me = get_json(&app, "/api/v1/users/me", &ann).await;
    assert_eq!((&me["bio"], &me["username"]), (&json!("Hello"), &json!("annie")));

    let res = app.get("/api/v1/users/me").send().await.unwrap();
    let challenge = res.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    expect_problem(res, 401).await;
    assert!(challenge.is_some_and(|c| c.starts_with("Bearer")), "a Bearer challenge");
    let res = app.get("/api/v1/users/me").bearer_auth("not-a-token").send().await.unwrap();
    expect_problem(res, 401).await;

    // The path's own methods decide, not those of `/users/{id}`.
    let res = app.request(Method::DELETE, "/api/v1/users/me").bearer_auth(&ann.access_token).send().await.unwrap();
    let allow = res.headers().get("allow").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    expect_problem(res, 405).await;
    assert!(allow.contains("GET") && allow.contains("PATCH"), "Allow: {allow}");
}

engines!(
    users_me_is_the_caller,
    lists_are_paginated_with_link_headers,
    list_edges,
    emails_are_shown_only_to_the_user_and_to_admins,
    search_matches_names_case_insensitively,
    disabled_users_are_hidden_from_everyone_but_admins,
    except_me_lists_every_other_active_user,
    one_user_by_id,
    profile_changes_keep_what_is_left_out,
    username_changes,
    profile_changes_are_validated_all_at_once,
    password_change_signs_out_every_session,
    users_carry_an_etag_and_profile_changes_honour_if_match,
);
