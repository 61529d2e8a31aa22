//! Lists of tasks (filters, text search, due dates, sorting, pages), statistics and tags.

use reqwest::Method;
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp, engines, error_fields, expect_problem, send_as};

use super::support::*;

// ---------------------------------------------------------------------------------------------
// Lists.

async fn lists_filter_by_status_priority_people_and_tag(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let cat = app.signup("cat").await;
    let moderator = app.signup_with_role("mod", "moderator").await;
    let t1 = id(&create_task(
        &app,
        &ann,
        json!({"title": "write report", "priority": "high", "tags": ["work"], "assignee_id": cat.id}),
    )
    .await);
    let t2 = id(&create_task(
        &app,
        &ann,
        json!({"title": "buy milk", "status": "in_progress", "priority": "low", "tags": ["home", "errand"]}),
    )
    .await);
    let t3 =
        id(&create_task(&app, &ann, json!({"title": "file taxes", "status": "completed", "tags": ["Home"]})).await);
    let t4 = id(&create_task(&app, &bob, json!({"title": "bob's", "priority": "high", "tags": ["work"]})).await);

    let none: Vec<i64> = Vec::new();
    let cases: [(String, Vec<i64>); 15] = [
        (String::new(), vec![t3, t2, t1]),
        ("status=pending".into(), vec![t1]),
        ("status=in_progress".into(), vec![t2]),
        ("status=pending,completed".into(), vec![t3, t1]),
        ("status=pending%2C%20completed".into(), vec![t3, t1]),
        ("priority=high".into(), vec![t1]),
        ("priority=low,medium".into(), vec![t3, t2]),
        ("tag=work".into(), vec![t1]),
        ("tag=HOME".into(), vec![t3, t2]),
        ("tag=hom".into(), none.clone()),
        ("tag=home&status=in_progress".into(), vec![t2]),
        ("tag=home&priority=high".into(), none.clone()),
        (format!("assignee_id={}", cat.id), vec![t1]),
        (format!("owner_id={}", ann.id), vec![t3, t2, t1]),
        (format!("owner_id={}", bob.id), none.clone()),
    ];
    for (query, expected) in cases {
        assert_eq!(listed(&app, &ann, &query).await, expected, "ann: {query}");
    }
    assert_eq!(listed(&app, &cat, "").await, [t1], "the assignee sees only their task");
    assert_eq!(listed(&app, &cat, &format!("owner_id={}", ann.id)).await, [t1]);
    assert_eq!(listed(&app, &cat, "tag=home").await, none);
    assert_eq!(listed(&app, &moderator, "").await, [t4, t3, t2, t1]);
    assert_eq!(listed(&app, &moderator, "tag=work").await, [t4, t1]);
    assert_eq!(listed(&app, &moderator, "priority=high").await, [t4, t1]);
    assert_eq!(listed(&app, &moderator, &format!("owner_id={}", bob.id)).await, [t4]);

    // Each listed task is the full object, tags included.
    let first = &list(&app, &ann, "tag=errand").await["data"][0];
    assert_eq!(first["tags"], json!(["home", "errand"]));
    assert_eq!(first["owner_id"], ann.id);
}

