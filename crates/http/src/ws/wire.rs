//! The WebSocket on the socket itself, once the handshake's `101` has gone out through the
//! dispatcher and the connection was handed off ([`crate::handoff`]).
//!
//! Frames are read and written with actix-http's WebSocket codec, and nothing is buffered that is
//! not in use: an idle socket holds no read buffer (it waits for readability first, and lets go
//! of the buffer once the bytes in it are decoded) and no write buffer (a frame is encoded, written
//! and let go). Behind `actix-ws`, the dispatcher kept 16 KiB of buffers per socket for its whole
//! life, and the session a channel and a payload stream of its own: most of a socket's 28.6 KB.

use std::io;

use actix_http::ws::{CloseReason, Codec, Frame, Item, Message, ProtocolError};
use actix_web::web::{Bytes, BytesMut};
use bytestring::ByteString;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::{Decoder, Encoder};

/// What a client sends, continuation frames put together.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Text(ByteString),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    Close(Option<CloseReason>),
}

/// At most this much of queued frames goes out in one write.
const BATCH_BYTES: usize = 32 * 1024;

/// How much is read at a time: a chat message fits, and a larger frame takes several reads.
const READ_CHUNK: usize = 2048;

/// The reading half: frames in, whole messages out.
#[derive(Debug)]
pub struct Reader {
    half: OwnedReadHalf,
    codec: Codec,
    /// Bytes read and not yet decoded; no allocation while there are none.
    buffered: BytesMut,
    /// A message arriving in continuation frames: whether it is text, and its parts so far.
    continued: Option<(bool, BytesMut)>,
    /// The largest message, in one frame or put together.
    max_bytes: usize,
}

/// The writing half: messages out as frames.
#[derive(Debug)]
pub struct Writer {
    half: OwnedWriteHalf,
    codec: Codec,
    /// A frame whose writing was interrupted (a `select!` took another branch): what is left of
    /// it goes out before anything else, so that frames never interleave.
    unsent: BytesMut,
    closed: bool,
}

/// Splits a handed-off socket into its reading and writing halves; messages (and frames) over
/// `max_bytes` are refused with [`ProtocolError::Overflow`].
pub fn split(socket: TcpStream, max_bytes: usize) -> (Reader, Writer) {
    let (read, write) = socket.into_split();
    let reader = Reader {
        half: read,
        codec: Codec::new().max_size(max_bytes),
        buffered: BytesMut::new(),
        continued: None,
        max_bytes,
    };
    let writer =
        Writer { half: write, codec: Codec::new().max_size(max_bytes), unsent: BytesMut::new(), closed: false };
    (reader, writer)
}

