//! Notifications as people meet them on both engines: an assignment, a comment on a followed
//! task, a mention and a status change each reach those they concern (never the actor, never
//! someone who may not see the task), in the list with its unread count and on their sockets,
//! on any instance; marks, preferences and follows change what comes next.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use std::time::Duration;

use workbench_e2e::{Account, Backend, TestApp, error_fields, expect_problem, send_as};
use workbench_mail::testing::SmtpSink;

use crate::realtime::Socket;

workbench_e2e::engines!(
    an_assignment_notifies_the_assignee_and_reaches_their_socket,
    comments_notify_followers_and_mentions_only_those_who_see_the_task,
    status_changes_reach_followers_until_they_unfollow_or_leave,
    marks_move_the_unread_count_and_reach_the_other_sockets,
    preferences_have_defaults_merge_and_name_what_is_unknown,
    only_visible_tasks_and_projects_can_be_watched,
    projects_trades_share_links_and_chat_rooms_notify_those_they_concern,
);

workbench_e2e::per_engine!(
    a_notification_made_on_one_instance_reaches_a_socket_on_another,
    a_watch_on_one_instance_is_heard_by_another_that_kept_the_follows,
    instant_mail_carries_a_one_click_unsubscribe_that_works,
);

async fn expect(res: Response, status: u16) -> Value {
    let (code, url) = (res.status().as_u16(), res.url().to_string());
    let text = res.text().await.unwrap_or_default();
    assert_eq!(code, status, "{url}: {text}");
    if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON") }
}

async fn project(app: &TestApp, who: &Account, name: &str) -> i64 {
    let made = expect(send_as(app, who, Method::POST, "/projects", Some(json!({"name": name}))).await, 201).await;
    made["id"].as_i64().expect("id")
}

async fn add(app: &TestApp, admin: &Account, project: i64, who: &Account, role: &str) {
    let path = format!("/projects/{project}/members");
    expect(send_as(app, admin, Method::POST, &path, Some(json!({"user_id": who.id, "role": role}))).await, 201).await;
}

async fn task(app: &TestApp, who: &Account, body: Value) -> i64 {
    expect(send_as(app, who, Method::POST, "/tasks", Some(body)).await, 201).await["id"].as_i64().expect("id")
}

async fn patch(app: &TestApp, who: &Account, task: i64, body: Value) {
    expect(send_as(app, who, Method::PATCH, &format!("/tasks/{task}"), Some(body)).await, 200).await;
}

async fn comment(app: &TestApp, who: &Account, task: i64, body: &str) {
    let path = format!("/tasks/{task}/comments");
    expect(send_as(app, who, Method::POST, &path, Some(json!({"body": body}))).await, 201).await;
}

/// `who`'s notifications page (newest first) as JSON.
async fn inbox(app: &TestApp, who: &Account, query: &str) -> Value {
    expect(send_as(app, who, Method::GET, &format!("/notifications{query}"), None).await, 200).await
}

/// The kinds of `who`'s notifications, newest first; `project_invited` aside (being added to a
/// project is how most cases here begin).
async fn kinds(app: &TestApp, who: &Account) -> Vec<String> {
    let page = inbox(app, who, "?per_page=100").await;
    let data = page["data"].as_array().expect("data");
    data.iter().map(|n| n["kind"].as_str().expect("kind").to_owned()).filter(|k| k != "project_invited").collect()
}

async fn an_assignment_notifies_the_assignee_and_reaches_their_socket(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let mut socket = Socket::open(&app, &bob).await;
    socket.settle().await;
    let made = task(&app, &ann, json!({"title": "Fix the sink", "assignee_id": bob.id})).await;

    let pushed = socket.next("notification.created").await;
    let page = inbox(&app, &bob, "").await;
    assert_eq!(page["unread_count"], 1, "{page}");
    assert_eq!(page["pagination"]["total"], 1, "{page}");
    let listed = &page["data"][0];
    assert_eq!(listed["kind"], "assigned");
    assert_eq!(listed["actor_id"], ann.id);
    assert_eq!(listed["subject"], json!({"type": "task", "id": made}));
    assert!(listed["title"].as_str().unwrap_or_default().contains("Fix the sink"), "{listed}");
    assert_eq!(listed["read_at"], Value::Null);
    assert_eq!(&pushed["data"], listed, "the socket hears what the list shows");
    assert!(kinds(&app, &ann).await.is_empty(), "no one is told of what they did");

    // Assigning it to herself tells nobody; to Bob again (unchanged) tells nobody again.
    patch(&app, &ann, made, json!({"title": "Fix the kitchen sink"})).await;
    task(&app, &ann, json!({"title": "Mine", "assignee_id": ann.id})).await;
    assert_eq!(kinds(&app, &bob).await, ["assigned"]);
    assert!(kinds(&app, &ann).await.is_empty());
}

