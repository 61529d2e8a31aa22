//! Radio stations as clients meet them: managed by their owner (others: 403 on a public
//! station, 404 on a private one), an Icecast-style source on the source listener, listeners
//! who start on a frame boundary, one source at a time, a rotated key that cuts the source, and
//! the playlist when no source is live.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use workbench_e2e::{Account, TestApp, engines, error_fields, eventually, expect_problem, send_as};

pub(crate) async fn create(app: &TestApp, who: &Account, body: Value) -> reqwest::Response {
    app.post("/api/v1/radio/stations").bearer_auth(&who.access_token).json(&body).send().await.unwrap()
}

async fn station(app: &TestApp, who: &Account, slug: &str) -> reqwest::Response {
    app.get(&format!("/api/v1/radio/stations/{slug}")).bearer_auth(&who.access_token).send().await.unwrap()
}

fn patch(app: &TestApp, who: &Account, slug: &str, body: &Value) -> reqwest::RequestBuilder {
    app.request(reqwest::Method::PATCH, &format!("/api/v1/radio/stations/{slug}"))
        .bearer_auth(&who.access_token)
        .json(body)
}

/// A silent MPEG-1 Layer III frame at 128 kbit/s, 44.1 kHz (417 bytes).
pub(crate) fn mp3_frame() -> Vec<u8> {
    let mut frame = vec![0xFF, 0xFB, 0x90, 0x64];
    frame.resize(417, 0);
    frame
}

/// A source connected as ffmpeg's `icecast://` connects: `PUT` with `Expect: 100-continue` and
/// a body with no length. Answers the stream after `100 Continue`, or the refusal's status line.
pub(crate) async fn connect_source(app: &TestApp, slug: &str, key: &str) -> Result<TcpStream, String> {
    use base64::Engine;
    let addr = app.radio_sources.expect("the source listener is bound");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("source:{key}"));
    let head = format!(
        "PUT /radio/{slug}/source HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {credentials}\r\n\
         Content-Type: audio/mpeg\r\nIce-Public: 0\r\nExpect: 100-continue\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0_u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await.unwrap().unwrap();
    let line = String::from_utf8_lossy(&answer[..n]).lines().next().unwrap_or_default().to_owned();
    if line.contains(" 100 ") { Ok(stream) } else { Err(line) }
}

