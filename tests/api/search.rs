//! `GET /search`: one query over users, tasks, products and files, each group holding only what
//! the caller may see under that domain's own rule.

use reqwest::Method;
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp, engines, error_fields, expect_problem};

use crate::tasks::{as_user, create_task, expect_json};

async fn search(app: &TestApp, who: &Account, query: &str) -> Value {
    expect_json(as_user(app, who, Method::GET, &format!("/api/v1/search?{query}")).send().await.unwrap(), 200).await
}

fn field<'a>(group: &'a Value, key: &str) -> Vec<&'a str> {
    group
        .as_array()
        .unwrap_or_else(|| panic!("not a group: {group}"))
        .iter()
        .map(|v| v[key].as_str().unwrap())
        .collect()
}

async fn admin_creates(app: &TestApp, admin: &Account, path: &str, body: Value) -> Value {
    expect_json(as_user(app, admin, Method::POST, path).json(&body).send().await.unwrap(), 201).await
}

async fn each_group_shows_only_what_its_domain_would(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let ann = app.signup("kettle-ann").await;
    let bob = app.signup("bob").await;
    create_task(&app, &ann, json!({"title": "Descale the KETTLE"})).await;
    create_task(&app, &bob, json!({"title": "Buy a kettle", "assignee_id": ann.id})).await;
    create_task(&app, &bob, json!({"title": "Bob's private kettle note"})).await;
    let category = admin_creates(&app, &admin, "/api/v1/categories", json!({"name": "Kitchen"})).await;
    let category_id = category["id"].as_i64().unwrap();
    for name in ["Kettle 1.7 l", "Toaster"] {
        let product = json!({"name": name, "category_id": category_id, "brand": "Acme", "warranty_months": 24});
        admin_creates(&app, &admin, "/api/v1/products", product).await;
    }

    let found = search(&app, &ann, "q=kettle").await;
    assert_eq!(field(&found["users"], "username"), ["kettle-ann"]);
    let mut titles = field(&found["tasks"], "title");
    titles.sort_unstable();
    assert_eq!(titles, ["Buy a kettle", "Descale the KETTLE"], "her own and the one assigned to her");
    assert_eq!(field(&found["products"], "name"), ["Kettle 1.7 l"]);
    assert_eq!(found["users"][0]["email"], "kettle-ann@example.com", "her own email");
    let seen_by_bob = search(&app, &bob, "q=kettle&type=users").await;
    assert!(seen_by_bob["users"][0].get("email").is_none(), "only admins and the user see an email: {seen_by_bob}");

    let everything = search(&app, &admin, "q=kettle").await;
    assert_eq!(everything["tasks"].as_array().unwrap().len(), 3, "admins see every task");
    let by_email = search(&app, &admin, "q=bob%40example").await;
    assert_eq!(field(&by_email["users"], "username"), ["bob"], "admins match emails");
    let not_by_email = search(&app, &ann, "q=bob%40example").await;
    assert_eq!(not_by_email["users"], json!([]), "others do not");

    for (who, name) in [(&ann, "Kettle manual.pdf"), (&bob, "kettle-receipt.txt")] {
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(b"%PDF-1.4\n%%EOF\n".to_vec()).file_name(name));
        let res = as_user(&app, who, Method::POST, "/api/v1/files").multipart(form).send().await.unwrap();
        assert_eq!(res.status(), 201);
    }
    let files = search(&app, &ann, "q=KETTLE&type=files").await;
    assert_eq!(field(&files["files"], "filename"), ["Kettle manual.pdf"], "only her own files");
    let files = search(&app, &admin, "q=kettle&type=files").await;
    assert_eq!(files["files"].as_array().unwrap().len(), 2, "admins find anyone's");
}

async fn the_groups_and_the_limit_are_the_callers_choice(app: TestApp) {
    let ann = app.signup("ann").await;
    for i in 0..4 {
        create_task(&app, &ann, json!({"title": format!("Report {i}")})).await;
    }
    let found = search(&app, &ann, "q=report&type=tasks&limit=3").await;
    assert_eq!(found.as_object().unwrap().keys().collect::<Vec<_>>(), ["tasks"], "{found}");
    assert_eq!(field(&found["tasks"], "title"), ["Report 3", "Report 2", "Report 1"], "newest first");

    let two = search(&app, &ann, "q=nothing-like-this&type=users,%20products").await;
    assert_eq!(two, json!({"users": [], "products": []}));
}

async fn bad_parameters_are_named(app: TestApp) {
    let ann = app.signup("ann").await;
    let res = as_user(&app, &ann, Method::GET, "/api/v1/search?q=%20&type=tasks,colours&limit=0").send().await.unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(error_fields(&problem), ["q", "type", "limit"]);
    let res = as_user(&app, &ann, Method::GET, "/api/v1/search?limit=abc&q=x").send().await.unwrap();
    expect_problem(res, 400).await;
    expect_problem(app.get("/api/v1/search?q=x").send().await.unwrap(), 401).await;
}

engines!(
    each_group_shows_only_what_its_domain_would,
    the_groups_and_the_limit_are_the_callers_choice,
    bad_parameters_are_named
);