async fn comments_notify_followers_and_mentions_only_those_who_see_the_task(app: TestApp) {
    let (ann, bob, cat, dan, eve) = (
        app.signup("ann").await,
        app.signup("bob").await,
        app.signup("cat").await,
        app.signup("dan").await,
        app.signup("eve").await,
    );
    let home = project(&app, &ann, "Home").await;
    add(&app, &ann, home, &bob, "editor").await;
    add(&app, &ann, home, &cat, "viewer").await;
    add(&app, &ann, home, &eve, "viewer").await;
    let made = task(&app, &ann, json!({"title": "Tiles", "project_id": home, "assignee_id": bob.id})).await;
    expect(send_as(&app, &cat, Method::PUT, &format!("/tasks/{made}/watch"), None).await, 204).await;

    // Ann owns it, Bob is assigned, Cat watches it; Dan is no member, Eve a member who follows
    // nothing.
    comment(&app, &bob, made, "@ann @Dan @eve have a look").await;
    assert_eq!(kinds(&app, &ann).await, ["mentioned"], "a mentioned follower is told once");
    assert_eq!(kinds(&app, &cat).await, ["commented"]);
    assert_eq!(kinds(&app, &eve).await, ["mentioned"]);
    assert!(kinds(&app, &dan).await.is_empty(), "a mention of someone outside the project tells nobody");
    assert_eq!(kinds(&app, &bob).await, ["assigned"], "nothing of his own comment");
    let mention = inbox(&app, &eve, "").await;
    assert_eq!(mention["data"][0]["body"], "@ann @Dan @eve have a look");

    // A mention newly in the description tells its user; one already there does not again.
    patch(&app, &ann, made, json!({"description": "Ask @cat"})).await;
    patch(&app, &ann, made, json!({"description": "Ask @cat, then @eve"})).await;
    assert_eq!(kinds(&app, &cat).await, ["mentioned", "commented"]);
    assert_eq!(kinds(&app, &eve).await, ["mentioned", "mentioned"]);
}

async fn status_changes_reach_followers_until_they_unfollow_or_leave(app: TestApp) {
    let (ann, bob, cat) = (app.signup("ann").await, app.signup("bob").await, app.signup("cat").await);
    let home = project(&app, &ann, "Home").await;
    add(&app, &ann, home, &bob, "editor").await;
    add(&app, &ann, home, &cat, "viewer").await;
    expect(send_as(&app, &cat, Method::PUT, &format!("/projects/{home}/watch"), None).await, 204).await;
    let made = task(&app, &ann, json!({"title": "Paint", "project_id": home})).await;

    patch(&app, &bob, made, json!({"status": "in_progress"})).await;
    assert_eq!(kinds(&app, &ann).await, ["status_changed"], "the owner follows her task");
    assert_eq!(kinds(&app, &cat).await, ["status_changed"], "a project's follower follows its tasks");
    let changed = inbox(&app, &cat, "").await;
    assert_eq!(changed["data"][0]["body"], "pending \u{2192} in_progress");

    expect(send_as(&app, &ann, Method::DELETE, &format!("/tasks/{made}/watch"), None).await, 204).await;
    let path = format!("/projects/{home}/members/{}", cat.id);
    expect(send_as(&app, &ann, Method::DELETE, &path, None).await, 204).await;
    patch(&app, &bob, made, json!({"status": "completed"})).await;
    assert_eq!(kinds(&app, &ann).await, ["status_changed"], "unfollowed: nothing more");
    assert_eq!(kinds(&app, &cat).await, ["status_changed"], "no longer a member: nothing more");
}

