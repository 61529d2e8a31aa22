//! CalDAV as task apps meet it, on both engines: real clients no one here wrote (the Python
//! `caldav` library; vdirsyncer with todoman) driving discovery, two-way sync and edits on both
//! sides; and the rules a client cannot see from one session: sign-in only with a personal access
//! token, access that ends at the next request (a revoked token, a lost membership), a viewer's
//! calendar read-only, sync tokens that report moves, deletions and limits, errors as `DAV:error`
//! bodies, and two instances on one database syncing as one.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::{Method, Response, StatusCode};
use serde_json::json;
use workbench_e2e::{Account, Backend, PASSWORD, TestApp, engines, eventually, expect_json, per_engine, send_as};

/// The workspace's root, where the client scripts live.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace").to_owned()
}

/// The Python that has the clients (`CALDAV_PYTHON`, else `target/caldav-venv`), and the
/// directory of its `vdirsyncer` and `todo`; `None` (a skip, reported) when this machine has
/// none. In CI they must be there: `.ci/run` installs them.
fn clients() -> Option<(PathBuf, PathBuf)> {
    let python = std::env::var_os("CALDAV_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/caldav-venv/bin/python"));
    let found = Command::new(&python)
        .args(["-c", "import caldav, vdirsyncer, todoman"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var("CI").is_err(), "CI must install the CalDAV clients (see .ci/run)");
        #[expect(clippy::print_stderr, reason = "a skipped case says so")]
        {
            eprintln!(
                "SKIPPED: no CalDAV clients (python3 -m venv target/caldav-venv, then pip install -r tests/caldav/requirements.txt)"
            );
        }
        return None;
    }
    let bin = python.parent().expect("python sits in a bin directory").to_owned();
    Some((python, bin))
}

/// A personal access token of `who` with `scopes`.
async fn token(app: &TestApp, who: &Account, scopes: &[&str]) -> String {
    let body = json!({"name": "task app", "scopes": scopes, "password": PASSWORD});
    let made = expect_json(send_as(app, who, Method::POST, "/tokens", Some(body)).await, StatusCode::CREATED).await;
    made["token"].as_str().expect("the secret is shown once").to_owned()
}

/// Runs a client script against `app` as `who` holding `secret`; its output on failure.
fn run_client(
    app: &TestApp,
    (python, bin): &(PathBuf, PathBuf),
    script: &str,
    who: &Account,
    secret: &str,
    extra: &[&str],
) {
    let base = format!("{}/", app.base);
    let rest = format!("{}/api/v1", app.base);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(python)
        .arg(root().join("tests/caldav").join(script))
        .args([base.as_str(), who.username.as_str(), secret, rest.as_str()])
        .args(extra)
        .env("PATH", path)
        .output()
        .expect("the client script runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(" passed, 0 failed"), "{script}:\n{stdout}");
}

engines!(
    the_caldav_library_finds_reads_writes_and_syncs_todos,
    vdirsyncer_and_todoman_sync_both_ways_without_duplicates_or_losses,
    only_a_personal_access_token_signs_in_and_access_ends_at_the_next_request,
    a_project_is_a_calendar_its_viewers_read_and_its_leavers_lose,
    sync_tokens_report_changes_moves_deletions_and_limits,
    writes_follow_the_task_rules_and_errors_are_dav_errors,
    related_to_makes_subtasks_and_subtasks_carry_related_to,
);
per_engine!(two_instances_on_one_database_sync_as_one);
workbench_e2e::engines_with!(
    failed_sign_ins_count_against_the_sign_in_limit with |s: &mut workbench_app::Settings| s.limits.auth_per_minute = 3
);

async fn failed_sign_ins_count_against_the_sign_in_limit(app: TestApp) {
    let ann = app.signup("ann").await;
    let secret = token(&app, &ann, &["tasks:read"]).await;
    let home = format!("/dav/calendars/{}/", ann.id);
    // Guessing the account password: refused, then limited like a sign-in from that address.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(dav(&app, "PROPFIND", &home, ("ann", PASSWORD), Some(ETAGS)).await.status().as_u16());
    }
    assert!(statuses.starts_with(&[401]) && statuses.ends_with(&[429]), "{statuses:?}");
    let limited = dav(&app, "PROPFIND", &home, ("ann", "wbp_guess"), Some(ETAGS)).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    // The token itself is never limited by others' failures.
    multistatus(dav(&app, "PROPFIND", &home, ("ann", &secret), Some(ETAGS)).await).await;
}

