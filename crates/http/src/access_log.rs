//! The access log: one line per request, human-readable by default or one JSON object per line
//! with `LOG_FORMAT=json`, formatted and written by a thread of its own so that a request pays for
//! handing over a small record and nothing else. When the writer falls more than its buffer
//! behind, lines are dropped rather than making requests wait, and counted.

use serde::{Deserialize, Serialize};

/// `pretty` for people at a terminal, `json` for log collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// One finished request, as the access log records it.
#[derive(Debug)]
pub struct AccessRecord {
    pub at: std::time::SystemTime,
    pub request_id: RequestId,
    pub method: &'static str,
    /// The route template (`/api/v1/tasks/{id}`), never the raw path.
    pub route: String,
    pub status: u16,
    pub latency: std::time::Duration,
    pub user_id: Option<i64>,
}

/// A request's id as the access log carries it: a generated UUID inline, or the client's own
/// header value, shared rather than copied. Either is printable ASCII (see
/// `middleware::edge::request_id`), so a log line writes it as it is. Inline rather than a header
/// value of its own: sharing a freshly made header value between the response and the log line
/// cost an allocation and an atomic count on both threads.
#[derive(Debug)]
pub enum RequestId {
    Generated([u8; uuid::fmt::Hyphenated::LENGTH]),
    Client(actix_web::http::header::HeaderValue),
}

impl RequestId {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Generated(text) => text,
            Self::Client(value) => value.as_bytes(),
        }
    }

    /// The id as the response's `X-Request-Id`.
    pub fn to_header(&self) -> actix_web::http::header::HeaderValue {
        match self {
            Self::Generated(text) => {
                actix_web::http::header::HeaderValue::from_bytes(text).expect("a UUID is a valid header value")
            }
            Self::Client(value) => value.clone(),
        }
    }

    /// The id as text; empty if it were not (it always is).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// How many records may wait for the access-log thread before new ones are dropped (and counted).
const ACCESS_BACKLOG: usize = 65_536;

/// The access log: one line per request, formatted and written by a thread of its own, so that a
/// request pays for handing over a small record and nothing else. Formatting a line through
/// `tracing` on the request's thread measured about 40% of a `GET /health`.
///
/// The queue is unbounded in its type and bounded by a count: a bounded channel allocates (and
/// touches) a slot for every record it may hold when it is made, ten megabytes for this backlog
/// held by an idle server; this one grows in blocks of a few records as they wait and gives them
/// back as they are written.
#[derive(Debug, Clone)]
pub struct AccessLog {
    queue: Option<Queue>,
    writer: std::sync::Arc<std::sync::Mutex<Option<std::thread::JoinHandle<()>>>>,
}

#[derive(Debug, Clone)]
struct Queue {
    records: std::sync::mpsc::Sender<AccessRecord>,
    /// Records sent and not yet taken by the writer.
    waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl AccessLog {
    /// Starts the writer thread, unless `RUST_LOG` filters out `info` (then records are dropped
    /// at no cost).
    pub fn start(format: LogFormat) -> std::io::Result<Self> {
        if !tracing::enabled!(tracing::Level::INFO) {
            return Ok(Self { queue: None, writer: Default::default() });
        }
        let (records, received) = std::sync::mpsc::channel();
        let waiting = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let taken = std::sync::Arc::clone(&waiting);
        let writer = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_access_lines(&received, &taken, format))?;
        Ok(Self {
            queue: Some(Queue { records, waiting }),
            writer: std::sync::Arc::new(std::sync::Mutex::new(Some(writer))),
        })
    }