async fn marks_move_the_unread_count_and_reach_the_other_sockets(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let mut ids = Vec::new();
    for title in ["One", "Two", "Three"] {
        task(&app, &ann, json!({"title": title, "assignee_id": bob.id})).await;
    }
    for n in inbox(&app, &bob, "").await["data"].as_array().expect("data") {
        ids.push(n["id"].as_i64().expect("id"));
    }
    ids.reverse(); // oldest first
    task(&app, &bob, json!({"title": "For Ann", "assignee_id": ann.id})).await;
    let anns = inbox(&app, &ann, "").await["data"][0]["id"].as_i64().expect("id");
    let mut socket = Socket::open(&app, &bob).await;
    socket.settle().await;

    let read = json!({"up_to_id": ids[1], "ids": [anns]});
    expect(send_as(&app, &bob, Method::POST, "/notifications/read", Some(read)).await, 204).await;
    let heard = socket.next("notification.read").await;
    assert_eq!(heard["data"]["unread_count"], 1, "{heard}");
    let page = inbox(&app, &bob, "?unread=true").await;
    assert_eq!((page["unread_count"].clone(), page["pagination"]["total"].clone()), (json!(1), json!(1)));
    assert_eq!(page["data"][0]["id"], ids[2]);
    let all = inbox(&app, &bob, "").await;
    assert!(all["data"][2]["read_at"].is_string(), "{all}");
    assert_eq!(inbox(&app, &ann, "?unread=true").await["unread_count"], 1, "another's notification is untouched");

    expect(send_as(&app, &bob, Method::POST, "/notifications/read", Some(json!({}))).await, 204).await;
    let page = inbox(&app, &bob, "?unread=true").await;
    assert_eq!((page["unread_count"].clone(), page["data"].clone()), (json!(0), json!([])));
    assert_eq!(inbox(&app, &bob, "").await["pagination"]["total"], 3, "read ones stay listed");

    for bad in [json!({"up_to_id": 0}), json!({"ids": [1, -2]}), json!({"ids": "all"})] {
        let problem =
            expect_problem(send_as(&app, &bob, Method::POST, "/notifications/read", Some(bad)).await, 422).await;
        assert!(!error_fields(&problem).is_empty(), "{problem}");
    }
}

async fn preferences_have_defaults_merge_and_name_what_is_unknown(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let defaults = expect(send_as(&app, &bob, Method::GET, "/notifications/preferences", None).await, 200).await;
    assert_eq!(defaults["assigned"], json!({"in_app": true, "email": "instant"}));
    assert_eq!(defaults["mentioned"], json!({"in_app": true, "email": "instant"}));
    assert_eq!(defaults["commented"], json!({"in_app": true, "email": "daily"}));
    assert_eq!(defaults.as_object().map(|o| o.len()), Some(10), "{defaults}");

    let change = json!({"assigned": {"in_app": false}, "due_soon": {"email": "off"}});
    let changed = expect(send_as(&app, &bob, Method::PUT, "/notifications/preferences", Some(change)).await, 200).await;
    assert_eq!(changed["assigned"], json!({"in_app": false, "email": "instant"}), "what it leaves out stays");
    assert_eq!(changed["due_soon"], json!({"in_app": true, "email": "off"}));
    let again = expect(send_as(&app, &bob, Method::GET, "/notifications/preferences", None).await, 200).await;
    assert_eq!(again, changed);

    let bad = json!({"gossip": {"in_app": true}, "commented": {"email": "weekly"}});
    let problem =
        expect_problem(send_as(&app, &bob, Method::PUT, "/notifications/preferences", Some(bad)).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["commented.email", "gossip"]);
    let unchanged = expect(send_as(&app, &bob, Method::GET, "/notifications/preferences", None).await, 200).await;
    assert_eq!(unchanged, changed, "nothing refused was kept");

    // Assignments no longer reach Bob's list.
    task(&app, &ann, json!({"title": "Quiet", "assignee_id": bob.id})).await;
    assert!(kinds(&app, &bob).await.is_empty());
}

async fn only_visible_tasks_and_projects_can_be_watched(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let home = project(&app, &ann, "Home").await;
    let made = task(&app, &ann, json!({"title": "Private"})).await;
    for path in [format!("/tasks/{made}/watch"), format!("/projects/{home}/watch"), "/tasks/999999/watch".to_owned()] {
        expect_problem(send_as(&app, &bob, Method::PUT, &path, None).await, 404).await;
    }
    // Watching someone else's task did not make Bob a follower.
    patch(&app, &ann, made, json!({"status": "completed"})).await;
    assert!(kinds(&app, &bob).await.is_empty());
}

async fn a_notification_made_on_one_instance_reaches_a_socket_on_another(backend: Backend) {
    let Some(apps) = TestApp::spawn_cluster(backend, 2).await else { return };
    let (one, two) = (&apps[0], &apps[1]);
    let (ann, bob) = (one.signup("ann").await, one.signup("bob").await);
    let mut socket = Socket::open(two, &bob).await;
    socket.settle().await;
    task(one, &ann, json!({"title": "Across", "assignee_id": bob.id})).await;
    let pushed = socket.next("notification.created").await;
    assert_eq!(pushed["data"]["kind"], "assigned");
    let page = inbox(two, &bob, "").await;
    assert_eq!(page["unread_count"], 1);
    assert_eq!(page["data"][0], pushed["data"]);
}