async fn the_caldav_library_finds_reads_writes_and_syncs_todos(app: TestApp) {
    let Some(clients) = clients() else { return };
    let ann = app.signup("ann").await;
    let secret = token(&app, &ann, &["tasks:write", "projects:read"]).await;
    tokio::task::block_in_place(|| {
        run_client(&app, &clients, "caldav_library.py", &ann, &secret, &["--account-password", PASSWORD]);
    });
}

async fn vdirsyncer_and_todoman_sync_both_ways_without_duplicates_or_losses(app: TestApp) {
    let Some(clients) = clients() else { return };
    let ann = app.signup("ann").await;
    let secret = token(&app, &ann, &["tasks:write", "projects:read"]).await;
    tokio::task::block_in_place(|| run_client(&app, &clients, "vdirsyncer_todoman.py", &ann, &secret, &[]));
}

/// A DAV request with `Authorization: Basic user:secret`.
async fn dav(app: &TestApp, method: &str, path: &str, (user, secret): (&str, &str), body: Option<&str>) -> Response {
    dav_with(app, method, path, (user, secret), body, &[]).await
}

async fn dav_with(
    app: &TestApp,
    method: &str,
    path: &str,
    (user, secret): (&str, &str),
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Response {
    let method = Method::from_bytes(method.as_bytes()).expect("a method name");
    let mut request = app.client.request(method, format!("{}{path}", app.base)).basic_auth(user, Some(secret));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body.to_owned());
    }
    request.send().await.expect("request")
}

const ETAGS: &str = r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#;

fn todo(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20261129T120000Z\r\n\
         SUMMARY:{summary}\r\nX-APP-COLOR:teal\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
}

/// The body of a `207`, checked to be one.
async fn multistatus(res: Response) -> String {
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, StatusCode::MULTI_STATUS, "{body}");
    body
}

/// The hrefs of the responses of a multistatus whose status is `status` (a removed member), or
/// that carry a propstat (`None`).
fn hrefs(body: &str, status: Option<u16>) -> Vec<String> {
    body.split("<D:response>")
        .skip(1)
        .filter(|r| match status {
            Some(code) => r.contains(&format!("<D:status>HTTP/1.1 {code} ")) && !r.contains("<D:propstat>"),
            None => r.contains("<D:propstat>"),
        })
        .filter_map(|r| r.split("<D:href>").nth(1)?.split("</D:href>").next().map(str::to_owned))
        .collect()
}

fn sync_token(body: &str) -> String {
    body.split("<D:sync-token>")
        .nth(1)
        .and_then(|s| s.split("</D:sync-token>").next())
        .expect("a sync-token")
        .to_owned()
}

fn sync_body(token: &str, limit: Option<u32>) -> String {
    let limit = limit.map(|n| format!("<d:limit><d:nresults>{n}</d:nresults></d:limit>")).unwrap_or_default();
    format!(
        r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level>{limit}<d:prop><d:getetag/></d:prop></d:sync-collection>"#
    )
}

