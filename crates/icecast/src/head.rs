//! A source's request head: read whole (its deadline is the caller's), and what it says.

use base64::Engine;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest request head read.
pub(crate) const MAX_HEAD: usize = 16 * 1024;

/// What the head of a source's request says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) authorization: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) expect_continue: bool,
    pub(crate) chunked: bool,
    pub(crate) content_length: Option<u64>,
}

/// What reading a head came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Read {
    /// The client closed the connection before a whole head.
    Closed,
    /// Not an HTTP request head.
    Malformed,
    /// Longer than [`MAX_HEAD`], or with more headers than are read.
    TooLarge,
    /// The head, and the bytes of the body that came with it.
    Head(Head, Vec<u8>),
}

/// Reads until a whole head has arrived. No deadline of its own: the caller bounds it as a whole.
pub(crate) async fn read<R: AsyncRead + Unpin>(stream: &mut R) -> std::io::Result<Read> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0_u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Read::Closed);
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
                return Ok(Read::Head(head, buffer[len..].to_vec()));
            }
            Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD => {}
            Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => return Ok(Read::TooLarge),
            Err(_) => return Ok(Read::Malformed),
        }
    }
}

/// The station slug of `/radio/{slug}/source`.
pub(crate) fn station_of(path: &str) -> Option<&str> {
    let path = path.split('?').next()?;
    path.strip_prefix("/radio/")?.strip_suffix("/source").filter(|slug| !slug.contains('/'))
}

/// The password of `Basic` credentials for user `source`.
pub(crate) fn source_key(authorization: Option<&str>) -> Option<String> {
    let (scheme, encoded) = authorization?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    (user == "source").then(|| password.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(bytes: &[u8]) -> Read {
        let mut input = bytes;
        read(&mut input).await.unwrap()
    }

    #[tokio::test]
    async fn a_head_is_read_with_the_body_that_came_with_it() {
        let Read::Head(head, early) = read_all(
            b"PUT /radio/x/source HTTP/1.1\r\nContent-Type: audio/mpeg\r\nExpect: 100-continue\r\n\r\n\xFF\xFB",
        )
        .await
        else {
            panic!("a head");
        };
        assert_eq!((head.method.as_str(), head.path.as_str()), ("PUT", "/radio/x/source"));
        assert_eq!(head.content_type.as_deref(), Some("audio/mpeg"));
        assert!(head.expect_continue && !head.chunked);
        assert_eq!(early, [0xFF, 0xFB]);
    }

    #[tokio::test]
    async fn what_is_no_head_is_told_apart() {
        assert_eq!(read_all(b"PUT /radio/x/source HTTP/1.1\r\n").await, Read::Closed);
        assert_eq!(read_all(b"\x00\x01 nonsense\r\n\r\n").await, Read::Malformed);
        let long = format!("PUT /radio/x/source HTTP/1.1\r\nX-Pad: {}\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(read_all(long.as_bytes()).await, Read::TooLarge);
        let many: String = (0..60).map(|i| format!("X-{i}: 1\r\n")).collect();
        assert_eq!(read_all(format!("PUT / HTTP/1.1\r\n{many}\r\n").as_bytes()).await, Read::TooLarge);
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