/// Each instance keeps who follows a task in process; a watch or an unwatch on another instance
/// reaches it through the bus (a moment later: the test changes the status again until it does).
async fn a_watch_on_one_instance_is_heard_by_another_that_kept_the_follows(backend: Backend) {
    let Some(apps) = TestApp::spawn_cluster(backend, 2).await else { return };
    let (one, two) = (&apps[0], &apps[1]);
    let (ann, cat) = (one.signup("ann").await, one.signup("cat").await);
    let home = project(one, &ann, "Home").await;
    add(one, &ann, home, &cat, "viewer").await;
    let made = task(one, &ann, json!({"title": "Paint", "project_id": home})).await;
    // Instance one reads, and keeps, who follows the task and its project: nobody but Ann.
    patch(one, &ann, made, json!({"status": "in_progress"})).await;
    assert!(kinds(one, &cat).await.is_empty());

    // Cat watches it on instance two: instance one's changes reach her from then on.
    expect(send_as(two, &cat, Method::PUT, &format!("/tasks/{made}/watch"), None).await, 204).await;
    changes_until(one, &ann, &cat, made, true).await;
    // And she unwatches it there: instance one stops telling her.
    expect(send_as(two, &cat, Method::DELETE, &format!("/tasks/{made}/watch"), None).await, 204).await;
    changes_until(one, &ann, &cat, made, false).await;
    assert!(kinds(one, &cat).await.iter().all(|k| k == "status_changed"));
}