async fn text_search_is_case_insensitive_and_unicode_aware(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let ete = id(&create_task(&app, &ann, json!({"title": "Été à Paris"})).await);
    let plans = id(&create_task(&app, &ann, json!({"title": "summer", "description": "Plans for the ÉTÉ trip"})).await);
    let percent = id(&create_task(&app, &ann, json!({"title": "100% done"})).await);
    let plain = id(&create_task(&app, &ann, json!({"title": "plain", "description": "nothing_special"})).await);
    let path = id(&create_task(&app, &ann, json!({"title": r"C:\Temp"})).await);
    create_task(&app, &bob, json!({"title": "bob's été"})).await;

    let search = |q: &'static str| {
        let request = as_user(&app, &ann, Method::GET, "/api/v1/tasks").query(&[("q", q)]).send();
        async move { ids(&expect_json(request.await.unwrap(), 200).await) }
    };
    assert_eq!(search("été").await, [plans, ete]);
    assert_eq!(search("ÉTÉ").await, [plans, ete]);
    assert_eq!(search("Été").await, [plans, ete]);
    assert_eq!(search("  paris ").await, [ete]);
    assert_eq!(search("À PARIS").await, [ete]);
    assert_eq!(search("PLANS FOR").await, [plans], "descriptions are searched");
    assert_eq!(search("%").await, [percent], "`%` is a character, not a wildcard");
    assert_eq!(search("_").await, [plain], "`_` is a character, not a wildcard");
    assert_eq!(search("\\").await, [path], "`\\` is a character, not an escape");
    assert_eq!(search(r"c:\t").await, [path]);
    assert_eq!(search("ete").await, Vec::<i64>::new(), "accents matter");
    assert_eq!(search("").await, [path, plain, percent, plans, ete]);
    // Encoded by hand, as a browser would.
    assert_eq!(listed(&app, &ann, "q=%C3%89T%C3%89").await, [plans, ete]);
    assert_eq!(listed(&app, &ann, "q=%c3%a9t%c3%a9&sort=title").await, [plans, ete]);

    // The searched text follows changes.
    patch_ok(&app, &ann, plans, json!({"description": null})).await;
    assert_eq!(search("été").await, [ete]);
    patch_ok(&app, &ann, plain, json!({"title": "ÉTÉ again"})).await;
    assert_eq!(search("été").await, [plain, ete]);
}

async fn due_date_filters_and_overdue(app: TestApp) {
    let ann = app.signup("ann").await;
    let make = |title: &'static str, due: Option<&'static str>, status: &'static str| {
        let mut body = json!({"title": title, "status": status});
        if let Some(due) = due {
            body["due_date"] = json!(due);
        }
        let app = &app;
        let ann = &ann;
        async move { id(&create_task(app, ann, body).await) }
    };
    let a = make("a", Some("2030-06-01"), "pending").await;
    let b = make("b", Some("2030-06-02T14:00:00+02:00"), "pending").await;
    make("c, without a due date: never listed below", None, "pending").await;
    let d = make("d", Some("2001-01-01T00:00:00Z"), "pending").await;
    let e = make("e", Some("2001-01-01"), "completed").await;
    let f = make("f", Some("2002-01-01T12:00:00Z"), "in_progress").await;

    for (query, expected) in [
        ("due_after=2030-06-01", vec![b, a]),
        ("due_after=2030-06-01T00:00:00Z", vec![b, a]),
        ("due_after=2030-06-01T00:00:00.000001Z", vec![b]),
        ("due_after=2030-06-01T02:00:00%2B02:00", vec![b, a]),
        ("due_after=2030-06-02T12:00:00Z", vec![b]),
        ("due_after=2030-06-02T12:00:01Z", vec![]),
        ("due_before=2030-06-01", vec![f, e, d]),
        ("due_before=2030-06-01T02:00:00%2B02:00", vec![f, e, d]),
        ("due_before=2030-06-01T00:00:01Z", vec![f, e, d, a]),
        ("due_before=2001-01-01", vec![]),
        ("due_after=2030-06-01&due_before=2030-06-02", vec![a]),
        ("due_after=2001-01-01&due_before=2002-01-01", vec![e, d]),
        ("overdue=true", vec![f, d]),
        ("overdue=true&status=in_progress", vec![f]),
        ("overdue=true&due_after=2001-06-01", vec![f]),
    ] {
        assert_eq!(listed(&app, &ann, query).await, expected, "{query}");
    }
    let overdue = stats(&app, &ann).await;
    assert_eq!(overdue["overdue"], 2);

    // Completing an overdue task ends its being overdue; reopening it brings it back.
    patch_ok(&app, &ann, d, json!({"status": "completed"})).await;
    assert_eq!(listed(&app, &ann, "overdue=true").await, [f]);
    assert_eq!(stats(&app, &ann).await["overdue"], 1);
    patch_ok(&app, &ann, e, json!({"status": "pending"})).await;
    assert_eq!(listed(&app, &ann, "overdue=true").await, [f, e]);
    patch_ok(&app, &ann, f, json!({"due_date": null})).await;
    assert_eq!(listed(&app, &ann, "overdue=true").await, [e]);
}

