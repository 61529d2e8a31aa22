//! Opening sockets (from several loopback source addresses, with small buffers) and the one
//! task per connection that reads events, answers pings and writes what it is handed.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::report::now_us;

pub type Ws = WebSocketStream<TcpStream>;

/// Where and how sockets are opened.
#[derive(Debug, Clone)]
pub struct Connector {
    server: SocketAddr,
    ws_base: String,
    sources: Vec<Ipv4Addr>,
    config: WebSocketConfig,
    timeout: Duration,
}

/// `127.0.0.1 ..= 127.0.0.n`: all of 127/8 is routed to the loopback interface, and each source
/// address has its own ~28,000 ephemeral ports.
pub fn loopback_sources(n: u8) -> Vec<Ipv4Addr> {
    (1..=n.max(1)).map(|i| Ipv4Addr::new(127, 0, 0, i)).collect()
}

/// Small buffers: a 4 KiB read chunk (it grows only for a larger frame), frames written out as
/// soon as they are sent, and a bound on what may pile up unwritten.
pub fn small_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(Some(4 << 20))
        .max_frame_size(Some(4 << 20))
}

impl Connector {
    /// For the server at `base` (`http://host:port`), opening sockets from `sources`.
    pub async fn new(base: &str, sources: Vec<Ipv4Addr>) -> anyhow::Result<Self> {
        let url = url::Url::parse(base).with_context(|| format!("--url {base}"))?;
        let host = url.host_str().context("--url has no host")?.to_owned();
        let port = url.port_or_known_default().context("--url has no port")?;
        let server = tokio::net::lookup_host((host.as_str(), port))
            .await?
            .find(SocketAddr::is_ipv4)
            .with_context(|| format!("{host} has no IPv4 address"))?;
        if !server.ip().is_loopback() && sources.iter().any(|s| s.is_loopback()) {
            bail!("--url {base} is not on loopback, so loopback source addresses cannot reach it; pass --sources 0");
        }
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        let ws_base = format!("{scheme}://{host}:{port}/api/v1/ws");
        Ok(Self { server, ws_base, sources, config: small_config(), timeout: Duration::from_secs(30) })
    }

    /// Opens socket number `n` (its source address is `sources[n % len]`) with `?token=`.
    pub async fn connect(&self, n: usize, token: &str) -> Result<Ws, ConnectError> {
        self.connect_with(n, token, None).await
    }

    /// Like [`connect`](Self::connect), with the kernel's receive buffer set to `rcvbuf` bytes
    /// (a client meant to stop reading: the kernel then absorbs little on its behalf).
    pub async fn connect_with(&self, n: usize, token: &str, rcvbuf: Option<u32>) -> Result<Ws, ConnectError> {
        tokio::time::timeout(self.timeout, self.open(n, token, rcvbuf)).await.unwrap_or(Err(ConnectError::Timeout))
    }

    async fn open(&self, n: usize, token: &str, rcvbuf: Option<u32>) -> Result<Ws, ConnectError> {
        let socket = TcpSocket::new_v4().map_err(ConnectError::Io)?;
        if let Some(bytes) = rcvbuf {
            socket.set_recv_buffer_size(bytes).map_err(ConnectError::Io)?;
        }
        if !self.sources.is_empty() {
            let src = self.sources[n % self.sources.len()];
            socket.bind(SocketAddr::new(IpAddr::V4(src), 0)).map_err(ConnectError::Io)?;
        }
        let stream = socket.connect(self.server).await.map_err(ConnectError::Io)?;
        stream.set_nodelay(true).map_err(ConnectError::Io)?;
        let request = format!("{}?token={token}", self.ws_base).into_client_request().map_err(ConnectError::Ws)?;
        match tokio_tungstenite::client_async_with_config(request, stream, Some(self.config)).await {
            Ok((ws, _)) => Ok(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(ConnectError::Status(resp.status().as_u16())),
            Err(e) => Err(ConnectError::Ws(e)),
        }
    }
}

/// Why a socket could not be opened.
#[derive(Debug)]
pub enum ConnectError {
    Io(std::io::Error),
    Ws(tokio_tungstenite::tungstenite::Error),
    /// The server answered the upgrade with this HTTP status.
    Status(u16),
    Timeout,
}

impl ConnectError {
    /// A short class for counting: `io: Connection refused`, `http 401`, `timeout`.
    pub fn class(&self) -> String {
        match self {
            Self::Io(e) => format!("io: {}", e.kind()),
            Self::Ws(e) => format!("ws: {e}"),
            Self::Status(s) => format!("http {s}"),
            Self::Timeout => "timeout".to_owned(),
        }
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "io: {e}"),
            _ => f.write_str(&self.class()),
        }
    }
}

