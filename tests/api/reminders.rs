//! Reminders and the daily digest as people meet them on both engines: a reminder is set at a
//! moment or before the due date (moving with it), at most ten a task; it comes once, to the
//! task's owner and assignee, on any instance; `due_soon` comes once a day before the due date;
//! the daily digest mails what waits, only what its reader still sees, with a one-click
//! unsubscribe of its own.

use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use workbench_e2e::{Account, Backend, TestApp, error_fields, expect_problem, send_as};
use workbench_mail::testing::SmtpSink;

use crate::realtime::Socket;

workbench_e2e::engines!(
    reminders_are_set_listed_limited_and_deleted_by_those_who_may_change_the_task,
    a_reminder_comes_once_to_the_owner_and_the_assignee,
);

workbench_e2e::per_engine!(
    due_soon_comes_once_a_day_before_the_due_date,
    reminders_set_on_two_instances_come_once_each,
    the_daily_digest_mails_what_waits_and_what_is_still_seen,
);

async fn expect(res: Response, status: u16) -> Value {
    let (code, url) = (res.status().as_u16(), res.url().to_string());
    let text = res.text().await.unwrap_or_default();
    assert_eq!(code, status, "{url}: {text}");
    if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON") }
}

async fn task(app: &TestApp, who: &Account, body: Value) -> i64 {
    expect(send_as(app, who, Method::POST, "/tasks", Some(body)).await, 201).await["id"].as_i64().expect("id")
}

async fn remind(app: &TestApp, who: &Account, task: i64, body: Value) -> Response {
    send_as(app, who, Method::POST, &format!("/tasks/{task}/reminders"), Some(body)).await
}

fn in_secs(secs: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339()
}

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).expect("an RFC 3339 instant").to_utc()
}

/// The kinds of `who`'s notifications, newest first; `project_invited` aside (being added to a
/// project is how some cases here begin).
async fn kinds(app: &TestApp, who: &Account) -> Vec<String> {
    let page = expect(send_as(app, who, Method::GET, "/notifications?per_page=100", None).await, 200).await;
    let data = page["data"].as_array().expect("data");
    data.iter().map(|n| n["kind"].as_str().expect("kind").to_owned()).filter(|k| k != "project_invited").collect()
}

