//! The WebSocket as clients use it: authentication at the upgrade or in the first message, task
//! events to the owner and assignee, rooms and direct messages stored before they are delivered,
//! history through the socket, presence, the `system` topic's permission, disabled accounts
//! closed at once; and two instances sharing Redis behaving as one.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use workbench_e2e::{Account, Backend, TestApp, engines, expect_json, send_as};

use crate::chat::create_room;

engines!(
    a_bad_token_is_refused_at_the_upgrade,
    a_token_in_the_first_message_authenticates_and_a_bad_one_closes,
    task_events_reach_the_owner_and_the_assignee_only,
    a_project_tasks_events_reach_its_members_until_they_leave,
    room_messages_are_stored_then_delivered_to_those_who_joined,
    direct_messages_reach_both_sides_and_a_reconnecting_client_catches_up,
    contacts_see_each_other_come_and_go,
    the_system_topic_is_for_moderators_and_admins,
    a_disabled_accounts_sockets_close_at_once,
    a_password_change_closes_the_sockets_opened_before,
    a_role_taken_away_closes_the_sockets_that_had_it,
    a_flood_of_messages_is_refused_beyond_the_accounts_pace,
    a_station_s_events_stop_for_whoever_may_no_longer_listen,
);

/// The close code of a socket whose credentials no longer hold: sign in again.
pub(crate) const SIGN_IN_AGAIN: CloseCode = CloseCode::Library(4001);

pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// A client's socket.
pub(crate) struct Socket(WebSocketStream<MaybeTlsStream<TcpStream>>);

pub(crate) fn ws_url(app: &TestApp, query: &str) -> String {
    format!("{}/api/v1/ws{query}", app.base.replacen("http://", "ws://", 1))
}

impl Socket {
    pub(crate) async fn open(app: &TestApp, who: &Account) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(ws_url(app, &format!("?token={}", who.access_token)))
            .await
            .expect("the socket opens");
        Self(ws)
    }

    pub(crate) async fn anonymous(app: &TestApp) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(ws_url(app, "")).await.expect("the socket opens");
        Self(ws)
    }

    pub(crate) async fn send(&mut self, message: Value) {
        self.0.send(Message::text(message.to_string())).await.expect("sent");
    }

    /// The next event, whatever its type.
    pub(crate) async fn event(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.0.next()).await.expect("an event in time");
            match frame.expect("the socket is open").expect("a frame") {
                Message::Text(text) => return serde_json::from_str(&text).expect("events are JSON"),
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => {}
            }
        }
    }

    /// The next event of type `kind`, skipping others (presence comes and goes meanwhile).
    pub(crate) async fn next(&mut self, kind: &str) -> Value {
        loop {
            let event = self.event().await;
            if event["type"] == kind {
                return event;
            }
        }
    }

    /// Waits until everything sent before was handled: the answer to a `ping` comes after.
    pub(crate) async fn settle(&mut self) -> Vec<Value> {
        self.send(json!({"type": "ping"})).await;
        let mut before = Vec::new();
        loop {
            let event = self.event().await;
            if event["type"] == "pong" {
                return before;
            }
            before.push(event);
        }
    }

    /// The close frame the server sends.
    pub(crate) async fn closed(&mut self) -> (CloseCode, String) {
        loop {
            let frame = tokio::time::timeout(WAIT, self.0.next()).await.expect("closed in time");
            match frame {
                Some(Ok(Message::Close(Some(frame)))) => return (frame.code, frame.reason.to_string()),
                Some(Ok(Message::Close(None))) | None => panic!("closed without a code"),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("no close frame: {e}"),
            }
        }
    }

    pub(crate) async fn close(mut self) {
        let _ = self.0.close(None).await;
    }
}

pub(crate) async fn new_task(app: &TestApp, who: &Account, body: Value) -> Value {
    let res = app.post("/api/v1/tasks").bearer_auth(&who.access_token).json(&body).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.expect("JSON")
}