/// Counts by class, for "what went wrong" rows.
#[derive(Debug, Default)]
pub struct Tally(Mutex<BTreeMap<String, u64>>);

impl Tally {
    pub fn add(&self, class: impl Into<String>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner).entry(class.into()).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).values().sum()
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// A server → client event, with the fields the scenarios read (everything else is skipped).
#[derive(Debug, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub data: Data,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Data {
    pub id: Option<i64>,
    pub room: Option<String>,
    pub with: Option<i64>,
    pub sender_id: Option<i64>,
    pub recipient_id: Option<i64>,
    pub owner_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub user_id: Option<i64>,
    pub title: Option<String>,
    pub content: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub status: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
    pub messages: Option<Vec<IgnoredAny>>,
}

/// How a connection's task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// We closed it (the scenario is over).
    Closed,
    /// The server sent a Close frame with this code (1005 when it had none).
    ServerClose(u16),
    /// The TCP stream ended without a Close frame.
    Eof,
    /// Reading or writing failed.
    Error(String),
}

impl End {
    pub fn class(&self) -> String {
        match self {
            Self::Closed => "closed by us".to_owned(),
            Self::ServerClose(c) => format!("server close {c}"),
            Self::Eof => "TCP closed without a Close frame".to_owned(),
            Self::Error(e) => format!("error: {e}"),
        }
    }
}

/// What a scenario does with the events of its connections. `me` is the account id of the
/// connection's user; `at_us` the arrival time (microseconds since the epoch).
pub trait Handler: Send + Sync + 'static {
    fn on_event(&self, me: i64, ev: &Event, at_us: i64);
    fn on_end(&self, me: i64, end: &End);
}

/// Counters every connection task keeps, whatever the scenario.
#[derive(Debug, Default)]
pub struct Wire {
    pub frames_in: AtomicU64,
    pub frames_out: AtomicU64,
    pub pings: AtomicU64,
    pub unparsed: AtomicU64,
    pub ends: Tally,
}

/// What a connection's task is handed to write.
#[derive(Debug)]
pub enum Out {
    Text(String),
    /// Send a Close frame (1000), then wait briefly for the server's.
    Close,
}

/// A running connection: its user and the way to hand it frames.
#[derive(Debug, Clone)]
pub struct Conn {
    pub user_id: i64,
    pub tx: mpsc::Sender<Out>,
}

/// Frames a connection may have waiting to be written before the scenario counts it as busy.
const OUT_QUEUE: usize = 16;

/// Starts the task of one connection. It reads until the socket ends, answering pings (tungstenite
/// queues the Pong when it reads a Ping and writes it on the next read), and writes what the
/// returned [`Conn`] is handed.
pub fn spawn<H: Handler>(ws: Ws, user_id: i64, handler: Arc<H>, wire: Arc<Wire>) -> Conn {
    let (tx, rx) = mpsc::channel(OUT_QUEUE);
    tokio::spawn(drive(ws, user_id, rx, handler, wire));
    Conn { user_id, tx }
}