/// Changes `task`'s status as `actor` on `app` until a change does (`told`) or does not tell
/// `follower`, for at most ten seconds.
async fn changes_until(app: &TestApp, actor: &Account, follower: &Account, task: i64, told: bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for status in ["completed", "pending"].into_iter().cycle() {
        let before = kinds(app, follower).await.len();
        patch(app, actor, task, json!({"status": status})).await;
        if (kinds(app, follower).await.len() > before) == told {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the instance never heard of the watch changing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn instant_mail_carries_a_one_click_unsubscribe_that_works(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else { return };
    let url = sink.url();
    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.mail.smtp_url = Some(url);
        s.mail.from = Some("Workbench <workbench@example.com>".into());
    })
    .await
    else {
        return;
    };
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    task(&app, &ann, json!({"title": "Fix the sink", "assignee_id": bob.id})).await;

    let mails = sink.wait_for(1, Duration::from_secs(30)).await;
    let mail = &mails[0];
    assert_eq!(mail.header("to"), Some("bob@example.com"));
    assert!(mail.header("subject").is_some_and(|s| s.starts_with("You were assigned")), "{:?}", mail.headers);
    assert!(unquoted(&mail.body).contains("Fix the sink"), "{}", mail.body);
    assert_eq!(mail.header("list-unsubscribe-post"), Some("List-Unsubscribe=One-Click"));
    let link = mail.header("list-unsubscribe").expect("a List-Unsubscribe header");
    let link = link.trim_start_matches('<').trim_end_matches('>');
    let path = &link[link.find("/api/v1/").expect("a link to the API")..];
    assert!(unquoted(&mail.body).contains(link), "the link is in the text too: {}", mail.body);

    // A forged token is refused; the real one, posted as a mail client does (RFC 8058), needs no
    // sign-in, turns off that kind's e-mail only, and may be used again.
    let forged = path.replace("token=", "token=9");
    let res = app.post(&forged).body("List-Unsubscribe=One-Click").send().await.expect("request");
    expect_problem(res, 400).await;
    for _ in 0..2 {
        let res = app
            .post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .expect("request");
        assert_eq!(expect(res, 200).await, json!({"kind": "assigned", "email": "off"}));
    }
    let preferences = expect(send_as(&app, &bob, Method::GET, "/notifications/preferences", None).await, 200).await;
    assert_eq!(preferences["assigned"], json!({"in_app": true, "email": "off"}));
    assert_eq!(preferences["mentioned"], json!({"in_app": true, "email": "instant"}));

    // Another assignment is listed but not mailed; a mention still is.
    let next = task(&app, &ann, json!({"title": "Hang the shelf", "assignee_id": bob.id})).await;
    comment(&app, &ann, next, "@bob the screws are in the drawer").await;
    let mails = sink.wait_for(2, Duration::from_secs(30)).await;
    assert!(mails[1].header("subject").is_some_and(|s| s.contains("mentioned")), "{:?}", mails[1].headers);
    assert!(unquoted(&mails[1].body).contains("the screws are in the drawer"), "{}", mails[1].body);
    assert_eq!(kinds(&app, &bob).await, ["mentioned", "assigned", "assigned"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.messages().len(), 2, "nothing more was mailed");
}

async fn projects_trades_share_links_and_chat_rooms_notify_those_they_concern(app: TestApp) {
    let (ann, bob, cat, dan) =
        (app.signup("ann").await, app.signup("bob").await, app.signup("cat").await, app.signup("dan").await);

    // Added to a project by its admin: told, with the project as subject.
    let home = project(&app, &ann, "Home").await;
    add(&app, &ann, home, &bob, "editor").await;
    let page = inbox(&app, &bob, "").await;
    let added = &page["data"][0];
    assert_eq!((added["kind"].clone(), added["actor_id"].clone()), (json!("project_invited"), json!(ann.id)));
    assert_eq!(added["subject"], json!({"type": "project", "id": home}));
    assert!(added["title"].as_str().is_some_and(|t| t.contains("Home")), "{added}");

    // A trade: its recipient hears the proposal, its proposer the answer.
    let drill = crate::trades::product(&app, "Drill", "Bosch").await;
    let hers = crate::trades::item(&app, &ann, drill, false).await;
    let his = crate::trades::item(&app, &bob, drill, true).await;
    let body = json!({"recipient_id": bob.id, "offered_item_ids": [hers], "requested_item_ids": [his]});
    let trade = crate::trades::propose(&app, &ann, body).await;
    let page = inbox(&app, &bob, "").await;
    assert_eq!(page["data"][0]["kind"], "trade_proposed");
    assert_eq!(page["data"][0]["subject"], json!({"type": "trade", "id": trade["id"]}));
    expect(send_as(&app, &bob, Method::POST, &format!("/trades/{}/decline", trade["id"]), None).await, 200).await;
    let page = inbox(&app, &ann, "").await;
    assert_eq!(page["data"][0]["kind"], "trade_answered");
    assert_eq!(page["data"][0]["actor_id"], bob.id);
    assert!(page["data"][0]["title"].as_str().is_some_and(|t| t.contains("declined")), "{page}");

    // A share link: its file's owner hears of the first download only.
    let file = crate::share_links::upload(&app, &cat).await;
    let link = crate::share_links::link(&app, &cat, &file, None).await;
    for _ in 0..2 {
        let res = app.get(&crate::share_links::path_of(&link)).send().await.expect("request");
        assert_eq!(res.status().as_u16(), 200);
    }
    let page = inbox(&app, &cat, "").await;
    assert_eq!(page["pagination"]["total"], 1, "{page}");
    assert_eq!(page["data"][0]["kind"], "share_downloaded");
    assert_eq!(page["data"][0]["actor_id"], Value::Null);
    assert_eq!(page["data"][0]["subject"], json!({"type": "file", "id": file["id"]}));

    // A mention in a room tells those who may read it: anyone in a public room, members in a
    // private one.
    for (room, private) in [("lobby", false), ("board", true)] {
        let made = crate::chat::create_room(&app, &ann, json!({"name": room, "is_private": private})).await;
        assert_eq!(made.status().as_u16(), 201);
    }
    let mut socket = Socket::open(&app, &ann).await;
    for room in ["lobby", "board"] {
        socket.send(json!({"type": "join", "room": room})).await;
    }
    socket.settle().await;
    socket.send(json!({"type": "message", "room": "lobby", "content": "@dan @ann the lobby is open"})).await;
    socket.next("chat.message").await;
    socket.send(json!({"type": "message", "room": "board", "content": "@dan the board is private"})).await;
    socket.next("chat.message").await;
    let page = inbox(&app, &dan, "").await;
    assert_eq!(page["pagination"]["total"], 1, "only the public room's mention: {page}");
    let mention = &page["data"][0];
    assert_eq!((mention["kind"].clone(), mention["actor_id"].clone()), (json!("mentioned"), json!(ann.id)));
    assert_eq!(mention["subject"]["type"], "message");
    assert_eq!(mention["body"], "@dan @ann the lobby is open");
    assert_eq!(kinds(&app, &ann).await, ["trade_answered"], "nobody is told of their own mention");
}

/// A quoted-printable body (RFC 2045) as text: soft line breaks joined, `=XX` decoded.
pub(crate) fn unquoted(body: &str) -> String {
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let mut bytes = Vec::with_capacity(joined.len());
    let raw = joined.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        let hex = raw
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (raw[i], hex) {
            (b'=', Some(byte)) => {
                bytes.push(byte);
                i += 3;
            }
            (byte, _) => {
                bytes.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
