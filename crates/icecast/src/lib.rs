//! The source listener of radio stations, on a port of its own (`RADIO_SOURCE_ADDR`).
//!
//! A source client streams in as Icecast 2.4 accepts it: `PUT /radio/{slug}/source` (or the
//! legacy `SOURCE` method) with `Authorization: Basic` (user `source`, the station's key as the
//! password) and the station's `Content-Type`. ffmpeg's `icecast://` sends `Expect:
//! 100-continue` and then a body with neither a length nor chunking that runs until the
//! connection closes, which an HTTP/1.1 server would read as empty: hence a listener of its own,
//! which answers `100 Continue` and reads to the end. A chunked body is decoded. Nothing else is
//! served here.

use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use workbench_radio::{RadioError, RadioService};

/// The longest request head read.
const MAX_HEAD: usize = 16 * 1024;

/// How long a source may send nothing before it is taken as gone.
const IDLE: Duration = Duration::from_secs(30);

/// Accepts sources until the listener fails.
pub async fn serve(listener: TcpListener, radio: RadioService) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let radio = radio.clone();
                tokio::spawn(async move {
                    if let Err(e) = source(stream, radio).await {
                        tracing::debug!(%peer, error = %e, "a radio source connection ended");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "the radio source listener cannot accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// What the head of a source's request says.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    method: String,
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    expect_continue: bool,
    chunked: bool,
    content_length: Option<u64>,
}

/// Reads the head; answers it and the bytes of the body that came with it.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<(Head, Vec<u8>)>> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0_u8; 4096];
    loop {
        let n = tokio::time::timeout(IDLE, stream.read(&mut chunk)).await.map_err(std::io::Error::other)??;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 48];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buffer) {
            Ok(httparse::Status::Complete(len)) => {
                let header = |name: &str| {
                    request
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .and_then(|h| std::str::from_utf8(h.value).ok())
                        .map(|v| v.trim().to_owned())
                };
                let head = Head {
                    method: request.method.unwrap_or_default().to_owned(),
                    path: request.path.unwrap_or_default().to_owned(),
                    authorization: header("authorization"),
                    content_type: header("content-type"),
                    expect_continue: header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")),
                    chunked: header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")),
                    content_length: header("content-length").and_then(|v| v.parse().ok()),
                };
                return Ok(Some((head, buffer[len..].to_vec())));
            }
            Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD => {}
            _ => {
                answer(stream, "400 Bad Request", "The request head cannot be read.").await?;
                return Ok(None);
            }
        }
    }
}

/// The station slug of `/radio/{slug}/source`.
fn station_of(path: &str) -> Option<&str> {
    let path = path.split('?').next()?;
    path.strip_prefix("/radio/")?.strip_suffix("/source").filter(|slug| !slug.contains('/'))
}

/// The password of `Basic` credentials for user `source`.
fn source_key(authorization: Option<&str>) -> Option<String> {
    let (scheme, encoded) = authorization?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    (user == "source").then(|| password.to_owned())
}