impl Reader {
    /// The next message; `None` when the client went. Cancel-safe: what was read stays buffered.
    pub async fn next(&mut self) -> Option<Result<Incoming, ProtocolError>> {
        loop {
            if !self.buffered.is_empty() {
                match self.codec.decode(&mut self.buffered) {
                    Ok(Some(frame)) => match self.assemble(frame) {
                        Ok(Some(message)) => {
                            self.release();
                            return Some(Ok(message));
                        }
                        Ok(None) => continue,
                        Err(e) => return Some(Err(e)),
                    },
                    Ok(None) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
            // Waiting holds no buffer: it is reserved only once there is something to read.
            if let Err(e) = self.half.readable().await {
                return Some(Err(ProtocolError::Io(e)));
            }
            // Read on the stack, and keep only what arrived: a pong or a short message costs
            // its own few bytes, not a chunk's reservation. Every socket's pong arrives within
            // the same moment, and the allocator would keep the high-water mark of them all.
            let mut chunk = [0u8; READ_CHUNK];
            match self.half.try_read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buffered.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Some(Err(ProtocolError::Io(e))),
            }
        }
    }

    /// Lets go of the read buffer once everything in it was decoded.
    fn release(&mut self) {
        if self.buffered.is_empty() && self.buffered.capacity() > 0 {
            self.buffered = BytesMut::new();
        }
    }

    fn assemble(&mut self, frame: Frame) -> Result<Option<Incoming>, ProtocolError> {
        Ok(Some(match frame {
            Frame::Text(bytes) => Incoming::Text(text(bytes)?),
            Frame::Binary(bytes) => Incoming::Binary(bytes),
            Frame::Ping(bytes) => Incoming::Ping(bytes),
            Frame::Pong(bytes) => Incoming::Pong(bytes),
            Frame::Close(reason) => Incoming::Close(reason),
            Frame::Continuation(item) => return self.continue_with(item),
        }))
    }

    fn continue_with(&mut self, item: Item) -> Result<Option<Incoming>, ProtocolError> {
        let (first, is_text, bytes, last) = match item {
            Item::FirstText(bytes) => (true, true, bytes, false),
            Item::FirstBinary(bytes) => (true, false, bytes, false),
            Item::Continue(bytes) => (false, false, bytes, false),
            Item::Last(bytes) => (false, false, bytes, true),
        };
        if first {
            if self.continued.is_some() {
                return Err(ProtocolError::ContinuationStarted);
            }
            self.continued = Some((is_text, BytesMut::from(&bytes[..])));
            return Ok(None);
        }
        let Some((_, parts)) = self.continued.as_mut() else {
            return Err(ProtocolError::ContinuationNotStarted);
        };
        if parts.len() + bytes.len() > self.max_bytes {
            self.continued = None;
            return Err(ProtocolError::Overflow);
        }
        parts.extend_from_slice(&bytes);
        if !last {
            return Ok(None);
        }
        let Some((is_text, whole)) = self.continued.take() else { return Ok(None) };
        let whole = whole.freeze();
        Ok(Some(if is_text { Incoming::Text(text(whole)?) } else { Incoming::Binary(whole) }))
    }
}

fn text(bytes: Bytes) -> Result<ByteString, ProtocolError> {
    ByteString::try_from(bytes)
        .map_err(|_| ProtocolError::Io(io::Error::new(io::ErrorKind::InvalidData, "a text frame that is not UTF-8")))
}

impl Writer {
    pub async fn text(&mut self, text: ByteString) -> io::Result<()> {
        self.send(Message::Text(text)).await
    }

    /// Sends `first` and what `more` has ready besides, up to [`BATCH_BYTES`], in one write: a
    /// burst of events (a room's, presence's) costs one system call, not one per frame.
    pub async fn texts(&mut self, first: ByteString, mut more: impl FnMut() -> Option<ByteString>) -> io::Result<()> {
        if self.closed {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the socket is closing"));
        }
        self.flush().await?;
        self.encode(Message::Text(first))?;
        while self.unsent.len() < BATCH_BYTES {
            match more() {
                Some(text) => self.encode(Message::Text(text))?,
                None => break,
            }
        }
        self.flush().await
    }

    pub async fn ping(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.send(Message::Ping(Bytes::copy_from_slice(bytes))).await
    }

    pub async fn pong(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.send(Message::Pong(Bytes::copy_from_slice(bytes))).await
    }

    /// Sends the close frame (once) and ends the writing side.
    pub async fn close(&mut self, reason: Option<CloseReason>) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        self.send_frame(Message::Close(reason)).await?;
        self.half.shutdown().await
    }

    async fn send(&mut self, message: Message) -> io::Result<()> {
        if self.closed {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the socket is closing"));
        }
        self.send_frame(message).await
    }

    async fn send_frame(&mut self, message: Message) -> io::Result<()> {
        // First what an interrupted write left, so that frames stay whole and in order.
        self.flush().await?;
        self.encode(message)?;
        self.flush().await
    }

    fn encode(&mut self, message: Message) -> io::Result<()> {
        self.codec
            .encode(message, &mut self.unsent)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
    }

