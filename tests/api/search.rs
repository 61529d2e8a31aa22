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
    assert_eq!(found.as_object().unwrap().keys().collect::<Vec<_>>(), ["tasks", "totals", "facets"], "{found}");
    assert_eq!(found["totals"], json!({"tasks": 4}), "every match counted, not only those returned");
    assert_eq!(field(&found["tasks"], "title"), ["Report 3", "Report 2", "Report 1"], "newest first");

    let two = search(&app, &ann, "q=nothing-like-this&type=users,%20products").await;
    assert_eq!(two, json!({"users": [], "products": [], "totals": {"users": 0, "products": 0}}));
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

fn q(query: &str) -> String {
    format!("q={}", utf8_percent(query))
}

/// `query` as a query-string value (every byte but unreserved ones escaped).
fn utf8_percent(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn titles(found: &Value) -> Vec<&str> {
    let mut titles = field(&found["tasks"], "title");
    titles.sort_unstable();
    titles
}

async fn the_language_narrows_tasks_with_words_and_qualifiers(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let project = expect_json(
        as_user(&app, &ann, Method::POST, "/api/v1/projects").json(&json!({"name": "Home"})).send().await.unwrap(),
        201,
    )
    .await;
    let project_id = project["id"].as_i64().unwrap();
    let descale = create_task(
        &app,
        &ann,
        json!({"title": "Descale the red kettle", "priority": "high", "tags": ["home", "kitchen"],
               "due_date": "2026-11-20T09:00:00Z"}),
    )
    .await;
    create_task(&app, &ann, json!({"title": "Buy a kettle lid", "tags": ["home"], "due_date": "2026-12-05T09:00:00Z"}))
        .await;
    create_task(
        &app,
        &ann,
        json!({"title": "Kettle in the project", "description": "the RED one", "project_id": project_id,
               "tags": ["kitchen"]}),
    )
    .await;
    create_task(&app, &bob, json!({"title": "Red kettle for ann", "assignee_id": ann.id, "priority": "low"})).await;
    create_task(&app, &bob, json!({"title": "Bob's own red kettle"})).await;
    let res = as_user(&app, &ann, Method::POST, &format!("/api/v1/tasks/{}/attachments", descale["id"]))
        .multipart(
            reqwest::multipart::Form::new()
                .part("file", reqwest::multipart::Part::bytes(b"descale".to_vec()).file_name("steps.txt")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    // Words must all appear, in any order; an exclusion removes; a phrase is exact.
    let found = search(&app, &ann, &q("kettle red")).await;
    assert_eq!(titles(&found), ["Descale the red kettle", "Kettle in the project", "Red kettle for ann"]);
    assert_eq!(found["totals"]["tasks"], 3);
    let found = search(&app, &ann, &q("kettle -lid -project")).await;
    assert_eq!(titles(&found), ["Descale the red kettle", "Red kettle for ann"]);
    let found = search(&app, &ann, &q(r#""red kettle""#)).await;
    assert_eq!(titles(&found), ["Descale the red kettle", "Red kettle for ann"]);

    // A task qualifier makes it a task search, and each narrows.
    let found = search(&app, &ann, &q("kettle tag:home")).await;
    assert_eq!(found.as_object().unwrap().keys().collect::<Vec<_>>(), ["tasks", "totals", "facets"], "{found}");
    assert_eq!(titles(&found), ["Buy a kettle lid", "Descale the red kettle"]);
    assert_eq!(titles(&search(&app, &ann, &q("tag:home tag:kitchen")).await), ["Descale the red kettle"]);
    assert_eq!(titles(&search(&app, &ann, &q("priority:high")).await), ["Descale the red kettle"]);
    assert_eq!(titles(&search(&app, &ann, &q(&format!("project:{project_id}"))).await), ["Kettle in the project"]);
    assert_eq!(titles(&search(&app, &ann, &q("assignee:me")).await), ["Red kettle for ann"]);
    assert_eq!(titles(&search(&app, &ann, &q("assignee:ANN kettle")).await), ["Red kettle for ann"]);
    assert_eq!(titles(&search(&app, &ann, &q("due:<2026-12-01")).await), ["Descale the red kettle"]);
    assert_eq!(titles(&search(&app, &ann, &q("due:>2026-12-01")).await), ["Buy a kettle lid"]);
    assert_eq!(titles(&search(&app, &ann, &q("is:overdue")).await), ["Descale the red kettle"]);
    assert_eq!(titles(&search(&app, &ann, &q("has:attachment")).await), ["Descale the red kettle"]);
    assert_eq!(titles(&search(&app, &ann, &q("status:completed kettle")).await), Vec::<&str>::new());

    // Facets count every match the caller may see (Bob's own task is not hers).
    let found = search(&app, &ann, &q("kettle")).await;
    assert_eq!(found["totals"]["tasks"], 4);
    assert_eq!(found["facets"]["status"], json!({"pending": 4}));
    assert_eq!(found["facets"]["priority"], json!({"high": 1, "low": 1, "medium": 2}));
    assert_eq!(found["facets"]["tag"], json!({"home": 2, "kitchen": 2}));
    assert_eq!(found["facets"]["project"], json!({(project_id.to_string()): 1}));
    let limited = search(&app, &ann, &format!("{}&limit=1", q("kettle"))).await;
    assert_eq!(limited["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(limited["totals"]["tasks"], 4, "totals count beyond the limit");
}

async fn every_bad_term_is_named_in_one_422(app: TestApp) {
    let ann = app.signup("ann").await;
    let query =
        q(r#"kettle colour:red status:done priority:urgent due:soon is:late has:owner project:x type:boat "open"#);
    let res = as_user(&app, &ann, Method::GET, &format!("/api/v1/search?{query}")).send().await.unwrap();
    let problem = expect_problem(res, 422).await;
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 9, "{problem}");
    for (error, term) in errors.iter().zip([
        "colour:red",
        "status:done",
        "priority:urgent",
        "due:soon",
        "is:late",
        "has:owner",
        "project:x",
        "type:boat",
        "\"open",
    ]) {
        assert_eq!(error["field"], "q");
        assert!(error["message"].as_str().unwrap().contains(&format!("`{term}`")), "{term}: {error}");
    }
    let res = as_user(&app, &ann, Method::GET, &format!("/api/v1/search?{}", q("assignee:nobody-here"))).send().await;
    let problem = expect_problem(res.unwrap(), 422).await;
    assert_eq!(error_fields(&problem), ["q"]);
}

async fn searches_are_saved_per_user(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let save = |who: &Account, body: Value| as_user(&app, who, Method::POST, "/api/v1/searches").json(&body).send();

    let res = save(&ann, json!({"name": "Due soon", "q": "status:pending due:<2026-12-01"})).await.unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let saved: Value = res.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/searches/{}", saved["id"]));
    assert_eq!(
        (saved["name"].as_str(), saved["q"].as_str()),
        (Some("Due soon"), Some("status:pending due:<2026-12-01"))
    );
    assert!(saved["created_at"].is_string());
    save(&ann, json!({"name": "Kettles", "q": "kettle"})).await.unwrap();

    let problem = expect_problem(save(&ann, json!({"name": " ", "q": "colour:red"})).await.unwrap(), 422).await;
    assert_eq!(error_fields(&problem), ["name", "q"]);
    let problem = expect_problem(save(&ann, json!({"name": 5})).await.unwrap(), 422).await;
    assert_eq!(error_fields(&problem), ["name", "q"]);

    let listed = expect_json(as_user(&app, &ann, Method::GET, "/api/v1/searches").send().await.unwrap(), 200).await;
    assert_eq!(field(&listed["data"], "name"), ["Kettles", "Due soon"], "newest first");
    assert_eq!(listed["pagination"]["total"], 2);
    let bobs = expect_json(as_user(&app, &bob, Method::GET, "/api/v1/searches").send().await.unwrap(), 200).await;
    assert_eq!(bobs["data"], json!([]));

    let res = as_user(&app, &bob, Method::DELETE, &location).send().await.unwrap();
    expect_problem(res, 404).await;
    let res = as_user(&app, &ann, Method::DELETE, &location).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let res = as_user(&app, &ann, Method::DELETE, &location).send().await.unwrap();
    expect_problem(res, 404).await;
    expect_problem(app.get("/api/v1/searches").send().await.unwrap(), 401).await;
}

/// `tag:<letter>` for each of `letters`, as one query.
fn tag_terms(letters: impl IntoIterator<Item = String>) -> String {
    letters.into_iter().map(|t| format!("tag:{t}")).collect::<Vec<_>>().join(" ")
}

/// The letters `a`, `b`, ... (then `aa`, `ab`, ...): `n` distinct one- or two-letter tags.
fn letters(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            if i < 26 {
                ((b'a' + i as u8) as char).to_string()
            } else {
                format!("a{}", (b'a' + (i - 26) as u8) as char)
            }
        })
        .collect()
}

/// Thirty `tag:` terms (the issue's search, which cost PostgreSQL half a second) answer exactly:
/// the tasks carrying every tag, no other, counted alike in `totals` and `facets`.
async fn thirty_tag_terms_find_the_tasks_carrying_every_tag(app: TestApp) {
    let ann = app.signup("ann").await;
    let twenty = letters(20);
    let mut one_short = twenty[..19].to_vec();
    one_short.push("z".into());
    let mut reversed = twenty.clone();
    reversed.reverse();
    for (title, tags) in [("All twenty", &twenty), ("Reversed", &reversed), ("One short", &one_short)] {
        create_task(&app, &ann, json!({"title": title, "tags": tags})).await;
    }
    create_task(&app, &ann, json!({"title": "Untagged"})).await;

    // A task carries at most 20 tags: thirty terms name 20 tags, ten of them twice.
    let thirty = tag_terms(twenty.iter().chain(&twenty[..10]).cloned());
    let found = search(&app, &ann, &q(&thirty)).await;
    assert_eq!(titles(&found), ["All twenty", "Reversed"]);
    assert_eq!(found["totals"]["tasks"], 2);
    assert_eq!(found["facets"]["tag"]["a"], 2);
    assert!(found["facets"]["tag"].get("z").is_none(), "{found}");
    let nineteen = tag_terms(twenty[..19].iter().cloned());
    assert_eq!(titles(&search(&app, &ann, &q(&nineteen)).await), ["All twenty", "One short", "Reversed"]);

    let thirty_distinct = search(&app, &ann, &q(&tag_terms(letters(30)))).await;
    assert_eq!(thirty_distinct["tasks"], json!([]), "no task carries thirty tags");
    assert_eq!(thirty_distinct["totals"]["tasks"], 0);
}

/// A query holds at most 32 terms: the 33rd is named on `q`, in a search as in a saved search,
/// whatever the terms (repeats count: each is text to read).
async fn a_query_holds_at_most_32_terms(app: TestApp) {
    let ann = app.signup("ann").await;
    let words = |n: usize| letters(n).join(" ");
    assert_eq!(search(&app, &ann, &q(&words(32))).await["users"], json!([]));
    // 33 terms (q is at most 200 characters: short ones).
    let tags_and_words = format!("{} a b c d e f g", tag_terms(letters(26)));
    for query in [words(33), tags_and_words.clone(), ["a"; 40].join(" ")] {
        let res = as_user(&app, &ann, Method::GET, &format!("/api/v1/search?{}", q(&query))).send().await.unwrap();
        let problem = expect_problem(res, 422).await;
        assert_eq!(error_fields(&problem), ["q"], "{query}");
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("a search holds at most 32 terms"), "{message}");
    }

    let save = |q: String| {
        as_user(&app, &ann, Method::POST, "/api/v1/searches").json(&json!({"name": "Many tags", "q": q})).send()
    };
    let problem = expect_problem(save(tags_and_words).await.unwrap(), 422).await;
    assert_eq!(error_fields(&problem), ["q"]);
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("at most 32 terms"), "{problem}");
    let saved = expect_json(save(tag_terms(letters(32))).await.unwrap(), 201).await;
    let rerun = search(&app, &ann, &q(saved["q"].as_str().unwrap())).await;
    assert_eq!(rerun["totals"]["tasks"], 0, "a saved search runs as GET /search does");
}

engines!(
    thirty_tag_terms_find_the_tasks_carrying_every_tag,
    a_query_holds_at_most_32_terms,
    each_group_shows_only_what_its_domain_would,
    the_groups_and_the_limit_are_the_callers_choice,
    bad_parameters_are_named,
    the_language_narrows_tasks_with_words_and_qualifiers,
    every_bad_term_is_named_in_one_422,
    searches_are_saved_per_user
);