async fn lists_sort_by_every_key(app: TestApp) {
    let ann = app.signup("ann").await;
    let make = |title: &'static str, priority: &'static str, due: Option<&'static str>| {
        let mut body = json!({"title": title, "priority": priority});
        if let Some(due) = due {
            body["due_date"] = json!(due);
        }
        let (app, ann) = (&app, &ann);
        async move { id(&create_task(app, ann, body).await) }
    };
    let charlie = make("charlie", "low", Some("2030-03-01")).await;
    let alpha = make("alpha", "high", None).await;
    let echo = make("echo", "medium", Some("2030-01-01")).await;
    let bravo = make("bravo", "medium", None).await;
    let delta = make("delta", "low", Some("2030-02-01")).await;

    let newest_first = [delta, bravo, echo, alpha, charlie];
    assert_eq!(listed(&app, &ann, "").await, newest_first, "default: -created_at");
    assert_eq!(listed(&app, &ann, "sort=-created_at").await, newest_first);
    assert_eq!(listed(&app, &ann, "sort=created_at").await, [charlie, alpha, echo, bravo, delta]);
    assert_eq!(titles(&list(&app, &ann, "sort=title").await), ["alpha", "bravo", "charlie", "delta", "echo"]);
    assert_eq!(titles(&list(&app, &ann, "sort=-title").await), ["echo", "delta", "charlie", "bravo", "alpha"]);

    let priorities = |list: Value| -> Vec<String> {
        list["data"].as_array().unwrap().iter().map(|t| t["priority"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(priorities(list(&app, &ann, "sort=priority").await), ["low", "low", "medium", "medium", "high"]);
    assert_eq!(priorities(list(&app, &ann, "sort=-priority").await), ["high", "medium", "medium", "low", "low"]);

    // Tasks without a due date come last in both directions.
    let by_due = listed(&app, &ann, "sort=due_date").await;
    assert_eq!(by_due[..3], [echo, delta, charlie]);
    assert_eq!(sorted(&by_due[3..]), sorted(&[alpha, bravo]));
    let by_due = listed(&app, &ann, "sort=-due_date").await;
    assert_eq!(by_due[..3], [charlie, delta, echo]);
    assert_eq!(sorted(&by_due[3..]), sorted(&[alpha, bravo]));

    // The latest change first.
    patch_ok(&app, &ann, echo, json!({"title": "echo!"})).await;
    patch_ok(&app, &ann, charlie, json!({"title": "charlie!"})).await;
    let by_update = listed(&app, &ann, "sort=-updated_at").await;
    assert_eq!(by_update[..2], [charlie, echo]);
    let by_update = listed(&app, &ann, "sort=updated_at").await;
    assert_eq!(by_update[3..], [echo, charlie]);

    // Sorting goes with filtering and paging.
    assert_eq!(listed(&app, &ann, "sort=title&priority=low,medium&per_page=2&page=2").await, [delta, echo]);
}

fn sorted(ids: &[i64]) -> Vec<i64> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids
}

async fn lists_are_paginated_with_links(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;

    // No rows: zero totals, and `last` still points at page 1.
    let reply = Reply::of(as_user(&app, &ann, Method::GET, "/api/v1/tasks").send().await.unwrap()).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["data"], json!([]));
    assert_eq!(body["pagination"], json!({"page": 1, "per_page": 20, "total": 0, "pages": 0}));
    let rels = links(reply.header("link").expect("a Link header"));
    assert_eq!(link(&rels, "first"), Some("/api/v1/tasks?page=1"));
    assert_eq!(link(&rels, "last"), Some("/api/v1/tasks?page=1"));
    assert_eq!((link(&rels, "prev"), link(&rels, "next")), (None, None));

    let mut created = Vec::new();
    for n in 0..5 {
        created.push(id(&create_task(&app, &ann, json!({"title": format!("task {n}")})).await));
    }
    create_task(&app, &bob, json!({"title": "not ann's"})).await;
    created.reverse(); // newest first

    let mut seen = Vec::new();
    for page in 1..=3_u64 {
        let res = as_user(&app, &ann, Method::GET, &format!("/api/v1/tasks?per_page=2&page={page}")).send();
        let reply = Reply::of(res.await.unwrap()).await;
        let body = reply.json();
        assert_eq!(body["pagination"], json!({"page": page, "per_page": 2, "total": 5, "pages": 3}));
        seen.extend(ids(&body));
        let rels = links(reply.header("link").unwrap());
        assert_eq!(link(&rels, "first"), Some("/api/v1/tasks?per_page=2&page=1"));
        assert_eq!(link(&rels, "last"), Some("/api/v1/tasks?per_page=2&page=3"));
        let prev = (page > 1).then(|| format!("/api/v1/tasks?per_page=2&page={}", page - 1));
        let next = (page < 3).then(|| format!("/api/v1/tasks?per_page=2&page={}", page + 1));
        assert_eq!(link(&rels, "prev"), prev.as_deref(), "page {page}");
        assert_eq!(link(&rels, "next"), next.as_deref(), "page {page}");
    }
    assert_eq!(seen, created, "the pages together are the list, each task once");

    // Following `next` keeps the other parameters.
    let res = as_user(&app, &ann, Method::GET, "/api/v1/tasks?status=pending&per_page=4").send().await.unwrap();
    let rels = links(res.headers()["link"].to_str().unwrap());
    let next = link(&rels, "next").unwrap().to_owned();
    assert!(next.contains("status=pending") && next.contains("per_page=4"), "{next}");
    let page_two = expect_json(as_user(&app, &ann, Method::GET, &next).send().await.unwrap(), 200).await;
    assert_eq!(ids(&page_two), created[4..]);

    // Past the end: empty, same totals.
    let beyond = list(&app, &ann, "per_page=2&page=9").await;
    assert_eq!(beyond["data"], json!([]));
    assert_eq!((&beyond["pagination"]["total"], &beyond["pagination"]["pages"]), (&json!(5), &json!(3)));

    // `per_page` is capped at 100.
    let capped = list(&app, &ann, "per_page=500").await;
    assert_eq!(capped["pagination"]["per_page"], 100);
    assert_eq!(ids(&capped), created);
    assert_eq!(list(&app, &ann, "per_page=100").await["pagination"]["per_page"], 100);
}

