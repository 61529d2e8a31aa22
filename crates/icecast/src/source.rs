//! One admitted connection: its head within the deadline, the key checked, then the body fed to
//! the station until it ends, the source stops sending, or it is cut.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use workbench_radio::{RadioService, SourceSession};

use crate::chunked::Dechunker;
use crate::head::{self, Head, Read};
use crate::problem::Problem;

/// How long a source may send nothing before it is taken as gone.
const IDLE: Duration = Duration::from_secs(30);

/// How long a refusal may take to write: a client that reads nothing does not hold its place.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long, and how much, of what a refused client still sends is read and dropped after the
/// answer, so that closing with it unread does not reset the connection before the client reads
/// the answer (the lingering close of HTTP servers).
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024;

/// Serves one source connection; `head_timeout` bounds the whole request head.
pub(crate) async fn serve(mut stream: TcpStream, radio: RadioService, head_timeout: Duration) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let read = match tokio::time::timeout(head_timeout, head::read(&mut stream)).await {
        Ok(read) => read?,
        Err(_) => return refuse(&mut stream, &Problem::head_too_slow(head_timeout)).await,
    };
    let (head, early) = match read {
        Read::Head(head, early) => (head, early),
        Read::Closed => return Ok(()),
        Read::Malformed => return refuse(&mut stream, &Problem::malformed_head()).await,
        Read::TooLarge => return refuse(&mut stream, &Problem::head_too_large(head::MAX_HEAD)).await,
    };
    if head.method != "PUT" && head.method != "SOURCE" {
        return refuse(&mut stream, &Problem::method_not_allowed()).await;
    }
    let Some(slug) = head::station_of(&head.path) else {
        return refuse(&mut stream, &Problem::not_a_source_path()).await;
    };
    let Some(key) = head::source_key(head.authorization.as_deref()) else {
        return refuse(&mut stream, &Problem::no_credentials()).await;
    };
    let mut session = match radio.connect_source(slug, &key, head.content_type.as_deref()).await {
        Ok(session) => session,
        Err(e) => {
            let problem = Problem::from_radio(&e);
            if problem.status() >= 500 {
                tracing::warn!(station = %slug, error = %e, "a radio source was refused");
            }
            return refuse(&mut stream, &problem).await;
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

/// Answers `problem` and closes the connection, reading what the client still sends for a moment
/// ([`LINGER`]); every step is bounded, so that a refused client holds its place briefly.
async fn refuse(stream: &mut TcpStream, problem: &Problem) -> std::io::Result<()> {
    tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&problem.response()))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    stream.shutdown().await?;
    let drain = async {
        let mut sink = [0_u8; 4096];
        let mut left = LINGER_BYTES;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
    Ok(())
}

/// Reads the body and feeds the station until it ends, the source stops sending, or it is cut.
async fn relay(
    stream: &mut TcpStream,
    head: &Head,
    early: Vec<u8>,
    session: &mut SourceSession,
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
