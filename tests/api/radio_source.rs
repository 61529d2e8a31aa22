//! The radio's source listener as an attacker meets it: every refusal a problem document, a wrong
//! key and an unknown station one answer byte for byte, a request head that must arrive whole
//! within its deadline, connections capped per address and in all, and an API that keeps
//! answering while the source port is flooded under a low descriptor limit.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use workbench_e2e::{TestApp, engines, eventually};

use crate::radio::{connect_source, create};

/// An answer of the source listener, read to the end of the connection.
#[derive(Debug)]
struct Answer {
    /// Exactly as it came.
    raw: Vec<u8>,
    status: u16,
    /// Header lines, as `name: value` with the name in lower case.
    headers: Vec<String>,
    body: Value,
}

impl Answer {
    fn parse(raw: Vec<u8>) -> Self {
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.split("\r\n");
        let status = lines.next().and_then(|line| line.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers = lines
            .map(|line| match line.split_once(':') {
                Some((name, value)) => format!("{}: {}", name.to_ascii_lowercase(), value.trim()),
                None => line.to_owned(),
            })
            .collect();
        let body = serde_json::from_str(body).unwrap_or(Value::Null);
        Self { raw, status, headers, body }
    }

    fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}: ");
        self.headers.iter().find_map(|line| line.strip_prefix(&prefix))
    }

    /// Asserts a problem document of `status` and `slug`, as every API error is.
    fn expect_problem(&self, status: u16, slug: &str) -> &Self {
        assert_eq!(self.status, status, "{}", String::from_utf8_lossy(&self.raw));
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{:?}", self.headers);
        assert_eq!(self.body["type"], format!("https://workbench.dev/problems/{slug}"), "{}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string() && self.body["detail"].is_string(), "{}", self.body);
        self
    }
}

/// Reads what the listener answers until it closes the connection (at most 5 s).
async fn answer_of(stream: &mut TcpStream) -> Answer {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw))
        .await
        .expect("the source listener answers and closes within 5 s")
        .expect("read");
    Answer::parse(raw)
}

/// Sends `request` on a new connection and reads the answer.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    answer_of(&mut stream).await
}

/// A source's request head as ffmpeg sends it.
fn source_request(method: &str, path: &str, key: Option<&str>, content_type: &str) -> Vec<u8> {
    let authorization = key.map_or_else(String::new, |key| {
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("source:{key}"));
        format!("Authorization: Basic {credentials}\r\n")
    });
    format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{authorization}Content-Type: {content_type}\r\nIce-Public: 0\r\n\
         Expect: 100-continue\r\n\r\n"
    )
    .into_bytes()
}

/// A connection to the source listener from `from` (any address of the loopback range).
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(to).await.unwrap()
}

/// Whether the listener holds `stream` without answering it (admitted, waiting for its head).
async fn held(stream: &mut TcpStream) -> bool {
    let mut byte = [0_u8; 1];
    tokio::time::timeout(Duration::from_millis(300), stream.read(&mut byte)).await.is_err()
}