/// A status's pages follow every change of status at once, through patches, creates and
/// deletes, read back page by page (newest first, and oldest first) with their totals, for the
/// owner and for the assignee whose list holds some of the tasks.
async fn status_pages_follow_every_change_of_status(app: TestApp) {
    let ann = app.signup("ann").await;
    let cat = app.signup("cat").await;
    let statuses = ["pending", "in_progress", "completed"];
    // Oldest first: (id, status, assigned to cat).
    let mut tasks: Vec<(i64, &str, bool)> = Vec::new();
    for n in 0..24 {
        let (status, assigned) = (statuses[n % 3], n % 4 == 0);
        let mut body = json!({"title": format!("task {n}"), "status": status});
        if assigned {
            body["assignee_id"] = json!(cat.id);
        }
        tasks.push((id(&create_task(&app, &ann, body).await), status, assigned));
    }
    async fn check(app: &TestApp, ann: &Account, cat: &Account, tasks: &[(i64, &str, bool)], when: &str) {
        for status in ["pending", "in_progress", "completed"] {
            for (who, mine) in [(ann, false), (cat, true)] {
                let oldest: Vec<i64> = tasks.iter().filter(|t| t.1 == status && (!mine || t.2)).map(|t| t.0).collect();
                let newest: Vec<i64> = oldest.iter().rev().copied().collect();
                for (order, expected) in [("", &newest), ("&sort=created_at", &oldest)] {
                    let mut seen = Vec::new();
                    for page in 1..=4 {
                        let body = list(app, who, &format!("status={status}&per_page=3&page={page}{order}")).await;
                        assert_eq!(body["pagination"]["total"], expected.len(), "{when}: {status}{order}, total");
                        seen.extend(ids(&body));
                    }
                    let shown = expected.len().min(12);
                    assert_eq!(seen, expected[..shown], "{when}: {status}{order}, {} pages", who.id);
                }
            }
        }
    }
    check(&app, &ann, &cat, &tasks, "created").await;

    // Completed, reopened, started: each page shows them where they now belong.
    for (n, status) in [(1, "completed"), (4, "completed"), (2, "pending"), (8, "in_progress"), (20, "pending")] {
        let path = format!("/tasks/{}", tasks[n].0);
        let res = send_as(&app, &ann, Method::PATCH, &path, Some(json!({"status": status}))).await;
        assert_eq!(res.status(), 200, "patch {n}");
        tasks[n].1 = status;
        check(&app, &ann, &cat, &tasks, &format!("after task {n} became {status}")).await;
    }
    // New tasks join the newest end; a deleted one leaves.
    for n in 24..27 {
        let status = statuses[n % 3];
        let body = json!({"title": format!("task {n}"), "status": status, "assignee_id": cat.id});
        tasks.push((id(&create_task(&app, &ann, body).await), status, true));
    }
    let res =
        send_as(&app, &ann, Method::PATCH, &format!("/tasks/{}", tasks[25].0), Some(json!({"status": "completed"})))
            .await;
    assert_eq!(res.status(), 200);
    tasks[25].1 = "completed";
    check(&app, &ann, &cat, &tasks, "after creates").await;
    let gone = tasks.remove(3);
    let res = send_as(&app, &ann, Method::DELETE, &format!("/tasks/{}", gone.0), None).await;
    assert_eq!(res.status(), 204);
    check(&app, &ann, &cat, &tasks, "after a delete").await;
}