async fn a_bad_token_is_refused_at_the_upgrade(app: TestApp) {
    for query in ["?token=not-a-jwt", "?token="] {
        match tokio_tungstenite::connect_async(ws_url(&app, query)).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401, "{query}");
                assert_eq!(response.headers()["content-type"], "application/problem+json");
            }
            other => panic!("{query}: expected a 401, got {:?}", other.map(|(_, r)| r.status())),
        }
    }
    // Not a WebSocket handshake at all.
    let ann = app.signup("ann").await;
    let res = app.get(&format!("/api/v1/ws?token={}", ann.access_token)).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

async fn a_token_in_the_first_message_authenticates_and_a_bad_one_closes(app: TestApp) {
    let ann = app.signup("ann").await;
    let mut socket = Socket::anonymous(&app).await;
    socket.send(json!({"type": "auth", "token": ann.access_token})).await;
    assert!(socket.settle().await.is_empty());

    let mut refused = Socket::anonymous(&app).await;
    refused.send(json!({"type": "auth", "token": "forged"})).await;
    let error = refused.next("error").await;
    assert_eq!(error["data"]["code"], "unauthorized");
    assert_eq!(refused.closed().await.0, CloseCode::Policy);

    let mut impatient = Socket::anonymous(&app).await;
    impatient.send(json!({"type": "join", "room": "general"})).await;
    assert_eq!(impatient.next("error").await["data"]["code"], "unauthorized");
    assert_eq!(impatient.closed().await.0, CloseCode::Policy);
    socket.close().await;
}