async fn every_refusal_is_a_problem_and_an_unknown_station_is_a_wrong_key(app: TestApp) {
    let ann = app.signup("ann").await;
    let addr = app.radio_sources.expect("the source listener is bound");
    let created: Value = create(&app, &ann, json!({"slug": "live", "name": "Live"})).await.json().await.unwrap();
    let key = created["source_key"].as_str().unwrap().to_owned();
    create(&app, &ann, json!({"slug": "diary", "name": "Diary", "is_public": false})).await;
    let wrong = "0".repeat(64);

    // A wrong key, a private station's wrong key and a station that does not exist: one answer.
    let wrong_key = exchange(addr, &source_request("PUT", "/radio/live/source", Some(&wrong), "audio/mpeg")).await;
    wrong_key.expect_problem(401, "invalid-source-key");
    assert_eq!(wrong_key.header("www-authenticate"), Some("Basic realm=\"Workbench radio\""));
    let private = exchange(addr, &source_request("PUT", "/radio/diary/source", Some(&wrong), "audio/mpeg")).await;
    let nowhere = exchange(addr, &source_request("PUT", "/radio/nowhere/source", Some(&key), "audio/mpeg")).await;
    let legacy = exchange(addr, &source_request("SOURCE", "/radio/nowhere/source", Some(&wrong), "audio/mpeg")).await;
    for (what, other) in [("a private station", &private), ("no station", &nowhere), ("SOURCE, no station", &legacy)] {
        assert_eq!(
            String::from_utf8_lossy(&other.raw),
            String::from_utf8_lossy(&wrong_key.raw),
            "{what}: status, headers and body as for a wrong key"
        );
    }

    // Everything else it refuses.
    let get = exchange(addr, &source_request("GET", "/radio/live/source", Some(&key), "audio/mpeg")).await;
    assert_eq!(get.expect_problem(405, "method-not-allowed").header("allow"), Some("PUT, SOURCE"));
    exchange(addr, &source_request("PUT", "/radio/live/stream", Some(&key), "audio/mpeg"))
        .await
        .expect_problem(404, "not-found");
    let anonymous = exchange(addr, &source_request("PUT", "/radio/live/source", None, "audio/mpeg")).await;
    anonymous.expect_problem(401, "unauthorized");
    assert!(anonymous.header("www-authenticate").is_some_and(|c| c.starts_with("Basic ")));
    exchange(addr, &source_request("PUT", "/radio/live/source", Some(&key), "audio/ogg"))
        .await
        .expect_problem(415, "unsupported-media-type");
    exchange(addr, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n")
        .await
        .expect_problem(400, "bad-request");
    let huge = format!("PUT /radio/live/source HTTP/1.1\r\nX-Pad: {}\r\n", "a".repeat(20_000));
    exchange(addr, huge.as_bytes()).await.expect_problem(431, "headers-too-large");
    let _source = connect_source(&app, "live", &key).await.expect("the right key is let in");
    exchange(addr, &source_request("PUT", "/radio/live/source", Some(&key), "audio/mpeg"))
        .await
        .expect_problem(409, "conflict");
}

async fn a_request_head_must_arrive_whole_within_its_deadline(app: TestApp) {
    let addr = app.radio_sources.expect("the source listener is bound");
    // One byte every 200 ms: each read is quick, the head as a whole is not.
    let (mut reading, mut writing) = TcpStream::connect(addr).await.unwrap().into_split();
    let started = tokio::time::Instant::now();
    let dripping = tokio::spawn(async move {
        let _ = writing.write_all(b"PUT /radio/live/source HTTP/1.1\r\nX-Slow: ").await;
        while started.elapsed() < Duration::from_secs(5) && writing.write_all(b"a").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), reading.read_to_end(&mut raw)).await;
    let elapsed = started.elapsed();
    dripping.abort();
    assert!(read.is_ok(), "the slow head was still being read after 5 s");
    Answer::parse(raw).expect_problem(408, "request-timeout");
    assert!(elapsed >= Duration::from_millis(900), "not before the deadline: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "the deadline is for the head as a whole: {elapsed:?}");

    // A connection that sends nothing at all is closed at the same deadline.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let started = tokio::time::Instant::now();
    answer_of(&mut silent).await.expect_problem(408, "request-timeout");
    assert!(started.elapsed() < Duration::from_secs(3));
}

async fn connections_are_capped_per_address_and_in_all(app: TestApp) {
    let addr = app.radio_sources.expect("the source listener is bound");
    let wrong = source_request("PUT", "/radio/nowhere/source", Some("x"), "audio/mpeg");
    // Two from 127.0.0.1, the most one address may hold: held, waiting for their heads.
    let mut first = connect_from([127, 0, 0, 1], addr).await;
    let mut second = connect_from([127, 0, 0, 1], addr).await;
    assert!(held(&mut first).await && held(&mut second).await);
    let mut third = connect_from([127, 0, 0, 1], addr).await;
    third.write_all(&wrong).await.unwrap();
    let refused = answer_of(&mut third).await;
    refused.expect_problem(429, "too-many-connections");
    assert_eq!(refused.header("retry-after"), Some("10"));
    drop(third);

    // A client that sends more than the listener reads before it answers (a body it did not hold
    // back for `100 Continue`) still reads the answer whole: the listener closes its side and
    // reads on, where closing with the rest unread resets the connection, and the client sees
    // "connection reset" instead of why.
    let mut eager = connect_from([127, 0, 0, 1], addr).await;
    let mut head_and_body = wrong.clone();
    head_and_body.extend(std::iter::repeat_n(b'x', 256 * 1024));
    let _ = eager.write_all(&head_and_body).await;
    answer_of(&mut eager).await.expect_problem(429, "too-many-connections");
    drop(eager);

    // Another address has places of its own, until the listener holds three in all.
    let mut other = connect_from([127, 0, 0, 2], addr).await;
    assert!(held(&mut other).await, "another address is let in");
    let mut fourth = connect_from([127, 0, 0, 3], addr).await;
    fourth.write_all(&wrong).await.unwrap();
    let full = answer_of(&mut fourth).await;
    full.expect_problem(503, "service-unavailable");
    assert_eq!(full.header("retry-after"), Some("10"));
    drop(fourth);

    // A connection that ends gives its place back: 127.0.0.1 is let in again.
    drop(first);
    let again =
        eventually("127.0.0.1 is let in once one of its connections closed", Duration::from_secs(3), || async {
            let mut stream = connect_from([127, 0, 0, 1], addr).await;
            stream.write_all(&wrong).await.ok()?;
            let answer = answer_of(&mut stream).await;
            (answer.status == 401).then_some(answer)
        })
        .await;
    again.expect_problem(401, "invalid-source-key");
    drop((second, other));
}

/// The server of [`the_api_answers_while_the_source_port_is_flooded`]: this test binary run again
/// with `WORKBENCH_E2E_CHILD=1` and a descriptor limit of `WORKBENCH_E2E_NOFILE` (soft and hard,
/// as `prlimit --nofile=N:N` sets it), configured by the environment like the real binary.
#[test]
#[ignore = "a server for the_api_answers_while_the_source_port_is_flooded, started by it"]
fn serve_child_with_few_descriptors() {
    if std::env::var("WORKBENCH_E2E_CHILD").as_deref() != Ok("1") {
        return;
    }
    let limit: u64 = std::env::var("WORKBENCH_E2E_NOFILE").expect("a limit").parse().expect("a number");
    rlimit::setrlimit(rlimit::Resource::NOFILE, limit, limit).expect("the limit is lowered");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let settings = workbench_app::Settings::load().expect("settings from the environment");
        let app = workbench_app::Application::build(settings).await.expect("the child starts");
        app.run_until_stopped().await.expect("served");
    });
}