async fn only_a_personal_access_token_signs_in_and_access_ends_at_the_next_request(app: TestApp) {
    let ann = app.signup("ann").await;
    let secret = token(&app, &ann, &["tasks:write"]).await;
    let home = format!("/dav/calendars/{}/", ann.id);

    // The account's password is refused, and says how to sign in.
    let refused = dav(&app, "PROPFIND", &home, ("ann", PASSWORD), Some(ETAGS)).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.headers()["www-authenticate"], "Basic realm=\"Workbench\"");
    assert!(refused.headers()["content-type"].to_str().unwrap().starts_with("application/xml"));
    assert!(refused.text().await.unwrap().contains("<D:error"));
    // The token with another account's name, or with none at all.
    let bob = app.signup("bob").await;
    assert_eq!(dav(&app, "PROPFIND", &home, ("bob", &secret), Some(ETAGS)).await.status(), StatusCode::UNAUTHORIZED);
    let anonymous = app.client.request(Method::from_bytes(b"PROPFIND").unwrap(), format!("{}{home}", app.base));
    assert_eq!(anonymous.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    // User name or e-mail, any case; or the token as a bearer.
    multistatus(dav(&app, "PROPFIND", &home, ("ANN", &secret), Some(ETAGS)).await).await;
    multistatus(dav(&app, "PROPFIND", &home, ("ann@example.com", &secret), Some(ETAGS)).await).await;
    let bearer = app
        .client
        .request(Method::from_bytes(b"PROPFIND").unwrap(), format!("{}{home}", app.base))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::MULTI_STATUS);
    // Another user's home is not there for ann.
    let elsewhere = format!("/dav/calendars/{}/tasks/", bob.id);
    assert_eq!(dav(&app, "PROPFIND", &elsewhere, ("ann", &secret), Some(ETAGS)).await.status(), StatusCode::NOT_FOUND);

    // A read-only token reads and may not write; what it may do is what the calendar shows.
    let reader = token(&app, &ann, &["tasks:read"]).await;
    let object = format!("/dav/calendars/{}/tasks/milk.ics", ann.id);
    let put = dav(&app, "PUT", &object, ("ann", &reader), Some(&todo("milk@test", "Buy milk"))).await;
    assert_eq!(put.status(), StatusCode::FORBIDDEN);
    assert!(put.text().await.unwrap().contains("need-privileges"));
    let put = dav(&app, "PUT", &object, ("ann", &secret), Some(&todo("milk@test", "Buy milk"))).await;
    assert_eq!(put.status(), StatusCode::CREATED);

    // Revoked: refused at the very next request.
    let tokens = expect_json(send_as(&app, &ann, Method::GET, "/tokens", None).await, StatusCode::OK).await;
    let ids: Vec<i64> = tokens["data"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect();
    for id in ids {
        send_as(&app, &ann, Method::DELETE, &format!("/tokens/{id}"), None).await;
    }
    assert_eq!(dav(&app, "GET", &object, ("ann", &secret), None).await.status(), StatusCode::UNAUTHORIZED);
}

async fn project(app: &TestApp, who: &Account, name: &str) -> i64 {
    let made = send_as(app, who, Method::POST, "/projects", Some(json!({"name": name}))).await;
    expect_json(made, StatusCode::CREATED).await["id"].as_i64().unwrap()
}