async fn task_events_reach_the_owner_and_the_assignee_only(app: TestApp) {
    let (ann, bob, carl) = (app.signup("ann").await, app.signup("bob").await, app.signup("carl").await);
    let (mut owner, mut assignee, mut stranger) =
        (Socket::open(&app, &ann).await, Socket::open(&app, &bob).await, Socket::open(&app, &carl).await);

    let task = new_task(&app, &ann, json!({"title": "Ship it", "assignee_id": bob.id, "priority": "high"})).await;
    for socket in [&mut owner, &mut assignee] {
        let event = socket.next("task.created").await;
        assert_eq!(event["data"], task, "the task as GET /tasks/{{id}} shows it");
    }
    let id = task["id"].as_i64().expect("id");
    let res = app
        .request(Method::PATCH, &format!("/api/v1/tasks/{id}"))
        .bearer_auth(&ann.access_token)
        .json(&json!({"status": "in_progress"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let updated = assignee.next("task.updated").await;
    assert_eq!(updated["data"]["status"], "in_progress");
    let res = app
        .request(Method::DELETE, &format!("/api/v1/tasks/{id}"))
        .bearer_auth(&ann.access_token)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(owner.next("task.deleted").await["data"], json!({"id": id}));
    assert_eq!(assignee.next("task.deleted").await["data"], json!({"id": id}));

    // Carl's own task reaches Carl: the events above were not for him, and did not come first.
    let own = new_task(&app, &carl, json!({"title": "Carl's"})).await;
    let first_task_event = loop {
        let event = stranger.event().await;
        if event["type"].as_str().is_some_and(|t| t.starts_with("task.")) {
            break event;
        }
    };
    assert_eq!(first_task_event["data"]["id"], own["id"], "{first_task_event}");
}

async fn a_project_tasks_events_reach_its_members_until_they_leave(app: TestApp) {
    let (ann, bob, carl) = (app.signup("ann").await, app.signup("bob").await, app.signup("carl").await);
    let res = app
        .post("/api/v1/projects")
        .bearer_auth(&ann.access_token)
        .json(&json!({"name": "Kitchen"}))
        .send()
        .await
        .expect("request");
    let project = res.json::<Value>().await.expect("JSON")["id"].as_i64().expect("id");
    let res = app
        .post(&format!("/api/v1/projects/{project}/members"))
        .bearer_auth(&ann.access_token)
        .json(&json!({"user_id": bob.id, "role": "viewer"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::CREATED);
    let (mut member, mut stranger) = (Socket::open(&app, &bob).await, Socket::open(&app, &carl).await);

    let task = new_task(&app, &ann, json!({"title": "Tiles", "project_id": project})).await;
    let event = member.next("task.created").await;
    assert_eq!(event["data"], task, "a viewer who neither owns nor is assigned it is told");

    let res = app
        .request(Method::DELETE, &format!("/api/v1/projects/{project}/members/{}", bob.id))
        .bearer_auth(&ann.access_token)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let id = task["id"].as_i64().expect("id");
    let res = app
        .request(Method::PATCH, &format!("/api/v1/tasks/{id}"))
        .bearer_auth(&ann.access_token)
        .json(&json!({"status": "in_progress"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    // Bob's own task is the next task event he gets: the change after he left was not for him.
    let own = new_task(&app, &bob, json!({"title": "Bob's"})).await;
    let next = loop {
        let event = member.event().await;
        if event["type"].as_str().is_some_and(|t| t.starts_with("task.")) {
            break event;
        }
    };
    assert_eq!(next["data"]["id"], own["id"], "{next}");
    let none: Vec<Value> = stranger.settle().await.into_iter().filter(|e| e["type"] != "presence").collect();
    assert!(none.iter().all(|e| !e["type"].as_str().unwrap_or("").starts_with("task.")), "{none:?}");
}

async fn room_messages_are_stored_then_delivered_to_those_who_joined(app: TestApp) {
    let (ann, bob, carl) = (app.signup("ann").await, app.signup("bob").await, app.signup("carl").await);
    assert_eq!(create_room(&app, &ann, json!({"name": "ops"})).await.status(), StatusCode::CREATED);
    assert_eq!(create_room(&app, &ann, json!({"name": "secret", "is_private": true})).await.status(), 201);
    let (mut a, mut b, mut c) =
        (Socket::open(&app, &ann).await, Socket::open(&app, &bob).await, Socket::open(&app, &carl).await);
    a.send(json!({"type": "join", "room": "ops"})).await;
    b.send(json!({"type": "join", "room": "ops"})).await;
    a.settle().await;
    b.settle().await;

    c.send(json!({"type": "join", "room": "nowhere"})).await;
    assert_eq!(c.next("error").await["data"]["code"], "not_found");
    c.send(json!({"type": "join", "room": "secret"})).await;
    assert_eq!(c.next("error").await["data"]["code"], "forbidden");
    c.send(json!({"type": "message", "room": "ops", "content": "   "})).await;
    let blank = c.next("error").await;
    assert_eq!(blank["data"]["code"], "invalid");
    assert_eq!(blank["data"]["errors"][0]["field"], "content");

    b.send(json!({"type": "message", "room": "ops", "content": "deploying now"})).await;
    let heard = a.next("chat.message").await;
    assert_eq!(heard["data"]["room"], "ops");
    assert_eq!(heard["data"]["sender_id"], bob.id);
    assert_eq!(heard["data"]["content"], "deploying now");
    assert!(heard["data"]["recipient_id"].is_null());
    let echoed = b.next("chat.message").await;
    assert_eq!(echoed["data"]["id"], heard["data"]["id"], "the sender sees its message stored, with its id");
    assert!(c.settle().await.iter().all(|e| e["type"] != "chat.message"), "Carl did not join");

    // Stored: the REST history and the socket's history have it.
    let res = app.get("/api/v1/chat/rooms/ops/messages").bearer_auth(&carl.access_token).send().await.expect("request");
    let stored: Value = res.json().await.expect("JSON");
    assert_eq!(stored["data"][0]["id"], heard["data"]["id"]);
    c.send(json!({"type": "history", "room": "ops", "limit": 10})).await;
    let history = c.next("history").await;
    assert_eq!(history["data"]["room"], "ops");
    assert_eq!(history["data"]["messages"][0], heard["data"]);
    c.send(json!({"type": "history", "room": "ops", "limit": 0})).await;
    assert_eq!(c.next("error").await["data"]["errors"][0]["field"], "limit");

    // Leaving stops delivery.
    a.send(json!({"type": "leave", "room": "ops"})).await;
    a.settle().await;
    b.send(json!({"type": "message", "room": "ops", "content": "done"})).await;
    b.next("chat.message").await;
    assert!(a.settle().await.iter().all(|e| e["type"] != "chat.message"), "Ann left");
}

async fn direct_messages_reach_both_sides_and_a_reconnecting_client_catches_up(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let (mut a, mut b) = (Socket::open(&app, &ann).await, Socket::open(&app, &bob).await);
    a.send(json!({"type": "dm", "to": bob.id, "content": "lunch?"})).await;
    let received = b.next("chat.dm").await;
    assert_eq!(received["data"]["sender_id"], ann.id);
    assert_eq!(received["data"]["recipient_id"], bob.id);
    assert!(received["data"]["room"].is_null());
    assert_eq!(a.next("chat.dm").await["data"]["id"], received["data"]["id"]);
    let last_seen = received["data"]["id"].as_i64().expect("id");

    // Bob goes away; Ann writes twice; Bob comes back and asks what came after the last he saw.
    b.close().await;
    for text in ["12:30?", "or 13:00"] {
        a.send(json!({"type": "dm", "to": bob.id, "content": text})).await;
        a.next("chat.dm").await;
    }
    let mut b = Socket::open(&app, &bob).await;
    b.send(json!({"type": "history", "with": ann.id, "after": last_seen})).await;
    let missed = b.next("history").await;
    assert_eq!(missed["data"]["with"], ann.id);
    let texts: Vec<_> =
        missed["data"]["messages"].as_array().expect("messages").iter().map(|m| &m["content"]).collect();
    assert_eq!(texts, ["12:30?", "or 13:00"]);

    a.send(json!({"type": "dm", "to": ann.id, "content": "note to self"})).await;
    assert_eq!(a.next("error").await["data"]["errors"][0]["field"], "to");
    a.send(json!({"type": "dm", "to": 999_999, "content": "anyone?"})).await;
    assert_eq!(a.next("error").await["data"]["code"], "not_found");
    a.send(json!({"type": "shout"})).await;
    assert_eq!(a.next("error").await["data"]["code"], "bad_request");
}

async fn contacts_see_each_other_come_and_go(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    // Ann and Bob share a room; Carl shares nothing with them.
    assert_eq!(create_room(&app, &ann, json!({"name": "pair", "is_private": true})).await.status(), 201);
    let res = app
        .post("/api/v1/chat/rooms/pair/members")
        .bearer_auth(&ann.access_token)
        .json(&json!({"user_id": bob.id}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::CREATED);
    let carl = app.signup("carl").await;

    let mut b = Socket::open(&app, &bob).await;
    let mut c = Socket::open(&app, &carl).await;
    // Their arrival is over (they were told who is online: nobody yet) before Ann's begins.
    assert!(b.settle().await.is_empty());
    c.settle().await;
    let a = Socket::open(&app, &ann).await;
    assert_eq!(b.next("presence").await["data"], json!({"user_id": ann.id, "status": "online"}));
    // A second socket of Ann's is not a new arrival, and tells her who is online.
    let mut a2 = Socket::open(&app, &ann).await;
    assert_eq!(a2.next("presence").await["data"], json!({"user_id": bob.id, "status": "online"}));
    a.close().await;
    a2.close().await;
    assert_eq!(b.next("presence").await["data"], json!({"user_id": ann.id, "status": "offline"}));
    assert!(c.settle().await.iter().all(|e| e["type"] != "presence"), "Carl is nobody's contact");
}

async fn the_system_topic_is_for_moderators_and_admins(app: TestApp) {
    let ann = app.signup("ann").await;
    let mut socket = Socket::open(&app, &ann).await;
    socket.send(json!({"type": "subscribe", "topic": "system"})).await;
    assert_eq!(socket.next("error").await["data"]["code"], "forbidden");
    socket.send(json!({"type": "subscribe", "topic": "gossip"})).await;
    assert_eq!(socket.next("error").await["data"]["code"], "not_found");
    let moderator = app.signup_with_role("mod", "moderator").await;
    let mut watching = Socket::open(&app, &moderator).await;
    watching.send(json!({"type": "subscribe", "topic": "system"})).await;
    assert!(watching.settle().await.iter().all(|e| e["type"] != "error"));
}

async fn a_station_s_events_stop_for_whoever_may_no_longer_listen(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let station = json!({"slug": "late-jazz", "name": "Late Jazz"});
    expect_json(send_as(&app, &ann, Method::POST, "/radio/stations", Some(station)).await, StatusCode::CREATED).await;
    let now_playing = |title: &str| {
        send_as(&app, &ann, Method::POST, "/radio/stations/late-jazz/now-playing", Some(json!({"title": title})))
    };
    let mut owner = Socket::open(&app, &ann).await;
    let mut listener = Socket::open(&app, &bob).await;
    for socket in [&mut owner, &mut listener] {
        socket.send(json!({"type": "subscribe", "topic": "radio:late-jazz"})).await;
        assert!(socket.settle().await.iter().all(|e| e["type"] != "error"));
    }
    assert_eq!(now_playing("So What").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(listener.next("radio.now_playing").await["data"]["title"], "So What");
    assert_eq!(owner.next("radio.now_playing").await["data"]["title"], "So What");

    let private = Some(json!({"is_public": false}));
    expect_json(send_as(&app, &ann, Method::PATCH, "/radio/stations/late-jazz", private).await, StatusCode::OK).await;
    let told = listener.next("error").await;
    assert_eq!(told["data"]["code"], "not_found", "{told}");
    assert_eq!(now_playing("Blue in Green").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(owner.next("radio.now_playing").await["data"]["title"], "Blue in Green", "the owner still hears it");
    let after = listener.settle().await;
    assert!(after.iter().all(|e| e["type"] != "radio.now_playing"), "a private station's events: {after:?}");
    listener.send(json!({"type": "subscribe", "topic": "radio:late-jazz"})).await;
    assert_eq!(listener.next("error").await["data"]["code"], "not_found", "nor may it subscribe again");

    assert_eq!(send_as(&app, &ann, Method::DELETE, "/radio/stations/late-jazz", None).await.status(), 204);
    assert_eq!(owner.next("error").await["data"]["code"], "not_found", "a deleted station's subscribers are told");
}

async fn a_disabled_accounts_sockets_close_at_once(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let ann = app.signup("ann").await;
    let mut socket = Socket::open(&app, &ann).await;
    socket.settle().await;
    let res = app
        .request(Method::PATCH, &format!("/api/v1/admin/users/{}", ann.id))
        .bearer_auth(&admin.access_token)
        .json(&json!({"status": "disabled"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(socket.closed().await.0, SIGN_IN_AGAIN);
}

async fn a_password_change_closes_the_sockets_opened_before(app: TestApp) {
    let ann = app.signup("ann").await;
    let mut socket = Socket::open(&app, &ann).await;
    socket.settle().await;
    let res = app
        .request(Method::PUT, "/api/v1/users/me/password")
        .bearer_auth(&ann.access_token)
        .json(&json!({"current_password": ann.password, "new_password": "another good password"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(socket.closed().await.0, SIGN_IN_AGAIN);
    let me = app.get("/api/v1/auth/me").bearer_auth(&ann.access_token).send().await.expect("request");
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "the token the socket was opened with is over too");
}

/// A moderator demoted to user keeps nothing of the role through a socket opened before: it
/// closes, and the private room it could have joined stays closed to a new one.
async fn a_role_taken_away_closes_the_sockets_that_had_it(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let owner = app.signup("owner").await;
    let moderator = app.signup_with_role("mod", "moderator").await;
    assert_eq!(
        create_room(&app, &owner, json!({"name": "backroom", "is_private": true})).await.status(),
        StatusCode::CREATED
    );
    let mut socket = Socket::open(&app, &moderator).await;
    socket.settle().await;
    let res = app
        .request(Method::PATCH, &format!("/api/v1/admin/users/{}", moderator.id))
        .bearer_auth(&admin.access_token)
        .json(&json!({"role": "user"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(socket.closed().await.0, SIGN_IN_AGAIN);
    let again = app.login(&moderator.email, &moderator.password).await;
    let mut socket = Socket::open(&app, &again).await;
    socket.send(json!({"type": "join", "room": "backroom"})).await;
    assert_eq!(socket.next("error").await["type"], "error", "a user may not join a private room");
}

/// The allowance of client messages is the account's, whichever of its sockets they come from:
/// two sockets together get one burst, not two.
async fn a_flood_of_messages_is_refused_beyond_the_accounts_pace(app: TestApp) {
    let ann = app.signup("ann").await;
    let mut sockets = [Socket::open(&app, &ann).await, Socket::open(&app, &ann).await];
    for socket in &mut sockets {
        for _ in 0..50 {
            socket.send(json!({"type": "ping"})).await;
        }
    }
    let (mut pongs, mut refused) = (0, 0);
    for socket in &mut sockets {
        let (mut answers, mut mine) = (0, 0);
        while answers < 50 {
            match socket.event().await["type"].as_str() {
                Some("pong") => {
                    pongs += 1;
                    answers += 1;
                }
                Some("error") => {
                    refused += 1;
                    answers += 1;
                }
                _ => {}
            }
            mine += 1;
            assert!(mine < 200, "every message is answered");
        }
    }
    // One burst of 60 (and what the pace of 20 a second lets through meanwhile), not 2 × 50.
    assert!((60..90).contains(&pongs), "one account's pace: {pongs} answered, {refused} refused");
    assert!(refused >= 10, "100 at once over two sockets is over the account's pace");
    // The sockets stay open and answer again once the pace allows.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sockets[0].settle().await.is_empty());
}

workbench_e2e::per_engine!(a_socket_lives_no_longer_than_its_token, an_account_holds_at_most_its_share_of_sockets);

/// With tokens of 3 s: a socket closes (4001) at its token's expiry, unless a newer token of the
/// same account came first, whose expiry then applies.
async fn a_socket_lives_no_longer_than_its_token(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.auth.access_token_ttl = Duration::from_secs(3)).await else {
        return;
    };
    let ann = app.signup("ann").await;
    let started = std::time::Instant::now();
    let mut lapsing = Socket::open(&app, &ann).await;
    let mut renewed = Socket::open(&app, &ann).await;
    lapsing.settle().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let newer = app.login(&ann.email, &ann.password).await;
    renewed.send(json!({"type": "auth", "token": newer.access_token})).await;
    assert!(renewed.settle().await.is_empty(), "a newer token of the same account is taken quietly");
    assert_eq!(lapsing.closed().await.0, SIGN_IN_AGAIN);
    let lived = started.elapsed();
    // `exp` is whole seconds: the token lived 2 to 3 s from its sign-in.
    assert!(lived >= Duration::from_secs(1) && lived < Duration::from_secs(5), "closed at expiry: {lived:?}");
    assert!(renewed.settle().await.is_empty(), "the renewed socket outlives the first token");
    assert_eq!(renewed.closed().await.0, SIGN_IN_AGAIN, "and ends with the newer one");
}

/// `WS_MAX_SOCKETS_PER_USER` sockets at most: one more is refused at the handshake (`429`), or,
/// authenticating by its first message, told why and closed.
async fn an_account_holds_at_most_its_share_of_sockets(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.limits.ws_max_sockets_per_user = 2).await else {
        return;
    };
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let first = Socket::open(&app, &ann).await;
    let _second = Socket::open(&app, &ann).await;
    let third = tokio_tungstenite::connect_async(ws_url(&app, &format!("?token={}", ann.access_token))).await;
    match third {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 429),
        other => panic!("a third socket was not refused: {:?}", other.map(|_| ())),
    }
    let mut anonymous = Socket::anonymous(&app).await;
    anonymous.send(json!({"type": "auth", "token": ann.access_token})).await;
    assert_eq!(anonymous.next("error").await["data"]["code"], "too_many_sockets");
    let _bobs = Socket::open(&app, &bob).await;
    first.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _again = Socket::open(&app, &ann).await;
}

workbench_e2e::per_engine!(clients_on_two_instances_chat_see_each_other_and_their_tasks);

async fn clients_on_two_instances_chat_see_each_other_and_their_tasks(backend: Backend) {
    let Some(apps) = TestApp::spawn_cluster(backend, 2).await else { return };
    let (one, two) = (&apps[0], &apps[1]);
    let (ann, bob) = (one.signup("ann").await, one.signup("bob").await);
    assert_eq!(create_room(one, &ann, json!({"name": "bridge"})).await.status(), StatusCode::CREATED);

    let mut b = Socket::open(two, &bob).await;
    b.send(json!({"type": "join", "room": "bridge"})).await;
    b.settle().await;
    let mut a = Socket::open(one, &ann).await;
    assert_eq!(b.next("presence").await["data"], json!({"user_id": ann.id, "status": "online"}), "across instances");
    a.send(json!({"type": "join", "room": "bridge"})).await;
    a.send(json!({"type": "message", "room": "bridge", "content": "hello from one"})).await;
    assert_eq!(b.next("chat.message").await["data"]["content"], "hello from one");
    b.send(json!({"type": "dm", "to": ann.id, "content": "hello from two"})).await;
    assert_eq!(a.next("chat.dm").await["data"]["content"], "hello from two");

    // A task made through instance two reaches Ann on instance one, and Bob on two.
    let task = new_task(two, &bob, json!({"title": "Cross", "assignee_id": ann.id})).await;
    assert_eq!(a.next("task.created").await["data"]["id"], task["id"]);
    assert_eq!(b.next("task.created").await["data"]["id"], task["id"]);

    b.close().await;
    assert_eq!(a.next("presence").await["data"], json!({"user_id": bob.id, "status": "offline"}));
}

engines!(an_unanswered_direct_message_shows_the_sender_no_presence);

/// Writing to someone does not make the writer a contact who watches them come and go: Mallory
/// hears nothing of Ann's presence until Ann has written back.
async fn an_unanswered_direct_message_shows_the_sender_no_presence(app: TestApp) {
    let (ann, bob, mallory) = (app.signup("ann").await, app.signup("bob").await, app.signup("mallory").await);
    // Bob shares a room with Ann: once he has heard of her, anyone else who would hear has.
    assert_eq!(create_room(&app, &ann, json!({"name": "pair", "is_private": true})).await.status(), 201);
    let res = app
        .post("/api/v1/chat/rooms/pair/members")
        .bearer_auth(&ann.access_token)
        .json(&json!({"user_id": bob.id}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::CREATED);
    let (mut b, mut m) = (Socket::open(&app, &bob).await, Socket::open(&app, &mallory).await);
    b.settle().await;
    m.settle().await;
    m.send(json!({"type": "dm", "to": ann.id, "content": "remember me?"})).await;
    m.next("chat.dm").await;

    let mut a = Socket::open(&app, &ann).await;
    assert_eq!(b.next("presence").await["data"], json!({"user_id": ann.id, "status": "online"}));
    assert!(m.settle().await.iter().all(|e| e["type"] != "presence"), "Mallory hears nothing of Ann");
    assert_eq!(a.next("presence").await["data"], json!({"user_id": bob.id, "status": "online"}));
    assert!(a.settle().await.iter().all(|e| e["type"] != "presence"), "nor is Ann told of Mallory");

    // Ann answers: they have written to each other, so each now sees the other come and go.
    a.send(json!({"type": "dm", "to": mallory.id, "content": "who is this?"})).await;
    m.next("chat.dm").await;
    a.close().await;
    assert_eq!(m.next("presence").await["data"], json!({"user_id": ann.id, "status": "offline"}));
    let _back = Socket::open(&app, &ann).await;
    assert_eq!(m.next("presence").await["data"], json!({"user_id": ann.id, "status": "online"}));
}