/// A server process of its own, under a descriptor limit, stopped when dropped.
struct Child {
    process: std::process::Child,
    api: String,
    sources: SocketAddr,
    _data: tempfile::TempDir,
}

impl Child {
    async fn start(database_url: &str, nofile: u64) -> Self {
        let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let (api, sources) = (free(), free());
        let data = tempfile::tempdir().unwrap();
        let process = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["radio_source::serve_child_with_few_descriptors", "--exact", "--ignored", "--nocapture"])
            .args(["--test-threads=1"])
            .env("WORKBENCH_E2E_CHILD", "1")
            .env("WORKBENCH_E2E_NOFILE", nofile.to_string())
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDR", api.to_string())
            .env("RADIO_SOURCE_ADDR", sources.to_string())
            // Every flood connection comes from 127.0.0.1: the cap in all (derived from the
            // descriptor limit) is what must hold, not the one per address.
            .env("RADIO_SOURCE_MAX_CONNECTIONS_PER_IP", "100000")
            // Longer than the test: the deadline must not be what frees the descriptors.
            .env("RADIO_SOURCE_HEAD_TIMEOUT", "120s")
            .env("DATA_DIR", data.path())
            .env("JWT_SECRET", "test-secret-of-at-least-thirty-two-bytes")
            .env("JOB_WORKERS", "0")
            .env("WORKERS", "1")
            .env("DATABASE_POOL_SIZE", "4")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the child starts");
        let child = Self { process, api: format!("http://{api}"), sources, _data: data };
        let health = format!("{}/health", child.api);
        eventually("the child answers", Duration::from_secs(30), || async {
            reqwest::get(&health).await.ok().filter(|r| r.status() == 200).map(drop)
        })
        .await;
        child
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// 240 connections to the source port, each sending a byte of its head now and then, against a
/// server that may hold 256 descriptors: the API must answer `/health` all the while. (It did not:
/// the source listener took every descriptor it could, and the API could accept nothing.)
async fn the_api_answers_while_the_source_port_is_flooded(backend: workbench_e2e::Backend) {
    const NOFILE: u64 = 256;
    const FLOOD: usize = 240;
    let Some(app) = TestApp::spawn(backend).await else { return };
    let child = Child::start(app.database_url(), NOFILE).await;

    let mut flood = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        // A connection the server does not accept yet waits in its backlog: connected all the same.
        let mut stream = TcpStream::connect(child.sources).await.expect("the source port takes connections");
        let _ = stream.write_all(b"PUT /radio/x/source HTTP/1.1\r\n").await;
        flood.push(stream);
    }
    let dripping = tokio::spawn(async move {
        // A byte of the head every second on each connection still open, for 8 s.
        let mut turned_away = 0;
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let mut open = Vec::with_capacity(flood.len());
            for mut stream in flood.drain(..) {
                let mut answer = [0_u8; 64];
                match stream.try_read(&mut answer) {
                    // Answered (and closed): the answer is the listener's refusal, or nothing.
                    Ok(n) => turned_away += usize::from(answer[..n].starts_with(b"HTTP/1.0 503 ")),
                    Err(_) => {
                        if stream.write_all(b"a").await.is_ok() {
                            open.push(stream);
                        }
                    }
                }
            }
            flood = open;
        }
        (turned_away, flood)
    });

    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    let health = format!("{}/health", child.api);
    let mut failures = Vec::new();
    for i in 0..24 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        match client.get(&health).send().await {
            Ok(res) if res.status() == 200 => {}
            Ok(res) => failures.push(format!("#{i}: {}", res.status())),
            Err(e) => failures.push(format!("#{i}: {e}")),
        }
    }
    let (turned_away, held) = dripping.await.unwrap();
    assert!(failures.is_empty(), "/health while the source port was flooded: {failures:?}");
    let cap = usize::try_from(NOFILE / 4).unwrap();
    assert!(held.len() <= cap, "the listener holds at most a quarter of the descriptors ({cap}): {}", held.len());
    assert!(
        turned_away >= (FLOOD - held.len()) / 2,
        "most connections over the cap are answered 503 and closed: {turned_away} of {}",
        FLOOD - held.len()
    );
    // Held until now: the flood lasts as long as the API is asked.
    drop((held, child, app));
}

engines!(every_refusal_is_a_problem_and_an_unknown_station_is_a_wrong_key);
workbench_e2e::engines_with!(
    a_request_head_must_arrive_whole_within_its_deadline with |s: &mut workbench_app::Settings| {
        s.radio.source_head_timeout = Duration::from_secs(1);
    },
    connections_are_capped_per_address_and_in_all with |s: &mut workbench_app::Settings| {
        s.radio.source_max_connections = Some(3);
        s.radio.source_max_connections_per_ip = 2;
    },
);
workbench_e2e::per_engine!(the_api_answers_while_the_source_port_is_flooded);
