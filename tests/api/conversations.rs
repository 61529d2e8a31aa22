//! Conversations over the socket and beside it: search, typing, corrections and tombstones,
//! reactions, unread counts and read marks, attachments, and events across instances.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_e2e::{Account, Backend, TestApp, engines};

use crate::chat::create_room;
use crate::realtime::*;

engines!(messages_are_searched_in_the_readers_conversations_only);

async fn search_chat(app: &TestApp, who: &Account, query: &str) -> (StatusCode, Value) {
    let res = app.get(&format!("/api/v1/chat/search?{query}")).bearer_auth(&who.access_token).send().await.unwrap();
    (res.status(), res.json().await.unwrap())
}

fn contents(page: &Value) -> Vec<&str> {
    page.as_array().expect("messages").iter().map(|m| m["content"].as_str().unwrap()).collect()
}

/// `GET /chat/search` and the `messages` group of `GET /search` find what the caller may read:
/// their rooms' messages and their direct messages, newest first, and nothing of anyone else's.
async fn messages_are_searched_in_the_readers_conversations_only(app: TestApp) {
    let (ann, bob, carl) = (app.signup("ann").await, app.signup("bob").await, app.signup("carl").await);
    assert_eq!(create_room(&app, &ann, json!({"name": "ops"})).await.status(), StatusCode::CREATED);
    assert_eq!(create_room(&app, &carl, json!({"name": "lobby"})).await.status(), StatusCode::CREATED);
    let (mut a, mut b, mut c) =
        (Socket::open(&app, &ann).await, Socket::open(&app, &bob).await, Socket::open(&app, &carl).await);
    b.send(json!({"type": "join", "room": "ops"})).await;
    b.settle().await;
    c.send(json!({"type": "join", "room": "lobby"})).await;
    c.settle().await;
    b.send(json!({"type": "message", "room": "ops", "content": "The kettle is broken"})).await;
    b.next("chat.message").await;
    c.send(json!({"type": "message", "room": "lobby", "content": "a kettle in the lobby"})).await;
    c.next("chat.message").await;
    a.send(json!({"type": "dm", "to": bob.id, "content": "buy a KETTLE"})).await;
    a.next("chat.dm").await;
    // Bob hears Ann's first, so that the next he hears is his own, stored.
    b.next("chat.dm").await;
    b.send(json!({"type": "dm", "to": ann.id, "content": "no kettle here, ÉTÉ"})).await;
    b.next("chat.dm").await;
    c.send(json!({"type": "dm", "to": bob.id, "content": "kettle?"})).await;
    c.next("chat.dm").await;

    let (status, found) = search_chat(&app, &ann, "q=Kettle").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(contents(&found["data"]), ["no kettle here, ÉTÉ", "buy a KETTLE", "The kettle is broken"]);
    assert_eq!(found["data"][2]["room"], "ops");
    assert_eq!(found["pagination"]["total"], 3);
    let (_, found) = search_chat(&app, &ann, "q=kettle&per_page=1&page=2").await;
    assert_eq!(contents(&found["data"]), ["buy a KETTLE"]);
    let (_, found) = search_chat(&app, &ann, &format!("q=kettle&with={}", bob.id)).await;
    assert_eq!(contents(&found["data"]), ["no kettle here, ÉTÉ", "buy a KETTLE"]);
    let (_, found) = search_chat(&app, &ann, "q=kettle&room=ops").await;
    assert_eq!(contents(&found["data"]), ["The kettle is broken"]);
    let (_, found) = search_chat(&app, &ann, "q=%C3%A9t%C3%A9").await;
    assert_eq!(contents(&found["data"]), ["no kettle here, ÉTÉ"], "case folds in every script");
    let (_, found) = search_chat(&app, &carl, "q=kettle").await;
    assert_eq!(contents(&found["data"]), ["kettle?", "a kettle in the lobby"]);

    let (status, _) = search_chat(&app, &ann, "q=kettle&room=lobby").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a room she does not belong to");
    let (status, problem) = search_chat(&app, &ann, "q=k&with=2&room=ops").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<_> = problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["q", "room"]);

    let res = app.get("/api/v1/search?q=kettle&type=messages").bearer_auth(&ann.access_token).send().await.unwrap();
    let found: Value = res.json().await.unwrap();
    assert_eq!(contents(&found["messages"]), ["no kettle here, ÉTÉ", "buy a KETTLE", "The kettle is broken"]);
    assert_eq!(found["totals"], json!({"messages": 3}));
    let res = app.get("/api/v1/search?q=type%3Amessage%20lobby").bearer_auth(&carl.access_token).send().await.unwrap();
    let found: Value = res.json().await.unwrap();
    assert_eq!(contents(&found["messages"]), ["a kettle in the lobby"]);
}

