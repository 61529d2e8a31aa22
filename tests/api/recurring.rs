//! Recurring tasks as their users meet them, on both engines: an RRULE of the contract's subset
//! (anything else named in a 422), a preview of the next due dates, and completing a task making
//! exactly one next occurrence, however often or concurrently it is completed, until the rule ends.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp, engines, error_fields, expect_json, expect_problem, send_as};

async fn complete(app: &TestApp, who: &Account, id: &Value) -> Value {
    let done = json!({"status": "completed"});
    expect_json(send_as(app, who, Method::PATCH, &format!("/tasks/{id}"), Some(done)).await, StatusCode::OK).await
}

/// Every task of the caller, oldest first.
async fn all_tasks(app: &TestApp, who: &Account) -> Vec<Value> {
    let page =
        expect_json(send_as(app, who, Method::GET, "/tasks?sort=created_at&per_page=100", None).await, StatusCode::OK)
            .await;
    page["data"].as_array().unwrap().clone()
}

fn following<'a>(tasks: &'a [Value], id: &Value) -> Vec<&'a Value> {
    tasks.iter().filter(|t| t["previous_id"] == *id).collect()
}

engines!(
    a_rule_outside_the_subset_or_without_a_due_date_is_named,
    rule_parts_come_in_any_order_and_are_given_back_as_written,
    completing_a_recurring_task_makes_the_next_until_the_rule_ends,
    two_completions_at_once_make_one_next_occurrence,
);

async fn a_rule_outside_the_subset_or_without_a_due_date_is_named(app: TestApp) {
    let ann = app.signup("ann").await;
    for body in [
        json!({"title": "t", "recurrence": "FREQ=DAILY"}),
        json!({"title": "t", "due_date": "2026-12-01", "recurrence": "FREQ=HOURLY"}),
        json!({"title": "t", "due_date": "2026-12-01", "recurrence": "FREQ=DAILY;BYHOUR=9"}),
        json!({"title": "t", "due_date": "2026-12-01", "recurrence": "FREQ=DAILY;COUNT=0"}),
        json!({"title": "t", "due_date": "2026-12-01", "recurrence": 7}),
        json!({"title": "t", "due_date": "2026-12-01", "recurrence": "FREQ=DAILY;UNTIL=20261399T000000Z"}),
        json!({"title": "t", "due_date": "2026-12-01", "recurrence": "INTERVAL=2;FREQ=DAILY;INTERVAL=3"}),
        json!({"title": "t", "due_date": "2026-12-01", "recurrence": "COUNT=2;FREQ=DAILY;UNTIL=20301231T000000Z"}),
        json!({"title": "t", "due_date": "2026-12-01", "recurrence": "BYMONTHDAY=1;FREQ=WEEKLY"}),
        json!({"title": "t", "due_date": "2026-12-01", "recurrence": "BYMONTH=2;BYMONTHDAY=29"}),
    ] {
        let problem = expect_problem(send_as(&app, &ann, Method::POST, "/tasks", Some(body.clone())).await, 422).await;
        assert_eq!(error_fields(&problem), ["recurrence"], "{body}");
    }
    let body =
        json!({"title": "Rent", "due_date": "2026-12-01T09:00:00Z", "recurrence": "RRULE:FREQ=MONTHLY;BYMONTHDAY=1"});
    let rent = expect_json(send_as(&app, &ann, Method::POST, "/tasks", Some(body)).await, StatusCode::CREATED).await;
    assert_eq!(
        (rent["recurrence"].as_str(), rent["previous_id"].as_null()),
        (Some("FREQ=MONTHLY;BYMONTHDAY=1"), Some(()))
    );
    let path = format!("/tasks/{}", rent["id"]);
    let cleared = send_as(&app, &ann, Method::PATCH, &path, Some(json!({"due_date": null}))).await;
    assert_eq!(error_fields(&expect_problem(cleared, 422).await), ["recurrence"]);
    let stopped =
        expect_json(send_as(&app, &ann, Method::PATCH, &path, Some(json!({"recurrence": null}))).await, StatusCode::OK)
            .await;
    assert_eq!(stopped["recurrence"], Value::Null);
    let preview =
        expect_json(send_as(&app, &ann, Method::GET, &format!("{path}/occurrences"), None).await, StatusCode::OK).await;
    assert_eq!(preview, json!({"data": []}), "a task that does not recur has no next dates");
    for count in ["0", "51"] {
        let res = send_as(&app, &ann, Method::GET, &format!("{path}/occurrences?count={count}"), None).await;
        assert_eq!(error_fields(&expect_problem(res, 422).await), ["count"]);
    }
    let stranger = app.signup("bob").await;
    expect_problem(send_as(&app, &stranger, Method::GET, &format!("{path}/occurrences"), None).await, 404).await;
}