async fn drive<H: Handler>(mut ws: Ws, me: i64, mut rx: mpsc::Receiver<Out>, handler: Arc<H>, wire: Arc<Wire>) {
    let end = loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    let at = now_us();
                    wire.frames_in.fetch_add(1, Ordering::Relaxed);
                    match serde_json::from_str::<Event>(text.as_str()) {
                        Ok(ev) => handler.on_event(me, &ev, at),
                        Err(_) => {
                            wire.unparsed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Some(Ok(Message::Ping(_))) => {
                    wire.pings.fetch_add(1, Ordering::Relaxed);
                }
                Some(Ok(Message::Close(frame))) => break End::ServerClose(frame.map_or(1005, |f| u16::from(f.code))),
                Some(Ok(_)) => {}
                Some(Err(e)) => break read_end(&e),
                None => break End::Eof,
            },
            out = rx.recv() => match out {
                Some(Out::Text(text)) => {
                    if let Err(e) = ws.send(Message::text(text)).await {
                        break End::Error(short_error(&e));
                    }
                    wire.frames_out.fetch_add(1, Ordering::Relaxed);
                }
                Some(Out::Close) | None => {
                    let _ = ws.close(None).await;
                    // Read until the server's Close (or a second at most), so that the close is clean.
                    let _ = tokio::time::timeout(Duration::from_secs(1), async {
                        while let Some(Ok(_)) = ws.next().await {}
                    })
                    .await;
                    break End::Closed;
                }
            },
        }
    };
    wire.ends.add(end.class());
    handler.on_end(me, &end);
}

/// How a read that failed ended the socket: the TCP stream's end without a Close frame is
/// [`End::Eof`], anything else an error.
fn read_end(e: &tokio_tungstenite::tungstenite::Error) -> End {
    use tokio_tungstenite::tungstenite::Error;
    use tokio_tungstenite::tungstenite::error::ProtocolError;
    match e {
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => End::Eof,
        _ => End::Error(short_error(e)),
    }
}

fn short_error(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Io(io) => format!("io {}", io.kind()),
        Error::ConnectionClosed | Error::AlreadyClosed => "closed".to_owned(),
        Error::Protocol(p) => format!("protocol: {p}"),
        other => other.to_string(),
    }
}

/// Reads a socket that was left unread (the slow consumer) until it ends, for at most `limit`:
/// how it ended and how many text frames were still waiting in it.
pub async fn drain(ws: &mut Ws, limit: Duration) -> (Option<End>, u64) {
    let mut frames = 0;
    let r = tokio::time::timeout(limit, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(_))) => frames += 1,
                Some(Ok(Message::Close(frame))) => return End::ServerClose(frame.map_or(1005, |f| u16::from(f.code))),
                Some(Ok(_)) => {}
                Some(Err(e)) => return read_end(&e),
                None => return End::Eof,
            }
        }
    })
    .await;
    (r.ok(), frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_consecutive_loopback_addresses() {
        assert_eq!(
            loopback_sources(3),
            vec![Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3)]
        );
        assert_eq!(loopback_sources(0).len(), 1);
    }

    #[test]
    fn events_of_every_kind_parse_into_the_fields_the_scenarios_read() {
        let dm: Event = serde_json::from_str(
            r#"{"type":"chat.dm","data":{"id":9,"room":null,"sender_id":1,"recipient_id":2,"content":"x","created_at":"2026-01-01T00:00:00.000001Z"}}"#,
        )
        .unwrap();
        assert_eq!((dm.kind.as_str(), dm.data.recipient_id, dm.data.room), ("chat.dm", Some(2), None));
        let task: Event = serde_json::from_str(
            r#"{"type":"task.created","data":{"id":5,"title":"t","description":null,"status":"pending","priority":"medium","due_date":null,"owner_id":1,"assignee_id":2,"tags":["a"],"completed_at":null,"version":1,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}}"#,
        )
        .unwrap();
        assert_eq!((task.data.owner_id, task.data.assignee_id), (Some(1), Some(2)));
        let history: Event =
            serde_json::from_str(r#"{"type":"history","data":{"room":"r","messages":[{"id":1},{"id":2}]}}"#).unwrap();
        assert_eq!(history.data.messages.map(|m| m.len()), Some(2));
        let pong: Event = serde_json::from_str(r#"{"type":"pong","data":{}}"#).unwrap();
        assert_eq!(pong.kind, "pong");
        let metrics: Event =
            serde_json::from_str(r#"{"type":"system.metrics","data":{"cpus":[1.0],"memory":{"total_bytes":1}}}"#)
                .unwrap();
        assert_eq!(metrics.kind, "system.metrics");
    }

    #[test]
    fn the_config_keeps_buffers_small() {
        let c = small_config();
        assert_eq!((c.read_buffer_size, c.write_buffer_size), (4096, 0));
    }
}