    /// Writes out what is still queued: call once the server has stopped, with this the last
    /// handle (the writer ends when every handle is gone). Waits at most a second.
    pub fn close(self) {
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        drop(self);
        if let Some(writer) = writer {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
            while !writer.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }

    /// How many lines were dropped because the writer could not keep up.
    pub fn dropped_lines() -> u64 {
        ACCESS_DROPPED.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Queues `record`; when the writer is `ACCESS_BACKLOG` records behind, the record is
    /// dropped and counted. (Two requests at once may both pass the count at the bound: the
    /// backlog may go over by a record per worker thread.)
    pub fn record(&self, record: AccessRecord) {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(queue) = &self.queue else { return };
        if queue.waiting.load(Relaxed) >= ACCESS_BACKLOG {
            ACCESS_DROPPED.fetch_add(1, Relaxed);
            return;
        }
        queue.waiting.fetch_add(1, Relaxed);
        if queue.records.send(record).is_err() {
            queue.waiting.fetch_sub(1, Relaxed);
            ACCESS_DROPPED.fetch_add(1, Relaxed);
        }
    }
}

static ACCESS_DROPPED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How often the access-log thread wakes to write what was queued meanwhile.
const ACCESS_FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// Writes the queued records every [`ACCESS_FLUSH_EVERY`], in one write per batch. The thread
/// sleeps between batches rather than waiting on the queue, so that queuing a record never has to
/// wake it: on a busy core, a wake-up per request costs more than formatting the line.
fn write_access_lines(
    queue: &std::sync::mpsc::Receiver<AccessRecord>,
    waiting: &std::sync::atomic::AtomicUsize,
    format: LogFormat,
) {
    let mut batch = Vec::new();
    let mut clock = SecondText::default();
    loop {
        std::thread::sleep(ACCESS_FLUSH_EVERY);
        let mut taken = 0;
        let open = loop {
            match queue.try_recv() {
                Ok(record) => {
                    taken += 1;
                    format_access(&mut batch, &mut clock, &record, format);
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => break true,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => break false,
            }
            if batch.len() >= 1024 * 1024 {
                write_batch(&mut batch);
            }
        };
        waiting.fetch_sub(taken, std::sync::atomic::Ordering::Relaxed);
        write_batch(&mut batch);
        if !open {
            return;
        }
        // A burst's buffer is not kept through the quiet that follows it.
        if taken < 256 && batch.capacity() > 64 * 1024 {
            batch.shrink_to(64 * 1024);
        }
    }
}

fn write_batch(batch: &mut Vec<u8>) {
    use std::io::Write;
    if batch.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    // A log line that cannot be written has nowhere else to go.
    let _ = out.write_all(batch).and_then(|()| out.flush());
    batch.clear();
}

/// Writes one access line. By hand rather than through `format!` or a JSON value: this thread
/// shares the machine with the requests, and the generic formatting (floats above all) cost about
/// 10% of the instructions of a `GET /health`.
fn format_access(out: &mut Vec<u8>, clock: &mut SecondText, r: &AccessRecord, format: LogFormat) {
    let request_id = r.request_id.as_bytes();
    match format {
        LogFormat::Json => {
            out.extend_from_slice(b"{\"timestamp\":\"");
            clock.write(out, r.at);
            out.extend_from_slice(b"\",\"level\":\"INFO\",\"message\":\"request\",\"request_id\":");
            write_json_str(out, request_id);
            out.extend_from_slice(b",\"method\":");
            write_json_str(out, r.method.as_bytes());
            out.extend_from_slice(b",\"route\":");
            write_json_str(out, r.route.as_bytes());
            out.extend_from_slice(b",\"status\":");
            out.extend_from_slice(itoa::Buffer::new().format(r.status).as_bytes());
            out.extend_from_slice(b",\"latency_ms\":");
            write_millis(out, r.latency);
            out.extend_from_slice(b",\"user_id\":");
            match r.user_id {
                Some(id) => out.extend_from_slice(itoa::Buffer::new().format(id).as_bytes()),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b"}\n");
        }
        LogFormat::Pretty => {
            clock.write(out, r.at);
            out.extend_from_slice(b"  INFO request: request_id=");
            out.extend_from_slice(request_id);
            out.extend_from_slice(b" method=");
            out.extend_from_slice(r.method.as_bytes());
            out.extend_from_slice(b" route=");
            out.extend_from_slice(r.route.as_bytes());
            out.extend_from_slice(b" status=");
            out.extend_from_slice(itoa::Buffer::new().format(r.status).as_bytes());
            out.extend_from_slice(b" latency_ms=");
            write_millis(out, r.latency);
            if let Some(id) = r.user_id {
                out.extend_from_slice(b" user_id=");
                out.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
            }
            out.push(b'\n');
        }
    }
}

/// The date and time of day of the second the last line was written in, kept for the next lines:
/// under load thousands of lines a second share it, and working out a calendar date from the clock
/// cost about 750 instructions a line, more than the rest of the line.
#[derive(Debug, Default)]
struct SecondText {
    /// Whole seconds since the Unix epoch that `text` shows.
    second: Option<u64>,
    /// `2027-01-15T08:00:00`.
    text: Vec<u8>,
}

impl SecondText {
    /// Writes `at` as [`write_timestamp`] does.
    fn write(&mut self, out: &mut Vec<u8>, at: std::time::SystemTime) {
        let Ok(since_epoch) = at.duration_since(std::time::UNIX_EPOCH) else {
            return write_timestamp(out, at);
        };
        let second = since_epoch.as_secs();
        if self.second != Some(second) {
            self.text.clear();
            write_timestamp(&mut self.text, std::time::UNIX_EPOCH + std::time::Duration::from_secs(second));
            // Without the fraction and the zone, `.000000Z`.
            self.text.truncate(self.text.len() - 8);
            self.second = Some(second);
        }
        out.extend_from_slice(&self.text);
        out.push(b'.');
        write_padded(out, since_epoch.subsec_micros(), 6);
        out.push(b'Z');
    }
}

/// RFC 3339 in UTC with microseconds: `2027-01-15T08:00:00.123456Z`.
fn write_timestamp(out: &mut Vec<u8>, at: std::time::SystemTime) {
    use chrono::{Datelike, Timelike};
    let at = chrono::DateTime::<chrono::Utc>::from(at).naive_utc();
    let year = u32::try_from(at.year()).unwrap_or_default();
    write_padded(out, year, 4);
    out.push(b'-');
    write_padded(out, at.month(), 2);
    out.push(b'-');
    write_padded(out, at.day(), 2);
    out.push(b'T');
    write_padded(out, at.hour(), 2);
    out.push(b':');
    write_padded(out, at.minute(), 2);
    out.push(b':');
    // A leap second shows as :60, as RFC 3339 writes it.
    let (second, nanos) = (at.second(), at.nanosecond());
    write_padded(out, second + nanos / 1_000_000_000, 2);
    out.push(b'.');
    write_padded(out, nanos % 1_000_000_000 / 1_000, 6);
    out.push(b'Z');
}

/// Milliseconds with three decimals (`1.500`), a valid JSON number.
fn write_millis(out: &mut Vec<u8>, latency: std::time::Duration) {
    // 584,000 years of microseconds fit in a u64; u128 arithmetic would cost a library call.
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    out.extend_from_slice(itoa::Buffer::new().format(micros / 1_000).as_bytes());
    out.push(b'.');
    write_padded(out, u32::try_from(micros % 1_000).unwrap_or_default(), 3);
}

/// `value` in decimal, zero-padded on the left to `width` digits (at most 10, a `u32`'s longest).
fn write_padded(out: &mut Vec<u8>, mut value: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut start = digits.len();
    while value > 0 || digits.len() - start < width.min(digits.len()) {
        start -= 1;
        digits[start] = b'0' + u8::try_from(value % 10).unwrap_or_default();
        value /= 10;
    }
    out.extend_from_slice(&digits[start..]);
}

/// `value` as a JSON string. Ids and route templates are printable ASCII with nothing to escape,
/// which a scan confirms more cheaply than the escaper would; anything else goes through it.
fn write_json_str(out: &mut Vec<u8>, value: &[u8]) {
    if value.iter().all(|&b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(value);
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &String::from_utf8_lossy(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AccessRecord {
        AccessRecord {
            at: std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_800_000_000_123_456),
            request_id: RequestId::Client(actix_web::http::header::HeaderValue::from_static("req-1")),
            method: "GET",
            route: "/api/v1/tasks/{id}".into(),
            status: 200,
            latency: std::time::Duration::from_micros(1_500),
            user_id: Some(7),
        }
    }

    #[test]
    fn json_access_lines_are_one_object_per_line() {
        let mut out = Vec::new();
        format_access(&mut out, &mut SecondText::default(), &record(), LogFormat::Json);
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
        let line: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(line["timestamp"], "2027-01-15T08:00:00.123456Z");
        assert_eq!(line["message"], "request");
        assert_eq!((line["route"].as_str(), line["status"].as_u64()), (Some("/api/v1/tasks/{id}"), Some(200)));
        assert_eq!((line["request_id"].as_str(), line["user_id"].as_i64()), (Some("req-1"), Some(7)));
        assert!((line["latency_ms"].as_f64().unwrap() - 1.5).abs() < 1e-9);
    }

    #[test]
    fn json_access_lines_escape_what_needs_it_and_carry_generated_ids() {
        let mut out = Vec::new();
        let id = *b"0b6f3c1e-8d4a-4f7e-9c2b-5a1d3e7f9b20";
        let record = AccessRecord { request_id: RequestId::Generated(id), route: "/a\"b\\c\u{e9}".into(), ..record() };
        format_access(&mut out, &mut SecondText::default(), &record, LogFormat::Json);
        let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(line["route"], "/a\"b\\c\u{e9}");
        assert_eq!(line["request_id"], "0b6f3c1e-8d4a-4f7e-9c2b-5a1d3e7f9b20");
    }

    #[test]
    fn padded_numbers_keep_digits_beyond_their_width() {
        let padded = |value, width| {
            let mut out = Vec::new();
            write_padded(&mut out, value, width);
            String::from_utf8(out).unwrap()
        };
        assert_eq!((padded(7, 4).as_str(), padded(0, 2).as_str(), padded(12_345, 4).as_str()), ("0007", "00", "12345"));
        assert_eq!(padded(u32::MAX, 2), "4294967295");
    }

    #[test]
    fn pretty_access_lines_name_every_field() {
        let mut out = Vec::new();
        format_access(&mut out, &mut SecondText::default(), &record(), LogFormat::Pretty);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2027-01-15T08:00:00.123456Z  INFO request: request_id=req-1 method=GET route=/api/v1/tasks/{id} \
             status=200 latency_ms=1.500 user_id=7\n"
        );
    }

    #[test]
    fn latencies_keep_three_decimals_of_a_millisecond() {
        let line = |micros| {
            let mut out = Vec::new();
            let latency = std::time::Duration::from_micros(micros);
            let record = AccessRecord { latency, user_id: None, ..record() };
            format_access(&mut out, &mut SecondText::default(), &record, LogFormat::Pretty);
            String::from_utf8(out).unwrap()
        };
        assert!(line(0).ends_with(" latency_ms=0.000\n"));
        assert!(line(12_345).ends_with(" latency_ms=12.345\n"));
        assert!(line(61_000_007).ends_with(" latency_ms=61000.007\n"));
    }

    #[test]
    fn lines_in_the_same_second_share_its_date_and_the_next_second_gets_its_own() {
        let mut clock = SecondText::default();
        let stamp = |clock: &mut SecondText, micros: u64| {
            let mut out = Vec::new();
            clock.write(&mut out, std::time::UNIX_EPOCH + std::time::Duration::from_micros(micros));
            String::from_utf8(out).unwrap()
        };
        assert_eq!(stamp(&mut clock, 1_800_000_000_123_456), "2027-01-15T08:00:00.123456Z");
        assert_eq!(stamp(&mut clock, 1_800_000_000_999_999), "2027-01-15T08:00:00.999999Z");
        assert_eq!(stamp(&mut clock, 1_800_000_001_000_007), "2027-01-15T08:00:01.000007Z");
        // Midnight: the date changes with the second.
        assert_eq!(stamp(&mut clock, 1_800_057_600_000_001), "2027-01-16T00:00:00.000001Z");
        // A clock set back is written as it reads.
        assert_eq!(stamp(&mut clock, 1_800_000_000_000_000), "2027-01-15T08:00:00.000000Z");
    }
}