/// Waits (up to 30 s) until `who` has `n` notifications of `kind`; their kinds then.
async fn until_told(app: &TestApp, who: &Account, kind: &str, n: usize) -> Vec<String> {
    for _ in 0..300 {
        let told = kinds(app, who).await;
        if told.iter().filter(|k| *k == kind).count() >= n {
            return told;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} was not told {n} {kind}: {:?}", who.username, kinds(app, who).await);
}

async fn reminders_are_set_listed_limited_and_deleted_by_those_who_may_change_the_task(app: TestApp) {
    let (ann, bob, cat, dan) =
        (app.signup("ann").await, app.signup("bob").await, app.signup("cat").await, app.signup("dan").await);
    let home = expect(send_as(&app, &ann, Method::POST, "/projects", Some(json!({"name": "Home"}))).await, 201).await;
    let home = home["id"].as_i64().expect("id");
    let path = format!("/projects/{home}/members");
    for (who, role) in [(&bob, "editor"), (&cat, "viewer")] {
        expect(send_as(&app, &ann, Method::POST, &path, Some(json!({"user_id": who.id, "role": role}))).await, 201)
            .await;
    }
    let due = Utc::now() + chrono::Duration::days(3);
    let made = task(
        &app,
        &ann,
        json!({"title": "Pay the rent", "project_id": home, "assignee_id": bob.id, "due_date": due.to_rfc3339()}),
    )
    .await;

    let at = in_secs(3_600);
    let absolute = expect(remind(&app, &bob, made, json!({"at": at})).await, 201).await;
    assert_eq!(absolute["task_id"], made);
    assert_eq!(instant(&absolute["at"]).timestamp(), instant(&json!(at)).timestamp());
    assert_eq!(absolute["fires_at"], absolute["at"]);
    assert_eq!((absolute["before_due"].clone(), absolute["fired_at"].clone()), (Value::Null, Value::Null));
    let relative = expect(remind(&app, &ann, made, json!({"before_due": "P1D"})).await, 201).await;
    assert_eq!(relative["before_due"], "P1D");
    assert_eq!(relative["at"], Value::Null);
    assert_eq!(instant(&relative["fires_at"]).timestamp(), (due - chrono::Duration::days(1)).timestamp());

    // Each refusal names its field.
    for (bad, field) in [
        (json!({"at": "2001-01-01T00:00:00Z"}), "at"),
        (json!({"at": "tomorrow"}), "at"),
        (json!({"at": 5}), "at"),
        (json!({"before_due": "P1M"}), "before_due"),
        (json!({"before_due": "-PT1H"}), "before_due"),
        (json!({"at": at, "before_due": "P1D"}), "at"),
        (json!({}), "at"),
    ] {
        let problem = expect_problem(remind(&app, &ann, made, bad.clone()).await, 422).await;
        assert_eq!(error_fields(&problem), [field], "{bad}: {problem}");
    }
    // A viewer reads them, may not set one; an outsider sees no task.
    let listed = expect(send_as(&app, &cat, Method::GET, &format!("/tasks/{made}/reminders"), None).await, 200).await;
    assert_eq!(listed, json!([absolute, relative]), "oldest first, due_soon not among them");
    expect_problem(remind(&app, &cat, made, json!({"before_due": "PT1H"})).await, 403).await;
    expect_problem(remind(&app, &dan, made, json!({"before_due": "PT1H"})).await, 404).await;
    expect_problem(send_as(&app, &dan, Method::GET, &format!("/tasks/{made}/reminders"), None).await, 404).await;

    // Ten a task: the eleventh is refused.
    for hours in 2..10 {
        expect(remind(&app, &ann, made, json!({"before_due": format!("PT{hours}H")})).await, 201).await;
    }
    let problem = expect_problem(remind(&app, &ann, made, json!({"before_due": "PT11H"})).await, 422).await;
    assert_eq!(error_fields(&problem), ["reminders"], "{problem}");

    // A relative reminder moves with the due date; an absolute one stays.
    let later = due + chrono::Duration::days(2);
    let patched = json!({"due_date": later.to_rfc3339()});
    expect(send_as(&app, &ann, Method::PATCH, &format!("/tasks/{made}"), Some(patched)).await, 200).await;
    let listed = expect(send_as(&app, &ann, Method::GET, &format!("/tasks/{made}/reminders"), None).await, 200).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(10));
    assert_eq!(listed[0]["fires_at"], absolute["fires_at"]);
    assert_eq!(instant(&listed[1]["fires_at"]).timestamp(), (later - chrono::Duration::days(1)).timestamp());

    // Deleting: once, by those who may change the task.
    let one = format!("/tasks/{made}/reminders/{}", relative["id"]);
    expect_problem(send_as(&app, &cat, Method::DELETE, &one, None).await, 403).await;
    expect(send_as(&app, &bob, Method::DELETE, &one, None).await, 204).await;
    expect_problem(send_as(&app, &bob, Method::DELETE, &one, None).await, 404).await;
    expect(remind(&app, &ann, made, json!({"before_due": "PT11H"})).await, 201).await;
}