    /// Writes out what is unsent; cancel-safe (what was not written stays), and lets go of the
    /// buffer once it is all out.
    async fn flush(&mut self) -> io::Result<()> {
        while !self.unsent.is_empty() {
            self.half.writable().await?;
            match self.half.try_write(&self.unsent) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    let _ = self.unsent.split_to(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if self.unsent.capacity() > 0 {
            self.unsent = BytesMut::new();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use actix_http::ws::{CloseCode, Item};
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    /// A server-side pair of halves, and the client's end of the connection.
    async fn connected(max_bytes: usize) -> (Reader, Writer, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (reader, writer) = split(server, max_bytes);
        (reader, writer, client)
    }

    /// Frames as a client sends them (masked).
    fn client_frames(messages: Vec<Message>) -> BytesMut {
        let mut codec = Codec::new().client_mode();
        let mut out = BytesMut::new();
        for message in messages {
            codec.encode(message, &mut out).unwrap();
        }
        out
    }

    #[tokio::test]
    async fn messages_arrive_whole_and_the_read_buffer_goes_with_them() {
        let (mut reader, _writer, mut client) = connected(1024).await;
        let frames = client_frames(vec![
            Message::Text("hello".into()),
            Message::Continuation(Item::FirstText(Bytes::from_static(b"in "))),
            Message::Continuation(Item::Continue(Bytes::from_static(b"three "))),
            Message::Continuation(Item::Last(Bytes::from_static(b"parts"))),
            Message::Ping(Bytes::from_static(b"p")),
        ]);
        client.write_all(&frames).await.unwrap();
        assert_eq!(reader.next().await.unwrap().unwrap(), Incoming::Text("hello".into()));
        assert_eq!(reader.next().await.unwrap().unwrap(), Incoming::Text("in three parts".into()));
        assert_eq!(reader.next().await.unwrap().unwrap(), Incoming::Ping(Bytes::from_static(b"p")));
        assert_eq!(reader.buffered.capacity(), 0, "an idle socket holds no read buffer");
        drop(client);
        assert!(reader.next().await.is_none(), "the client went");
    }

    #[tokio::test]
    async fn a_message_over_the_limit_is_refused_in_one_frame_or_in_parts() {
        let (mut reader, _writer, mut client) = connected(8).await;
        client.write_all(&client_frames(vec![Message::Text("far too long".into())])).await.unwrap();
        assert!(matches!(reader.next().await, Some(Err(ProtocolError::Overflow))));

        let (mut reader, _writer, mut client) = connected(8).await;
        let parts = client_frames(vec![
            Message::Continuation(Item::FirstText(Bytes::from_static(b"12345"))),
            Message::Continuation(Item::Last(Bytes::from_static(b"67890"))),
        ]);
        client.write_all(&parts).await.unwrap();
        assert!(matches!(reader.next().await, Some(Err(ProtocolError::Overflow))));
    }

    #[tokio::test]
    async fn text_that_is_not_utf8_is_an_error() {
        let (mut reader, _writer, mut client) = connected(64).await;
        let mut codec = Codec::new().client_mode();
        let mut out = BytesMut::new();
        // A text frame's opcode around bytes that are not UTF-8.
        codec.encode(Message::Binary(Bytes::from_static(&[0xff, 0xfe])), &mut out).unwrap();
        out[0] = (out[0] & 0xf0) | 0x1;
        client.write_all(&out).await.unwrap();
        assert!(matches!(reader.next().await, Some(Err(ProtocolError::Io(_)))));
    }

    #[tokio::test]
    async fn frames_go_out_whole_and_the_close_frame_ends_the_writing() {
        let (_reader, mut writer, mut client) = connected(1024).await;
        writer.text("hi".into()).await.unwrap();
        let reason = CloseReason { code: CloseCode::Other(4008), description: Some("slow".into()) };
        writer.close(Some(reason.clone())).await.unwrap();
        assert!(writer.text("late".into()).await.is_err(), "nothing after the close frame");
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        let mut codec = Codec::new().client_mode();
        let mut received = BytesMut::from(&received[..]);
        assert_eq!(codec.decode(&mut received).unwrap(), Some(Frame::Text(Bytes::from_static(b"hi"))));
        assert_eq!(codec.decode(&mut received).unwrap(), Some(Frame::Close(Some(reason))));
        assert_eq!(writer.unsent.capacity(), 0, "no write buffer kept");
    }
}
