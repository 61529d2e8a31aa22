//! Audio renditions as clients meet them: transcoded on the first request while it streams, one
//! transcode shared by the requests that arrive meanwhile, then stored and served like a download
//! (`ETag`, ranges, `304`); parameters checked; only readable audio; a bounded pool that refuses
//! with `Retry-After`; and a server without an encoder that says so.

use reqwest::StatusCode;
use serde_json::Value;
use workbench_e2e::{Account, TestApp, engines, engines_with, error_fields, expect_problem};

/// Whether this machine has `ffmpeg`. In CI it must: a missing one fails instead of skipping.
fn have_ffmpeg() -> bool {
    let found = std::process::Command::new("ffmpeg").arg("-version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var("CI").is_err(), "CI must install ffmpeg (see .ci/run)");
        // Said where a test runner shows it: the skip is the machine's, not the code's.
        #[expect(clippy::print_stderr, reason = "a skipped case says so")]
        {
            eprintln!("SKIPPED: no ffmpeg on this machine; renditions cannot be made");
        }
    }
    found
}

/// A WAV of `seconds` of a 440 Hz tone, 16-bit stereo at 44.1 kHz.
fn wav(seconds: u32) -> Vec<u8> {
    let rate = 44_100_u32;
    let frames = rate * seconds;
    let data_len = frames * 4;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16_u32.to_le_bytes());
    out.extend_from_slice(&1_u16.to_le_bytes());
    out.extend_from_slice(&2_u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 4).to_le_bytes());
    out.extend_from_slice(&4_u16.to_le_bytes());
    out.extend_from_slice(&16_u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..frames {
        let t = i as f32 / rate as f32;
        let sample = ((t * 440.0 * std::f32::consts::TAU).sin() * 12_000.0) as i16;
        out.extend_from_slice(&sample.to_le_bytes());
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

async fn upload(app: &TestApp, who: &Account, name: &str, bytes: Vec<u8>) -> Value {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
    let res = app
        .post("/api/v1/files")
        .bearer_auth(&who.access_token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

fn stream_path(file: &Value, query: &str) -> String {
    format!("/api/v1/files/{}/stream{query}", file["id"])
}

async fn fetch(app: &TestApp, who: &Account, path: &str) -> reqwest::Response {
    app.get(path).bearer_auth(&who.access_token).send().await.unwrap()
}

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Waits until the rendition is stored: answered with an `ETag`.
async fn stored(app: &TestApp, who: &Account, path: &str) -> (String, Vec<u8>) {
    for _ in 0..200 {
        let res = fetch(app, who, path).await;
        assert_eq!(res.status(), 200);
        if let Some(tag) = header(&res, "etag") {
            assert_eq!(header(&res, "accept-ranges").as_deref(), Some("bytes"));
            return (tag, res.bytes().await.unwrap().to_vec());
        }
        let _ = res.bytes().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the rendition at {path} was never stored");
}

/// Whether `bytes` start with an MPEG audio frame header (11 sync bits, MPEG-1 Layer III).
fn starts_with_mp3_frame(bytes: &[u8]) -> bool {
    bytes.len() > 4 && bytes[0] == 0xFF && bytes[1] & 0xFE == 0xFA
}

async fn renditions_stream_while_transcoding_then_serve_like_downloads(app: TestApp) {
    if !have_ffmpeg() {
        return;
    }
    let ann = app.signup("ann").await;
    let song = upload(&app, &ann, "song.wav", wav(20)).await;
    let path = stream_path(&song, "");

    // Two listeners at once, while it is transcoded: the same bytes, streamed.
    let (first, second) = tokio::join!(fetch(&app, &ann, &path), fetch(&app, &ann, &path));
    let mut streamed = Vec::new();
    for res in [first, second] {
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "content-type").as_deref(), Some("audio/mpeg"));
        if header(&res, "etag").is_none() {
            assert_eq!(header(&res, "accept-ranges").as_deref(), Some("none"));
            assert_eq!(header(&res, "content-length"), None, "its length is not known yet");
        }
        streamed.push(res.bytes().await.unwrap().to_vec());
    }
    assert_eq!(streamed[0], streamed[1]);
    assert!(starts_with_mp3_frame(&streamed[0]), "a bare stream of MP3 frames");
    // 20 s at 128 kbit/s is about 320 kB.
    assert!((280_000..=360_000).contains(&streamed[0].len()), "{} bytes", streamed[0].len());

    // Then stored, and served like a download.
    let (tag, whole) = stored(&app, &ann, &path).await;
    assert_eq!(whole, streamed[0]);
    let res = app.get(&path).bearer_auth(&ann.access_token).header("Range", "bytes=0-99").send().await.unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(header(&res, "content-range"), Some(format!("bytes 0-99/{}", whole.len())));
    assert_eq!(res.bytes().await.unwrap().as_ref(), &whole[..100]);
    let res = app.get(&path).bearer_auth(&ann.access_token).header("If-None-Match", &tag).send().await.unwrap();
    assert_eq!(res.status(), 304);

    // Opus in Ogg, at another bitrate: another rendition.
    let res = fetch(&app, &ann, &stream_path(&song, "?format=opus&bitrate=64")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type").as_deref(), Some("audio/ogg"));
    let opus = res.bytes().await.unwrap();
    assert!(opus.starts_with(b"OggS"), "an Ogg stream");
    assert!(opus.windows(8).any(|w| w == b"OpusHead"), "of Opus");
    // 20 s at 64 kbit/s is about 160 kB.
    assert!((100_000..=220_000).contains(&opus.len()), "{} bytes", opus.len());
}

async fn only_readable_audio_in_a_known_rendition_is_streamed(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let song = upload(&app, &ann, "song.wav", wav(1)).await;
    let notes = upload(&app, &ann, "notes.txt", b"just text".to_vec()).await;

    let problem = expect_problem(fetch(&app, &ann, &stream_path(&song, "?format=wav&bitrate=100")).await, 422).await;
    assert_eq!(error_fields(&problem), ["format", "bitrate"]);
    let problem = expect_problem(fetch(&app, &ann, &stream_path(&song, "?bitrate=320")).await, 422).await;
    assert_eq!(error_fields(&problem), ["bitrate"]);
    // A bitrate that is not a number cannot be read at all: 400, as for any query value.
    for unreadable in ["abc", "12.5", ""] {
        let res = fetch(&app, &ann, &stream_path(&song, &format!("?bitrate={unreadable}"))).await;
        expect_problem(res, 400).await;
    }
    let problem = expect_problem(fetch(&app, &ann, &stream_path(&song, "?bitrate=-128")).await, 422).await;
    assert_eq!(error_fields(&problem), ["bitrate"]);
    let problem = expect_problem(fetch(&app, &ann, &stream_path(&notes, "")).await, 404).await;
    assert!(problem["detail"].as_str().unwrap().contains("not audio"), "{problem}");
    expect_problem(fetch(&app, &bob, &stream_path(&song, "")).await, 404).await;
    expect_problem(fetch(&app, &ann, "/api/v1/files/999999/stream").await, 404).await;
    let res = app.get(&stream_path(&song, "")).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

async fn a_full_pool_refuses_with_retry_after_and_a_shared_transcode_is_not_counted_twice(app: TestApp) {
    if !have_ffmpeg() {
        return;
    }
    let ann = app.signup("ann").await;
    // Two minutes of CD audio: seconds of work, long enough to ask again while it runs.
    let song = upload(&app, &ann, "long.wav", wav(120)).await;
    // One worker and one waiting: the pool is full with two renditions under way.
    let running = app.get(&stream_path(&song, "?bitrate=192")).bearer_auth(&ann.access_token).send().await.unwrap();
    assert_eq!(running.status(), 200);
    let waiting = app.get(&stream_path(&song, "?bitrate=96")).bearer_auth(&ann.access_token).send().await.unwrap();
    assert_eq!(waiting.status(), 200);
    // The same rendition again joins the first; a third one is refused.
    let joined = fetch(&app, &ann, &stream_path(&song, "?bitrate=192")).await;
    assert_eq!(joined.status(), 200, "a request for a rendition under way shares it");
    let refused = fetch(&app, &ann, &stream_path(&song, "?bitrate=64")).await;
    assert_eq!(header(&refused, "retry-after").as_deref(), Some("5"));
    let problem = expect_problem(refused, 503).await;
    assert!(problem["type"].as_str().unwrap().ends_with("transcoding-busy"), "{problem}");
    let (a, b) = (running.bytes().await.unwrap(), joined.bytes().await.unwrap());
    assert_eq!(a, b);
    assert!(!waiting.bytes().await.unwrap().is_empty());
}

async fn a_server_without_ffmpeg_says_which_encoder_is_missing(app: TestApp) {
    let ann = app.signup("ann").await;
    let song = upload(&app, &ann, "song.wav", wav(1)).await;
    let problem = expect_problem(fetch(&app, &ann, &stream_path(&song, "")).await, 503).await;
    assert!(problem["detail"].as_str().unwrap().contains("ffmpeg"), "{problem}");
    // Everything else still works.
    assert_eq!(fetch(&app, &ann, &format!("/api/v1/files/{}/download", song["id"])).await.status(), 200);
}

engines!(
    renditions_stream_while_transcoding_then_serve_like_downloads,
    only_readable_audio_in_a_known_rendition_is_streamed
);
engines_with!(a_full_pool_refuses_with_retry_after_and_a_shared_transcode_is_not_counted_twice with |s| {
    s.files.transcode_workers = Some(1);
    s.files.max_upload_bytes = 32 * 1024 * 1024;
});
engines_with!(a_server_without_ffmpeg_says_which_encoder_is_missing with |s| s.files.ffmpeg_path = "/nonexistent/ffmpeg".to_owned());