async fn a_reminder_comes_once_to_the_owner_and_the_assignee(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let made = task(&app, &ann, json!({"title": "Call the plumber", "assignee_id": bob.id})).await;
    let mut socket = Socket::open(&app, &bob).await;
    socket.settle().await;
    // Bob sets it; he hears it too (a reminder has no actor).
    expect(remind(&app, &bob, made, json!({"at": in_secs(3)})).await, 201).await;

    let pushed = socket.next("notification.created").await;
    let pushed = if pushed["data"]["kind"] == "assigned" { socket.next("notification.created").await } else { pushed };
    assert_eq!(pushed["data"]["kind"], "reminder", "{pushed}");
    assert_eq!(pushed["data"]["actor_id"], Value::Null);
    assert_eq!(pushed["data"]["subject"], json!({"type": "task", "id": made}));
    assert!(pushed["data"]["title"].as_str().is_some_and(|t| t.contains("Call the plumber")), "{pushed}");
    until_told(&app, &ann, "reminder", 1).await;

    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(kinds(&app, &bob).await, ["reminder", "assigned"], "once");
    assert_eq!(kinds(&app, &ann).await, ["reminder"], "once");
    let listed = expect(send_as(&app, &ann, Method::GET, &format!("/tasks/{made}/reminders"), None).await, 200).await;
    assert!(listed[0]["fired_at"].is_string(), "{listed}");
    assert_eq!(listed[0]["fires_at"], Value::Null);
}

async fn due_soon_comes_once_a_day_before_the_due_date(backend: Backend) {
    // The sweep every second rather than every minute, so that the test need not wait a minute.
    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.jobs.schedule_notification_reminders = Some("* * * * * *".into());
    })
    .await
    else {
        return;
    };
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let soon = (Utc::now() + chrono::Duration::hours(20)).to_rfc3339();
    let later = (Utc::now() + chrono::Duration::days(5)).to_rfc3339();
    let made = task(&app, &ann, json!({"title": "Renew the lease", "assignee_id": bob.id, "due_date": soon})).await;
    task(&app, &ann, json!({"title": "Not yet", "assignee_id": bob.id, "due_date": later})).await;
    task(&app, &ann, json!({"title": "Done already", "status": "completed", "due_date": soon})).await;

    let told = until_told(&app, &bob, "due_soon", 1).await;
    until_told(&app, &ann, "due_soon", 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(kinds(&app, &bob).await, told, "once, and not for the task due in five days");
    let page = expect(send_as(&app, &ann, Method::GET, "/notifications", None).await, 200).await;
    assert_eq!(page["pagination"]["total"], 1, "not for the completed task: {page}");
    assert_eq!(page["data"][0]["subject"], json!({"type": "task", "id": made}));
    assert!(page["data"][0]["title"].as_str().is_some_and(|t| t.contains("Renew the lease")), "{page}");

    // A change of anything but the due date tells nothing again.
    let path = format!("/tasks/{made}");
    expect(send_as(&app, &ann, Method::PATCH, &path, Some(json!({"title": "Renew the lease now"}))).await, 200).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(kinds(&app, &ann).await, ["due_soon"]);
}

async fn reminders_set_on_two_instances_come_once_each(backend: Backend) {
    let Some(apps) = TestApp::spawn_cluster(backend, 2).await else { return };
    let (one, two) = (&apps[0], &apps[1]);
    let (ann, bob) = (one.signup("ann").await, one.signup("bob").await);
    let mut made = Vec::with_capacity(apps.len());
    for (i, app) in apps.iter().enumerate() {
        made.push(task(app, &ann, json!({"title": format!("Task {i}"), "assignee_id": bob.id})).await);
    }
    // Each instance sets reminders at the same moments: both sweep, each reminder comes once. The
    // moments are taken after the slow part (sign-ups hash passwords) and leave the four requests
    // that set them seconds to spare, as a loaded CI machine needs: a moment already past is refused.
    let moments = [in_secs(6), in_secs(7)];
    let mut set = 0;
    for (app, made) in apps.iter().zip(made) {
        for at in &moments {
            expect(remind(app, &ann, made, json!({"at": at})).await, 201).await;
            set += 1;
        }
    }
    until_told(two, &bob, "reminder", set).await;
    until_told(one, &ann, "reminder", set).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    for (who, app) in [(&ann, one), (&bob, two)] {
        let told = kinds(app, who).await;
        assert_eq!(told.iter().filter(|k| *k == "reminder").count(), set, "{}: {told:?}", who.username);
    }
}

