//! Trades as owners meet them: items offered on the market, proposals checked field by field,
//! each party acting for itself, a swap that moves every item (with its files) at once or none,
//! counter-proposals, an item that leaves the market closing its trades, and a party disabled
//! closing theirs; on both engines.

use crate::events::next_event;
use crate::realtime::Socket;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp, engines, error_fields, expect_json, expect_problem, location, send_as};

/// A catalogue product (made by an admin); its id.
pub(crate) async fn product(app: &TestApp, name: &str, brand: &str) -> i64 {
    let root = app.signup_with_role(&format!("root-{}", name.to_lowercase()), "admin").await;
    let category = expect_json(
        send_as(app, &root, Method::POST, "/categories", Some(json!({"name": format!("{name}s")}))).await,
        StatusCode::CREATED,
    )
    .await;
    let body = json!({"name": name, "category_id": category["id"], "brand": brand, "warranty_months": 24});
    expect_json(send_as(app, &root, Method::POST, "/products", Some(body)).await, StatusCode::CREATED).await["id"]
        .as_i64()
        .unwrap()
}

/// An item of `who`'s, offered on the market when `tradeable`; its id.
pub(crate) async fn item(app: &TestApp, who: &Account, product: i64, tradeable: bool) -> i64 {
    let made = expect_json(
        send_as(
            app,
            who,
            Method::POST,
            "/user-products",
            Some(json!({"product_id": product, "purchase_date": "2026-01-10"})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = made["id"].as_i64().unwrap();
    assert_eq!(made["tradeable"], false, "not on the market unless its owner says so");
    if tradeable {
        let path = format!("/user-products/{id}");
        let marked = expect_json(
            send_as(app, who, Method::PATCH, &path, Some(json!({"tradeable": true}))).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(marked["tradeable"], true);
    }
    id
}

pub(crate) async fn propose(app: &TestApp, who: &Account, body: Value) -> Value {
    expect_json(send_as(app, who, Method::POST, "/trades", Some(body)).await, StatusCode::CREATED).await
}

async fn owner_of(app: &TestApp, who: &Account, item: i64) -> StatusCode {
    send_as(app, who, Method::GET, &format!("/user-products/{item}"), None).await.status()
}

engines!(
    the_market_shows_other_users_tradeable_items,
    a_proposal_is_checked_field_by_field,
    an_accepted_trade_moves_every_item_with_its_files,
    each_party_acts_for_itself_and_only_open_trades_change,
    a_counter_supersedes_and_a_sold_item_closes_its_trades,
    every_change_is_an_event_for_both_parties,
    a_traded_items_files_leave_the_chat_messages_that_carried_them,
    disabling_an_account_cancels_its_open_trades,
);

async fn every_change_is_an_event_for_both_parties(app: TestApp) {
    let mut events = app.bus.subscribe();
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let speaker = product(&app, "Speaker", "Acme").await;
    let ann_item = item(&app, &ann, speaker, false).await;
    let bob_item = item(&app, &bob, speaker, true).await;
    let trade = propose(
        &app,
        &ann,
        json!({"recipient_id": bob.id, "offered_item_ids": [ann_item], "requested_item_ids": [bob_item]}),
    )
    .await;
    let proposed = next_event(&mut events, "event.trade.proposed").await;
    assert_eq!(proposed["data"]["id"], trade["id"]);
    assert_eq!(proposed["data"]["status"], "open", "the trade as the API shows it: {proposed}");
    assert_eq!(proposed["data"]["requested_items"][0]["id"], bob_item);
    let mut audience: Vec<i64> = proposed["audience"].as_array().unwrap().iter().filter_map(Value::as_i64).collect();
    audience.sort_unstable();
    assert_eq!(audience, [ann.id, bob.id], "both parties hear of it");

    expect_json(
        send_as(&app, &bob, Method::POST, &format!("/trades/{}/accept", trade["id"]), None).await,
        StatusCode::OK,
    )
    .await;
    let accepted = next_event(&mut events, "event.trade.accepted").await;
    assert_eq!(
        (accepted["data"]["id"].clone(), accepted["data"]["status"].as_str()),
        (trade["id"].clone(), Some("accepted"))
    );

    // Bob (who now owns ann's item) offers it, then marks it broken: the trade closes with an event.
    let cid = app.signup("cid").await;
    let cid_item = item(&app, &cid, speaker, true).await;
    let offer = propose(
        &app,
        &bob,
        json!({"recipient_id": cid.id, "offered_item_ids": [ann_item], "requested_item_ids": [cid_item]}),
    )
    .await;
    expect_json(
        send_as(&app, &bob, Method::PATCH, &format!("/user-products/{ann_item}"), Some(json!({"status": "broken"})))
            .await,
        StatusCode::OK,
    )
    .await;
    let cancelled = next_event(&mut events, "event.trade.cancelled").await;
    let hook = json!({"url": "https://hooks.example.com/trades", "events": ["trade.accepted", "trade.cancelled"]});
    let subscribed = expect_json(
        send_as(&app, &bob, Method::POST, "/webhooks/subscriptions", Some(hook)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(subscribed["events"], json!(["trade.accepted", "trade.cancelled"]), "webhooks may ask for trade events");
    assert_eq!(
        (cancelled["data"]["id"].clone(), cancelled["data"]["status"].as_str()),
        (offer["id"].clone(), Some("cancelled"))
    );
}

async fn the_market_shows_other_users_tradeable_items(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let speaker = product(&app, "Speaker", "Acme").await;
    let kettle = product(&app, "Kettle", "Bosch").await;
    let on_market = item(&app, &bob, speaker, true).await;
    let kept = item(&app, &bob, kettle, false).await;
    let mine = item(&app, &ann, kettle, true).await;
    let kettle_on_market = item(&app, &bob, kettle, true).await;

    let market = expect_json(send_as(&app, &ann, Method::GET, "/market", None).await, StatusCode::OK).await;
    let listed: Vec<i64> = market["data"].as_array().unwrap().iter().map(|i| i["item_id"].as_i64().unwrap()).collect();
    assert_eq!(listed, [kettle_on_market, on_market], "others' tradeable items, newest first: {market}");
    assert!(!listed.contains(&kept) && !listed.contains(&mine));
    let first = &market["data"][1];
    assert_eq!((first["owner"]["id"].as_i64(), first["owner"]["username"].as_str()), (Some(bob.id), Some("bob")));
    assert_eq!(first["product"]["name"], "Speaker");
    assert_eq!(first["is_under_warranty"], true);
    assert_eq!(market["pagination"]["total"], 2);

    let searched = expect_json(send_as(&app, &ann, Method::GET, "/market?q=kett", None).await, StatusCode::OK).await;
    assert_eq!(searched["data"].as_array().unwrap().len(), 1);
    let branded = expect_json(send_as(&app, &ann, Method::GET, "/market?brand=acme", None).await, StatusCode::OK).await;
    assert_eq!(branded["data"][0]["item_id"], on_market);
    expect_problem(send_as(&app, &ann, Method::GET, "/market?page=0", None).await, 422).await;
}

async fn a_proposal_is_checked_field_by_field(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let speaker = product(&app, "Speaker", "Acme").await;
    let ann_item = item(&app, &ann, speaker, false).await;
    let bob_kept = item(&app, &bob, speaker, false).await;
    let bob_offered = item(&app, &bob, speaker, true).await;

    let bad = json!({"recipient_id": bob.id, "offered_item_ids": [bob_offered], "requested_item_ids": [bob_kept], "message": "x".repeat(2001), "expires_in_hours": 721});
    let problem = expect_problem(send_as(&app, &ann, Method::POST, "/trades", Some(bad)).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["expires_in_hours", "message", "offered_item_ids", "requested_item_ids"], "{problem}");
    let empty = json!({"recipient_id": bob.id, "offered_item_ids": [], "requested_item_ids": []});
    assert_eq!(
        error_fields(&expect_problem(send_as(&app, &ann, Method::POST, "/trades", Some(empty)).await, 422).await),
        ["offered_item_ids"]
    );
    let myself = json!({"recipient_id": ann.id, "offered_item_ids": [ann_item]});
    assert_eq!(
        error_fields(&expect_problem(send_as(&app, &ann, Method::POST, "/trades", Some(myself)).await, 422).await),
        ["recipient_id"]
    );
    let twice = json!({"recipient_id": bob.id, "offered_item_ids": [ann_item, ann_item]});
    assert_eq!(
        error_fields(&expect_problem(send_as(&app, &ann, Method::POST, "/trades", Some(twice)).await, 422).await),
        ["offered_item_ids"]
    );

    let res = send_as(&app, &ann, Method::POST, "/trades", Some(json!({"recipient_id": bob.id, "offered_item_ids": [ann_item], "requested_item_ids": [bob_offered], "message": "Swap?"}))).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let place = location(&res);
    let trade: Value = res.json().await.unwrap();
    assert_eq!(place, format!("/api/v1/trades/{}", trade["id"]));
    assert_eq!((trade["status"].as_str(), trade["version"].as_i64()), (Some("open"), Some(1)));
    assert_eq!(trade["offered_items"][0]["id"], ann_item);
    assert_eq!(trade["requested_items"][0]["product"]["name"], "Speaker");
    let lasts = chrono::DateTime::parse_from_rfc3339(trade["expires_at"].as_str().unwrap()).unwrap()
        - chrono::DateTime::parse_from_rfc3339(trade["created_at"].as_str().unwrap()).unwrap();
    assert_eq!(lasts.num_hours(), 72, "three days unless told");
}

async fn an_accepted_trade_moves_every_item_with_its_files(app: TestApp) {
    let (ann, bob, cid) = (app.signup("ann").await, app.signup("bob").await, app.signup("cid").await);
    let speaker = product(&app, "Speaker", "Acme").await;
    let ann_item = item(&app, &ann, speaker, false).await;
    let bob_item = item(&app, &bob, speaker, true).await;
    let manual = Form::new().part("file", Part::bytes(b"Manual: keep dry.\n".to_vec()).file_name("manual.txt"));
    let res = app
        .post(&format!("/api/v1/user-products/{bob_item}/files"))
        .bearer_auth(&bob.access_token)
        .multipart(manual)
        .send()
        .await
        .unwrap();
    let file: Value = expect_json(res, StatusCode::CREATED).await;
    let link = expect_json(
        send_as(&app, &bob, Method::POST, &format!("/files/{}/links", file["id"]), None).await,
        StatusCode::CREATED,
    )
    .await;
    let link_path = link["url"].as_str().unwrap().split("/s/").nth(1).map(|t| format!("/s/{t}")).unwrap();
    assert_eq!(app.get(&link_path).send().await.unwrap().status(), StatusCode::OK);

    let trade = propose(
        &app,
        &ann,
        json!({"recipient_id": bob.id, "offered_item_ids": [ann_item], "requested_item_ids": [bob_item]}),
    )
    .await;
    let rival = propose(&app, &cid, json!({"recipient_id": bob.id, "requested_item_ids": [bob_item]})).await;
    let path = format!("/trades/{}", trade["id"]);
    expect_problem(send_as(&app, &cid, Method::GET, &path, None).await, 404).await;
    let stale = app
        .post(&format!("/api/v1{path}/accept"))
        .bearer_auth(&bob.access_token)
        .header("If-Match", "\"9\"")
        .send()
        .await
        .unwrap();
    expect_problem(stale, 412).await;
    let accepted =
        expect_json(send_as(&app, &bob, Method::POST, &format!("{path}/accept"), None).await, StatusCode::OK).await;
    assert_eq!((accepted["status"].as_str(), accepted["version"].as_i64()), (Some("accepted"), Some(2)));

    assert_eq!(owner_of(&app, &ann, bob_item).await, StatusCode::OK, "the requested item is ann's now");
    assert_eq!(owner_of(&app, &bob, ann_item).await, StatusCode::OK, "the offered item is bob's now");
    assert_eq!(owner_of(&app, &bob, bob_item).await, StatusCode::NOT_FOUND);
    let moved = expect_json(
        send_as(&app, &ann, Method::GET, &format!("/user-products/{bob_item}"), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!((moved["tradeable"].as_bool(), moved["files_count"].as_i64()), (Some(false), Some(1)));
    assert_eq!(moved["purchase_date"], "2026-01-10", "its dates and warranty go with it");
    let download =
        app.get(&format!("/api/v1/files/{}/download", file["id"])).bearer_auth(&ann.access_token).send().await.unwrap();
    assert_eq!(download.status(), StatusCode::OK, "its files go with it");
    assert_eq!(app.get(&link_path).send().await.unwrap().status(), StatusCode::NOT_FOUND, "the old owner's links end");

    let rival =
        expect_json(send_as(&app, &cid, Method::GET, &format!("/trades/{}", rival["id"]), None).await, StatusCode::OK)
            .await;
    assert_eq!(rival["status"], "cancelled", "every other open trade holding the item is cancelled");
    let again = expect_problem(send_as(&app, &bob, Method::POST, &format!("{path}/accept"), None).await, 409).await;
    assert!(!again["type"].as_str().unwrap().ends_with("items-changed"), "{again}");
}

async fn each_party_acts_for_itself_and_only_open_trades_change(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let speaker = product(&app, "Speaker", "Acme").await;
    let ann_item = item(&app, &ann, speaker, false).await;
    let bob_item = item(&app, &bob, speaker, true).await;
    let trade = propose(
        &app,
        &ann,
        json!({"recipient_id": bob.id, "offered_item_ids": [ann_item], "requested_item_ids": [bob_item]}),
    )
    .await;
    let path = format!("/trades/{}", trade["id"]);
    for action in ["accept", "decline"] {
        expect_problem(send_as(&app, &ann, Method::POST, &format!("{path}/{action}"), None).await, 403).await;
    }
    expect_problem(send_as(&app, &bob, Method::POST, &format!("{path}/cancel"), None).await, 403).await;
    let counter = json!({"offered_item_ids": [bob_item]});
    expect_problem(send_as(&app, &ann, Method::POST, &format!("{path}/counter"), Some(counter)).await, 403).await;

    let sent = expect_json(send_as(&app, &ann, Method::GET, "/trades?role=sent", None).await, StatusCode::OK).await;
    assert_eq!(sent["pagination"]["total"], 1);
    let received =
        expect_json(send_as(&app, &ann, Method::GET, "/trades?role=received", None).await, StatusCode::OK).await;
    assert_eq!(received["pagination"]["total"], 0);
    expect_problem(send_as(&app, &ann, Method::GET, "/trades?role=both", None).await, 422).await;

    let declined =
        expect_json(send_as(&app, &bob, Method::POST, &format!("{path}/decline"), None).await, StatusCode::OK).await;
    assert_eq!(declined["status"], "declined");
    expect_problem(send_as(&app, &ann, Method::POST, &format!("{path}/cancel"), None).await, 409).await;
    let open = expect_json(send_as(&app, &ann, Method::GET, "/trades?status=open", None).await, StatusCode::OK).await;
    assert_eq!(open["pagination"]["total"], 0);
    let second = propose(&app, &ann, json!({"recipient_id": bob.id, "offered_item_ids": [ann_item]})).await;
    let cancelled = expect_json(
        send_as(&app, &ann, Method::POST, &format!("/trades/{}/cancel", second["id"]), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
}

async fn a_counter_supersedes_and_a_sold_item_closes_its_trades(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let speaker = product(&app, "Speaker", "Acme").await;
    let ann_item = item(&app, &ann, speaker, true).await;
    let bob_item = item(&app, &bob, speaker, true).await;
    let trade = propose(&app, &ann, json!({"recipient_id": bob.id, "offered_item_ids": [ann_item]})).await;
    let path = format!("/trades/{}/counter", trade["id"]);
    let answer = json!({"offered_item_ids": [bob_item], "requested_item_ids": [ann_item], "message": "Mine for yours"});
    let res = send_as(&app, &bob, Method::POST, &path, Some(answer.clone())).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let counter: Value = res.json().await.unwrap();
    assert_eq!((counter["parent_id"].clone(), counter["proposer_id"].as_i64()), (trade["id"].clone(), Some(bob.id)));
    let first =
        expect_json(send_as(&app, &ann, Method::GET, &format!("/trades/{}", trade["id"]), None).await, StatusCode::OK)
            .await;
    assert_eq!(first["status"], "superseded");
    expect_problem(send_as(&app, &bob, Method::POST, &path, Some(answer)).await, 409).await;

    // Bob turns the item he offers into another product: what ann would get is not what she saw.
    let kettle = product(&app, "Kettle", "Bosch").await;
    let third = propose(&app, &bob, json!({"recipient_id": ann.id, "offered_item_ids": [bob_item]})).await;
    let path = format!("/user-products/{bob_item}");
    expect_json(send_as(&app, &bob, Method::PATCH, &path, Some(json!({"product_id": kettle}))).await, StatusCode::OK)
        .await;
    let changed =
        expect_json(send_as(&app, &ann, Method::GET, &format!("/trades/{}", third["id"]), None).await, StatusCode::OK)
            .await;
    assert_eq!(changed["status"], "cancelled", "an item changed under an open trade closes it");

    // Ann sells the item the counter asks for: the trade closes at once.
    expect_json(
        send_as(&app, &ann, Method::PATCH, &format!("/user-products/{ann_item}"), Some(json!({"status": "sold"})))
            .await,
        StatusCode::OK,
    )
    .await;
    let closed = expect_json(
        send_as(&app, &ann, Method::GET, &format!("/trades/{}", counter["id"]), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(closed["status"], "cancelled");
}

/// Bob sends the manual of an item he owns in a direct message, then trades the item away: the
/// manual is its new owner's, and the message no longer opens it to Bob or to whom he sent it.
async fn a_traded_items_files_leave_the_chat_messages_that_carried_them(app: TestApp) {
    let (ann, bob, cid) = (app.signup("ann").await, app.signup("bob").await, app.signup("cid").await);
    let speaker = product(&app, "Speaker", "Acme").await;
    let ann_item = item(&app, &ann, speaker, false).await;
    let bob_item = item(&app, &bob, speaker, true).await;
    let manual = Form::new().part("file", Part::bytes(b"Manual: keep dry.\n".to_vec()).file_name("manual.txt"));
    let res = app
        .post(&format!("/api/v1/user-products/{bob_item}/files"))
        .bearer_auth(&bob.access_token)
        .multipart(manual)
        .send()
        .await
        .unwrap();
    let file: Value = expect_json(res, StatusCode::CREATED).await;
    let mut socket = Socket::open(&app, &bob).await;
    socket.send(json!({"type": "dm", "to": cid.id, "content": "the manual", "attachments": [file["id"]]})).await;
    assert_eq!(socket.next("chat.dm").await["data"]["attachments"][0]["id"], file["id"]);
    let read = |who: &Account, what: &'static str| {
        app.get(&format!("/api/v1/files/{}{what}", file["id"])).bearer_auth(who.access_token.clone()).send()
    };
    let history = |who: &Account, with: &Account| {
        app.get(&format!("/api/v1/chat/dm/{}", with.id)).bearer_auth(who.access_token.clone()).send()
    };
    assert_eq!(read(&cid, "/download").await.unwrap().status(), StatusCode::OK, "the message opens it to cid");

    let trade = propose(
        &app,
        &ann,
        json!({"recipient_id": bob.id, "offered_item_ids": [ann_item], "requested_item_ids": [bob_item]}),
    )
    .await;
    expect_json(
        send_as(&app, &bob, Method::POST, &format!("/trades/{}/accept", trade["id"]), None).await,
        StatusCode::OK,
    )
    .await;

    assert_eq!(read(&ann, "/download").await.unwrap().status(), StatusCode::OK, "its new owner's");
    for who in [&bob, &cid] {
        for what in ["", "/download"] {
            expect_problem(read(who, what).await.unwrap(), 404).await;
        }
    }
    let seen: Value = history(&cid, &bob).await.unwrap().json().await.unwrap();
    assert_eq!(seen["data"][0]["content"], "the manual", "the message stays: {seen}");
    assert_eq!(seen["data"][0]["attachments"], json!([]), "without the file: {seen}");
}

async fn disabling_an_account_cancels_its_open_trades(app: TestApp) {
    let mut events = app.bus.subscribe();
    let (ann, bob, cid) = (app.signup("ann").await, app.signup("bob").await, app.signup("cid").await);
    let root = app.signup_with_role("root", "admin").await;
    let speaker = product(&app, "Speaker", "Acme").await;
    let (ann_item, bob_item, cid_item) = (
        item(&app, &ann, speaker, true).await,
        item(&app, &bob, speaker, true).await,
        item(&app, &cid, speaker, true).await,
    );
    // Ann proposes to Bob, Cid to Ann; Bob to Cid does not involve her.
    let sent = propose(&app, &ann, json!({"recipient_id": bob.id, "requested_item_ids": [bob_item]})).await;
    let received = propose(&app, &cid, json!({"recipient_id": ann.id, "requested_item_ids": [ann_item]})).await;
    let apart = propose(&app, &bob, json!({"recipient_id": cid.id, "requested_item_ids": [cid_item]})).await;
    let status = |trade: &Value, who: &Account| {
        let path = format!("/trades/{}", trade["id"]);
        let (app, who) = (&app, who.clone());
        async move {
            expect_json(send_as(app, &who, Method::GET, &path, None).await, StatusCode::OK).await["status"].clone()
        }
    };

    let res = app
        .request(Method::PATCH, &format!("/api/v1/admin/users/{}", ann.id))
        .bearer_auth(&root.access_token)
        .json(&json!({"status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let accept = format!("/trades/{}/accept", sent["id"]);
    expect_problem(send_as(&app, &bob, Method::POST, &accept, None).await, 409).await;
    assert_eq!(owner_of(&app, &bob, bob_item).await, StatusCode::OK, "nothing moved");
    assert_eq!(status(&sent, &bob).await, "cancelled");
    assert_eq!(status(&received, &cid).await, "cancelled", "trades proposed to her too");
    assert_eq!(status(&apart, &cid).await, "open", "others' trades are not hers");
    let mut cancelled = Vec::new();
    for _ in 0..2 {
        let event = next_event(&mut events, "event.trade.cancelled").await;
        cancelled.push(event["data"]["id"].as_i64().unwrap());
    }
    cancelled.sort_unstable();
    assert_eq!(cancelled, [sent["id"].as_i64().unwrap(), received["id"].as_i64().unwrap()], "each with its event");

    // An open trade whose party was disabled without it being cancelled (one left from before
    // this rule, or proposed while the account was being disabled) cannot be accepted either.
    let late = propose(&app, &bob, json!({"recipient_id": cid.id, "offered_item_ids": [bob_item]})).await;
    assert_eq!(app.execute_sql(&format!("UPDATE users SET status = 'disabled' WHERE id = {}", bob.id)).await, 1);
    let accept = format!("/trades/{}/accept", late["id"]);
    expect_problem(send_as(&app, &cid, Method::POST, &accept, None).await, 409).await;
    assert_eq!(status(&late, &cid).await, "cancelled");
    assert_eq!(owner_of(&app, &cid, bob_item).await, StatusCode::NOT_FOUND, "nothing moved");
}