async fn a_project_is_a_calendar_its_viewers_read_and_its_leavers_lose(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let kitchen = project(&app, &ann, "Kitchen").await;
    let add = json!({"user_id": bob.id, "role": "viewer"});
    expect_json(
        send_as(&app, &ann, Method::POST, &format!("/projects/{kitchen}/members"), Some(add)).await,
        StatusCode::CREATED,
    )
    .await;
    let tiles =
        send_as(&app, &ann, Method::POST, "/tasks", Some(json!({"title": "Tiles", "project_id": kitchen}))).await;
    let tiles = expect_json(tiles, StatusCode::CREATED).await;
    let (ann_secret, bob_secret) = (
        token(&app, &ann, &["tasks:write", "projects:read"]).await,
        token(&app, &bob, &["tasks:write", "projects:read"]).await,
    );

    // Bob's home lists his tasks and the project's, by its name.
    let listing = r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:displayname/><d:current-user-privilege-set/><c:supported-calendar-component-set/></d:prop></d:propfind>"#;
    let home = multistatus(
        dav_with(
            &app,
            "PROPFIND",
            &format!("/dav/calendars/{}/", bob.id),
            ("bob", &bob_secret),
            Some(listing),
            &[("Depth", "1")],
        )
        .await,
    )
    .await;
    let calendar = format!("/dav/calendars/{}/project-{kitchen}/", bob.id);
    assert!(home.contains(&format!("<D:href>{calendar}</D:href>")), "{home}");
    assert!(home.contains("<D:displayname>Kitchen</D:displayname>"), "{home}");
    assert!(home.contains(r#"<C:comp name="VTODO"/>"#), "{home}");
    // A viewer reads, and is shown no write privilege, and is refused one.
    let part = home.split(&calendar).nth(1).unwrap().split("</D:response>").next().unwrap();
    assert!(part.contains("<D:read/>") && !part.contains("<D:write/>"), "{part}");
    let object = format!("{calendar}workbench-task-{}.ics", tiles["id"]);
    let got = dav(&app, "GET", &object, ("bob", &bob_secret), None).await;
    assert_eq!(got.status(), StatusCode::OK);
    let text = got.text().await.unwrap();
    assert!(text.contains("SUMMARY:Tiles") && text.contains(&format!("UID:workbench-task-{}", tiles["id"])), "{text}");
    let put =
        dav(&app, "PUT", &format!("{calendar}new.ics"), ("bob", &bob_secret), Some(&todo("new@test", "Paint"))).await;
    assert_eq!(put.status(), StatusCode::FORBIDDEN);
    assert_eq!(dav(&app, "DELETE", &object, ("bob", &bob_secret), None).await.status(), StatusCode::FORBIDDEN);
    // An editor writes: ann's PUT makes a project task.
    let ann_calendar = format!("/dav/calendars/{}/project-{kitchen}/", ann.id);
    let put =
        dav(&app, "PUT", &format!("{ann_calendar}grout.ics"), ("ann", &ann_secret), Some(&todo("grout@test", "Grout")))
            .await;
    assert_eq!(put.status(), StatusCode::CREATED);
    let tasks = expect_json(
        send_as(&app, &ann, Method::GET, &format!("/tasks?project_id={kitchen}"), None).await,
        StatusCode::OK,
    )
    .await;
    assert!(tasks["data"].as_array().unwrap().iter().any(|t| t["title"] == "Grout"), "{tasks}");

    // Removed from the project: the calendar is gone at bob's next request, and from his home.
    let removed = send_as(&app, &ann, Method::DELETE, &format!("/projects/{kitchen}/members/{}", bob.id), None).await;
    assert!(removed.status().is_success(), "{}", removed.status());
    assert_eq!(dav(&app, "GET", &object, ("bob", &bob_secret), None).await.status(), StatusCode::NOT_FOUND);
    let sync = dav(&app, "REPORT", &calendar, ("bob", &bob_secret), Some(&sync_body("", None))).await;
    assert_eq!(sync.status(), StatusCode::NOT_FOUND);
    let home = multistatus(
        dav_with(
            &app,
            "PROPFIND",
            &format!("/dav/calendars/{}/", bob.id),
            ("bob", &bob_secret),
            Some(listing),
            &[("Depth", "1")],
        )
        .await,
    )
    .await;
    assert!(!home.contains("project-"), "{home}");
}

async fn sync_tokens_report_changes_moves_deletions_and_limits(app: TestApp) {
    let ann = app.signup("ann").await;
    let secret = token(&app, &ann, &["tasks:write", "projects:read"]).await;
    let calendar = format!("/dav/calendars/{}/tasks/", ann.id);
    let mut ids = Vec::new();
    for n in 0..5 {
        let made = send_as(&app, &ann, Method::POST, "/tasks", Some(json!({"title": format!("Task {n}")}))).await;
        ids.push(expect_json(made, StatusCode::CREATED).await["id"].as_i64().unwrap());
    }
    let href = |id: i64| format!("{calendar}workbench-task-{id}.ics");

    // An initial sync cut at two: each page ends with a 507 on the calendar and a token to go on.
    let mut listed = Vec::new();
    let mut token = String::new();
    for page in 0.. {
        let body =
            multistatus(dav(&app, "REPORT", &calendar, ("ann", &secret), Some(&sync_body(&token, Some(2)))).await)
                .await;
        listed.extend(hrefs(&body, None));
        token = sync_token(&body);
        if hrefs(&body, Some(507)).is_empty() {
            break;
        }
        assert_eq!(hrefs(&body, Some(507)), std::slice::from_ref(&calendar), "page {page}: {body}");
    }
    assert_eq!(listed, ids.iter().map(|id| href(*id)).collect::<Vec<_>>());

    // Nothing changed: nothing reported, the same token back.
    let body =
        multistatus(dav(&app, "REPORT", &calendar, ("ann", &secret), Some(&sync_body(&token, None))).await).await;
    assert!(hrefs(&body, None).is_empty() && hrefs(&body, Some(404)).is_empty(), "{body}");

    // A change, a deletion, a move into a project: each once, the gone ones as 404s.
    let patch = json!({"title": "Task 0, renamed"});
    send_as(&app, &ann, Method::PATCH, &format!("/tasks/{}", ids[0]), Some(patch.clone())).await;
    send_as(&app, &ann, Method::PATCH, &format!("/tasks/{}", ids[0]), Some(json!({"priority": "high"}))).await;
    send_as(&app, &ann, Method::DELETE, &format!("/tasks/{}", ids[1]), None).await;
    let kitchen = project(&app, &ann, "Kitchen").await;
    let moved =
        send_as(&app, &ann, Method::PATCH, &format!("/tasks/{}", ids[2]), Some(json!({"project_id": kitchen}))).await;
    assert_eq!(moved.status(), StatusCode::OK);
    let body =
        multistatus(dav(&app, "REPORT", &calendar, ("ann", &secret), Some(&sync_body(&token, None))).await).await;
    assert_eq!(hrefs(&body, None), [href(ids[0])], "{body}");
    let mut gone = hrefs(&body, Some(404));
    gone.sort();
    let mut expected = vec![href(ids[1]), href(ids[2])];
    expected.sort();
    assert_eq!(gone, expected, "{body}");
    assert!(
        body.contains("<D:getetag>&quot;3&quot;</D:getetag>") || body.contains("<D:getetag>\"3\"</D:getetag>"),
        "{body}"
    );
    // The moved task entered the project's calendar.
    let project_calendar = format!("/dav/calendars/{}/project-{kitchen}/", ann.id);
    let body =
        multistatus(dav(&app, "REPORT", &project_calendar, ("ann", &secret), Some(&sync_body("", None))).await).await;
    assert_eq!(hrefs(&body, None), [format!("{project_calendar}workbench-task-{}.ics", ids[2])]);

    // A token this calendar never gave: 403 with the precondition.
    for bad in ["urn:x-workbench:sync:1:999999", "http://example.com/sync/1", &sync_token(&body)] {
        let res = dav(&app, "REPORT", &calendar, ("ann", &secret), Some(&sync_body(bad, None))).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{bad}");
        assert!(res.text().await.unwrap().contains("<D:valid-sync-token/>"), "{bad}");
    }
}

async fn writes_follow_the_task_rules_and_errors_are_dav_errors(app: TestApp) {
    let ann = app.signup("ann").await;
    let secret = token(&app, &ann, &["tasks:write"]).await;
    let calendar = format!("/dav/calendars/{}/tasks/", ann.id);
    let object = format!("{calendar}milk.ics");
    let as_ann = ("ann", secret.as_str());

    let event = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:e@test\r\nDTSTAMP:20261129T120000Z\r\nDTSTART:20261201T100000Z\r\nSUMMARY:Party\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let refused = dav(&app, "PUT", &object, as_ann, Some(event)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.unwrap().contains("<C:supported-calendar-component/>"));
    let long = todo("long@test", &"x".repeat(600));
    let refused = dav(&app, "PUT", &object, as_ann, Some(&long)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body = refused.text().await.unwrap();
    assert!(body.contains("<C:valid-calendar-data/>") && body.contains("SUMMARY"), "{body}");
    let refused = dav(&app, "PUT", &object, as_ann, Some("not a calendar")).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // Create only; then If-None-Match: * is 412, and If-Match follows the version.
    let created =
        dav_with(&app, "PUT", &object, as_ann, Some(&todo("milk@test", "Buy milk")), &[("If-None-Match", "*")]).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let again =
        dav_with(&app, "PUT", &object, as_ann, Some(&todo("milk@test", "Buy milk")), &[("If-None-Match", "*")]).await;
    assert_eq!(again.status(), StatusCode::PRECONDITION_FAILED);
    let got = dav(&app, "GET", &object, as_ann, None).await;
    assert_eq!(got.headers()["etag"], "\"1\"");
    // A REST edit moves the ETag and keeps what the client wrote.
    let tasks = expect_json(send_as(&app, &ann, Method::GET, "/tasks", None).await, StatusCode::OK).await;
    let id = tasks["data"][0]["id"].as_i64().unwrap();
    let patched =
        send_as(&app, &ann, Method::PATCH, &format!("/tasks/{id}"), Some(json!({"status": "completed"}))).await;
    assert_eq!(patched.status(), StatusCode::OK);
    let got = dav(&app, "GET", &object, as_ann, None).await;
    assert_eq!(got.headers()["etag"], "\"2\"");
    let text = got.text().await.unwrap();
    assert!(
        text.contains("X-APP-COLOR:teal") && text.contains("STATUS:COMPLETED") && text.contains("UID:milk@test"),
        "{text}"
    );
    let stale =
        dav_with(&app, "PUT", &object, as_ann, Some(&todo("milk@test", "Oat milk")), &[("If-Match", "\"1\"")]).await;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let fresh =
        dav_with(&app, "PUT", &object, as_ann, Some(&todo("milk@test", "Oat milk")), &[("If-Match", "\"2\"")]).await;
    assert_eq!(fresh.status(), StatusCode::NO_CONTENT);
    let task = expect_json(send_as(&app, &ann, Method::GET, &format!("/tasks/{id}"), None).await, StatusCode::OK).await;
    assert_eq!((task["title"].as_str(), task["version"].as_i64()), (Some("Oat milk"), Some(3)));
    // A client's COMPLETED is the task's completed_at, both ways.
    let done = todo("milk@test", "Oat milk")
        .replace("X-APP-COLOR", "STATUS:COMPLETED\r\nCOMPLETED:20261128T090000Z\r\nX-APP-COLOR");
    assert_eq!(dav(&app, "PUT", &object, as_ann, Some(&done)).await.status(), StatusCode::NO_CONTENT);
    let task = expect_json(send_as(&app, &ann, Method::GET, &format!("/tasks/{id}"), None).await, StatusCode::OK).await;
    let completed_at = task["completed_at"].as_str().unwrap_or_default();
    assert!(task["status"] == "completed" && completed_at.starts_with("2026-11-28T09:00:00"), "{task}");
    let text = dav(&app, "GET", &object, as_ann, None).await.text().await.unwrap();
    assert!(text.contains("COMPLETED:20261128T090000Z\r\n"), "{text}");
    // The same UID under another name is refused.
    let twin = dav(&app, "PUT", &format!("{calendar}twin.ics"), as_ann, Some(&todo("milk@test", "Twin"))).await;
    assert_eq!(twin.status(), StatusCode::FORBIDDEN);
    assert!(twin.text().await.unwrap().contains("no-uid-conflict"));

    // No calendar is made over DAV; unknown paths and oversized objects are DAV errors too.
    let made = dav(&app, "MKCALENDAR", &format!("/dav/calendars/{}/new/", ann.id), as_ann, None).await;
    assert_eq!(made.status(), StatusCode::FORBIDDEN);
    for res in [
        dav(&app, "GET", &format!("{calendar}nothing.ics"), as_ann, None).await,
        dav(&app, "PROPFIND", "/dav/nowhere/", as_ann, Some(ETAGS)).await,
        dav(&app, "PUT", &format!("{calendar}big.ics"), as_ann, Some(&"x".repeat(300 * 1024))).await,
        dav(&app, "PROPFIND", &calendar, as_ann, Some("<d:propfind xmlns:d=\"DAV:\"><d:prop>")).await,
    ] {
        let status = res.status();
        assert!(status.is_client_error(), "{status}");
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/xml"), "{status}");
        assert!(res.text().await.unwrap().contains("<D:error"), "{status}");
    }
    // DELETE honours If-Match, then deletes the task.
    let stale = dav_with(&app, "DELETE", &object, as_ann, None, &[("If-Match", "\"1\"")]).await;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(dav(&app, "DELETE", &object, as_ann, None).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(send_as(&app, &ann, Method::GET, &format!("/tasks/{id}"), None).await.status(), StatusCode::NOT_FOUND);

    // Discovery: the well-known URI and the root lead to the DAV root; OPTIONS names CalDAV.
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for method in ["GET", "PROPFIND"] {
        for path in ["/.well-known/caldav", "/"] {
            if method == "GET" && path == "/" {
                continue;
            }
            let res = no_redirects
                .request(Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", app.base))
                .send()
                .await
                .unwrap();
            assert!(matches!(res.status().as_u16(), 301 | 308), "{method} {path}: {}", res.status());
            assert_eq!(res.headers()["location"], "/dav/");
        }
    }
    let options = dav(&app, "OPTIONS", "/dav/", as_ann, None).await;
    assert_eq!(options.headers()["dav"], "1, 3, calendar-access");
}

async fn two_instances_on_one_database_sync_as_one(backend: Backend) {
    let Some(apps) = TestApp::spawn_cluster(backend, 2).await else { return };
    let (one, two) = (&apps[0], &apps[1]);
    let ann = one.signup("ann").await;
    let secret = token(one, &ann, &["tasks:write"]).await;
    let calendar = format!("/dav/calendars/{}/tasks/", ann.id);
    let initial = multistatus(dav(two, "REPORT", &calendar, ("ann", &secret), Some(&sync_body("", None))).await).await;
    let token = sync_token(&initial);

    // Written on one (over CalDAV and over REST), synced on the other.
    let put =
        dav(one, "PUT", &format!("{calendar}a.ics"), ("ann", &secret), Some(&todo("a@test", "From a phone"))).await;
    assert_eq!(put.status(), StatusCode::CREATED);
    let made = send_as(one, &ann, Method::POST, "/tasks", Some(json!({"title": "From the web"}))).await;
    let id = expect_json(made, StatusCode::CREATED).await["id"].as_i64().unwrap();
    let body = multistatus(dav(two, "REPORT", &calendar, ("ann", &secret), Some(&sync_body(&token, None))).await).await;
    let mut changed = hrefs(&body, None);
    changed.sort();
    assert_eq!(changed, [format!("{calendar}a.ics"), format!("{calendar}workbench-task-{id}.ics")], "{body}");
    let token = sync_token(&body);
    // Deleted on two: one's next sync reports it.
    assert_eq!(
        dav(two, "DELETE", &format!("{calendar}a.ics"), ("ann", &secret), None).await.status(),
        StatusCode::NO_CONTENT
    );
    let body = multistatus(dav(one, "REPORT", &calendar, ("ann", &secret), Some(&sync_body(&token, None))).await).await;
    assert_eq!(hrefs(&body, Some(404)), [format!("{calendar}a.ics")], "{body}");
    // A token revoked on one is refused by two: its cached grant is forgotten as the bus's
    // message arrives, milliseconds after the revocation (a request racing it may still pass).
    let tokens = expect_json(send_as(one, &ann, Method::GET, "/tokens", None).await, StatusCode::OK).await;
    let token_id = tokens["data"][0]["id"].as_i64().unwrap();
    let revoked = send_as(one, &ann, Method::DELETE, &format!("/tokens/{token_id}"), None).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    eventually("the revoked token refused on the other instance", std::time::Duration::from_secs(2), || async {
        let after = dav(two, "PROPFIND", &calendar, ("ann", &secret), Some(ETAGS)).await;
        (after.status() == StatusCode::UNAUTHORIZED).then_some(())
    })
    .await;
}

fn child_todo(uid: &str, summary: &str, parent: Option<&str>) -> String {
    let related = parent.map(|p| format!("RELATED-TO:{p}\r\n")).unwrap_or_default();
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20261129T120000Z\r\n\
         SUMMARY:{summary}\r\n{related}END:VTODO\r\nEND:VCALENDAR\r\n"
    )
}

async fn task_titled(app: &TestApp, who: &Account, title: &str) -> serde_json::Value {
    let list = expect_json(send_as(app, who, Method::GET, "/tasks?per_page=100", None).await, StatusCode::OK).await;
    list["data"].as_array().unwrap().iter().find(|t| t["title"] == title).cloned().unwrap_or_else(|| panic!("{title}"))
}

async fn related_to_makes_subtasks_and_subtasks_carry_related_to(app: TestApp) {
    let ann = app.signup("ann").await;
    let secret = token(&app, &ann, &["tasks:write"]).await;
    let at = |name: &str| format!("/dav/calendars/{}/tasks/{name}", ann.id);
    let put = |name: &'static str, body: String| {
        let (app, path, secret) = (&app, at(name), secret.clone());
        async move { dav(app, "PUT", &path, ("ann", &secret), Some(&body)).await.status() }
    };

    // A client uploads a subtask before its parent (as vdirsyncer may): the link waits for it.
    assert_eq!(put("kid.ics", child_todo("kid@test", "Kid", Some("mom@test"))).await, StatusCode::CREATED);
    assert_eq!(task_titled(&app, &ann, "Kid").await["parent_id"], serde_json::Value::Null);
    let waiting = dav(&app, "GET", &at("kid.ics"), ("ann", &secret), None).await.text().await.unwrap();
    assert!(waiting.contains("\r\nRELATED-TO:mom@test\r\n"), "an unknown parent is given back as written: {waiting}");
    assert_eq!(put("mom.ics", child_todo("mom@test", "Mom", None)).await, StatusCode::CREATED);
    let mom = task_titled(&app, &ann, "Mom").await;
    assert_eq!(task_titled(&app, &ann, "Kid").await["parent_id"], mom["id"], "the parent's arrival links the subtask");

    // Over REST: a subtask made there carries RELATED-TO;RELTYPE=PARENT with the parent's UID.
    let rest = expect_json(
        send_as(&app, &ann, Method::POST, "/tasks", Some(json!({"title": "Rest kid"}))).await,
        StatusCode::CREATED,
    )
    .await;
    let relation = json!({"kind": "subtask", "task_id": rest["id"]});
    let path = format!("/tasks/{}/relations", mom["id"]);
    expect_json(send_as(&app, &ann, Method::POST, &path, Some(relation)).await, StatusCode::CREATED).await;
    let object = at(&format!("workbench-task-{}.ics", rest["id"]));
    let rendered = dav(&app, "GET", &object, ("ann", &secret), None).await.text().await.unwrap();
    assert!(rendered.contains("\r\nRELATED-TO;RELTYPE=PARENT:mom@test\r\n"), "{rendered}");

    // A client that drops the line ends the relation; one that names another parent moves it.
    assert_eq!(put("kid.ics", child_todo("kid@test", "Kid", None)).await, StatusCode::NO_CONTENT);
    assert_eq!(task_titled(&app, &ann, "Kid").await["parent_id"], serde_json::Value::Null);
    let other = format!("workbench-task-{}", rest["id"]);
    assert_eq!(put("kid.ics", child_todo("kid@test", "Kid", Some(&other))).await, StatusCode::NO_CONTENT);
    assert_eq!(task_titled(&app, &ann, "Kid").await["parent_id"], rest["id"]);
    let relations = format!("/tasks/{}/relations", rest["id"]);
    let shown = expect_json(send_as(&app, &ann, Method::GET, &relations, None).await, StatusCode::OK).await;
    assert_eq!(shown["subtask"][0]["title"], "Kid", "{shown}");
    assert_eq!(shown["parent"][0]["title"], "Mom", "{shown}");
}