/// RFC 5545 fixes no order of rule parts, and every CalDAV client writes its own: any order is
/// read, and the rule is given back as the client wrote it, only its `COUNT` changing from one
/// occurrence to the next.
async fn rule_parts_come_in_any_order_and_are_given_back_as_written(app: TestApp) {
    let ann = app.signup("ann").await;
    let body =
        json!({"title": "Leap day", "due_date": "2028-02-29", "recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"});
    let leap = expect_json(send_as(&app, &ann, Method::POST, "/tasks", Some(body)).await, StatusCode::CREATED).await;
    assert_eq!(leap["recurrence"], "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29");
    let preview = format!("/tasks/{}/occurrences?count=3", leap["id"]);
    let dates = expect_json(send_as(&app, &ann, Method::GET, &preview, None).await, StatusCode::OK).await;
    assert_eq!(
        dates,
        json!({"data": ["2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z", "2040-02-29T00:00:00Z"]}),
        "every fourth year has the day"
    );

    let body = json!({
        "title": "Backup", "due_date": "2026-12-01T09:00:00Z", "recurrence": "RRULE:count=3;ByDay=TU,fr;FREQ=weekly",
    });
    let backup = expect_json(send_as(&app, &ann, Method::POST, "/tasks", Some(body)).await, StatusCode::CREATED).await;
    assert_eq!(backup["recurrence"], "count=3;ByDay=TU,fr;FREQ=weekly", "as written, less the property's name");
    let read =
        expect_json(send_as(&app, &ann, Method::GET, &format!("/tasks/{}", backup["id"]), None).await, StatusCode::OK)
            .await;
    assert_eq!(read["recurrence"], backup["recurrence"]);
    complete(&app, &ann, &backup["id"]).await;
    let tasks = all_tasks(&app, &ann).await;
    let next = following(&tasks, &backup["id"]);
    assert_eq!(next.len(), 1, "{tasks:?}");
    assert_eq!(
        (next[0]["due_date"].as_str(), next[0]["recurrence"].as_str()),
        (Some("2026-12-04T09:00:00Z"), Some("count=2;ByDay=TU,fr;FREQ=weekly"))
    );

    let path = format!("/tasks/{}", leap["id"]);
    let reordered = json!({"recurrence": "BYMONTHDAY=29;UNTIL=20400301T000000Z;BYMONTH=2;FREQ=YEARLY"});
    let changed = expect_json(send_as(&app, &ann, Method::PATCH, &path, Some(reordered)).await, StatusCode::OK).await;
    assert_eq!(changed["recurrence"], "BYMONTHDAY=29;UNTIL=20400301T000000Z;BYMONTH=2;FREQ=YEARLY");
}

async fn completing_a_recurring_task_makes_the_next_until_the_rule_ends(app: TestApp) {
    let ann = app.signup("ann").await;
    let body = json!({
        "title": "Water the plants", "priority": "low", "tags": ["home"],
        "due_date": "2026-12-01T09:00:00Z", "recurrence": "FREQ=WEEKLY;COUNT=3",
    });
    let first = expect_json(send_as(&app, &ann, Method::POST, "/tasks", Some(body)).await, StatusCode::CREATED).await;
    let preview = format!("/tasks/{}/occurrences?count=5", first["id"]);
    let dates = expect_json(send_as(&app, &ann, Method::GET, &preview, None).await, StatusCode::OK).await;
    assert_eq!(dates, json!({"data": ["2026-12-08T09:00:00Z", "2026-12-15T09:00:00Z"]}), "COUNT counts the first");

    complete(&app, &ann, &first["id"]).await;
    let tasks = all_tasks(&app, &ann).await;
    let next = following(&tasks, &first["id"]);
    assert_eq!(next.len(), 1, "{tasks:?}");
    let second = next[0].clone();
    assert_eq!(
        (second["status"].as_str(), second["due_date"].as_str(), second["recurrence"].as_str()),
        (Some("pending"), Some("2026-12-08T09:00:00Z"), Some("FREQ=WEEKLY;COUNT=2"))
    );
    assert_eq!((second["title"].clone(), second["tags"].clone()), (json!("Water the plants"), json!(["home"])));

    // Reopened and completed again, retried: still one next occurrence.
    let reopen = json!({"status": "pending"});
    expect_json(
        send_as(&app, &ann, Method::PATCH, &format!("/tasks/{}", first["id"]), Some(reopen)).await,
        StatusCode::OK,
    )
    .await;
    complete(&app, &ann, &first["id"]).await;
    complete(&app, &ann, &first["id"]).await;
    assert_eq!(following(&all_tasks(&app, &ann).await, &first["id"]).len(), 1);

    complete(&app, &ann, &second["id"]).await;
    let tasks = all_tasks(&app, &ann).await;
    let third = following(&tasks, &second["id"])[0].clone();
    assert_eq!(
        (third["due_date"].as_str(), third["recurrence"].as_str()),
        (Some("2026-12-15T09:00:00Z"), Some("FREQ=WEEKLY;COUNT=1"))
    );
    complete(&app, &ann, &third["id"]).await;
    let tasks = all_tasks(&app, &ann).await;
    assert!(following(&tasks, &third["id"]).is_empty(), "the rule ended with the third");
    assert_eq!(tasks.len(), 3);
}

async fn two_completions_at_once_make_one_next_occurrence(app: TestApp) {
    let ann = app.signup("ann").await;
    for round in 0..5 {
        let body = json!({"title": format!("Daily {round}"), "due_date": "2026-12-01", "recurrence": "FREQ=DAILY"});
        let task =
            expect_json(send_as(&app, &ann, Method::POST, "/tasks", Some(body)).await, StatusCode::CREATED).await;
        let (one, two) = tokio::join!(complete(&app, &ann, &task["id"]), complete(&app, &ann, &task["id"]));
        assert_eq!((one["status"].as_str(), two["status"].as_str()), (Some("completed"), Some("completed")));
        let tasks = all_tasks(&app, &ann).await;
        let next = following(&tasks, &task["id"]);
        assert_eq!(next.len(), 1, "round {round}: {tasks:?}");
        assert_eq!(next[0]["due_date"], "2026-12-02T00:00:00Z");
    }
}