/// A cron expression (six fields, seconds first) that fires once, `secs` from now.
fn once_in(secs: i64) -> String {
    let at = Utc::now() + chrono::Duration::seconds(secs);
    format!("{} {} {} * * *", at.second(), at.minute(), at.hour())
}

async fn the_daily_digest_mails_what_waits_and_what_is_still_seen(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else { return };
    let url = sink.url();
    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.mail.smtp_url = Some(url);
        s.mail.from = Some("Workbench <workbench@example.com>".into());
        s.jobs.schedule_notification_digest = Some(once_in(20));
    })
    .await
    else {
        return;
    };
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    // Being added to the projects below is not what this digest is about.
    let quiet = json!({"project_invited": {"email": "off"}});
    expect(send_as(&app, &bob, Method::PUT, "/notifications/preferences", Some(quiet)).await, 200).await;
    let mut homes = Vec::new();
    for name in ["Home", "Cabin"] {
        let made = expect(send_as(&app, &ann, Method::POST, "/projects", Some(json!({"name": name}))).await, 201).await;
        let id = made["id"].as_i64().expect("id");
        let members = format!("/projects/{id}/members");
        expect(
            send_as(&app, &ann, Method::POST, &members, Some(json!({"user_id": bob.id, "role": "editor"}))).await,
            201,
        )
        .await;
        expect(send_as(&app, &bob, Method::PUT, &format!("/projects/{id}/watch"), None).await, 204).await;
        homes.push(id);
    }
    let tiles = task(&app, &ann, json!({"title": "Tiles", "project_id": homes[0]})).await;
    let roof = task(&app, &ann, json!({"title": "Roof", "project_id": homes[1]})).await;
    for (made, body) in [(tiles, "grey ones"), (tiles, "or white"), (roof, "the secret leak")] {
        let path = format!("/tasks/{made}/comments");
        expect(send_as(&app, &ann, Method::POST, &path, Some(json!({"body": body}))).await, 201).await;
    }
    expect(
        send_as(&app, &ann, Method::PATCH, &format!("/tasks/{tiles}"), Some(json!({"status": "in_progress"}))).await,
        200,
    )
    .await;
    // Bob leaves the Cabin before the digest: what is about it is not mailed to him.
    let leave = format!("/projects/{}/members/{}", homes[1], bob.id);
    expect(send_as(&app, &ann, Method::DELETE, &leave, None).await, 204).await;
    assert_eq!(kinds(&app, &bob).await.len(), 4, "all of it listed in the app");
    assert!(sink.messages().is_empty(), "comments and status changes wait for the digest");

    let mails = sink.wait_for(1, Duration::from_secs(40)).await;
    let mail = &mails[0];
    assert_eq!(mail.header("to"), Some("bob@example.com"));
    assert_eq!(mail.header("subject"), Some("Workbench: 3 notifications"), "{:?}", mail.headers);
    let text = crate::notifications::unquoted(&mail.body);
    for line in ["grey ones", "or white", "is now in_progress"] {
        assert_eq!(text.matches(line).count(), 1, "{line}: {text}");
    }
    assert!(!text.contains("secret leak"), "{text}");
    assert_eq!(mail.header("list-unsubscribe-post"), Some("List-Unsubscribe=One-Click"));
    let link = mail.header("list-unsubscribe").expect("a List-Unsubscribe header");
    let link = link.trim_start_matches('<').trim_end_matches('>');
    let path = &link[link.find("/api/v1/").expect("a link to the API")..];
    let res = app.post(path).body("List-Unsubscribe=One-Click").send().await.expect("request");
    assert_eq!(expect(res, 200).await, json!({"kind": "digest", "email": "off"}));
    let preferences = expect(send_as(&app, &bob, Method::GET, "/notifications/preferences", None).await, 200).await;
    assert_eq!(preferences["commented"], json!({"in_app": true, "email": "off"}));
    assert_eq!(preferences["status_changed"], json!({"in_app": true, "email": "off"}));
    assert_eq!(preferences["assigned"], json!({"in_app": true, "email": "instant"}), "instant kinds stay");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.messages().len(), 1, "one digest");
}