engines!(typing_reaches_the_others_at_most_once_in_two_seconds);

/// `typing` is passed on as `chat.typing` to the other side or the room's others, never stored,
/// and at most once per sender and conversation every two seconds.
async fn typing_reaches_the_others_at_most_once_in_two_seconds(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    assert_eq!(create_room(&app, &ann, json!({"name": "ops"})).await.status(), StatusCode::CREATED);
    let (mut a, mut b) = (Socket::open(&app, &ann).await, Socket::open(&app, &bob).await);
    for socket in [&mut a, &mut b] {
        socket.send(json!({"type": "join", "room": "ops"})).await;
        socket.settle().await;
    }

    a.send(json!({"type": "typing", "to": bob.id})).await;
    assert_eq!(b.next("chat.typing").await["data"], json!({"from": ann.id, "to": bob.id}));
    for _ in 0..3 {
        a.send(json!({"type": "typing", "to": bob.id})).await;
    }
    a.send(json!({"type": "typing", "room": "ops"})).await;
    assert_eq!(
        b.next("chat.typing").await["data"],
        json!({"from": ann.id, "room": "ops"}),
        "the repeats within two seconds were dropped"
    );
    assert!(a.settle().await.iter().all(|e| e["type"] != "chat.typing"), "the sender hears nothing of it");
    assert!(b.settle().await.iter().all(|e| e["type"] != "chat.typing"));

    let res = app.get(&format!("/api/v1/chat/dm/{}", bob.id)).bearer_auth(&ann.access_token).send().await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["data"], json!([]), "nothing was stored");
    a.send(json!({"type": "typing", "to": ann.id})).await;
    assert_eq!(a.next("error").await["data"]["errors"][0]["field"], "to");
    a.send(json!({"type": "typing"})).await;
    assert_eq!(a.next("error").await["data"]["code"], "invalid");
    a.send(json!({"type": "typing", "room": "nowhere"})).await;
    assert_eq!(a.next("error").await["data"]["code"], "not_found");
}

engines!(a_message_is_corrected_by_its_author_and_taken_back_as_a_tombstone);