/// Sends `seconds` of frames, paced a little faster than they play.
pub(crate) async fn send_frames(source: &mut TcpStream, frames: usize) -> std::io::Result<()> {
    let frame = mp3_frame();
    for _ in 0..frames {
        source.write_all(&frame).await?;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn stations_are_managed_by_their_owner_and_seen_by_whom_they_should(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let res = create(&app, &ann, json!({"slug": "night-owl", "name": "Night Owl", "description": "Jazz"})).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["location"], "/api/v1/radio/stations/night-owl");
    let created: Value = res.json().await.unwrap();
    let key = created["source_key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 64, "256 bits as hex");
    assert_eq!(created["format"], "mp3");
    assert_eq!((created["is_public"].as_bool(), created["live"].as_bool()), (Some(true), Some(false)));
    assert_eq!(created["listeners"], 0);
    assert_eq!(created["now_playing"], Value::Null);
    assert_eq!(created["owner_id"], ann.id);

    expect_problem(create(&app, &bob, json!({"slug": "night-owl", "name": "Mine"})).await, 409).await;
    let problem = expect_problem(create(&app, &bob, json!({"slug": "Bad Slug", "format": "wav"})).await, 422).await;
    assert_eq!(error_fields(&problem), ["slug", "name", "format"]);
    let private =
        create(&app, &ann, json!({"slug": "diary", "name": "Diary", "is_public": false, "format": "ogg"})).await;
    assert_eq!(private.status(), 201);

    // Public stations and one's own.
    let list = |who: Account| {
        let app = &app;
        async move {
            let res = app.get("/api/v1/radio/stations").bearer_auth(&who.access_token).send().await.unwrap();
            let body: Value = res.json().await.unwrap();
            body["data"].as_array().unwrap().iter().map(|s| s["slug"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    assert_eq!(list(ann.clone()).await, ["diary", "night-owl"]);
    assert_eq!(list(bob.clone()).await, ["night-owl"]);
    expect_problem(station(&app, &bob, "diary").await, 404).await;
    expect_problem(patch(&app, &bob, "diary", &json!({"name": "x"})).send().await.unwrap(), 404).await;
    expect_problem(patch(&app, &bob, "night-owl", &json!({"name": "x"})).send().await.unwrap(), 403).await;
    let res = app
        .request(reqwest::Method::DELETE, "/api/v1/radio/stations/night-owl")
        .bearer_auth(&bob.access_token)
        .send()
        .await
        .unwrap();
    expect_problem(res, 403).await;

    let res =
        patch(&app, &ann, "night-owl", &json!({"name": "Night Owl FM", "description": null})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let changed: Value = res.json().await.unwrap();
    assert_eq!((changed["name"].as_str(), changed["description"].as_str()), (Some("Night Owl FM"), None));
    assert!(changed.get("source_key").is_none(), "the key is shown only when made");

    // What is playing: the owner, or the source with its key as a bearer.
    let say = |token: String, body: Value| {
        let app = &app;
        async move {
            app.post("/api/v1/radio/stations/night-owl/now-playing")
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(say(ann.access_token.clone(), json!({"title": "So What", "artist": "Miles Davis"})).await.status(), 204);
    let shown: Value = station(&app, &bob, "night-owl").await.json().await.unwrap();
    assert_eq!(shown["now_playing"]["title"], "So What");
    assert_eq!(shown["now_playing"]["artist"], "Miles Davis");
    assert_eq!(say(key.clone(), json!({"title": "Blue in Green", "artist": ""})).await.status(), 204);
    let shown: Value = station(&app, &bob, "night-owl").await.json().await.unwrap();
    assert_eq!(shown["now_playing"]["title"], "Blue in Green");
    assert!(shown["now_playing"]["artist"].is_null(), "an empty artist is no artist: {shown}");
    expect_problem(say(bob.access_token.clone(), json!({"title": "x"})).await, 403).await;
    // A key names no station it does not open: another station's, or none, is a wrong key alike.
    for slug in ["diary", "nowhere"] {
        let res = app
            .post(&format!("/api/v1/radio/stations/{slug}/now-playing"))
            .bearer_auth(&key)
            .json(&json!({"title": "x"}))
            .send()
            .await
            .unwrap();
        let problem = expect_problem(res, 401).await;
        assert_eq!(problem["type"], "https://workbench.dev/problems/invalid-source-key", "{slug}");
    }
    expect_problem(say(ann.access_token.clone(), json!({})).await, 422).await;

    // Playlists hold the owner's audio only.
    let part = reqwest::multipart::Part::bytes(b"just text".to_vec()).file_name("notes.txt");
    let notes: Value = app
        .post("/api/v1/files")
        .bearer_auth(&ann.access_token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = app
        .request(reqwest::Method::PUT, "/api/v1/radio/stations/night-owl/playlist")
        .bearer_auth(&ann.access_token)
        .json(&json!({"file_ids": [notes["id"], 999_999]}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(error_fields(&problem), ["file_ids"]);
    let res = app
        .request(reqwest::Method::PUT, "/api/v1/radio/stations/night-owl/playlist")
        .bearer_auth(&ann.access_token)
        .json(&json!({"file_ids": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["file_ids"], json!([]));

    let res = app
        .request(reqwest::Method::DELETE, "/api/v1/radio/stations/diary")
        .bearer_auth(&ann.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    expect_problem(station(&app, &ann, "diary").await, 404).await;
}

async fn a_source_is_relayed_to_listeners_from_a_frame_boundary(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let created: Value = create(&app, &ann, json!({"slug": "live", "name": "Live"})).await.json().await.unwrap();
    let key = created["source_key"].as_str().unwrap().to_owned();
    let listen = || app.get("/radio/live/stream").send();

    // Neither a source nor a playlist.
    expect_problem(listen().await.unwrap(), 503).await;

    assert_eq!(connect_source(&app, "live", "wrong").await.unwrap_err().split(' ').nth(1), Some("401"));
    // An unknown station is a wrong key: no key tells which stations exist.
    assert_eq!(connect_source(&app, "nowhere", &key).await.unwrap_err().split(' ').nth(1), Some("401"));
    let mut source = connect_source(&app, "live", &key).await.expect("the source is accepted");
    assert_eq!(connect_source(&app, "live", &key).await.unwrap_err().split(' ').nth(1), Some("409"));
    // Some audio before anyone listens: the burst.
    send_frames(&mut source, 40).await.unwrap();

    let mut res = listen().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "audio/mpeg");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let first = tokio::time::timeout(Duration::from_secs(5), res.chunk()).await.unwrap().unwrap().unwrap();
    assert_eq!(&first[..2], &[0xFF, 0xFB], "the first byte starts a frame");
    assert!(first.len() >= 417, "a burst of recent audio at once");
    let shown: Value = station(&app, &bob, "live").await.json().await.unwrap();
    assert_eq!((shown["live"].as_bool(), shown["listeners"].as_u64()), (Some(true), Some(1)));

    // Live audio keeps coming.
    let feeding = tokio::spawn(async move {
        let _ = send_frames(&mut source, 400).await;
        source
    });
    let mut received = first.len();
    while received < 417 * 80 {
        let chunk = tokio::time::timeout(Duration::from_secs(5), res.chunk()).await.unwrap().unwrap().unwrap();
        received += chunk.len();
    }
    assert_eq!(received % 417, 0, "whole frames only");

    // A new key cuts the source.
    let res = app.post("/api/v1/radio/stations/live/source-key").bearer_auth(&ann.access_token).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let new_key = res.json::<Value>().await.unwrap()["source_key"].as_str().unwrap().to_owned();
    assert_ne!(new_key, key);
    let mut source = feeding.await.unwrap();
    let cut = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0_u8; 64];
        loop {
            if send_frames(&mut source, 10).await.is_err() {
                return;
            }
            match source.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(cut.is_ok(), "the old key's source was cut");
    assert_eq!(connect_source(&app, "live", &key).await.unwrap_err().split(' ').nth(1), Some("401"));
    let source = connect_source(&app, "live", &new_key).await;
    assert!(source.is_ok(), "the new key works");
}

/// Reads `res` until it ends; panics if it still plays after `seconds`.
async fn ends_within(res: &mut reqwest::Response, seconds: u64, what: &str) {
    let ended =
        tokio::time::timeout(Duration::from_secs(seconds), async { while let Ok(Some(_)) = res.chunk().await {} })
            .await;
    assert!(ended.is_ok(), "{what}: the listener still plays after {seconds} s");
}

/// Reads from `res` until `bytes` more arrived; panics if it ends first.
async fn still_plays(res: &mut reqwest::Response, bytes: usize, what: &str) {
    let mut received = 0;
    while received < bytes {
        let chunk = tokio::time::timeout(Duration::from_secs(5), res.chunk()).await;
        match chunk {
            Ok(Ok(Some(chunk))) => received += chunk.len(),
            other => panic!("{what}: the listener stopped ({other:?})"),
        }
    }
}

async fn a_listener_ends_the_moment_its_right_to_listen_does(app: TestApp) {
    let ann = app.signup("ann").await;
    let created: Value = create(&app, &ann, json!({"slug": "open", "name": "Open"})).await.json().await.unwrap();
    let key = created["source_key"].as_str().unwrap().to_owned();
    let mut source = connect_source(&app, "open", &key).await.expect("the source is accepted");
    send_frames(&mut source, 10).await.unwrap();
    let feeding = tokio::spawn(async move {
        let _ = send_frames(&mut source, 5_000).await;
    });
    let mut anyone = app.get("/radio/open/stream").send().await.unwrap();
    let mut owner = app.get(&format!("/radio/open/stream?token={}", ann.access_token)).send().await.unwrap();
    assert_eq!((anyone.status().as_u16(), owner.status().as_u16()), (200, 200));
    assert_eq!(anyone.headers()["connection"], "close", "the body runs until the connection closes");
    assert!(anyone.headers().get("content-length").is_none() && anyone.headers().get("transfer-encoding").is_none());
    still_plays(&mut anyone, 4_000, "anyone, on a public station").await;

    // Turned private: anyone else's stream ends at once; the owner's goes on.
    let res = patch(&app, &ann, "open", &json!({"is_public": false})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    ends_within(&mut anyone, 3, "anyone, once the station is private").await;
    still_plays(&mut owner, 4_000, "the owner, on their private station").await;

    // A password change ends what the tokens issued before it let in.
    let res = send_as(
        &app,
        &ann,
        reqwest::Method::PUT,
        "/users/me/password",
        Some(json!({"current_password": ann.password, "new_password": "another good password"})),
    )
    .await;
    assert_eq!(res.status(), 204);
    ends_within(&mut owner, 3, "the owner's listener, after a password change").await;
    let again = app.get(&format!("/radio/open/stream?token={}", ann.access_token)).send().await.unwrap();
    expect_problem(again, 401).await;

    // A deleted station ends its listeners, whoever they are.
    let ann = app.login(&ann.email, "another good password").await;
    let token = ann.access_token.clone();
    let mut owner = app.get(&format!("/radio/open/stream?token={token}")).send().await.unwrap();
    assert_eq!(owner.status(), 200);
    still_plays(&mut owner, 4_000, "the owner, signed in again").await;
    let res = send_as(&app, &ann, reqwest::Method::DELETE, "/radio/stations/open", None).await;
    assert_eq!(res.status(), 204);
    ends_within(&mut owner, 3, "a listener of a deleted station").await;
    feeding.abort();
}

async fn a_private_station_needs_its_owners_token(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    create(&app, &ann, json!({"slug": "secret", "name": "Secret", "is_public": false})).await;
    expect_problem(app.get("/radio/secret/stream").send().await.unwrap(), 404).await;
    let as_bob = app.get(&format!("/radio/secret/stream?token={}", bob.access_token)).send().await.unwrap();
    expect_problem(as_bob, 404).await;
    let as_ann = app.get(&format!("/radio/secret/stream?token={}", ann.access_token)).send().await.unwrap();
    expect_problem(as_ann, 503).await;
    expect_problem(app.get("/radio/secret/stream?token=nonsense").send().await.unwrap(), 401).await;
}

/// Whether this machine has `ffmpeg` (CI must: there a missing one fails instead of skipping).
fn have_ffmpeg() -> bool {
    let found = std::process::Command::new("ffmpeg").arg("-version").output().is_ok_and(|o| o.status.success());
    assert!(found || std::env::var("CI").is_err(), "CI must install ffmpeg (see .ci/run)");
    found
}

/// A WAV of `seconds` of a 440 Hz tone, 16-bit mono at 22.05 kHz.
fn wav(seconds: u32) -> Vec<u8> {
    let rate = 22_050_u32;
    let frames = rate * seconds;
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(36 + frames * 2).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    for (value, width) in [(16, 4), (1, 2), (1, 2), (rate, 4), (rate * 2, 4), (2, 2), (16, 2)] {
        out.extend_from_slice(&u32::to_le_bytes(value)[..width]);
    }
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(frames * 2).to_le_bytes());
    for i in 0..frames {
        let sample = ((i as f32 / rate as f32 * 440.0 * std::f32::consts::TAU).sin() * 9_000.0) as i16;
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

/// Whether `bytes` hold one of [`mp3_frame`]'s silent frames: a header, then zeros.
fn holds_silent_frame(bytes: &[u8]) -> bool {
    bytes.windows(104).any(|w| w[..4] == [0xFF, 0xFB, 0x90, 0x64] && w[4..].iter().all(|&b| b == 0))
}

/// Reads from `res` until `seen` says yes of the bytes read since, or panics after 10 s.
async fn read_until(res: &mut reqwest::Response, what: &str, seen: impl Fn(&[u8]) -> bool) {
    let mut since = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen(&since) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let chunk = tokio::time::timeout(left, res.chunk()).await.unwrap_or_else(|_| panic!("never heard {what}"));
        since.extend_from_slice(&chunk.unwrap().unwrap_or_else(|| panic!("the stream ended before {what}")));
    }
}

async fn the_playlist_plays_while_no_source_is_live_and_gives_way_to_one(app: TestApp) {
    if !have_ffmpeg() {
        return;
    }
    let ann = app.signup("ann").await;
    let created: Value = create(&app, &ann, json!({"slug": "auto", "name": "Auto DJ"})).await.json().await.unwrap();
    let key = created["source_key"].as_str().unwrap().to_owned();
    let part = reqwest::multipart::Part::bytes(wav(30)).file_name("tone.wav");
    let song: Value = app
        .post("/api/v1/files")
        .bearer_auth(&ann.access_token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = app
        .request(reqwest::Method::PUT, "/api/v1/radio/stations/auto/playlist")
        .bearer_auth(&ann.access_token)
        .json(&json!({"file_ids": [song["id"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // No source: the playlist, transcoded to the station's MP3.
    let mut res = app.get("/radio/auto/stream").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "audio/mpeg");
    let first = tokio::time::timeout(Duration::from_secs(10), res.chunk()).await.unwrap().unwrap().unwrap();
    assert_eq!(first[0], 0xFF, "a frame first");
    assert!(!holds_silent_frame(&first));

    // A source takes over...
    let mut source = connect_source(&app, "auto", &key).await.expect("the source is accepted");
    let feeding = tokio::spawn(async move {
        let _ = send_frames(&mut source, 150).await;
        source
    });
    read_until(&mut res, "the source", holds_silent_frame).await;
    // ...and when it goes, the playlist comes back.
    drop(feeding.await.unwrap());
    read_until(&mut res, "the playlist again", |b| b.len() > 4 * 417 && !holds_silent_frame(&b[b.len() - 2 * 417..]))
        .await;
}

async fn listeners_on_another_instance_hear_the_source_and_are_counted(backend: workbench_e2e::Backend) {
    let Some(apps) = TestApp::spawn_cluster(backend, 2).await else { return };
    let (a, b) = (&apps[0], &apps[1]);
    let ann = a.signup("ann").await;
    let created: Value = create(a, &ann, json!({"slug": "shared", "name": "Shared"})).await.json().await.unwrap();
    let key = created["source_key"].as_str().unwrap().to_owned();
    let mut source = connect_source(a, "shared", &key).await.expect("the source is accepted on A");
    send_frames(&mut source, 10).await.unwrap();
    let feeding = tokio::spawn(async move {
        let _ = send_frames(&mut source, 600).await;
        source
    });

    // A listener on B hears A's source.
    let mut res = b.get("/radio/shared/stream").send().await.unwrap();
    assert_eq!(res.status(), 200);
    read_until(&mut res, "A's source on B", holds_silent_frame).await;
    // Counted on A, with the source live; a second source on B is refused.
    let mut shown = Value::Null;
    for _ in 0..50 {
        shown = station(a, &ann, "shared").await.json().await.unwrap();
        if shown["listeners"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!((shown["listeners"].as_u64(), shown["live"].as_bool()), (Some(1), Some(true)), "{shown}");
    assert_eq!(connect_source(b, "shared", &key).await.unwrap_err().split(' ').nth(1), Some("409"));

    // Turned private on A: the listener on B ends at once.
    let changed = patch(a, &ann, "shared", &json!({"is_public": false})).send().await.unwrap();
    assert_eq!(changed.status(), 200);
    ends_within(&mut res, 3, "B's listener, once A made the station private").await;
    expect_problem(b.get("/radio/shared/stream").send().await.unwrap(), 404).await;

    // Turned public again on A: B lets anyone in again.
    let changed = patch(a, &ann, "shared", &json!({"is_public": true})).send().await.unwrap();
    assert_eq!(changed.status(), 200);
    let mut res = eventually("B lets anyone in once A made the station public", Duration::from_secs(3), || async {
        Some(b.get("/radio/shared/stream").send().await.unwrap()).filter(|res| res.status() == 200)
    })
    .await;
    read_until(&mut res, "A's source on B, public again", holds_silent_frame).await;

    // The owner's account deleted on A takes the station with it: B's listener ends.
    let admin = a.signup_with_role("adm", "admin").await;
    let deleted = send_as(a, &admin, reqwest::Method::DELETE, &format!("/admin/users/{}", ann.id), None).await;
    assert_eq!(deleted.status(), 204);
    ends_within(&mut res, 3, "B's listener, once the station's owner was deleted on A").await;
    expect_problem(b.get("/radio/shared/stream").send().await.unwrap(), 404).await;
    feeding.abort();
}

/// Anonymous listeners of a station from `forwarded_for` (through the trusted proxy on
/// 127.0.0.1) or, with `None`, from 127.0.0.1 itself.
async fn tune_in(app: &TestApp, slug: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = app.get(&format!("/radio/{slug}/stream"));
    if let Some(client) = forwarded_for {
        request = request.header("x-forwarded-for", client);
    }
    request.send().await.unwrap()
}

async fn one_address_has_at_most_so_many_listeners_at_once(app: TestApp) {
    let ann = app.signup("ann").await;
    let created: Value = create(&app, &ann, json!({"slug": "capped", "name": "Capped"})).await.json().await.unwrap();
    let key = created["source_key"].as_str().unwrap().to_owned();
    let mut source = connect_source(&app, "capped", &key).await.expect("the source is accepted");
    send_frames(&mut source, 10).await.unwrap();
    let feeding = tokio::spawn(async move {
        let _ = send_frames(&mut source, 5_000).await;
    });

    // Two from one address, the most it may have.
    let mut first = tune_in(&app, "capped", None).await;
    let mut second = tune_in(&app, "capped", None).await;
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (200, 200));
    still_plays(&mut first, 1_000, "the first listener").await;
    still_plays(&mut second, 1_000, "the second listener").await;
    let refused = tune_in(&app, "capped", None).await;
    assert_eq!(refused.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("10"));
    let problem = expect_problem(refused, 429).await;
    assert_eq!(problem["type"], "https://workbench.dev/problems/too-many-listeners");

    // The address is the client's as the rate limits see it: behind the trusted proxy, another
    // client is another address, and one the proxy forwards for 127.0.0.1 is that address.
    let mut behind = tune_in(&app, "capped", Some("203.0.113.7")).await;
    assert_eq!(behind.status(), 200, "another client behind the trusted proxy");
    still_plays(&mut behind, 1_000, "another client behind the proxy").await;
    expect_problem(tune_in(&app, "capped", Some("127.0.0.1")).await, 429).await;

    // A listener that hangs up gives its place back.
    drop(first);
    let mut again =
        eventually("127.0.0.1 tunes in again once one of its listeners left", Duration::from_secs(5), || async {
            Some(tune_in(&app, "capped", None).await).filter(|res| res.status() == 200)
        })
        .await;
    still_plays(&mut again, 1_000, "the listener in the place given back").await;
    still_plays(&mut second, 1_000, "the second listener, all along").await;
    feeding.abort();
}

workbench_e2e::per_engine!(listeners_on_another_instance_hear_the_source_and_are_counted);

workbench_e2e::engines_with!(
    one_address_has_at_most_so_many_listeners_at_once with |s: &mut workbench_app::Settings| {
        s.radio.max_listeners_per_ip = 2;
        s.server.trusted_proxies = Some("127.0.0.1/32".into());
    },
);

engines!(
    the_playlist_plays_while_no_source_is_live_and_gives_way_to_one,
    a_listener_ends_the_moment_its_right_to_listen_does,
    stations_are_managed_by_their_owner_and_seen_by_whom_they_should,
    a_source_is_relayed_to_listeners_from_a_frame_boundary,
    a_private_station_needs_its_owners_token,
);