async fn answer(stream: &mut TcpStream, status: &str, detail: &str) -> std::io::Result<()> {
    let extra = if status.starts_with("401") { "WWW-Authenticate: Basic realm=\"Workbench radio\"\r\n" } else { "" };
    let response = format!(
        "HTTP/1.0 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{detail}",
        detail.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

async fn source(mut stream: TcpStream, radio: RadioService) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let Some((head, early)) = read_head(&mut stream).await? else { return Ok(()) };
    if head.method != "PUT" && head.method != "SOURCE" {
        return answer(&mut stream, "405 Method Not Allowed", "Sources stream with PUT or SOURCE.").await;
    }
    let Some(slug) = station_of(&head.path) else {
        return answer(&mut stream, "404 Not Found", "Sources stream to /radio/{slug}/source.").await;
    };
    let Some(key) = source_key(head.authorization.as_deref()) else {
        return answer(&mut stream, "401 Unauthorized", "Basic credentials for user source are needed.").await;
    };
    let mut session = match radio.connect_source(slug, &key, head.content_type.as_deref()).await {
        Ok(session) => session,
        Err(e) => {
            let status = match &e {
                RadioError::NotFound => "404 Not Found",
                RadioError::WrongKey => "401 Unauthorized",
                RadioError::SourceConnected => "409 Conflict",
                RadioError::WrongFormat(_) => "415 Unsupported Media Type",
                _ => "500 Internal Server Error",
            };
            return answer(&mut stream, status, &format!("{e}.")).await;
        }
    };
    let greeting: &[u8] = if head.expect_continue {
        b"HTTP/1.1 100 Continue\r\n\r\n"
    } else {
        b"HTTP/1.0 200 OK\r\nServer: Workbench\r\n\r\n"
    };
    let outcome = match stream.write_all(greeting).await {
        Ok(()) => relay(&mut stream, &head, early, &mut session, &key).await,
        Err(e) => Err(e),
    };
    session.end().await;
    if outcome.is_ok() && head.expect_continue {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
    }
    outcome
}

/// Reads the body and feeds the station until it ends, the source stops sending, or it is cut.
async fn relay(
    stream: &mut TcpStream,
    head: &Head,
    early: Vec<u8>,
    session: &mut workbench_radio::SourceSession,
    key: &str,
) -> std::io::Result<()> {
    let mut dechunk = head.chunked.then(Dechunker::default);
    let mut left = if head.chunked { None } else { head.content_length };
    let mut buffer = vec![0_u8; 16 * 1024];
    let mut pending = early;
    loop {
        if !pending.is_empty() {
            let body = match &mut dechunk {
                Some(d) => d.feed(&pending).map_err(std::io::Error::other)?,
                None => {
                    let take =
                        left.map_or(pending.len(), |l| pending.len().min(usize::try_from(l).unwrap_or(usize::MAX)));
                    left = left.map(|l| l - take as u64);
                    pending[..take].to_vec()
                }
            };
            if !body.is_empty() && !session.feed(key, &body).await {
                return Ok(());
            }
            if dechunk.as_ref().is_some_and(Dechunker::finished) || left == Some(0) {
                return Ok(());
            }
        }
        let n = tokio::time::timeout(IDLE, stream.read(&mut buffer)).await.map_err(std::io::Error::other)??;
        if n == 0 {
            return Ok(());
        }
        pending = buffer[..n].to_vec();
    }
}

/// Decodes a chunked body (RFC 9112 §7.1), fed in any pieces.
#[derive(Debug, Default)]
struct Dechunker {
    state: ChunkState,
    line: Vec<u8>,
}

#[derive(Debug, Default, PartialEq, Eq)]
enum ChunkState {
    /// Reading a size line.
    #[default]
    Size,
    /// `n` bytes of data left, then CRLF.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// The last chunk was read (trailers are ignored).
    Done,
}

impl Dechunker {
    fn finished(&self) -> bool {
        self.state == ChunkState::Done
    }

    fn feed(&mut self, mut input: &[u8]) -> Result<Vec<u8>, &'static str> {
        let mut out = Vec::with_capacity(input.len());
        while !input.is_empty() {
            match self.state {
                ChunkState::Size => {
                    let Some(end) = input.iter().position(|&b| b == b'\n') else {
                        self.line.extend_from_slice(input);
                        if self.line.len() > 1024 {
                            return Err("a chunk size line is too long");
                        }
                        break;
                    };
                    self.line.extend_from_slice(&input[..end]);
                    input = &input[end + 1..];
                    let line = std::str::from_utf8(&self.line).map_err(|_| "a chunk size is not text")?;
                    let size = line.split(';').next().unwrap_or_default().trim();
                    let size = u64::from_str_radix(size, 16).map_err(|_| "a chunk size is not hexadecimal")?;
                    self.line.clear();
                    self.state = if size == 0 { ChunkState::Done } else { ChunkState::Data(size) };
                }
                ChunkState::Data(left) => {
                    let take = input.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    out.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    let left = left - take as u64;
                    self.state = if left == 0 { ChunkState::DataEnd } else { ChunkState::Data(left) };
                }
                ChunkState::DataEnd => {
                    let Some(end) = input.iter().position(|&b| b == b'\n') else { break };
                    input = &input[end + 1..];
                    self.state = ChunkState::Size;
                }
                ChunkState::Done => break,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_decoded_whatever_the_pieces() {
        let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
        for size in 1..body.len() {
            let mut d = Dechunker::default();
            let mut out = Vec::new();
            for piece in body.chunks(size) {
                out.extend(d.feed(piece).unwrap());
            }
            assert_eq!(out, b"hello world", "pieces of {size}");
            assert!(d.finished());
        }
        assert!(Dechunker::default().feed(b"zz\r\n").is_err());
    }

    #[test]
    fn only_the_source_path_and_user_are_accepted() {
        assert_eq!(station_of("/radio/night-owl/source"), Some("night-owl"));
        assert_eq!(station_of("/radio/a/b/source"), None);
        assert_eq!(station_of("/api/v1/radio/x/source"), None);
        let basic = |s: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s));
        assert_eq!(source_key(Some(&basic("source:k3y"))).as_deref(), Some("k3y"));
        assert_eq!(source_key(Some(&basic("admin:k3y"))), None);
        assert_eq!(source_key(Some("Bearer x")), None);
    }
}