async fn change(app: &TestApp, who: &Account, method: Method, id: &Value, body: Option<Value>) -> reqwest::Response {
    let mut req = app.request(method, &format!("/api/v1/chat/messages/{id}")).bearer_auth(&who.access_token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("request")
}

/// `PATCH` and `DELETE /chat/messages/{id}`: the author corrects (others may not), the author,
/// the room's creator or a moderator takes back, and everyone in the conversation hears of both.
async fn a_message_is_corrected_by_its_author_and_taken_back_as_a_tombstone(app: TestApp) {
    let (ann, bob, eve) = (app.signup("ann").await, app.signup("bob").await, app.signup("eve").await);
    assert_eq!(create_room(&app, &ann, json!({"name": "ops"})).await.status(), StatusCode::CREATED);
    let (mut a, mut b) = (Socket::open(&app, &ann).await, Socket::open(&app, &bob).await);
    for socket in [&mut a, &mut b] {
        socket.send(json!({"type": "join", "room": "ops"})).await;
        socket.settle().await;
    }
    b.send(json!({"type": "message", "room": "ops", "content": "helo all"})).await;
    let said = a.next("chat.message").await["data"].clone();
    assert!(said["edited_at"].is_null() && said["deleted_at"].is_null());
    let id = &said["id"];

    assert_eq!(change(&app, &ann, Method::PATCH, id, Some(json!({"content": "hi"}))).await.status(), 403);
    assert_eq!(change(&app, &eve, Method::PATCH, id, Some(json!({"content": "hi"}))).await.status(), 403);
    let blank = change(&app, &bob, Method::PATCH, id, Some(json!({"content": "  "}))).await;
    assert_eq!(blank.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = change(&app, &bob, Method::PATCH, id, Some(json!({"content": "hello all"}))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let edited: Value = res.json().await.unwrap();
    assert_eq!((edited["content"].as_str(), edited["room"].as_str()), (Some("hello all"), Some("ops")));
    assert!(edited["edited_at"].is_string());
    assert_eq!(a.next("chat.edited").await["data"], edited, "the room hears of the correction");
    let missing = change(&app, &bob, Method::PATCH, &json!(999_999), Some(json!({"content": "x"}))).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    assert_eq!(change(&app, &eve, Method::DELETE, id, None).await.status(), 403);
    assert_eq!(
        change(&app, &ann, Method::DELETE, id, None).await.status(),
        StatusCode::NO_CONTENT,
        "the room's creator"
    );
    let gone = b.next("chat.deleted").await["data"].clone();
    assert!(gone["content"].is_null() && gone["deleted_at"].is_string(), "{gone}");
    let res = app.get("/api/v1/chat/rooms/ops/messages").bearer_auth(&eve.access_token).send().await.unwrap();
    let history: Value = res.json().await.unwrap();
    assert_eq!(history["data"][0]["id"], *id);
    assert!(history["data"][0]["content"].is_null(), "a tombstone stays in history");
    let late = change(&app, &bob, Method::PATCH, id, Some(json!({"content": "again"}))).await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
    let res = app.get("/api/v1/chat/search?q=hello").bearer_auth(&bob.access_token).send().await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["data"], json!([]), "its text is no longer found");

    a.send(json!({"type": "dm", "to": bob.id, "content": "secret"})).await;
    let dm = b.next("chat.dm").await["data"].clone();
    assert_eq!(change(&app, &eve, Method::DELETE, &dm["id"], None).await.status(), 404, "not hers to see");
    assert_eq!(
        change(&app, &bob, Method::DELETE, &dm["id"], None).await.status(),
        403,
        "the recipient did not write it"
    );
    assert_eq!(change(&app, &ann, Method::DELETE, &dm["id"], None).await.status(), 204);
    assert!(b.next("chat.deleted").await["data"]["content"].is_null());
}

engines!(reactions_are_counted_per_emoji_and_reader);

/// `PUT`/`DELETE /chat/messages/{id}/reactions/{emoji}`: one emoji each, counted per emoji with
/// `me` for the reader, at most 20 different a message, `chat.reaction` to the conversation.
async fn reactions_are_counted_per_emoji_and_reader(app: TestApp) {
    let (ann, bob, eve) = (app.signup("ann").await, app.signup("bob").await, app.signup("eve").await);
    let (mut a, mut b) = (Socket::open(&app, &ann).await, Socket::open(&app, &bob).await);
    a.send(json!({"type": "dm", "to": bob.id, "content": "shipped!"})).await;
    let dm = b.next("chat.dm").await["data"].clone();
    assert_eq!(dm["reactions"], json!([]));
    let react = |who: &Account, method: Method, emoji: &str| {
        let path = format!("/api/v1/chat/messages/{}/reactions/{}", dm["id"], utf8_percent(emoji));
        app.request(method, &path).bearer_auth(&who.access_token).send()
    };

    assert_eq!(react(&bob, Method::PUT, "🎉").await.unwrap().status(), StatusCode::NO_CONTENT);
    let event = a.next("chat.reaction").await["data"].clone();
    assert_eq!(
        event,
        json!({"message_id": dm["id"], "room": null, "emoji": "🎉", "count": 1, "user_id": bob.id, "added": true})
    );
    assert_eq!(react(&bob, Method::PUT, "🎉").await.unwrap().status(), 204, "twice changes nothing");
    assert_eq!(react(&ann, Method::PUT, "🎉").await.unwrap().status(), 204);
    assert_eq!(react(&ann, Method::PUT, "👍🏽").await.unwrap().status(), 204, "a skin tone is one emoji");
    for bad in ["ab", "a", " ", "🎉🎉"] {
        let res = react(&ann, Method::PUT, bad).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
    }
    assert_eq!(react(&eve, Method::PUT, "🎉").await.unwrap().status(), 404, "not hers to read");

    let res = app.get(&format!("/api/v1/chat/dm/{}", ann.id)).bearer_auth(&bob.access_token).send().await.unwrap();
    let history: Value = res.json().await.unwrap();
    assert_eq!(
        history["data"][0]["reactions"],
        json!([{"emoji": "🎉", "count": 2, "me": true}, {"emoji": "👍🏽", "count": 1, "me": false}])
    );
    assert_eq!(react(&bob, Method::DELETE, "🎉").await.unwrap().status(), 204);
    let taken = loop {
        let event = b.next("chat.reaction").await["data"].clone();
        if event["added"] == false {
            break event;
        }
    };
    assert_eq!((taken["count"].as_i64(), taken["user_id"].as_i64()), (Some(1), Some(bob.id)));
    assert_eq!(react(&bob, Method::DELETE, "🎉").await.unwrap().status(), 204, "taking back twice changes nothing");

    let many =
        ["😀", "😃", "😄", "😁", "😆", "😅", "😂", "🤣", "😊", "😇", "🙂", "🙃", "😉", "😌", "😍", "🥰", "😘", "😗"];
    for emoji in many {
        assert_eq!(react(&ann, Method::PUT, emoji).await.unwrap().status(), 204);
    }
    let full = react(&bob, Method::PUT, "🚀").await.unwrap();
    assert_eq!(full.status(), StatusCode::CONFLICT, "a 21st different emoji");
    assert_eq!(react(&bob, Method::PUT, "😀").await.unwrap().status(), 204, "one already there is still welcome");
}

/// `text` as a path segment (every byte but unreserved ones escaped).
fn utf8_percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

engines!(conversations_list_unread_counts_and_read_marks_move_forward);

async fn conversation_list(app: &TestApp, who: &Account) -> Value {
    let res = app.get("/api/v1/chat/conversations").bearer_auth(&who.access_token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn mark(app: &TestApp, who: &Account, body: Value) -> reqwest::Response {
    app.post("/api/v1/chat/read").bearer_auth(&who.access_token).json(&body).send().await.unwrap()
}

/// `GET /chat/conversations` lists a user's rooms and direct conversations by latest activity
/// with unread counts (others' messages after their mark); `POST /chat/read` moves the mark
/// forward only, and the other side hears `chat.read`.
async fn conversations_list_unread_counts_and_read_marks_move_forward(app: TestApp) {
    let (ann, bob, carl) = (app.signup("ann").await, app.signup("bob").await, app.signup("carl").await);
    assert_eq!(create_room(&app, &ann, json!({"name": "ops"})).await.status(), StatusCode::CREATED);
    let (mut a, mut b) = (Socket::open(&app, &ann).await, Socket::open(&app, &bob).await);
    for socket in [&mut a, &mut b] {
        socket.send(json!({"type": "join", "room": "ops"})).await;
        socket.settle().await;
    }
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        b.send(json!({"type": "dm", "to": ann.id, "content": text})).await;
        ids.push(a.next("chat.dm").await["data"]["id"].clone());
    }
    b.send(json!({"type": "message", "room": "ops", "content": "standup?"})).await;
    a.next("chat.message").await;

    let list = conversation_list(&app, &ann).await;
    assert_eq!(list["pagination"]["total"], 2);
    let room = &list["data"][0];
    assert_eq!((room["kind"].as_str(), room["room"]["slug"].as_str()), (Some("room"), Some("ops")));
    assert_eq!(room["last_message"]["content"], "standup?");
    assert_eq!(room["unread_count"], 1);
    let dm = &list["data"][1];
    assert_eq!(dm["kind"], "dm");
    assert_eq!(dm["with"], json!({"id": bob.id, "username": "bob"}));
    assert_eq!(dm["last_message"]["content"], "three");
    assert_eq!(dm["unread_count"], 3);
    let bobs = conversation_list(&app, &bob).await;
    assert!(bobs["data"].as_array().unwrap().iter().all(|c| c["unread_count"] == 0), "one's own are never unread");

    assert_eq!(mark(&app, &ann, json!({"with": bob.id, "up_to": ids[1]})).await.status(), StatusCode::NO_CONTENT);
    let receipt = b.next("chat.read").await["data"].clone();
    assert_eq!(receipt, json!({"by": ann.id, "with": bob.id, "up_to": ids[1]}));
    assert_eq!(conversation_list(&app, &ann).await["data"][1]["unread_count"], 1);
    assert_eq!(mark(&app, &ann, json!({"with": bob.id, "up_to": ids[0]})).await.status(), 204, "never back");
    assert_eq!(conversation_list(&app, &ann).await["data"][1]["unread_count"], 1);
    assert!(b.settle().await.iter().all(|e| e["type"] != "chat.read"), "nothing moved, nobody is told");

    // Answering reads everything before the answer (Ann's own copy comes once it is stored).
    a.send(json!({"type": "dm", "to": bob.id, "content": "on it"})).await;
    assert_eq!(a.next("chat.dm").await["data"]["content"], "on it");
    let list = conversation_list(&app, &ann).await;
    assert_eq!((list["data"][0]["kind"].as_str(), list["data"][0]["unread_count"].as_i64()), (Some("dm"), Some(0)));
    assert_eq!(conversation_list(&app, &bob).await["data"][0]["unread_count"], 1);

    let bad = mark(&app, &ann, json!({"room": "ops", "up_to": ids[0]})).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY, "a message of another conversation");
    let bad = mark(&app, &ann, json!({"up_to": ids[0]})).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let none = mark(&app, &carl, json!({"room": "ops", "up_to": ids[0]})).await;
    assert_eq!(none.status(), StatusCode::NOT_FOUND, "not a room of his");
    assert_eq!(conversation_list(&app, &carl).await["data"], json!([]));
}

engines!(attachments_open_their_files_to_exactly_the_messages_readers);

/// Uploads a small text file of `who`'s.
async fn text_file(app: &TestApp, who: &Account, name: &str) -> Value {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(format!("notes of {name}\n").into_bytes()).file_name(name.to_owned()),
    );
    let res = app.post("/api/v1/files").bearer_auth(&who.access_token).multipart(form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

async fn file_status(app: &TestApp, who: &Account, file: &Value, what: &str) -> StatusCode {
    let path = format!("/api/v1/files/{}{what}", file["id"]);
    app.get(&path).bearer_auth(&who.access_token).send().await.unwrap().status()
}

/// `dm` and `message` carry `attachments` (files the sender owns, at most 10; else an `error`
/// event and nothing stored); whoever may read the message may then read and download its files,
/// nobody else, and a message taken back takes them back.
async fn attachments_open_their_files_to_exactly_the_messages_readers(app: TestApp) {
    let (ann, bob, eve) = (app.signup("ann").await, app.signup("bob").await, app.signup("eve").await);
    let (plan, photo, bobs) = (
        text_file(&app, &ann, "plan.txt").await,
        text_file(&app, &ann, "list.txt").await,
        text_file(&app, &bob, "b.txt").await,
    );
    let (mut a, mut b) = (Socket::open(&app, &ann).await, Socket::open(&app, &bob).await);
    assert_eq!(file_status(&app, &bob, &plan, "").await, StatusCode::NOT_FOUND, "not his before it is sent");

    // Refused: another's file, an unknown id, more than ten. Nothing is stored.
    for attachments in [json!([bobs["id"]]), json!([plan["id"], 999_999]), json!((1..=11).collect::<Vec<_>>())] {
        a.send(json!({"type": "dm", "to": bob.id, "content": "see attached", "attachments": attachments})).await;
        let error = a.next("error").await["data"].clone();
        assert_eq!(error["errors"][0]["field"], "attachments", "{error}");
    }
    let res = app.get(&format!("/api/v1/chat/dm/{}", ann.id)).bearer_auth(&bob.access_token).send().await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["data"], json!([]), "nothing was stored");

    a.send(json!({"type": "dm", "to": bob.id, "content": "the plan", "attachments": [plan["id"], plan["id"]]})).await;
    let dm = b.next("chat.dm").await["data"].clone();
    let carried = &dm["attachments"];
    assert_eq!(carried.as_array().unwrap().len(), 1, "a file named twice is carried once: {dm}");
    assert_eq!(carried[0]["id"], plan["id"]);
    assert_eq!(carried[0]["filename"], "plan.txt");
    assert_eq!(carried[0]["size"], plan["size"]);
    assert_eq!(carried[0]["download_url"], format!("/api/v1/files/{}/download", plan["id"]));
    for what in ["", "/download"] {
        assert_eq!(file_status(&app, &bob, &plan, what).await, StatusCode::OK, "the recipient reads {what}");
        assert_eq!(file_status(&app, &eve, &plan, what).await, StatusCode::NOT_FOUND, "nobody else");
    }
    let bytes = app.get(&format!("/api/v1/files/{}/download", plan["id"])).bearer_auth(&bob.access_token);
    assert_eq!(bytes.send().await.unwrap().text().await.unwrap(), "notes of plan.txt\n");
    let res = app.request(Method::DELETE, &format!("/api/v1/files/{}", plan["id"]));
    assert_eq!(res.bearer_auth(&bob.access_token).send().await.unwrap().status(), 403, "reading is not owning");
    let res = app.get(&format!("/api/v1/chat/dm/{}", ann.id)).bearer_auth(&bob.access_token).send().await.unwrap();
    let history: Value = res.json().await.unwrap();
    assert_eq!(history["data"][0]["attachments"][0]["id"], plan["id"], "history shows what a message carries");

    // A private room's files are its members' (and moderators').
    assert_eq!(create_room(&app, &ann, json!({"name": "ops", "is_private": true})).await.status(), 201);
    let res = app
        .post("/api/v1/chat/rooms/ops/members")
        .bearer_auth(&ann.access_token)
        .json(&json!({"user_id": bob.id}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    b.send(json!({"type": "join", "room": "ops"})).await;
    b.settle().await;
    a.send(json!({"type": "message", "room": "ops", "content": "the list", "attachments": [photo["id"]]})).await;
    assert_eq!(b.next("chat.message").await["data"]["attachments"][0]["id"], photo["id"]);
    assert_eq!(file_status(&app, &bob, &photo, "/download").await, StatusCode::OK);
    assert_eq!(file_status(&app, &eve, &photo, "/download").await, StatusCode::NOT_FOUND, "not a member");
    let moderator = app.signup_with_role("mona", "moderator").await;
    assert_eq!(file_status(&app, &moderator, &photo, "").await, StatusCode::OK, "moderators read every room");

    // Taken back: the tombstone carries nothing, and the recipient loses the file with it.
    let res = app.request(Method::DELETE, &format!("/api/v1/chat/messages/{}", dm["id"]));
    assert_eq!(res.bearer_auth(&ann.access_token).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(b.next("chat.deleted").await["data"]["attachments"], json!([]));
    assert_eq!(file_status(&app, &bob, &plan, "/download").await, StatusCode::NOT_FOUND);
    assert_eq!(file_status(&app, &ann, &plan, "/download").await, StatusCode::OK, "still its owner's");
}

workbench_e2e::per_engine!(conversation_events_reach_every_instance);

/// Edits, deletions, reactions, read receipts and typing reach the other side's socket when the
/// two people are connected to different instances sharing Redis, and unread counts agree.
async fn conversation_events_reach_every_instance(backend: Backend) {
    let Some(apps) = TestApp::spawn_cluster(backend, 2).await else { return };
    let (one, two) = (&apps[0], &apps[1]);
    let (ann, bob) = (one.signup("ann").await, one.signup("bob").await);
    let (mut a, mut b) = (Socket::open(one, &ann).await, Socket::open(two, &bob).await);
    a.send(json!({"type": "dm", "to": bob.id, "content": "helo"})).await;
    let dm = b.next("chat.dm").await["data"].clone();
    let id = &dm["id"];
    assert_eq!(conversation_list(two, &bob).await["data"][0]["unread_count"], 1, "counted where it was read");

    let res = change(one, &ann, Method::PATCH, id, Some(json!({"content": "hello"}))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(b.next("chat.edited").await["data"]["content"], "hello");

    let put = two.request(Method::PUT, &format!("/api/v1/chat/messages/{id}/reactions/{}", utf8_percent("👍")));
    assert_eq!(put.bearer_auth(&bob.access_token).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let reaction = a.next("chat.reaction").await["data"].clone();
    assert_eq!((reaction["emoji"].as_str(), reaction["added"].as_bool()), (Some("👍"), Some(true)));

    assert_eq!(mark(two, &bob, json!({"with": ann.id, "up_to": id})).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(a.next("chat.read").await["data"], json!({"by": bob.id, "with": ann.id, "up_to": id}));
    assert_eq!(conversation_list(one, &bob).await["data"][0]["unread_count"], 0, "the same on either instance");

    b.send(json!({"type": "typing", "to": ann.id})).await;
    assert_eq!(a.next("chat.typing").await["data"], json!({"from": bob.id, "to": ann.id}));

    assert_eq!(change(one, &ann, Method::DELETE, id, None).await.status(), StatusCode::NO_CONTENT);
    assert!(b.next("chat.deleted").await["data"]["content"].is_null());
}