async fn bad_list_parameters_are_400_or_422(app: TestApp) {
    let ann = app.signup("ann").await;
    let get = |query: &'static str| as_user(&app, &ann, Method::GET, &format!("/api/v1/tasks?{query}")).send();
    for (query, field) in [
        ("sort=colour", "sort"),
        ("sort=-colour", "sort"),
        ("sort=--title", "sort"),
        ("status=done", "status"),
        ("status=pending,done", "status"),
        ("priority=urgent", "priority"),
        ("page=0", "page"),
        ("per_page=0", "per_page"),
        ("page=-1", "page"),
        ("per_page=-1", "per_page"),
    ] {
        let problem = expect_problem(get(query).await.unwrap(), 422).await;
        assert_eq!(error_fields(&problem), [field], "{query}: {problem}");
    }
    let problem = expect_problem(get("sort=colour&status=done&page=0").await.unwrap(), 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["page", "sort", "status"], "every bad parameter at once: {problem}");

    for query in [
        "q=a%00b",
        "tag=%00",
        "page=abc",
        "page=1.5",
        "per_page=lots",
        "due_before=tomorrow",
        "due_after=2026-13-45",
        "overdue=yes",
        "assignee_id=me",
        "owner_id=1.5",
    ] {
        expect_problem(get(query).await.unwrap(), 400).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics and tags.

async fn stats_count_visible_tasks_and_follow_every_write(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let cat = app.signup("cat").await;
    let moderator = app.signup_with_role("mod", "moderator").await;

    assert_stats(&stats(&app, &ann).await, 0, [0, 0, 0], [0, 0, 0], 0);
    assert_stats(&stats(&app, &moderator).await, 0, [0, 0, 0], [0, 0, 0], 0);

    let t1 = id(&create_task(&app, &ann, json!({"title": "1", "priority": "high", "due_date": "2001-01-01"})).await);
    // Stats right after a write, with the previous answer possibly cached.
    assert_stats(&stats(&app, &ann).await, 1, [1, 0, 0], [0, 0, 1], 1);
    assert_stats(&stats(&app, &cat).await, 0, [0, 0, 0], [0, 0, 0], 0);
    let t2 = id(&create_task(&app, &ann, json!({"title": "2", "status": "in_progress", "priority": "low"})).await);
    create_task(&app, &ann, json!({"title": "3", "status": "completed", "due_date": "2001-01-01"})).await;
    let t4 = id(&create_task(&app, &ann, json!({"title": "4", "assignee_id": cat.id})).await);
    create_task(&app, &bob, json!({"title": "bob's", "status": "completed", "due_date": "2001-01-01"})).await;

    assert_stats(&stats(&app, &ann).await, 4, [2, 1, 1], [1, 2, 1], 1);
    assert_stats(&stats(&app, &cat).await, 1, [1, 0, 0], [0, 1, 0], 0);
    assert_stats(&stats(&app, &bob).await, 1, [0, 0, 1], [0, 1, 0], 0);
    assert_stats(&stats(&app, &moderator).await, 5, [2, 1, 2], [1, 3, 1], 1);

    // Changes show at once, for everyone concerned.
    patch_ok(&app, &ann, t1, json!({"status": "completed"})).await;
    assert_stats(&stats(&app, &ann).await, 4, [1, 1, 2], [1, 2, 1], 0);
    assert_stats(&stats(&app, &moderator).await, 5, [1, 1, 3], [1, 3, 1], 0);
    patch_ok(&app, &cat, t4, json!({"priority": "high", "status": "in_progress"})).await;
    assert_stats(&stats(&app, &cat).await, 1, [0, 1, 0], [0, 0, 1], 0);
    assert_stats(&stats(&app, &ann).await, 4, [0, 2, 2], [1, 1, 2], 0);
    patch_ok(&app, &ann, t4, json!({"assignee_id": bob.id})).await;
    assert_stats(&stats(&app, &cat).await, 0, [0, 0, 0], [0, 0, 0], 0);
    assert_stats(&stats(&app, &bob).await, 2, [0, 1, 1], [0, 1, 1], 0);
    let res = as_user(&app, &ann, Method::DELETE, &task_path(t2)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_stats(&stats(&app, &ann).await, 3, [0, 1, 2], [0, 1, 2], 0);
    assert_stats(&stats(&app, &moderator).await, 4, [0, 1, 3], [0, 2, 2], 0);
    let res = as_user(&app, &moderator, Method::DELETE, &task_path(t4)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_stats(&stats(&app, &bob).await, 1, [0, 0, 1], [0, 1, 0], 0);
    assert_stats(&stats(&app, &ann).await, 2, [0, 0, 2], [0, 1, 1], 0);
}

async fn tags_count_visible_tasks(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let cat = app.signup("cat").await;
    let moderator = app.signup_with_role("mod", "moderator").await;

    assert_eq!(tags(&app, &ann, "").await, json!({"data": []}));
    create_task(&app, &ann, json!({"title": "1", "tags": ["Work", "urgent"]})).await;
    create_task(&app, &ann, json!({"title": "2", "tags": ["work"]})).await;
    let home = id(&create_task(&app, &ann, json!({"title": "3", "tags": ["home"], "assignee_id": cat.id})).await);
    create_task(&app, &bob, json!({"title": "4", "tags": ["secret", "work"]})).await;

    let anns = tags(&app, &ann, "").await;
    assert_eq!(anns["data"][0], json!({"name": "work", "usage_count": 2}), "most used first: {anns}");
    let mut rest: Vec<Value> = anns["data"].as_array().unwrap()[1..].to_vec();
    rest.sort_by_key(|t| t["name"].as_str().unwrap().to_owned());
    assert_eq!(rest, [json!({"name": "home", "usage_count": 1}), json!({"name": "urgent", "usage_count": 1})]);

    assert_eq!(tags(&app, &ann, "?q=WOR").await, json!({"data": [{"name": "work", "usage_count": 2}]}));
    assert_eq!(tags(&app, &ann, "?q=%20urg%20").await, json!({"data": [{"name": "urgent", "usage_count": 1}]}));
    assert_eq!(tags(&app, &ann, "?q=secret").await, json!({"data": []}));
    assert_eq!(tags(&app, &ann, "?q=%25").await, json!({"data": []}));
    assert_eq!(tags(&app, &cat, "").await, json!({"data": [{"name": "home", "usage_count": 1}]}));
    assert_eq!(tags(&app, &bob, "?q=work").await, json!({"data": [{"name": "work", "usage_count": 1}]}));
    let all = tags(&app, &moderator, "").await;
    assert_eq!(all["data"][0], json!({"name": "work", "usage_count": 3}), "{all}");
    assert_eq!(all["data"].as_array().unwrap().len(), 4);
    assert!(all.get("pagination").is_none(), "tags are not paginated");

    // Tags follow changes.
    patch_ok(&app, &ann, home, json!({"tags": ["garden"]})).await;
    assert_eq!(tags(&app, &cat, "").await, json!({"data": [{"name": "garden", "usage_count": 1}]}));
    let res = as_user(&app, &ann, Method::DELETE, &task_path(home)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(tags(&app, &cat, "").await, json!({"data": []}));
}

engines!(
    lists_filter_by_status_priority_people_and_tag,
    text_search_is_case_insensitive_and_unicode_aware,
    due_date_filters_and_overdue,
    lists_sort_by_every_key,
    lists_are_paginated_with_links,
    status_pages_follow_every_change_of_status,
    bad_list_parameters_are_400_or_422,
    stats_count_visible_tasks_and_follow_every_write,
    tags_count_visible_tasks,
);
